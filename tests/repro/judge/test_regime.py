"""The plateau check and the claims' conditions (repro/judge/regime.py) on records whose answer is known
by hand, and the fifth verdict they give through judge_spec."""

import math

import pandas as pd
import pytest
from fake_results import JITTER, build_records, claim, record, write_regime_checks
from fake_results import spec as make_spec

from repro.judge.records import load_records
from repro.judge.regime import (
    AT_PLATEAU,
    BELOW_LINEAR,
    NOT_MEASURED,
    PAPER_RECIPE,
    PRE_PLATEAU,
    check_conditions,
    check_plateau,
    plateau_for,
)
from repro.judge.spec import judge_spec
from repro.judge.verdict import NO_DATA, OUT_OF_REGIME, REPRODUCED


def spec(conditions=(), **regime):
    c = claim("c", "test_error", "other", "base", conditions=list(conditions))
    speed = claim("fast", "throughput", "other", "base", kind="ratio", better="higher", threshold=0.5)
    return make_spec("s", [c, speed], arms=("base", "other"),
                     regime={"doubling": {"cpu": "cpu_x2"}, **regime})


def frame(profile, errors, arm="base"):
    return pd.DataFrame([record("s", profile, arm, seed, e, 0.05) for seed, e in enumerate(errors)])


def test_doubling_check_at_plateau_and_pre_plateau_by_hand():
    now = frame("cpu", [10.0, 11.0, 12.0, 13.0])            # seed 3 has no doubled run: left out
    flat = frame("cpu_x2", [9.8, 10.9, 11.9])               # mean 11.0 -> 10.8667: gain 0.1333
    r = check_plateau(spec(threshold=0.5), "cpu", now, flat, {"test_error": 20.0})
    assert r.status == AT_PLATEAU and r.seeds == 3
    assert r.improvement == pytest.approx(0.4 / 3) and r.value == pytest.approx(11.0)
    steep = frame("cpu_x2", [8.0, 9.0, 10.0])               # two points better at twice the budget
    r = check_plateau(spec(threshold=0.5, meet="20 epochs"), "cpu", now, steep, {"test_error": 20.0})
    assert r.status == PRE_PLATEAU and r.improvement == pytest.approx(2.0) and not r.ok
    assert "To meet it: 20 epochs" in r.line()


def test_the_improvements_standard_error_is_that_of_the_paired_seeds_and_gives_the_calls_noise():
    now = frame("cpu", [10.0, 11.0, 12.0])
    noisy = frame("cpu_x2", [10.0, 11.5, 10.2])             # per-seed gains 0, -0.5, 1.8: mean 0.4333
    r = check_plateau(spec(threshold=0.5), "cpu", now, noisy, {"test_error": 20.0})
    sd = math.sqrt(((0 - 1.3 / 3) ** 2 + (-0.5 - 1.3 / 3) ** 2 + (1.8 - 1.3 / 3) ** 2) / 2)
    assert r.status == AT_PLATEAU and r.improvement_se == pytest.approx(sd / math.sqrt(3))
    # 0.0667 below the threshold at a standard error of 0.698: z = 0.0955, P(Z > z) = 0.462
    assert r.reversal_chance == pytest.approx(0.462, abs=0.001)
    assert "standard error 0.7: at these seeds the check would call it the other way about 46%" in r.summary()
    steady = frame("cpu_x2", [8.0, 9.1, 9.9])               # gains 2.0, 1.9, 2.1: 26 standard errors above
    r = check_plateau(spec(threshold=0.5), "cpu", now, steady, {"test_error": 20.0})
    assert r.status == PRE_PLATEAU and r.improvement_se == pytest.approx(0.1 / math.sqrt(3))
    assert r.reversal_chance < 1e-9 and "the other way under 1% of the time" in r.summary()
    same = frame("cpu_x2", [9.0, 10.0, 11.0])               # identical gains: no spread, no chance given
    r = check_plateau(spec(threshold=0.5), "cpu", now, same, {"test_error": 20.0})
    assert r.improvement_se == 0 and math.isnan(r.reversal_chance) and "standard error" not in r.summary()


def test_default_threshold_is_two_percent_of_the_doubled_value():
    now, twice = frame("cpu", [10.0] * 3), frame("cpu_x2", [9.75] * 3)
    r = check_plateau(spec(), "cpu", now, twice, {"test_error": 20})
    assert r.threshold == pytest.approx(0.195) and r.status == PRE_PLATEAU     # 0.25 >= 0.02 * 9.75


def test_an_image_baseline_no_better_than_logistic_regression_is_not_at_plateau():
    now, twice = frame("cpu", [19.5] * 3), frame("cpu_x2", [19.5] * 3)
    r = check_plateau(spec(threshold=0.5), "cpu", now, twice, {"test_error": 20.0})   # 0.5 < 1 point margin
    assert r.status == BELOW_LINEAR and not r.ok and "logistic regression" in r.summary()
    assert check_plateau(spec(threshold=0.5), "cpu", now, twice, None).status == NOT_MEASURED


