"""View for specs whose claims use steps_to_target (the optimizer suite, repro/specs/optimizers.md).

Per spec: a table of each arm's steps to the reference arm's final training loss (median over seeds) and
its ratio to the reference, and the training-loss curves (mean over seeds) of every arm. Across all such
specs of the profile: AlgoPerf-style performance profiles (Dolan & More 2002; Dahl et al. 2023, arXiv
2306.07179): for each arm, the fraction of tasks on which its steps-to-target is within a factor tau of the
best arm's on that task (a task an arm never reached, or has no data for, counts as never within).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from repro.files import write_atomic
from repro.judge.derived import derived_values, targets, train_curve
from repro.judge.records import load_records
from repro.report.captions import seeds_text
from repro.report.format import fmt

PROFILE_PNG = "optimizer_suite_profile.png"
TAUS = np.exp(np.linspace(0.0, math.log(16.0), 200))


def reference_arm(spec) -> str | None:
    for claim in spec.claims:
        if claim.metric in ("steps_to_target", "steps_to_result"):
            return claim.baseline_ref.arm
    return None


def steps_table(records: pd.DataFrame, reference: str) -> dict[str, float]:
    """arm -> median over seeds of steps to the reference's final training loss (inf if never reached)."""
    goal = targets(records, reference)
    out: dict[str, list[float]] = {}
    for _, row in records.iterrows():
        values = derived_values(row, goal.get(int(row["seed"])))
        if "steps_to_target" in values:
            steps = math.inf if values["steps_to_target_censored"] else values["steps_to_target"]
            out.setdefault(row["arm"], []).append(steps)
    return {arm: float(np.median(v)) for arm, v in out.items()}


def performance_profile(per_task: dict[str, dict[str, float]], arms: list[str]) -> dict[str, np.ndarray]:
    """arm -> fraction of tasks with steps <= tau x the task's best, for each tau in TAUS."""
    curves = {arm: np.zeros(len(TAUS)) for arm in arms}
    for steps in per_task.values():
        finite = [s for s in steps.values() if math.isfinite(s)]
        if not finite:
            continue
        best = min(finite)
        for arm in arms:
            ratio = steps.get(arm, math.inf) / best
            curves[arm] += (ratio <= TAUS).astype(float)
    return {arm: c / max(1, len(per_task)) for arm, c in curves.items()}


def _plot_profile(profiles: dict[str, np.ndarray], path: Path) -> None:
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    for i, (arm, frac) in enumerate(profiles.items()):
        ax.step(TAUS, frac, where="post", label=arm, ls=("-", "--", ":", "-.")[i % 4])
    ax.set_xscale("log", base=2)
    ax.set_xlabel("tau (steps to target / best arm's)")
    ax.set_ylabel("fraction of tasks")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)   # beside the curves
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png"))


def _plot_curves(ok: pd.DataFrame, arms: list[str], path: Path, title: str) -> None:
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.subplots()
    for arm in arms:
        rows = [train_curve(r) for _, r in ok[ok["arm"] == arm].iterrows()]
        rows = [(c, s) for c, s in rows if c]
        if not rows:
            continue
        n = min(len(c) for c, _ in rows)
        mean = np.mean([c[:n] for c, _ in rows], axis=0)
        ax.plot([(k + 1) * rows[0][1] for k in range(n)], mean, label=arm)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (epoch mean)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png"))


def optimizer_suite_blocks(view) -> list[tuple]:
    reference = reference_arm(view.spec)
    ok = view.records
    if reference is None or ok.empty:
        return []
    steps = steps_table(ok, reference)
    base = steps.get(reference, math.nan)
    def show(x: float | None) -> str:
        return "–" if x is None or math.isnan(x) else "never" if math.isinf(x) else fmt(x)

    rows = [[arm, show(steps.get(arm)),
             show(steps[arm] / base) if arm in steps and math.isfinite(base) and base > 0 else "–"]
            for arm in view.arms]
    curves = view.out / view.sid / "train_loss_curves.png"
    plotted = [a for a in view.arms if (ok["arm"] == a).any()]
    _plot_curves(ok, plotted, curves, f"{view.sid}: training loss")
    caption = (f"Training loss (mean over {seeds_text(ok, plotted)}) against the optimizer step, per arm "
               f"with records.{_not_run(view.arms, plotted)}")
    blocks = [("h", 3, f"Steps to {reference}'s final training loss"),
              ("table", ["arm", "median steps (inf: never)", f"ratio to {reference}"], rows),
              ("img", "training loss curves", f"{view.sid}/{curves.name}", caption)]
    return blocks + _suite_blocks(view.out, view.arms, str(ok["profile"].iloc[0]))


def _not_run(arms: list[str], plotted: list[str]) -> str:
    """The arms left out of a figure: they have no finished record (the spec's section says why)."""
    left = [a for a in arms if a not in plotted]
    return (f" Not run: {', '.join(left)} (no finished records; the arms table and the failed jobs say "
            f"why)." if left else "")


def _suite_blocks(out: Path, arms: list[str], profile: str) -> list[tuple]:
    """The performance profile over every spec of this profile that has an optimizer-suite reference.

    `out` is the folder the report is being built in, beside the results' runs/ (repro/report/publish.py
    builds in a temporary folder, so its name is not the profile's)."""
    records = load_records(out.parent, profile)
    per_task = {}
    for sid, recs in records.groupby("spec"):
        if str(sid).startswith("optimizers_") and (recs["arm"] == "adamw_tuned").any():
            per_task[str(sid)] = steps_table(recs[recs["status"] == "ok"], "adamw_tuned")
    if not per_task:
        return []
    plotted = [a for a in arms if any(a in steps for steps in per_task.values())]
    _plot_profile(performance_profile(per_task, plotted), out / PROFILE_PNG)
    caption = (f"For each arm, the fraction of the {len(per_task)} task(s) on which its median steps to "
               f"adamw_tuned's final training loss (over its seeds) is within a factor tau of the best "
               f"arm's; arms with records only.{_not_run(arms, plotted)}")
    return [("p", f"Performance profile over the {len(per_task)} optimizer-suite task(s) with records."),
            ("img", "performance profile", PROFILE_PNG, caption)]
