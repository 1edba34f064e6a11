"""Descriptive intervals for the report's tables and plots; decisions use repro/judge/claim.py."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from repro.judge.rule import CONFIDENCE

N_RESAMPLES = 10_000      # bootstrap resamples of bootstrap_interval


def mean_interval(values: list[float], *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The t interval of one arm's mean (error bars); (nan, nan) with fewer than 2 finite values."""
    a = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if a.size < 2:
        return math.nan, math.nan
    if np.ptp(a) == 0:
        return float(np.mean(a)), float(np.mean(a))
    ci = sps.ttest_1samp(a, 0.0).confidence_interval(confidence)
    return float(ci.low), float(ci.high)


def bootstrap_interval(
    treatment: np.ndarray, baseline: np.ndarray, *, paired: bool, log: bool = False,
    n_resamples: int = N_RESAMPLES, seed: int = 0,
) -> tuple[float, float, float]:
    """Descriptive estimate and 95% percentile bootstrap interval of mean(T - B) (paired) or
    mean(T) - mean(B); with ``log=True`` the geometric-mean ratio T / B. Not a decision rule: with few
    seeds it is too narrow (with 3 pairs it is [min d, max d])."""
    t, b = (np.log(treatment), np.log(baseline)) if log else (treatment, baseline)
    if paired:
        def stat(x, y, axis=-1):
            return np.mean(x - y, axis=axis)
    else:
        def stat(x, y, axis=-1):
            return np.mean(x, axis=axis) - np.mean(y, axis=axis)
    res = sps.bootstrap(
        (t, b), stat, paired=paired, vectorized=True, n_resamples=n_resamples,
        confidence_level=CONFIDENCE, method="percentile", rng=np.random.default_rng(seed),
    )
    est, lo, hi = float(stat(t, b)), float(res.confidence_interval.low), float(res.confidence_interval.high)
    return (math.exp(est), math.exp(lo), math.exp(hi)) if log else (est, lo, hi)
