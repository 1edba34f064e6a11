"""The forest plot: every claim of the report on one comparable scale.

Each claim's estimate and 95% paired t interval are shifted by its decision bound (0, the margin, the
ratio threshold; ratios on the log scale) and divided by the standard deviation of its paired
differences (recovered from the interval), then oriented so that right of 0 is the side the claim
says: a claim is reproduced when its whole interval lies right of 0 (and the sign-flip test agrees),
contradicted when it lies left. The paper's effect, where the spec gives one, is a hollow diamond. A
claim out of regime (repro/judge/regime.py) is drawn apart: a hollow circle on a dotted bar, "(out of
regime)" after its name; its interval is shown, not decided on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from scipy import stats as sps

from repro.judge.verdict import (
    CONTRADICTED,
    INCONCLUSIVE,
    NO_DATA,
    NOT_JUDGED,
    OUT_OF_REGIME,
    REPRODUCED,
    Verdict,
)
from repro.report.plots import save

VERDICT_COLOURS = {REPRODUCED: "#1a7f37", CONTRADICTED: "#cf222e", INCONCLUSIVE: "#9a6700",
                   OUT_OF_REGIME: "#8250df", NO_DATA: "#6e7781", NOT_JUDGED: "#6e7781"}
SYMLOG_FROM = 20
AXIS_LABEL = ("standardized effect: (estimate − bound) / sd of paired differences,\n"
              "> 0 on the claim's side; bars: 95% paired t interval")


@dataclass
class Row:
    label: str
    verdict: str
    z: float
    lo: float
    hi: float
    paper: float


def _transform(v: Verdict):
    """x -> oriented, bound-shifted value in metric units (log units for ratio claims)."""
    sign = -1.0 if v.better == "lower" else 1.0
    if v.kind == "ratio":
        return lambda x: sign * (math.log(x) - math.log(v.bound)) if x and x > 0 else math.nan
    return lambda x: sign * (x - v.bound)


def standardized(v: Verdict, label: str) -> Row:
    """The claim on the forest plot's scale; NaN without a finite interval (fewer than 2 pairs, no
    spread)."""
    none = Row(label, v.verdict, math.nan, math.nan, math.nan, math.nan)
    if v.n < 2 or not all(math.isfinite(x) for x in (v.estimate, v.lo, v.hi)):
        return none
    f = _transform(v)
    lo, hi = sorted((f(v.lo), f(v.hi)))
    t = sps.t.ppf(0.975, v.n - 1)
    sd = (hi - lo) * math.sqrt(v.n) / (2 * t)
    if not (math.isfinite(sd) and sd > 0):
        return none
    paper = f(v.paper_effect) / sd if math.isfinite(v.paper_effect) else math.nan
    return Row(label, v.verdict, f(v.estimate) / sd, lo / sd, hi / sd, paper)


def forest_plot(groups: list[tuple[str, list[tuple[str, Verdict]]]], path: Path) -> Path | None:
    """groups: (spec id, its (claim label, verdict)s), one panel per spec, each with its own x axis (ticks
    and the dashed bound) on one common scale. None when no claim has an interval."""
    panels = [(sid, [standardized(v, label) for label, v in items]) for sid, items in groups if items]
    rows = [r for _, rs in panels for r in rs]
    if not any(math.isfinite(r.z) for r in rows):
        return None
    heights = [0.7 + 0.26 * len(rs) for _, rs in panels]
    fig = Figure(figsize=(8.0, 0.9 + sum(heights)), layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False, sharex=True, gridspec_kw={"height_ratios": heights})
    extent = max((abs(x) for r in rows for x in (r.lo, r.hi, r.paper) if math.isfinite(x)), default=1)
    for ax, (sid, rs) in zip(axes[:, 0], panels, strict=True):
        _panel(ax, sid, rs)
    if extent > SYMLOG_FROM:     # a few very precise claims would squash the others
        axes[0, 0].set_xscale("symlog", linthresh=3)
    axes[0, 0].set_xlim(-1.08 * extent, 1.08 * extent)
    axes[-1, 0].set_xlabel(AXIS_LABEL, fontsize=8)
    shown = {r.verdict for r in rows if math.isfinite(r.z)}
    _legend(fig, axes[0, 0], shown, any(math.isfinite(r.paper) for r in rows))
    return save(fig, path)


def _panel(ax, sid: str, rows: list[Row]) -> None:
    """One spec's claims, top to bottom, with the dashed bound and x tick labels of its own."""
    for y, r in enumerate(reversed(rows)):
        colour = VERDICT_COLOURS.get(r.verdict, "0.4")
        if not math.isfinite(r.z):
            ax.text(0, y, f"  no interval ({r.verdict})", color=colour, fontsize=7, va="center")
            continue
        apart = r.verdict == OUT_OF_REGIME
        bars = ax.errorbar([r.z], [y], xerr=[[r.z - r.lo], [r.hi - r.z]], fmt="o", color=colour, ms=5,
                           capsize=3, mfc="white" if apart else colour)
        if apart:
            bars[-1][0].set_linestyle(":")
        if math.isfinite(r.paper):
            ax.plot([r.paper], [y], marker="D", mfc="none", mec="k", ms=6, ls="none")
    ax.axvline(0, color="0.2", ls="--", lw=1)
    names = [r.label.split("/", 1)[-1] + (" (out of regime)" if r.verdict == OUT_OF_REGIME else "")
             for r in reversed(rows)]
    ax.set_yticks(range(len(rows)), names, fontsize=7)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_title(sid, fontsize=8, loc="left", fontweight="bold")
    ax.tick_params(axis="x", labelsize=7, labelbottom=True)
    ax.grid(axis="x", alpha=0.3)


def _legend(fig: Figure, ax, verdicts: set[str], paper: bool) -> None:
    handles = [ax.plot([], [], "o", color=VERDICT_COLOURS[v], mfc="white" if v == OUT_OF_REGIME else None,
                       label=v)[0] for v in VERDICT_COLOURS if v in verdicts]
    if paper:
        handles.append(ax.plot([], [], "D", mfc="none", mec="k", label="paper's effect")[0])
    handles.append(ax.plot([], [], "--", color="0.2", lw=1, label="the claim's bound")[0])
    fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), fontsize=7, frameon=False)
