"""Derived claim metrics (steps_to_target & co) and the suite's performance profile, on hand-made records
whose answers are worked out by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fake_results import claim as make_claim
from fake_results import spec as make_spec

from repro.judge.derived import steps_to, steps_to_curve, with_derived
from repro.judge.spec import judge_spec
from repro.report.views.optimizer_suite import TAUS, performance_profile, steps_table


def _row(arm, seed, curve, status="ok", grid=None):
    return {"arm": arm, "seed": seed, "status": status, "steps": 10 * len(curve), "final": {},
            "curves": {"train_loss_all": curve}, "extra": {"tune_grid_steps": grid} if grid else {},
            "throughput": None, "wall_time_s": None, "train_time_s": None}


RECORDS = pd.DataFrame([
    _row("base", 0, [3.0, 2.0, 1.0, 0.5], grid=280), _row("fast", 0, [2.0, 0.5, 0.4, 0.3]),
    _row("slow", 0, [3.0, 2.9, 2.8, 2.7]),
    _row("base", 1, [3.0, 1.0, 0.8, 0.6], grid=280), _row("fast", 1, [0.6, 0.5, 0.4, 0.3]),
    _row("slow", 1, [0.0, 0.0, 0.0, 0.0], status="failed"),
])


def _claim(metric, treatment, kind="ratio"):
    return make_claim("c", metric, treatment, "base", kind=kind, threshold=1.0)


def test_steps_to_target_per_seed_against_the_baseline_final_loss():
    # seed 0: target 0.5 -> fast reaches it after epoch 2 (20 steps), base after epoch 4 (40 steps)
    # seed 1: target 0.6 -> fast after epoch 1 (10 steps), base after epoch 4 (40 steps)
    claim = _claim("steps_to_target", "fast")
    spec = make_spec("opt", [claim], arms=("base", "fast", "slow"))
    result = judge_spec(RECORDS, spec, "cpu")[0]        # judge_spec derives the metric itself
    v, table = result.verdict, result.table
    assert table["treatment"].tolist() == [20.0, 10.0] and table["baseline"].tolist() == [40.0, 40.0]
    assert v.test.startswith("sign test") and v.reached == 2 and (v.wins, v.losses) == (2, 0)
    assert math.isclose(v.estimate, (0.5 + 0.25) / 2)          # median of the per-seed ratios


def test_the_step_is_interpolated_between_epoch_ends():
    # epoch ends at 10, 20, 30 steps with mean losses 2.0, 1.0, 0.4: 1.5 is half way from 10 to 20
    assert steps_to([2.0, 1.0, 0.4], 10.0, 1.5) == (15.0, False)
    assert steps_to([2.0, 1.0, 0.4], 10.0, 2.5) == (10.0, False)    # met in the first epoch: its end
    assert steps_to([2.0, 1.0, 0.4], 10.0, 0.1) == (30.0, True)     # never: censored at the budget


def test_never_reached_is_censored_at_the_budget_and_result_adds_the_grid():
    out = with_derived(RECORDS, _claim("steps_to_result", "slow"))
    slow0 = out[(out["arm"] == "slow") & (out["seed"] == 0)].iloc[0]["extra"]
    assert slow0["steps_to_target"] == 40.0 and slow0["steps_to_target_censored"]
    assert slow0["steps_to_result"] == 40.0 and slow0["steps_to_result_censored"]
    base0 = out[(out["arm"] == "base") & (out["seed"] == 0)].iloc[0]["extra"]
    assert base0["steps_to_result"] == 40.0 + 280 and base0["final_train_loss"] == 0.5
    failed = out[(out["arm"] == "slow") & (out["seed"] == 1)].iloc[0]["extra"]
    assert failed == {}                                         # failed runs get nothing derived


def test_performance_profile_counts_tasks_within_tau_of_the_best():
    per_task = {"a": {"x": 10.0, "y": 20.0}, "b": {"x": 40.0, "y": 10.0}, "c": {"x": math.inf, "y": 5.0}}
    prof = performance_profile(per_task, ["x", "y"])
    at = {tau: int(np.searchsorted(TAUS, tau * 1.05, side="right") - 1) for tau in (1.0, 2.0, 4.0)}
    at[1.0] = 0                                                 # TAUS[0] == 1
    # x: best on a (1/3 at tau=1), 4x on b, never on c; y: best on b and c, 2x on a
    assert prof["x"][at[1.0]] == 1 / 3 and prof["x"][at[4.0]] == 2 / 3
    assert prof["y"][at[1.0]] == 2 / 3 and prof["y"][at[2.0]] == 1.0
    assert steps_table(RECORDS, "base") == {"base": 40.0, "fast": 15.0, "slow": math.inf}


# steps_to_test_error: test error at evaluations every 25 steps; the target is the baseline's final error
def _eval_row(arm, seed, errors, status="ok"):
    steps = [25.0 * (k + 1) for k in range(len(errors))]
    return {"arm": arm, "seed": seed, "status": status, "steps": steps[-1], "final": {},
            "curves": {"train_loss_all": [1.0] * len(errors), "step": steps, "test_error": errors},
            "extra": {}, "throughput": None, "wall_time_s": None, "train_time_s": None}


EVALS = pd.DataFrame([
    _eval_row("step", 0, [40.0, 20.0, 12.0, 10.0]), _eval_row("fast", 0, [30.0, 10.0, 9.0, 8.0]),
    _eval_row("never", 0, [50.0, 40.0, 30.0, 20.0]),
    _eval_row("step", 1, [40.0, 20.0, 9.5, 10.0]), _eval_row("fast", 1, [12.0, math.nan, 8.0, 7.0]),
    _eval_row("never", 1, [9.0, 9.0, 9.0, 9.0], status="failed"),
])


def test_steps_to_curve_interpolates_between_evaluations():
    steps = [20.0, 40.0, 60.0]
    assert steps_to_curve(steps, [30.0, 20.0, 10.0], 15.0) == (50.0, False)    # half way from 40 to 60
    assert steps_to_curve(steps, [30.0, 20.0, 10.0], 20.0) == (40.0, False)    # met exactly at 40
    assert steps_to_curve(steps, [30.0, 20.0, 10.0], 35.0) == (20.0, False)    # met at the first evaluation
    assert steps_to_curve(steps, [30.0, 20.0, 10.0], 5.0) == (60.0, True)      # never: censored at the end
    # the first crossing counts, not a later one: 30 -> 18 crosses 20 at 20 + 10/12 * 20
    assert steps_to_curve([20.0, 40.0, 60.0, 80.0], [30.0, 18.0, 22.0, 15.0], 20.0) == (20.0 + 50 / 3, False)


def test_steps_to_test_error_against_the_baseline_final_error_on_the_same_seed():
    out = with_derived(EVALS, make_claim("c", "steps_to_test_error", "fast", "step", kind="ratio"))
    got = {(r.arm, r.seed): (r.extra.get("steps_to_test_error"), r.extra.get("steps_to_test_error_censored"))
           for r in out.itertuples()}
    # seed 0, target 10: step reaches it at its last evaluation (100); fast at 50 (30 -> 10 over 25..50)
    assert got["step", 0] == (100.0, False) and got["fast", 0] == (50.0, False)
    assert got["never", 0] == (100.0, True)                     # 20 at the end: censored at 100
    # seed 1, target 10 (the last evaluation, not the best): step first gets there between 50 and 75,
    # 50 + (20 - 10) / (20 - 9.5) * 25; fast's missing evaluation at 50 is skipped: 25 + 2/4 * 50 = 50
    assert got["step", 1][0] == pytest.approx(50 + 10 / 10.5 * 25) and got["fast", 1] == (50.0, False)
    assert got["never", 1] == (None, None)                       # a failed run gets nothing derived


def test_steps_to_test_error_is_judged_as_time_to_event():
    claim = make_claim("c", "steps_to_test_error", "fast", "step", kind="ratio", threshold=0.6)
    spec = make_spec("sched", [claim], arms=("step", "fast", "never"))
    v = judge_spec(EVALS, spec, "cpu")[0].verdict
    # ratios 50/100 = 0.5 and 50/73.8 = 0.68: one on the claimed side of 0.6, one not
    assert v.test.startswith("sign test") and v.reached == 2 and (v.wins, v.losses) == (1, 1)
    assert v.estimate == pytest.approx((0.5 + 50 / (50 + 10 / 10.5 * 25)) / 2)
