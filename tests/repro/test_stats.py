"""Verdicts on constructed cases whose answer is known by hand (bootstrap distributions of 2-3 seeds
are enumerable) or by a closed form (normal approximation for many seeds)."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from repro.stats import (
    CONTRADICTED,
    INCONCLUSIVE,
    NO_DATA,
    REPRODUCED,
    bootstrap_interval,
    decide,
    judge,
    mean_interval,
)


def claim(kind="superiority", better="lower", margin=None, threshold=None, **kw):
    return SimpleNamespace(id="c", text="T beats B", metric="test_error", treatment="t", baseline="b",
                           kind=kind, better=better, margin=margin, threshold=threshold,
                           published=kw.get("published", {"b": 5.5, "t": 5.3, "source": "Table 1"}))


def by_seed(*values):
    return dict(enumerate(values))


def test_two_seeds_interval_is_the_two_differences():
    # n=2: resampled means are d1, (d1+d2)/2, d2 with prob 1/4, 1/2, 1/4, so the 2.5/97.5% points are d1, d2.
    est, lo, hi = bootstrap_interval(np.array([3.0, 5.0]), np.array([2.0, 2.0]), paired=True)
    assert (est, lo, hi) == pytest.approx((2.0, 1.0, 3.0))


def test_three_seeds_tail_mass():
    # d = (0, 0, 3): P(mean = 0) = (2/3)^3 = 0.30 > 2.5%, P(mean = 3) = 1/27 = 3.7% > 2.5%.
    est, lo, hi = bootstrap_interval(np.array([0.0, 0.0, 3.0]), np.zeros(3), paired=True)
    assert (est, lo, hi) == pytest.approx((1.0, 0.0, 3.0))


def test_many_seeds_match_normal_approximation():
    rng = np.random.default_rng(1)
    d = rng.normal(1.0, 1.0, size=400)
    est, lo, hi = bootstrap_interval(d, np.zeros_like(d), paired=True)
    half = 1.96 * d.std(ddof=1) / math.sqrt(d.size)
    assert est == pytest.approx(d.mean())
    assert lo == pytest.approx(d.mean() - half, abs=0.02) and hi == pytest.approx(d.mean() + half, abs=0.02)


def test_pairing_removes_seed_effect():
    # Seeds differ a lot (seed effect 0..40) but every pair improves by exactly 1 +- 0.1.
    base = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    treat = base - 1.0 + np.array([0.1, -0.1, 0.05, -0.05, 0.0])
    _, lo_p, hi_p = bootstrap_interval(treat, base, paired=True)
    _, lo_u, hi_u = bootstrap_interval(treat, base, paired=False)
    assert -1.1 <= lo_p < hi_p < -0.9
    assert lo_u < 0 < hi_u


def test_clear_improvement_is_reproduced():
    v = judge(claim(), by_seed(7.0, 7.1, 6.9), by_seed(8.0, 8.2, 7.9))
    assert v.verdict == REPRODUCED
    assert v.n == 3 and v.estimate == pytest.approx(-(1.0 + 1.1 + 1.0) / 3)
    assert v.lo <= v.estimate <= v.hi < 0
    assert v.treatment_mean == pytest.approx(7.0) and v.treatment_std == pytest.approx(0.1)
    assert v.published["source"] == "Table 1"


def test_clear_harm_is_contradicted():
    v = judge(claim(), by_seed(9.0, 9.1, 8.9), by_seed(8.0, 8.2, 7.9))
    assert v.verdict == CONTRADICTED and v.lo > 0


def test_noise_around_zero_is_inconclusive():
    v = judge(claim(), by_seed(8.0, 7.0, 8.5, 7.5), by_seed(7.0, 8.0, 8.0, 8.0))
    assert v.verdict == INCONCLUSIVE and v.lo < 0 < v.hi


def test_higher_is_better_flips_direction():
    acc_t, acc_b = by_seed(93.0, 93.2, 92.9), by_seed(92.0, 92.1, 91.8)
    assert judge(claim(better="higher"), acc_t, acc_b).verdict == REPRODUCED
    assert judge(claim(better="lower"), acc_t, acc_b).verdict == CONTRADICTED


@pytest.mark.parametrize("margin, expected", [(0.5, REPRODUCED), (0.2, INCONCLUSIVE), (0.05, CONTRADICTED)])
def test_noninferiority_lower_is_better(margin, expected):
    # differences T - B = 0.1, 0.3 -> interval exactly [0.1, 0.3]
    v = judge(claim("noninferiority", margin=margin), by_seed(5.1, 5.3), by_seed(5.0, 5.0))
    assert (v.lo, v.hi) == pytest.approx((0.1, 0.3))
    assert v.bound == pytest.approx(margin) and v.verdict == expected


@pytest.mark.parametrize("margin, expected", [(0.5, REPRODUCED), (0.2, INCONCLUSIVE), (0.05, CONTRADICTED)])
def test_noninferiority_higher_is_better(margin, expected):
    v = judge(claim("noninferiority", "higher", margin=margin), by_seed(94.9, 94.7), by_seed(95.0, 95.0))
    assert v.bound == pytest.approx(-margin) and v.verdict == expected


@pytest.mark.parametrize("threshold, expected",
                         [(1.5, REPRODUCED), (3.0, INCONCLUSIVE), (10.0, CONTRADICTED)])
def test_ratio_is_geometric_mean_of_paired_ratios(threshold, expected):
    # paired ratios 2 and 8: geometric mean 4 (arithmetic would be 5); n=2 interval is [2, 8].
    v = judge(claim("ratio", "higher", threshold=threshold), by_seed(200.0, 800.0), by_seed(100.0, 100.0))
    assert (v.estimate, v.lo, v.hi) == pytest.approx((4.0, 2.0, 8.0))
    assert v.verdict == expected


def test_ratio_lower_is_better_time():
    v = judge(claim("ratio", "lower", threshold=1.0), by_seed(5.0, 5.2, 4.8), by_seed(10.0, 10.0, 10.0))
    assert v.verdict == REPRODUCED and v.hi < 1.0
    assert judge(claim("ratio"), by_seed(5.0, 5.2, 4.8), by_seed(10.0, 10.0, 10.0)).bound == 1.0


def test_ratio_drops_nonpositive_values():
    c = claim("ratio", "higher", threshold=1.0)
    v = judge(c, by_seed(2.0, 0.0, 2.2, 2.1), by_seed(1.0, 1.0, 1.0, 1.0))
    assert v.n == 3 and "non-positive" in v.note and v.verdict == REPRODUCED


def test_single_seed_is_inconclusive_with_note():
    v = judge(claim(), {0: 1.0}, {0: 9.0})
    assert v.verdict == INCONCLUSIVE and v.n == 1 and v.estimate == pytest.approx(-8.0)
    assert math.isnan(v.lo) and "at least 2" in v.note


def test_partially_matching_seeds_pair_on_intersection():
    v = judge(claim(), {0: 7.0, 1: 7.1, 2: 6.9}, {1: 8.1, 2: 8.0, 3: 8.2})
    assert v.paired and v.n == 2 and v.estimate == pytest.approx(-1.05)
    assert "[0, 3]" in v.note and v.verdict == REPRODUCED


def test_disjoint_seeds_fall_back_to_unpaired():
    v = judge(claim(), {0: 7.0, 1: 7.2, 2: 6.8}, {3: 8.0, 4: 8.2, 5: 7.8})
    assert not v.paired and v.n == 0 and v.n_treatment == 3
    assert v.estimate == pytest.approx(-1.0) and "unpaired" in v.note and v.verdict == REPRODUCED


def test_nan_values_are_dropped_and_noted():
    v = judge(claim(), by_seed(7.0, math.nan, 6.9, 7.1), by_seed(8.0, 8.0, math.inf, 8.1))
    assert v.n == 2 and v.estimate == pytest.approx(-1.0)
    assert "[1]" in v.note and "[2]" in v.note and math.isfinite(v.treatment_mean)


def test_all_nan_is_inconclusive_not_crash():
    v = judge(claim(), by_seed(math.nan, math.nan), by_seed(1.0, 2.0))
    assert v.verdict == INCONCLUSIVE and v.n == 0


def test_missing_arm_is_no_data_unless_its_jobs_diverged():
    assert judge(claim(), {}, by_seed(1.0, 2.0)).verdict == NO_DATA
    crashed = {"treatment": {0: "failed", 1: "missing metric"}}
    assert judge(claim(), {}, by_seed(1.0, 2.0), excluded=crashed).verdict == NO_DATA
    v = judge(claim(), {}, by_seed(1.0, 2.0), excluded={"treatment": {0: "diverged", 1: "diverged"}})
    assert v.verdict == INCONCLUSIVE and "t: diverged seed(s) [0, 1] excluded" in v.note


def test_excluded_jobs_are_counted_in_note():
    v = judge(claim(), by_seed(7.0, 7.1), {0: 8.0, 1: 8.1, 2: 8.2}, excluded={"treatment": {2: "diverged"}})
    assert v.verdict == REPRODUCED and v.n == 2
    assert v.note == "t: diverged seed(s) [2] excluded"   # not also reported as an unmatched seed


def test_mapping_claim_and_deterministic_interval():
    c = {"id": "x", "metric": "test_ece", "treatment": "t", "baseline": "b", "better": "lower"}
    a = judge(c, by_seed(1.0, 1.5, 0.7, 1.2), by_seed(1.1, 1.4, 1.0, 1.3))
    b = judge(c, by_seed(1.0, 1.5, 0.7, 1.2), by_seed(1.1, 1.4, 1.0, 1.3))
    assert (a.lo, a.hi) == (b.lo, b.hi) and a.kind == "superiority"


def test_decide_is_strict_at_the_bound():
    assert decide(-2.0, 0.0, 0.0, "lower") == INCONCLUSIVE
    assert decide(0.0, 2.0, 0.0, "lower") == INCONCLUSIVE
    assert decide(1.01, 2.0, 1.0, "higher") == REPRODUCED
    assert decide(math.nan, 1.0, 0.0, "lower") == INCONCLUSIVE


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="unknown claim kind"):
        judge(claim("vibes"), by_seed(1.0, 2.0), by_seed(1.0, 2.0))


def test_mean_interval_brackets_mean():
    lo, hi = mean_interval([1.0, 3.0])
    assert (lo, hi) == pytest.approx((1.0, 3.0))
    assert all(math.isnan(x) for x in mean_interval([1.0, math.nan]))
