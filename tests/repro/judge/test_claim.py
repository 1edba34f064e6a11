"""The verdict rule (repro/judge) on cases whose answer is known by hand or by a closed form: the t interval
(mean +- t_{0.975, n-1} s / sqrt(n)), exact sign-flip p values (2 / 2^n when every pair agrees),
Holm and Benjamini-Hochberg by hand, power from the noncentral t distribution."""

import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats as sps

from repro.judge import claim as judging
from repro.judge.claim import ClaimData
from repro.judge.intervals import mean_interval
from repro.judge.power import seeds_for_power, t_power
from repro.judge.rule import MIN_PAIRS, bh_q, holm, signflip_floor, signflip_p
from repro.judge.verdict import CONTRADICTED, INCONCLUSIVE, NO_DATA, REPRODUCED
from repro.spec import Claim


def claim(kind="superiority", better="lower", margin=None, threshold=1.0, cid="c", **kw):
    return Claim.model_validate(
        {"id": cid, "text": "T beats B", "metric": "test_error", "treatment": "t", "baseline": "b",
         "kind": kind, "better": better, "margin": margin, "threshold": threshold,
         "published": kw.get("published", {"b": 5.5, "t": 5.3, "source": "Table 1"}),
         "effect_of_interest": kw.get("effect_of_interest")})


def judge(c, treatment, baseline, excluded=None, **kw):
    return judging.judge(ClaimData(c, treatment, baseline, excluded or {}), **kw)


def judge_family(items, **kw):
    return judging.judge_family([ClaimData(c, t, b, ex or {}) for c, t, b, ex in items], **kw)


def by_seed(*values):
    return dict(enumerate(values))


# eight paired differences with a clear negative mean (-1.0) and sd 0.2
D8 = np.array([-1.2, -0.8, -1.1, -0.9, -1.0, -1.3, -0.7, -1.0])


def test_interval_is_the_paired_t_interval():
    v = judge(claim(), by_seed(*(10 + D8)), by_seed(*[10.0] * 8))
    half = sps.t.ppf(0.975, 7) * D8.std(ddof=1) / math.sqrt(8)
    assert v.estimate == pytest.approx(-1.0)
    assert (v.lo, v.hi) == pytest.approx((-1.0 - half, -1.0 + half))
    assert v.n == 8 and v.verdict == REPRODUCED and v.p_signflip == pytest.approx(2 / 256)


@pytest.mark.parametrize("n", [3, 5])
def test_fewer_than_six_pairs_never_decide(n):
    # every pair improves by 1 +- 0.01: as strong as data get, still not decisive
    t = by_seed(*(9.0 + 0.01 * np.arange(n)))
    v = judge(claim(), t, by_seed(*(10.0 + 0.01 * np.arange(n))))
    assert v.verdict == INCONCLUSIVE and v.reason.startswith(f"n = {n} < {MIN_PAIRS} paired seeds")
    assert v.p_signflip == pytest.approx(2 / 2 ** n)   # smallest exact two-sided p: 0.25 at n=3


def test_six_pairs_all_one_sign_can_decide():
    v = judge(claim(), by_seed(9.0, 9.1, 8.9, 9.05, 8.95, 9.0), by_seed(*[10.0] * 6))
    assert v.p_signflip == pytest.approx(2 / 64) and v.verdict == REPRODUCED


def test_clear_harm_is_contradicted_and_higher_flips():
    t, b = by_seed(*(10 - D8)), by_seed(*[10.0] * 8)
    assert judge(claim(), t, b).verdict == CONTRADICTED
    assert judge(claim(better="higher"), t, b).verdict == REPRODUCED


def test_noise_is_inconclusive_and_says_how_many_seeds():
    d = np.array([0.5, -0.4, 0.3, -0.6, 0.2, 0.1, -0.3, 0.4])
    v = judge(claim(), by_seed(*(10 + d)), by_seed(*[10.0] * 8))
    assert v.verdict == INCONCLUSIVE and v.lo < 0 < v.hi
    assert "straddles" in v.reason and "80% power needs" in v.reason
    assert v.seeds_needed == seeds_for_power(d.mean() / d.std(ddof=1))


