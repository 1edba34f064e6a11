"""PNG figures for the report: learning curves with seed bands, LR schedules, per-claim intervals.

Built on `matplotlib.figure.Figure` directly (Agg canvas, no pyplot global state), small (dpi 100),
and written atomically. Each function takes plain data and returns the path it wrote.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from repro.files import write_atomic
from repro.judge.intervals import mean_interval
from repro.judge.verdict import Verdict

DPI = 100
CURVE_METRICS = ("train_loss", "test_error", "test_nll", "test_ece", "bleu", "chrf", "valid_ppl")
LINESTYLES = ("-", "--", ":", "-.")  # arms that coincide (same schedule) stay visible
FEW_POINTS = 15                      # curves with at most this many points get markers
UNITS = {"test_error": "%", "train_loss": "nats", "test_nll": "nats/sample", "test_ece": "0-1",
         "bleu": "BLEU", "chrf": "chrF", "valid_ppl": "perplexity", "throughput": "samples or tokens/s",
         "wall_time_s": "s", "train_time_s": "s"}


def unit_label(metric: str) -> str:
    """'test_error (%)': the metric with its unit (the predictor prefix of 'ema/test_error' ignored)."""
    unit = UNITS.get(metric.rsplit("/", 1)[-1])
    return f"{metric} ({unit})" if unit else metric


def arm_colours(arms: list[str]) -> dict[str, str]:
    """One stable colour per arm (matplotlib's default cycle)."""
    return {arm: f"C{i % 10}" for i, arm in enumerate(arms)}


def save(fig: Figure, path: Path) -> Path:
    return write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))


def _marker(n_points: int) -> str | None:
    return "o" if n_points <= FEW_POINTS else None


def _curve_frame(curves: list[dict], metric: str) -> pd.DataFrame:
    """Long table (epoch, seed index, value) of one metric over several runs."""
    parts = [pd.DataFrame({"epoch": c["epoch"], "value": c[metric], "run": i})
             for i, c in enumerate(curves)
             if metric in c and "epoch" in c and len(c[metric]) == len(c["epoch"])]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["epoch", "value", "run"])


def epoch_groups(curves_by_arm: Mapping[str, list[dict]]) -> list[list[str]]:
    """Arms grouped by training length (last epoch within a factor 2 of the group's shortest), so a long
    arm gets its own row of panels instead of squashing the others. Arms without curves (not run, or
    no evaluation) get no row: they would be an empty one."""
    last = {a: max((max(c["epoch"]) for c in cs if c.get("epoch")), default=0)
            for a, cs in curves_by_arm.items()}
    last = {a: e for a, e in last.items() if e > 0}
    groups: list[list[str]] = []
    for arm in sorted(last, key=lambda a: last[a]):
        if groups and last[arm] <= 2 * max(1, last[groups[-1][0]]):
            groups[-1].append(arm)
        else:
            groups.append([arm])
    return [[a for a in curves_by_arm if a in g] for g in groups]


def learning_curves(curves_by_arm: Mapping[str, list[dict]], colours: Mapping[str, str], path: Path,
                    metrics: tuple[str, ...] = CURVE_METRICS) -> Path | None:
    """Metric vs epoch per arm: mean over seeds as a line, min-max over seeds as a band; one row of
    panels per group of arms of similar length (epoch_groups), the legend outside the panels."""
    present = [m for m in metrics if any(m in c for cs in curves_by_arm.values() for c in cs)]
    groups = epoch_groups(curves_by_arm)
    if not present or not groups:
        return None
    fig = Figure(figsize=(2.9 * len(present) + 1.8, 2.5 * len(groups) + 0.5), layout="constrained")
    # a row's panels share the epoch axis: a metric measured only at the end (BLEU) sits at the last epoch
    axes = fig.subplots(len(groups), len(present), squeeze=False, sharex="row")
    for row, group in zip(axes, groups, strict=True):
        for ax, metric in zip(row, present, strict=True):
            for arm in group:
                _curve(ax, arm, curves_by_arm[arm], metric, colours, list(curves_by_arm).index(arm))
            ax.set_xlabel("epoch", fontsize=8)
            ax.set_ylabel(unit_label(metric), fontsize=8)
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    fig.suptitle("mean over seeds (line), min-max over seeds (band)", fontsize=9)
    handles = {h.get_label(): h for ax in fig.axes for h in ax.get_lines()}
    fig.legend(handles=list(handles.values()), loc="outside right upper", fontsize=7, frameon=False)
    return save(fig, path)


def _curve(ax, arm: str, curves: list[dict], metric: str, colours: Mapping[str, str], i: int) -> None:
    frame = _curve_frame(curves, metric)
    if frame.empty:
        return
    g = frame.astype({"value": float}).groupby("epoch")["value"].agg(["mean", "min", "max"])
    ax.plot(g.index, g["mean"], color=colours.get(arm), ls=LINESTYLES[i % len(LINESTYLES)],
            marker=_marker(len(g)), ms=3, label=f"{arm} (n={len(curves)})", lw=1.3)
    ax.fill_between(g.index, g["min"], g["max"], color=colours.get(arm), alpha=0.2, lw=0)


