"""Time-to-event claims ("T reaches the target in at most x of B's steps"): censored data, an exact test.

A run that never reaches the target has no event time, only a lower bound (its budget). Such values
are not numbers to average: a t test on them compares budgets, and identical censored values give it
zero variance. Instead, per paired seed the claim's comparison is decided where the data decide it:

  win   T's event is on the claimed side of bound x B's (e.g. t < x b, better lower)
  loss  T's event is on the other side, or T never reached the target ("later or never": the claim is
        about runs as the spec sets them up, and a run that ends without the target did not reach it
        in fewer steps, whatever it might have done with more)
  tie   exactly on the bound, or both censored: left out

and the claim is tested by the exact two-sided sign test on wins against losses (scipy.stats.binomtest,
p = 1/2 under the null "as likely earlier as later"). The estimate is the median of the per-seed ratios
(T / B, or T - B for non-ratio kinds) with a censored T counted as +inf (a lower bound), and its
distribution-free interval from the order statistics (the sign test's own interval); "k of n seeds
reached it" goes beside it. Power: the exact binomial power at the observed share of wins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
from scipy import stats as sps

from repro.judge.rule import ALPHA, CONFIDENCE, MIN_PAIRS
from repro.judge.verdict import INCONCLUSIVE, Verdict

SIGN_TEST = "sign test, censoring-aware"

Events = Mapping[int, tuple[float, bool]]    # seed -> (event time or censoring time, censored?)


def outcome(v: Verdict, t: float, t_cens: bool, b: float, b_cens: bool) -> tuple[str, float]:
    """('win' | 'loss' | 'tie', per-seed effect) of one pair; the effect is +-inf where only its side
    is known. Comparisons are on the claim's scale: t / b against the bound (ratio), t - b otherwise."""
    ratio = v.kind == "ratio"

    def effect(a: float, c: float) -> float:
        return a / c if ratio else a - c

    lower_is_better = v.better == "lower"
    if t_cens and b_cens:
        return "tie", math.nan
    if t_cens:          # never reached within its budget: "later or never"
        return ("loss" if lower_is_better else "win"), math.inf
    if b_cens:          # B's event is later than b: the effect is below effect(t, b)
        known_below = effect(t, b) <= v.bound
        return ("win" if lower_is_better else "loss") if known_below else "tie", -math.inf
    e = effect(t, b)
    if e == v.bound:
        return "tie", e
    return ("win" if (e < v.bound) == lower_is_better else "loss"), e


def median_interval(effects: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """(median, lo, hi): the distribution-free interval of the median from order statistics,
    [x_(k), x_(n+1-k)] with the largest k whose two-sided binomial tail is <= 1 - confidence."""
    x = np.sort(effects)
    n = x.size
    median = float(np.median(x)) if n else math.nan
    k = 0                     # the largest k with P(Bin(n, 1/2) <= k - 1) <= (1 - confidence) / 2
    while k < n // 2 and sps.binom.cdf(k, n, 0.5) <= (1 - confidence) / 2:
        k += 1
    if k < 1:
        return median, -math.inf, math.inf
    return median, float(x[k - 1]), float(x[n - k])


@lru_cache(maxsize=4096)
def _rejected_wins(n: int, alpha: float) -> tuple[int, ...]:
    """The win counts of n decided pairs the exact two-sided sign test rejects at alpha: for p = 1/2 the
    two-sided p of w wins is min(1, 2 min(P(X <= w), P(X >= w))) (scipy.stats.binomtest's, tested)."""
    wins = np.arange(n + 1)
    p = np.minimum(1.0, 2 * np.minimum(sps.binom.cdf(wins, n, 0.5), sps.binom.sf(wins - 1, n, 0.5)))
    return tuple(int(w) for w in wins[p < alpha])


def sign_test_power(share: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the exact two-sided sign test with n decided pairs when a pair is a win with prob share."""
    if n < 1 or not math.isfinite(share):
        return math.nan
    return float(sps.binom.pmf(np.array(_rejected_wins(n, alpha), dtype=int), n, share).sum())


def sign_test_seeds(share: float, alpha: float = ALPHA, power: float = 0.8, most: int = 200) -> float:
    """Decided pairs the sign test needs for `power` at a share of wins; inf when share is 1/2 or more
    than `most` would be needed."""
    if not math.isfinite(share) or abs(share - 0.5) < 0.01:
        return math.inf
    return float(next((n for n in range(MIN_PAIRS, most + 1) if sign_test_power(share, n, alpha) >= power),
                      math.inf))


def test_events(v: Verdict, treatment: Events, baseline: Events) -> None:
    """Fill v (n, estimate, interval, p, power, notes) from both sides' event times by seed."""
    common = sorted(set(treatment) & set(baseline))
    pairs = [outcome(v, *treatment[s], *baseline[s]) for s in common]
    wins = sum(o == "win" for o, _ in pairs)
    losses = sum(o == "loss" for o, _ in pairs)
    reached = sum(not treatment[s][1] for s in common)
    v.n, v.n_treatment, v.n_baseline = len(common), len(treatment), len(baseline)
    v.test, v.reached, v.wins, v.losses = SIGN_TEST, reached, wins, losses
    effects = np.array([e for _, e in pairs if not math.isnan(e)])
    v.estimate, v.lo, v.hi = median_interval(effects, CONFIDENCE)
    ties = len(common) - wins - losses
    notes = [f"{reached} of {len(common)} seeds of {v.treatment} reached the target"]
    if ties:
        notes.append(f"{ties} seed(s) tied or undecidable under censoring, left out of the sign test")
    v.note = "; ".join(filter(None, [v.note, *notes]))
    if wins + losses == 0:
        v.verdict, v.reason = INCONCLUSIVE, "no seed decides the comparison (all tied or censored)"
        return
    v.p = float(sps.binomtest(wins, wins + losses, 0.5).pvalue)
    v.claimed_side = None if wins == losses else wins > losses
    share = wins / (wins + losses)
    v.power = sign_test_power(share, wins + losses, v.alpha)
    v.seeds_needed = sign_test_seeds(share, v.alpha)


def describe(v: Verdict) -> str:
    """'9 of 12 seeds reached it; 8 earlier, 4 later or never; median ratio x0.91 [0.82, inf]'."""
    what = "ratio" if v.kind == "ratio" else "difference"
    return (f"{v.reached} of {v.n} seeds reached it; {v.wins} on the claimed side, {v.losses} not; "
            f"median {what} {v.estimate:.3g} [{v.lo:.3g}, {v.hi:.3g}]")
