"""View (a spec's `plots: [time_to_target]`): how fast each arm reaches the baseline's final test error.

One figure, two panels sharing the optimizer-step axis: above, test error against steps for every arm
(mean over seeds as a line, min-max over seeds as a band) with the target, the reference arm's final
test error (mean over seeds, dotted; its per-seed range shaded), and for each time-to-target claim a
marker on the target line at x times the reference's median steps to it, which the arm's curve must
cross the line before; below, the learning rate each arm actually ran (its records' lr_trace, log scale).
Beside it a table per arm: its budget, how many seeds reached the target and the median steps they took
(repro/judge/derived.py, steps_to_test_error: interpolated between evaluations, a seed that never
reached it counts as never).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from repro.judge.derived import test_error_targets, test_error_values
from repro.report import plots
from repro.report.captions import seeds_text
from repro.report.format import fmt
from repro.report.views.base import ViewInput

METRIC = "steps_to_test_error"
PNG = "time_to_target.png"


def reference_arm(spec) -> str | None:
    """The baseline arm of the spec's first steps_to_test_error claim (None: the spec has none)."""
    return next((c.baseline_ref.arm for c in spec.claims if c.metric == METRIC), None)


def curve_bands(ok: pd.DataFrame, arm: str) -> pd.DataFrame:
    """Test error at each evaluation step of `arm` over its seeds: columns step, mean, min, max."""
    parts = []
    for curves in ok.loc[ok["arm"] == arm, "curves"]:
        steps, errors = (curves or {}).get("step") or [], (curves or {}).get("test_error") or []
        if len(steps) == len(errors):
            parts.append(pd.DataFrame({"step": steps, "value": errors}))
    if not parts:
        return pd.DataFrame(columns=["step", "mean", "min", "max"])
    frame = pd.concat(parts).astype(float).dropna()
    return frame.groupby("step")["value"].agg(["mean", "min", "max"]).reset_index()


def arrival_table(ok: pd.DataFrame, arms: list[str], reference: str) -> pd.DataFrame:
    """Per arm: budget (its most steps), seeds, seeds that reached the reference's final test error on
    their seed, the median steps to it (inf when half or more never did) and that median over the
    reference arm's."""
    goal = test_error_targets(ok, reference)
    rows = []
    for arm in arms:
        recs = ok[ok["arm"] == arm]
        if recs.empty:
            continue
        times = []
        for _, row in recs.iterrows():
            got = test_error_values(row, goal.get(int(row["seed"])))
            if got:
                times.append(math.inf if got[f"{METRIC}_censored"] else got[METRIC])
        budget = max((max((c or {}).get("step") or [0]) for c in recs["curves"]), default=0)
        rows.append({"arm": arm, "budget": float(budget), "seeds": len(times),
                     "reached": sum(math.isfinite(t) for t in times),
                     "median": float(np.median(times)) if times else math.nan})
    table = pd.DataFrame(rows, columns=["arm", "budget", "seeds", "reached", "median"])
    ref = table.loc[table["arm"] == reference, "median"]
    table["ratio"] = table["median"] / (float(ref.iloc[0]) if len(ref) else math.nan)
    return table


def claim_marks(spec, table: pd.DataFrame) -> dict[str, float]:
    """treatment arm -> the step its curve must reach the target by: a ratio claim's x times the
    reference's median steps (only claims on steps_to_test_error)."""
    median = dict(zip(table["arm"], table["median"], strict=True))
    return {c.treatment_ref.arm: c.threshold * median[c.baseline_ref.arm] for c in spec.claims
            if c.metric == METRIC and c.kind == "ratio"
            and math.isfinite(median.get(c.baseline_ref.arm, math.nan))}


def figure(bands: dict[str, pd.DataFrame], traces: dict[str, dict], targets: list[float],
           marks: dict[str, float], path: Path) -> Path | None:
    """The two panels (test error and lr against steps); None when no arm has a test-error curve."""
    bands = {a: b for a, b in bands.items() if not b.empty}
    if not bands or not targets:
        return None
    colours = plots.arm_colours(list(bands) + [a for a in traces if a not in bands])
    fig = Figure(figsize=(7.6, 5.4), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2.2, 1))
    for i, (arm, b) in enumerate(bands.items()):
        ls = plots.LINESTYLES[i % len(plots.LINESTYLES)]
        top.plot(b["step"], b["mean"], color=colours[arm], ls=ls, lw=1.3, label=arm)
        top.fill_between(b["step"], b["min"], b["max"], color=colours[arm], alpha=0.18, lw=0)
        if arm in marks:
            top.plot([marks[arm]], [np.mean(targets)], marker="v", ms=8, color=colours[arm], ls="none")
    target = float(np.mean(targets))
    top.axhline(target, color="black", ls=":", lw=1.2, label=f"target {target:.2f}%")
    top.axhspan(min(targets), max(targets), color="grey", alpha=0.15, lw=0)
    low = min(float(b["min"].min()) for b in bands.values())
    top.set_ylim(low - 0.5, target + 3 * max(target - low, 1.0))   # the approach to the target, not epoch 1
    top.set_ylabel(plots.unit_label("test_error"), fontsize=8)
    for i, (arm, trace) in enumerate(traces.items()):
        lr = np.asarray(trace["lr"], dtype=float).reshape(len(trace["lr"]), -1)[:, 0]
        bottom.plot(trace["step"], lr, color=colours[arm], ls=plots.LINESTYLES[i % len(plots.LINESTYLES)],
                    lw=1.2, label=None if arm in bands else arm)
    bottom.set_yscale("log")
    bottom.set_ylabel("learning rate", fontsize=8)
    bottom.set_xlabel("optimizer step", fontsize=8)
    for ax in (top, bottom):
        ax.tick_params(labelsize=7)
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    return plots.save(fig, path)


def lr_traces(ok: pd.DataFrame, arms: list[str]) -> dict[str, dict]:
    """arm -> the lr_trace of its lowest seed (a schedule does not depend on the seed)."""
    out = {}
    for arm in arms:
        recs = ok[ok["arm"] == arm].sort_values("seed")
        trace = next((t for t in recs["lr_trace"] if t and t.get("step") and t.get("lr")), None)
        if trace:
            out[arm] = trace
    return out


def time_to_target_blocks(view: ViewInput) -> list[tuple]:
    out, sid, spec, ok, arms = view.out, view.sid, view.spec, view.records, view.arms
    reference = reference_arm(spec)
    if reference is None or ok.empty:
        return []
    ok = ok[ok["status"] == "ok"]
    table = arrival_table(ok, arms, reference)
    targets = list(test_error_targets(ok, reference).values())
    png = figure({a: curve_bands(ok, a) for a in arms}, lr_traces(ok, arms), targets,
                 claim_marks(spec, table), out / sid / PNG)
    head = ["arm", "budget (steps)", "reached the target", "median steps to it", f"÷ {reference}'s"]
    rows = [[r.arm, fmt(r.budget), f"{r.reached} of {r.seeds}",
             "never (half the seeds or more)" if r.median == math.inf else fmt(r.median), fmt(r.ratio, 3)]
            for r in table.itertuples()]
    text = (f"Target: {reference}'s final test error on the same seed ({seeds_text(ok, arms)}). A marker on "
            "the target line is a claim's bound, x times the reference's median steps: the arm reaches the "
            "target in time when its curve crosses the line left of it. Below, the learning rate each arm "
            "ran.")
    blocks = [("h", 3, "Time to the baseline's test error, and the schedules run"), ("p", text),
              ("table", head, rows)]
    return blocks + ([("img", "time to target and lr schedules", f"{sid}/{png.name}")] if png else [])