def test_not_measured_without_enough_seeds_or_a_doubled_profile_and_paper_is_the_papers_recipe():
    r = check_plateau(spec(), "cpu", frame("cpu", [10.0] * 3), frame("cpu_x2", [9.0] * 2), {"test_error": 20})
    assert r.status == NOT_MEASURED and "--profile cpu_x2 --arms base --seeds 0-2" in r.detail
    undoubled = make_spec("s", [claim("c", "test_error", "other", "base")], arms=("base", "other"), regime={})
    assert check_plateau(undoubled, "cpu", frame("cpu", [10.0] * 3), None).status == NOT_MEASURED
    assert check_plateau(spec(), "paper", frame("paper", [10.0] * 3), None).status == PAPER_RECIPE


def test_conditions_read_final_metrics_and_the_last_value_of_a_curve():
    over = {"arm": "base", "metric": "test_ece", "above": 0.04, "why": "over-confident baseline"}
    fits = {"arm": "base", "metric": "train_loss", "below": 0.4, "why": "ERM fits its data"}
    c = claim("c", "test_error", "other", "base", conditions=[over, fits])
    records = frame("cpu", [10.0, 11.0])                     # test_ece 0.05; train_loss curve ends at 0.5
    held, failed = check_conditions(c, records)
    assert held.held and held.value == pytest.approx(0.05) and held.seeds == 2
    assert not failed.held and failed.value == pytest.approx(0.5) and "failed" in failed.text()
    assert math.isnan(check_conditions(c, records[records["arm"] == "x"])[0].value)    # no seed: not held


def test_out_of_regime_replaces_a_decisive_verdict_and_speed_claims_need_no_plateau(tmp_path):
    build_records(tmp_path)                                   # spec "ls": its doubling check at plateau
    from fake_results import SPEC
    records = load_records(tmp_path, "cpu")
    plateau = plateau_for(tmp_path, SPEC, "cpu", records)
    assert plateau.status == AT_PLATEAU
    judged = {r.verdict.claim_id: r.verdict for r in judge_spec(records, SPEC, "cpu", plateau=plateau)}
    assert judged["lower-ece"].verdict == REPRODUCED and judged["lower-ece"].regime_ok
    write_regime_checks(tmp_path, "ls", gain=3.0)             # now doubling the budget gains 3 points
    plateau = plateau_for(tmp_path, SPEC, "cpu", records)
    assert plateau.status == PRE_PLATEAU
    judged = {r.verdict.claim_id: r.verdict for r in judge_spec(records, SPEC, "cpu", plateau=plateau)}
    ece = judged["lower-ece"]
    assert ece.verdict == OUT_OF_REGIME and ece.statistical == REPRODUCED and "pre-plateau" in ece.reason
    assert math.isfinite(ece.p) and ece.n == 9                 # the statistics stay visible
    assert judged["throughput"].verdict != OUT_OF_REGIME and judged["throughput"].regime_ok


def test_a_failed_condition_puts_only_its_claim_out_of_regime():
    cond = {"arm": "base", "metric": "test_ece", "above": 0.2, "why": "needs over-confidence", "meet": "more"}
    s = spec(conditions=[cond], threshold=0.5)
    other = [5 + j + k % 3 / 10 for k, j in enumerate(JITTER)]
    now = pd.concat([frame("cpu", [10 + j for j in JITTER]), frame("cpu", other, "other")])
    now["throughput"] = [100.0 + k for k in range(10)] + [90.0 + k % 3 for k in range(10)]
    plateau = check_plateau(s, "cpu", now, frame("cpu_x2", [10 + j for j in JITTER[:3]]), {"test_error": 30})
    assert plateau.ok
    c, fast = (r.verdict for r in judge_spec(now, s, "cpu", plateau=plateau))
    assert c.verdict == OUT_OF_REGIME and c.statistical == REPRODUCED
    assert "condition base test_ece > 0.2 (0.05 over 10 seeds): failed" in c.reason
    assert "to meet it: more" in c.reason
    assert fast.verdict == REPRODUCED and fast.regime_ok


def test_a_claim_without_data_is_out_of_regime_only_where_the_plateau_check_failed():
    s = spec(threshold=0.5)
    now = frame("cpu", [10 + j for j in JITTER[:3]])                 # only the check's arm ran
    short = check_plateau(s, "cpu", now, frame("cpu_x2", [7 + j for j in JITTER[:3]]), {"test_error": 30})
    long = check_plateau(s, "cpu", now, frame("cpu_x2", [10 + j for j in JITTER[:3]]), {"test_error": 30})
    assert (short.status, long.status) == (PRE_PLATEAU, AT_PLATEAU)
    c, fast = (r.verdict for r in judge_spec(now, s, "cpu", plateau=short))
    assert c.verdict == OUT_OF_REGIME and c.statistical == NO_DATA and c.n == 0
    assert "pre-plateau" in c.reason and "not run" in c.reason
    assert fast.verdict == NO_DATA                                    # a speed claim needs no plateau
    assert [r.verdict.verdict for r in judge_spec(now, s, "cpu", plateau=long)] == [NO_DATA, NO_DATA]
