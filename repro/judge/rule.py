"""The one decision rule, written once and vectorised: the judge applies it to one claim's differences,
the sequential design's calibration (repro/judge/sequential.py) to many simulated ones.

For shifted paired differences x (last axis: the n seeds; see repro/judge/verdict.py):
- p_t: two-sided one-sample t test of mean(x) = 0 (``scipy.stats.ttest_1samp``), with its 95% interval;
- p_signflip: two-sided sign-flip permutation test of mean(x) = 0, exact over all 2^n sign patterns up to
  n = EXACT_MAX_N, Monte Carlo beyond (p = (hits + 1) / (patterns + 1)); the same definition as
  ``scipy.stats.permutation_test(..., permutation_type="samples")`` (tests cross-check it);
- p_skew: the same t test after Hall's (1992) skewness-removing transformation (Ann. Statist. 20(2),
  "On the removal of skewness by transformation"): T = sqrt(n) (u + g u^2 / 3 + g^2 u^3 / 27 + g / (6n)),
  u = mean / sd, g = the sample skewness, referred to t_{n-1}; where the differences are skewed, the plain
  t test's two tails are wrong in opposite directions and this corrects the one a verdict stands on;
- p = max(p_t, p_skew, p_signflip): a claim is decisive only when all three reject (the sign-flip test
  assumes symmetry, the t tests normality of the mean; none alone is safe on skewed seeds);
- no decisive verdict where one seed's difference is an outlier: more than OUTLIER_SDS robust sds
  (1.4826 x the median absolute deviation) from the median and farther from it than the mean effect
  is from the bound (`outlier_rows`); the verdict could rest on one run, and skewed seed noise is what
  makes the tests above err (docs/statistics.md);
- within one spec the claims are one family: Holm's step-down adjustment of p
  (``statsmodels.stats.multitest.multipletests``), decisive when the adjusted p < alpha;
- fewer than MIN_PAIRS (6) paired seeds is never decisive: with 5 pairs the smallest two-sided
  sign-flip p is 2/32 = 0.0625 > 0.05.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

ALPHA = 0.05
CONFIDENCE = 0.95
MIN_PAIRS = 6
EXACT_MAX_N = 16          # all 2^n sign patterns up to here, Monte Carlo beyond
MC_PATTERNS = 9_999       # Monte Carlo sign patterns of one claim beyond EXACT_MAX_N
OUTLIER_SDS = 4.0         # flags ~7% of clean normal samples of 12 seeds, 5% of 20 (docs/statistics.md)
_CHUNK_CELLS = 2 ** 23    # rows x patterns evaluated at once (memory bound of the enumeration)


def t_test(x: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, lo, hi) per row of x (..., n): two-sided one-sample t test of mean 0, 95% interval of the mean.

    Identical differences have no spread, so no t test: p is NaN there (the interval is the point);
    the judge says why (repro/judge/claim.py).
    """
    x = np.asarray(x, dtype=float)
    m = x.mean(axis=-1)
    flat = zero_spread(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = sps.ttest_1samp(x, 0.0, axis=-1)
        ci = res.confidence_interval(confidence)
    return np.where(flat, np.nan, res.pvalue), np.where(flat, m, ci.low), np.where(flat, m, ci.high)


def zero_spread(x: np.ndarray) -> np.ndarray:
    """Rows whose values are identical up to float round-off."""
    return np.ptp(x, axis=-1) <= 1e-12 * np.maximum(1.0, np.abs(x.mean(axis=-1)))


def skew_t_p(x: np.ndarray) -> np.ndarray:
    """Two-sided p of mean(x) = 0 per row from Hall's (1992) skewness-corrected t (module docstring)."""
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    m, s = x.mean(axis=-1), x.std(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.mean((x - m[..., None]) ** 3, axis=-1) / s**3
        u = m / s
        stat = math.sqrt(n) * (u + g * u**2 / 3 + g**2 * u**3 / 27 + g / (6 * n))
        p = 2 * sps.t.sf(np.abs(stat), n - 1)
    return np.where(zero_spread(x), np.nan, p)


def signflip_p(x: np.ndarray, rng: np.random.Generator, patterns: int = MC_PATTERNS) -> np.ndarray:
    """Two-sided sign-flip p of mean(x) = 0 for each row of x (reps, n): exact over all 2^n patterns up
    to EXACT_MAX_N, else `patterns` random ones (p = (hits + 1) / (patterns + 1))."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    n = x.shape[1]
    exact = n <= EXACT_MAX_N
    rows = max(1, _CHUNK_CELLS // (2 ** n if exact else patterns))
    if x.shape[0] > rows:
        return np.concatenate([signflip_p(x[i:i + rows], rng, patterns) for i in range(0, x.shape[0], rows)])
    if exact:
        codes = np.arange(2 ** n)[:, None] >> np.arange(n)[None, :] & 1
        signs = (1 - 2 * codes).astype(float)
    else:
        signs = rng.choice(np.array([-1.0, 1.0]), size=(patterns, n))
    null = np.abs(x @ signs.T)
    obs = np.abs(x.sum(axis=1, keepdims=True))
    hits = np.sum(null >= obs * (1 - 1e-12), axis=1)
    p = hits / 2 ** n if exact else (hits + 1) / (patterns + 1)
    return np.where(np.any(x != 0, axis=1), np.minimum(p, 1.0), 1.0)


def robust_z(x: np.ndarray) -> np.ndarray:
    """|x - median| / (1.4826 MAD) per row (NaN where the MAD is round-off: no robust spread)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    med = np.median(x, axis=1, keepdims=True)
    mad = 1.4826 * np.median(np.abs(x - med), axis=1, keepdims=True)
    floor = 1e-9 * np.maximum(1.0, np.maximum(np.abs(med), x.std(axis=1, keepdims=True)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mad > floor, np.abs(x - med) / mad, np.nan)


def outlier_rows(x: np.ndarray) -> np.ndarray:
    """Rows (of at least 3 values) with a value more than OUTLIER_SDS robust sds from the median and
    farther from it than the mean effect is from 0: a verdict could rest on that one run. (An outlier
    small against the effect, as in a 10x slowdown measured over tight seeds, decides nothing.)"""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    z = np.nan_to_num(robust_z(x), nan=0.0)
    k = np.argmax(z, axis=1)[:, None]
    far = np.abs(np.take_along_axis(x, k, axis=1) - np.median(x, axis=1, keepdims=True))[:, 0]
    return (x.shape[1] >= 3) & (z.max(axis=1) > OUTLIER_SDS) & (far > np.abs(x.mean(axis=1)))


def rule_p(x: np.ndarray, rng: np.random.Generator, patterns: int = MC_PATTERNS) -> np.ndarray:
    """The rule's unadjusted p, max(p_t, p_skew, p_signflip), for each row of x (reps, n); NaN where the
    values have no spread (no test)."""
    return np.maximum(np.maximum(t_test(x)[0], skew_t_p(x)), signflip_p(x, rng, patterns))


def decision_p(x: np.ndarray, rng: np.random.Generator, patterns: int = MC_PATTERNS) -> np.ndarray:
    """rule_p where a verdict may rest on it, NaN where it may not (an outlier seed, no spread): what the
    simulations compare with a level, so that they simulate the judge's own decision. (Requiring the
    verdict to survive dropping the outlier instead keeps the power but not the error rate on the
    suite's own skewed seeds: 8.5% false verdicts on BLEU claims, docs/statistics.md.)"""
    return np.where(outlier_rows(x), np.nan, rule_p(x, rng, patterns))


def _adjusted(p_values: Sequence[float], method: str) -> list[float]:
    """statsmodels' multipletests adjustment over the finite entries; NaN entries stay NaN, uncounted."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.sum() == 1:
        out[ok] = p[ok]       # a family of one: no adjustment changes it
    elif ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out.tolist()


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p values (the decision within a spec)."""
    return _adjusted(p_values, "holm")


def bh_q(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg q values (report-wide, shown only)."""
    return _adjusted(p_values, "fdr_bh")


def signflip_floor(family_size: int, alpha: float) -> int:
    """The fewest pairs at which the exact two-sided sign-flip test can pass Holm's first step over
    `family_size` claims: its smallest p, 2 / 2^n (every difference on one side), must be below
    alpha / family_size. One claim at 0.05 gives 6; 9 claims at 0.0241 give 10."""
    n = 1
    while 2.0 / 2**n * max(family_size, 1) >= alpha:
        n += 1
    return n