@pytest.mark.parametrize("margin, expected", [(1.5, REPRODUCED), (1.0, INCONCLUSIVE), (0.5, CONTRADICTED)])
def test_noninferiority_shifts_by_margin(margin, expected):
    # T - B = 1 +- 0.2 (lower is better): fine for a margin of 1.5, not for 0.5
    v = judge(claim("noninferiority", margin=margin), by_seed(*(10 - D8)), by_seed(*[10.0] * 8))
    assert v.bound == pytest.approx(margin) and v.verdict == expected


@pytest.mark.parametrize("threshold, expected", [(1.5, REPRODUCED), (2.0, INCONCLUSIVE), (3.0, CONTRADICTED)])
def test_ratio_is_tested_on_log_ratios(threshold, expected):
    ratios = np.exp(math.log(2.0) + 0.1 * D8 - 0.1 * D8.mean())    # geometric mean exactly 2
    v = judge(claim("ratio", "higher", threshold=threshold), by_seed(*(100 * ratios)), by_seed(*[100.0] * 8))
    assert v.estimate == pytest.approx(2.0)
    logs = np.log(ratios)
    half = sps.t.ppf(0.975, 7) * logs.std(ddof=1) / math.sqrt(8)
    assert (v.lo, v.hi) == pytest.approx((2.0 * math.exp(-half), 2.0 * math.exp(half)))
    assert v.verdict == expected


def test_holm_and_bh_by_hand():
    # sorted 0.01, 0.03, 0.04: Holm 3*0.01, max(.03, 2*0.03), max(.06, 1*0.04); BH 0.03, 0.04, 0.04
    assert holm([0.04, 0.01, 0.03, math.nan]) == pytest.approx([0.06, 0.03, 0.06, math.nan], nan_ok=True)
    assert bh_q([0.04, 0.01, 0.03]) == pytest.approx([0.04, 0.03, 0.04])


def test_family_decides_on_holm_adjusted_p():
    # one claim alone has p ~ 0.03 (decisive); with a second such claim, Holm doubles it
    d = np.array([-0.9, -0.2, -0.7, -0.1, -0.8, -0.3, 0.2, -0.6])
    t, b = by_seed(*(10 + d)), by_seed(*[10.0] * 8)
    alone = judge(claim(), t, b)
    assert alone.p < 0.05 and alone.verdict == REPRODUCED
    two = judge_family([(claim(cid="a"), t, b, None), (claim(cid="b"), t, b, None)])
    assert all(v.p_holm == pytest.approx(2 * alone.p) and v.family_size == 2 for v in two)
    assert all(v.verdict == INCONCLUSIVE and "Holm over 2 claims" in v.reason for v in two)


@pytest.mark.parametrize(("family", "alpha"), [(1, 0.05), (2, 0.0241), (9, 0.0241), (13, 0.0241)])
def test_signflip_floor_is_where_scipys_exact_test_first_passes_holm(family, alpha):
    def smallest_p(n):      # every difference on one side: the most extreme of the 2^n sign patterns
        return sps.permutation_test((np.ones(n),), np.mean, permutation_type="samples",
                                    alternative="two-sided").pvalue
    floor = signflip_floor(family, alpha)
    assert smallest_p(floor) * family < alpha <= smallest_p(floor - 1) * family
    assert signflip_floor(1, 0.05) == MIN_PAIRS          # the protocol's floor of 6 pairs is this bound


def test_a_family_too_large_for_its_pairs_says_when_the_sign_flip_test_can_pass():
    t, b = by_seed(*(10 + D8)), by_seed(*[10.0] * 8)
    nine = judge_family([(claim(cid=str(i)), t, b, None) for i in range(9)], alpha=0.0241)
    assert all(v.verdict == INCONCLUSIVE for v in nine)
    assert "with 9 claims the exact sign-flip test cannot pass Holm before n = 10" in nine[0].reason


