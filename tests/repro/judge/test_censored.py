"""Time-to-event claims (repro/judge/censored.py) on cases counted by hand."""

import math

import numpy as np
import pytest
from fake_results import claim

from repro.judge.censored import SIGN_TEST, median_interval, outcome
from repro.judge.claim import ClaimData, judge
from repro.judge.verdict import INCONCLUSIVE, REPRODUCED, new_verdict

FEWER = claim("fewer-steps", "steps_to_target", "t", "b", kind="ratio", threshold=1.0)


def events(values, censored=()):
    return dict(enumerate(values)), {i: i in censored for i in range(len(values))}


def judged(t_steps, t_censored, b_steps, **kw):
    t, tc = events(t_steps, t_censored)
    b, bc = events(b_steps)
    return judge(ClaimData(FEWER, t, b, censored={"treatment": tc, "baseline": bc}), **kw)


def test_nine_of_twelve_reaching_the_target_is_not_decisive():
    # 9 seeds reach it earlier, 3 never do (censored at the budget, 100 >= 1.0 x 90): 9 wins, 3 losses;
    # exact two-sided sign test: 2 x (C(12,9) + C(12,10) + C(12,11) + C(12,12)) / 2^12 = 598 / 4096
    v = judged([50.0] * 9 + [100.0] * 3, {9, 10, 11}, [90.0] * 12)
    assert v.test == SIGN_TEST and (v.reached, v.wins, v.losses) == (9, 9, 3)
    assert v.p == pytest.approx(598 / 4096) and v.verdict == INCONCLUSIVE
    assert math.isnan(v.p_t)                                  # no t test on censored values


def test_identical_censored_values_never_decide_by_zero_variance():
    # every treatment seed censored at the same budget above the baseline: 12 losses, a real sign test
    v = judged([110.0] * 12, set(range(12)), [100.0] * 12)
    assert v.p == pytest.approx(2 / 4096) and v.estimate == math.inf and v.reached == 0
    assert v.verdict == "contradicted"


def test_all_earlier_reproduces_with_the_median_ratio():
    v = judged([40.0, 45.0, 50.0, 55.0, 60.0, 65.0, 70.0, 75.0], set(), [100.0] * 8)
    assert v.verdict == REPRODUCED and v.p == pytest.approx(2 / 256)
    assert v.estimate == pytest.approx(0.575) and (v.lo, v.hi) == (0.4, 0.75)   # n = 8: [x_(1), x_(8)]


def test_never_reaching_counts_against_the_claim_even_with_a_short_budget():
    v = new_verdict(FEWER)
    assert outcome(v, 50.0, True, 100.0, False) == ("loss", math.inf)     # stopped at 50, never reached
    assert outcome(v, 150.0, True, 100.0, False) == ("loss", math.inf)
    assert outcome(v, 50.0, False, 100.0, True) == ("win", -math.inf)     # B later than 100: 50 < B
    assert outcome(v, 100.0, False, 100.0, False) == ("tie", 1.0)


@pytest.mark.parametrize(("n", "k"), [(8, 1), (12, 3), (20, 6)])
def test_median_interval_is_the_order_statistic_interval(n, k):
    # the largest k with P(Bin(n, 1/2) <= k - 1) <= 2.5%: n = 12 -> 3 (0.0193), n = 20 -> 6 (0.0207)
    _, lo, hi = median_interval(np.arange(1.0, n + 1), 0.95)
    assert (lo, hi) == (k, n + 1 - k)


@pytest.mark.parametrize("n", [6, 9, 12, 20])
def test_the_rejection_region_is_scipys_binomtest(n):
    from scipy import stats as sps

    from repro.judge.censored import _rejected_wins
    expected = tuple(w for w in range(n + 1) if sps.binomtest(w, n, 0.5).pvalue < 0.05)
    assert _rejected_wins(n, 0.05) == expected
