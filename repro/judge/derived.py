"""Metrics a claim computes from the recorded curves of two arms on the same seed (repro/specs/optimizers.md).

- final_train_loss: the mean training loss of a run's last epoch (curves.train_loss_all[-1]).
- steps_to_target: the steps a run needs to reach the claim's baseline arm's final training loss on the
  same seed (AlgoPerf's time-to-target, VeLO's Fig. 1 speedup, counted in steps). The curve is the mean
  training loss of each epoch, placed at the epoch's last step; the step where it first falls to the
  target is interpolated linearly between the two epoch ends around it (resolution: within one epoch of
  steps; a target met in the first epoch counts as that epoch's end). The baseline reaches its own final
  loss at the latest at its last epoch. A run that never reaches the target is a *censored* event time:
  `steps_to_target_censored` is True and the value is its budget (the event, if any, is later).
- steps_to_result: steps_to_target plus the steps of the run's tuning grid (extra.tune_grid_steps, 0 for
  an arm without `tune:`): the compute to a result, counting the search for the hyperparameter; censored
  (at budget + grid) exactly when steps_to_target is.
- steps_to_test_error: the steps a run needs to reach the claim's baseline arm's final test error on the
  same seed ("reaches the step schedule's final test error in x of its steps", repro/specs/schedules.md).
  The curve is the run's own test_error at each evaluation (curves.test_error at curves.step, every
  `eval_every` epochs and at the end); the step where it first falls to the target is interpolated
  linearly between the two evaluations around it (resolution: eval_every epochs of steps; a target met at
  the first evaluation counts as that evaluation's step). Every arm gets the same rule, the baseline too,
  which reaches its own final error at the latest at its last evaluation. Never reached: censored at the
  run's last evaluation, like steps_to_target.

The steps_to_* metrics are time-to-event data: a claim on them is judged by repro/judge/censored.py, never
by a t test on censored values. with_derived(records, claim) adds them (and `<metric>_censored`) to `extra`
of every ok record, so the judge reads them as it reads any recorded number.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from repro.spec import Claim

TIME_TO_EVENT = ("steps_to_target", "steps_to_result", "steps_to_test_error")
DERIVED = ("final_train_loss", *TIME_TO_EVENT)


def censored_key(metric: str) -> str:
    """The `extra` key that says whether a time-to-event metric of a record is censored."""
    return f"{metric}_censored"


def train_curve(row) -> tuple[list[float], float]:
    """(mean training loss per epoch, steps per epoch) of a record row; ([], nan) when absent."""
    curve = list((row["curves"] or {}).get("train_loss_all") or [])
    steps = row["steps"]
    if not curve or steps is None or (isinstance(steps, float) and math.isnan(steps)):
        return [], math.nan
    return curve, float(steps) / len(curve)


def steps_to(curve: list[float], per_epoch: float, target: float) -> tuple[float, bool]:
    """(steps at which the loss curve first reaches target, censored?), interpolated between epoch ends;
    censored: (the budget, True)."""
    for k, loss in enumerate(curve):
        if loss is None or not math.isfinite(loss) or loss > target:
            continue
        before = curve[k - 1] if k else None
        if before is None or not math.isfinite(before) or before <= loss:
            return (k + 1) * per_epoch, False
        return (k + (before - target) / (before - loss)) * per_epoch, False
    return len(curve) * per_epoch, True


def derived_values(row, target: float | None) -> dict:
    """The derived metrics of one record, given the target loss of its seed."""
    curve, per_epoch = train_curve(row)
    if not curve:
        return {}
    out: dict[str, Any] = {"final_train_loss": float(curve[-1])}
    if target is not None and math.isfinite(target):
        steps, censored = steps_to(curve, per_epoch, target)
        grid = float((row["extra"] or {}).get("tune_grid_steps") or 0.0)
        out.update({"steps_to_target": steps, censored_key("steps_to_target"): censored,
                    "steps_to_result": steps + grid, censored_key("steps_to_result"): censored})
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


def test_error_curve(row) -> tuple[list[float], list[float]]:
    """(steps, test error) at each evaluation of a record row, non-finite values left out; ([], []) when
    the record has no such curve."""
    curves = row["curves"] or {}
    pairs = [(float(s), float(e)) for s, e in zip(curves.get("step") or [], curves.get("test_error") or [],
                                                  strict=False)
             if s is not None and e is not None and math.isfinite(e)]
    return [s for s, _ in pairs], [e for _, e in pairs]


def steps_to_curve(steps: list[float], values: list[float], target: float) -> tuple[float, bool]:
    """(steps at which the curve (values at steps) first reaches target, censored?), linear between the
    evaluations around it; the first evaluation's step when it is already there; (last step, True) never."""
    for k, value in enumerate(values):
        if value > target:
            continue
        if k == 0:
            return steps[0], False
        before = values[k - 1]
        return steps[k - 1] + (before - target) / (before - value) * (steps[k] - steps[k - 1]), False
    return steps[-1], True


def test_error_values(row, target: float | None) -> dict:
    """steps_to_test_error (and its censoring flag) of one record, given its seed's target test error."""
    steps, errors = test_error_curve(row)
    if not steps or target is None or not math.isfinite(target):
        return {}
    value, censored = steps_to_curve(steps, errors, target)
    return {"steps_to_test_error": value, censored_key("steps_to_test_error"): censored}


def test_error_targets(records: pd.DataFrame, reference: str) -> dict[int, float]:
    """seed -> the reference arm's final test error (its last finite evaluation; ok records only)."""
    ref = records[(records["arm"] == reference) & (records["status"] == "ok")]
    out = {}
    for _, row in ref.iterrows():
        _, errors = test_error_curve(row)
        if errors:
            out[int(row["seed"])] = errors[-1]
    return out


def with_derived(records: pd.DataFrame, claim: Claim) -> pd.DataFrame:
    """`records` with the derived metrics in `extra` when the claim's metric is one (else unchanged)."""
    if claim.metric not in DERIVED or records.empty:
        return records
    goal = targets(records, claim.baseline_ref.arm)
    error_goal = test_error_targets(records, claim.baseline_ref.arm)
    out = records.copy()
    out["extra"] = [{**(row["extra"] or {}), **derived_values(row, goal.get(int(row["seed"]))),
                     **test_error_values(row, error_goal.get(int(row["seed"])))}
                    if row["status"] == "ok" else row["extra"] for _, row in records.iterrows()]
    return out