def test_power_matches_noncentral_t():
    d_z, n = 0.8, 10
    crit = sps.t.ppf(0.975, n - 1)
    nc = d_z * math.sqrt(n)
    expected = sps.nct.sf(crit, n - 1, nc) + sps.nct.cdf(-crit, n - 1, nc)
    assert t_power(d_z, n) == pytest.approx(expected, rel=1e-6)
    # paired t at d_z = 1: 80% power needs 10 pairs (power 0.80 at 10, 0.75 at 9)
    assert seeds_for_power(1.0) == 10 and t_power(1.0, 9) < 0.8 <= t_power(1.0, 10)
    assert seeds_for_power(0.0) == math.inf


def test_paper_effect_from_published_numbers_and_effect_of_interest():
    v = judge(claim(), by_seed(*(10 + 0.1 * D8)), by_seed(*[10.0] * 8))
    assert v.paper_effect == pytest.approx(5.3 - 5.5)
    assert v.paper_d_z == pytest.approx(-0.2 / (0.1 * D8).std(ddof=1))
    assert v.paper_seeds_needed == seeds_for_power(v.paper_d_z)
    w = judge(claim(effect_of_interest=-0.05), by_seed(*(10 + 0.1 * D8)), by_seed(*[10.0] * 8))
    assert w.paper_effect == pytest.approx(-0.05)


def test_effect_below_seed_noise_is_flagged():
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(0, 2.0, 8)          # big seed-to-seed spread shared by both arms
    v = judge(claim(), by_seed(*(10 + seed_effect + 0.1 * D8)), by_seed(*(10 + seed_effect)))
    assert v.verdict == REPRODUCED and v.below_noise and v.noise > abs(v.estimate)


def test_signflip_matches_enumeration():
    x = np.array([0.3, -0.1, 0.4, 0.2, -0.05, 0.25])
    signs = np.array(np.meshgrid(*[[-1, 1]] * 6)).reshape(6, -1).T
    null = np.abs((signs * x).mean(axis=1))
    expected = np.mean(null >= abs(x.mean()) - 1e-12)
    assert signflip_p(x[None], np.random.default_rng(0))[0] == pytest.approx(expected)


def hall_p(d):
    """Hall (1992), Ann. Statist. 20(2): T = sqrt(n) (u + g u^2/3 + g^2 u^3/27 + g/(6n)), u = mean/sd,
    g = the sample skewness (scipy.stats.skew, biased moments over sd^3 with ddof=1), against t_{n-1}."""
    n, u = d.size, d.mean() / d.std(ddof=1)
    g = sps.skew(d) * (d.std(ddof=0) / d.std(ddof=1)) ** 3
    stat = math.sqrt(n) * (u + g * u**2 / 3 + g**2 * u**3 / 27 + g / (6 * n))
    return 2 * sps.t.sf(abs(stat), n - 1)


def test_skew_correction_protects_against_a_skewed_null():
    # exponential differences centred on the bound: the plain t test rejects ~9.5% at n = 12, Hall's ~6%
    rng = np.random.default_rng(4)
    x = rng.exponential(1.0, (20_000, 12)) - 1.0
    from repro.judge.rule import skew_t_p, t_test
    plain, hall = float(np.mean(t_test(x)[0] < 0.05)), float(np.mean(skew_t_p(x) < 0.05))
    assert plain > 0.085 and hall < 0.07


def test_an_outlier_seed_withholds_a_decisive_verdict():
    d = np.array([-1.0, -1.1, -0.9, -1.05, -0.95, -1.0, -1.02, -3.0])
    v = judge(claim(), by_seed(*(10 + d)), by_seed(*[10.0] * 8))
    assert v.p_holm < 0.05 and v.verdict == INCONCLUSIVE and "outlier" in v.reason and "pair 8" in v.outlier


def test_the_decision_interval_excludes_the_bound_exactly_when_the_t_part_passes_holm():
    d = np.array([-0.9, -0.2, -0.7, -0.1, -0.8, -0.3, 0.2, -0.6])
    t, b = by_seed(*(10 + d)), by_seed(*[10.0] * 8)
    two = judge_family([(claim(cid="a"), t, b, None), (claim(cid="b"), t, b, None)])
    v = two[0]
    assert v.decision_level == pytest.approx(0.05 / 2)          # Holm doubled p: half the level
    half = sps.t.ppf(1 - 0.025 / 2, 7) * d.std(ddof=1) / math.sqrt(8)
    assert (v.decision_lo, v.decision_hi) == pytest.approx((d.mean() - half, d.mean() + half))
    assert v.lo < v.hi < 0 and v.verdict == INCONCLUSIVE          # the 95% CI excludes 0, the decision not
    assert (v.decision_hi < 0) == (v.p_t < v.decision_level)


