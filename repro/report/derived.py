"""Metrics a claim computes from the recorded curves of two arms on the same seed (repro/specs/optimizers.md).

- final_train_loss: the mean training loss of a run's last epoch (curves.train_loss_all[-1]).
- steps_to_target: the steps a run needs to reach the claim's baseline arm's final training loss on the
  same seed: (k + 1) x steps per epoch for the first epoch k whose mean training loss is <= that target
  (AlgoPerf's time-to-target, VeLO's Fig. 1 speedup, counted in steps). The baseline itself gets the
  first epoch at which it reaches its own final loss (at most its budget). A run that never reaches the
  target is censored at its budget plus one epoch, and noted (`steps_to_target_censored`).
- steps_to_result: steps_to_target plus the steps of the run's tuning grid (extra.tune_grid_steps, 0 for
  an arm without `tune:`): the compute to a result, counting the search for the hyperparameter. A run
  that never reaches the target has no result of its own: its user falls back on the baseline, so it
  costs its whole budget and grid plus the baseline's steps_to_result on that seed (without this, the
  censored count, a lower bound, would look cheaper than the baseline's grid and pass a "less compute"
  claim for an optimizer that never got there).

with_derived(records, claim) adds them to `extra` of every ok record (the others are left as they are), so
judge_claim (repro/report/records.py) reads them as it reads any recorded number: a ratio claim on
steps_to_target compares T's steps with B's steps to B's own final loss, seed by seed.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from repro.stats import get_field

DERIVED = ("final_train_loss", "steps_to_target", "steps_to_result")


def train_curve(row) -> tuple[list[float], float]:
    """(mean training loss per epoch, steps per epoch) of a record row; ([], nan) when absent."""
    curve = list((row["curves"] or {}).get("train_loss_all") or [])
    steps = row["steps"]
    if not curve or steps is None or (isinstance(steps, float) and math.isnan(steps)):
        return [], math.nan
    return curve, float(steps) / len(curve)


def steps_to(curve: list[float], per_epoch: float, target: float) -> tuple[float, bool]:
    """(steps to the first epoch whose mean loss <= target, censored?): censored = budget + one epoch."""
    for k, loss in enumerate(curve):
        if loss is not None and math.isfinite(loss) and loss <= target:
            return (k + 1) * per_epoch, False
    return (len(curve) + 1) * per_epoch, True


def derived_values(row, target: float | None, fallback: float = math.nan) -> dict:
    """The derived metrics of one record; `fallback` is the baseline's steps_to_result on its seed."""
    curve, per_epoch = train_curve(row)
    if not curve:
        return {}
    out: dict[str, Any] = {"final_train_loss": float(curve[-1])}
    if target is not None and math.isfinite(target):
        steps, censored = steps_to(curve, per_epoch, target)
        grid = float((row["extra"] or {}).get("tune_grid_steps") or 0.0)
        result = len(curve) * per_epoch + grid + fallback if censored else steps + grid
        out.update(steps_to_target=steps, steps_to_target_censored=censored, steps_to_result=result)
    return out


def targets(records: pd.DataFrame, reference: str) -> dict[int, float]:
    """seed -> the reference arm's final training loss (ok records only)."""
    ref = records[(records["arm"] == reference) & (records["status"] == "ok")]
    out = {}
    for _, row in ref.iterrows():
        curve, _ = train_curve(row)
        if curve and curve[-1] is not None and math.isfinite(curve[-1]):
            out[int(row["seed"])] = float(curve[-1])
    return out


def with_derived(records: pd.DataFrame, claim: Any) -> pd.DataFrame:
    """`records` with the derived metrics in `extra` when the claim's metric is one (else unchanged)."""
    if get_field(claim, "metric") not in DERIVED or records.empty:
        return records
    reference = get_field(claim, "baseline").partition("/")[0]
    goal = targets(records, reference)
    ref = records[(records["arm"] == reference) & (records["status"] == "ok")]
    fallback = {int(r["seed"]): derived_values(r, goal.get(int(r["seed"]))).get("steps_to_result", math.nan)
                for _, r in ref.iterrows()}

    def derived(row) -> dict:
        seed = int(row["seed"])
        return derived_values(row, goal.get(seed), fallback.get(seed, math.nan))
    out = records.copy()
    out["extra"] = [{**(row["extra"] or {}), **derived(row)} if row["status"] == "ok" else row["extra"]
                    for _, row in records.iterrows()]
    return out