def lr_schedules(traces: Mapping[str, dict], colours: Mapping[str, str], path: Path) -> Path | None:
    """Learning rate vs optimizer step, one line per arm (all param groups when lr is per group)."""
    traces = {a: t for a, t in traces.items() if t and len(t.get("step", [])) and len(t.get("lr", []))}
    if not traces:
        return None
    fig = Figure(figsize=(6.4, 2.8), layout="constrained")
    ax = fig.subplots()
    for i, (arm, trace) in enumerate(traces.items()):
        lr = np.asarray(trace["lr"], dtype=float)
        lr = lr.reshape(len(lr), -1)
        for g in range(lr.shape[1]):
            ax.plot(trace["step"], lr[:, g], color=colours.get(arm), ls=LINESTYLES[i % len(LINESTYLES)],
                    marker=_marker(len(lr)), ms=3, lw=1.2, label=arm if g == 0 else None)
    ax.set_xlabel("optimizer step", fontsize=8)
    ax.set_ylabel("learning rate", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    return save(fig, path)


def claim_plot(v: Verdict, treatment: Mapping[int, float], baseline: Mapping[int, float],
               colours: Mapping[str, str], path: Path) -> Path | None:
    """Left: per-seed values of both arms (same seed joined), mean with a 95% bootstrap interval.
    Right: the estimate (difference or ratio) with its 95% paired t interval against the bound it must
    clear, and the paper's effect where the spec gives one."""
    if not treatment and not baseline:
        return None
    fig = Figure(figsize=(7.0, 3.0), layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    sides = [(v.baseline, baseline), (v.treatment, treatment)]
    for x, (name, vals) in enumerate(sides):
        _side(left, x, [y for y in vals.values() if math.isfinite(y)],
              colours.get(name, colours.get(name.split("/")[0])))
    for seed in set(treatment) & set(baseline):
        left.plot([0, 1], [baseline[seed], treatment[seed]], color="0.6", lw=0.6, zorder=0)
    left.set_xticks([0, 1], [f"{s[0]}\n(n={len(s[1])})" for s in sides], fontsize=7)
    left.set_xlim(-0.5, 1.6)
    left.set_ylabel(unit_label(v.metric), fontsize=8)
    left.set_title("per seed; diamond: mean, 95% bootstrap CI", fontsize=8)
    left.tick_params(labelsize=7)
    _estimate_panel(right, v)
    fig.suptitle(f"{v.claim_id}: {v.verdict}", fontsize=9)
    return save(fig, path)


def _side(ax, x: int, ys: list[float], colour: str | None) -> None:
    ax.scatter([x] * len(ys), ys, color=colour, s=14, alpha=0.7)
    if ys:
        lo, hi = mean_interval(ys)
        mean = float(np.mean(ys))
        err = [[mean - lo], [hi - mean]] if math.isfinite(lo) else None
        ax.errorbar([x + 0.15], [mean], yerr=err, fmt="D", color=colour, capsize=4, ms=5)


def _estimate_panel(ax, v: Verdict) -> None:
    label = "ratio T/B" if v.kind == "ratio" else "T - B"
    unit = "" if v.kind == "ratio" else UNITS.get(v.metric.rsplit("/", 1)[-1], "")
    ax.axvline(v.bound, color="0.3", ls="--", lw=1, label=f"bound {v.bound:g}")
    if math.isfinite(v.estimate):
        err = [[v.estimate - v.lo], [v.hi - v.estimate]] if math.isfinite(v.lo) else None
        ax.errorbar([v.estimate], [0], xerr=err, fmt="o", color="k", capsize=5,
                    label=f"measured (n={v.n})")
    if math.isfinite(v.paper_effect):
        ax.plot([v.paper_effect], [0], "D", mfc="none", mec="C3", ms=8, ls="none", label="paper")
    ax.set_yticks([])
    ax.set_ylim(-1, 1.6)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.set_xlabel(f"{label}{f' ({unit})' if unit else ''}, 95% paired t CI", fontsize=8)
    ax.set_title(f"{v.metric}: estimate vs bound", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="upper center", ncols=3, frameon=False, handlelength=1.2)


def speedup_pareto(table: pd.DataFrame, metric: str, path: Path) -> Path | None:
    """`metric` against measured training speedup, one line per model (points sorted by speedup, x error
    bars: 95% interval); hollow markers on a dotted line: the same arms at their FLOP-estimated speedup."""
    table = table[np.isfinite(table["speedup"].astype(float))]
    if table.empty:
        return None
    fig = Figure(figsize=(7.0, 3.6), layout="constrained")
    ax = fig.subplots()
    for i, (model, rows) in enumerate(table.groupby("model", sort=False)):
        rows = rows.sort_values("speedup")
        colour = f"C{i % 10}"
        lo = (rows["speedup"] - rows["speedup_lo"]).clip(lower=0).fillna(0)
        hi = (rows["speedup_hi"] - rows["speedup"]).clip(lower=0).fillna(0)
        ax.errorbar(rows["speedup"], rows[metric], xerr=[lo, hi], color=colour, marker="o", ms=4,
                    capsize=2, lw=1.2, label=f"{model}: measured")
        est = rows.sort_values("flop_speedup")
        ax.plot(est["flop_speedup"], est[metric], color=colour, ls=":", marker="o", mfc="none", ms=4,
                lw=1, label=f"{model}: FLOP estimate")
        for _, r in rows.iterrows():
            ax.annotate(r["arm"], (r["speedup"], r[metric]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
    ax.axvline(1.0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel("training speedup vs the model's baseline (×)", fontsize=8)
    ax.set_ylabel(metric, fontsize=8)
    ax.tick_params(labelsize=7)
    fig.legend(loc="outside right upper", fontsize=6, frameon=False)
    return save(fig, path)