@pytest.mark.parametrize("n", [6, 8, 12, 16])
def test_judge_p_values_are_scipys_exact_tests(n):
    """The one rule's p values, as the judge reports them, against scipy's own tests on the same data."""
    rng = np.random.default_rng(n)
    for _ in range(5):
        d = rng.normal(-0.3, 1.0, n)
        v = judge(claim(), by_seed(*(10 + d)), by_seed(*[10.0] * n))
        exact = sps.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=np.inf)
        assert v.p_signflip == pytest.approx(exact.pvalue, rel=1e-12)
        assert v.p_t == pytest.approx(sps.ttest_1samp(d, 0.0).pvalue, rel=1e-9)
        assert v.p_skew == pytest.approx(hall_p(d), rel=1e-9)
        assert v.p == max(v.p_t, v.p_skew, v.p_signflip)


def test_beyond_the_exact_range_the_sign_flip_p_is_a_monte_carlo_estimate_of_scipys():
    d = np.random.default_rng(1).normal(0.4, 1.0, 20)
    exact = float(np.mean(np.abs(np.array(np.meshgrid(*[[-1, 1]] * 20)).reshape(20, -1).T @ d)
                          >= abs(d.sum()) * (1 - 1e-12)))
    p = judge(claim(), by_seed(*(10 + d)), by_seed(*[10.0] * 20)).p_signflip
    assert abs(p - exact) < 4 * math.sqrt(exact * (1 - exact) / 9_999) + 1e-4


def test_partial_pairing_nan_and_exclusions_are_noted():
    v = judge(claim(), {0: 7.0, 1: 7.1, 2: math.nan, 3: 7.0}, {1: 8.1, 2: 8.0, 3: 8.2, 4: 8.0},
              excluded={"treatment": {4: "diverged"}})
    assert v.n == 2 and "t: diverged seed(s) [4] excluded" in v.note and "[2]" in v.note
    assert "[0]" in v.note and v.verdict == INCONCLUSIVE


def test_missing_arm_is_no_data_unless_its_jobs_diverged():
    assert judge(claim(), {}, by_seed(1.0, 2.0)).verdict == NO_DATA
    v = judge(claim(), {}, by_seed(1.0, 2.0), excluded={"treatment": {0: "diverged", 1: "diverged"}})
    assert v.verdict == INCONCLUSIVE and "diverged" in v.note


def test_single_pair_has_estimate_but_no_interval():
    v = judge(claim(), {0: 1.0}, {0: 9.0})
    assert v.verdict == INCONCLUSIVE and v.estimate == pytest.approx(-8.0) and math.isnan(v.lo)


def test_identical_differences_have_no_t_test_and_no_verdict():
    v = judge(claim(), by_seed(*[9.0] * 6), by_seed(*[10.0] * 6))
    assert math.isnan(v.p_t) and math.isnan(v.p) and v.verdict == INCONCLUSIVE and "no spread" in v.reason
    assert v.lo == v.hi == pytest.approx(-1.0)
    tie = judge(claim(), by_seed(*[10.0] * 6), by_seed(*[10.0] * 6))
    assert tie.verdict == INCONCLUSIVE and math.isnan(tie.p)


def test_unknown_kind_is_refused_by_the_spec():
    with pytest.raises(ValidationError, match="kind"):
        claim("vibes")


def test_mean_interval_is_t_interval():
    lo, hi = mean_interval([1.0, 3.0])
    half = sps.t.ppf(0.975, 1) * math.sqrt(2) / math.sqrt(2)
    assert (lo, hi) == pytest.approx((2.0 - half, 2.0 + half))
    assert all(math.isnan(x) for x in mean_interval([1.0, math.nan]))
