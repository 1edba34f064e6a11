"""Verdicts for claims: seeds paired across arms, a 95% percentile bootstrap interval, a decision rule.

For a claim comparing a treatment arm T with a baseline arm B on one metric, with values t_s, b_s
for the seeds s that both arms finished:

- superiority / noninferiority: the estimate is the mean paired difference  d = mean_s (t_s - b_s);
- ratio (speedups, throughput): the estimate is the geometric mean of the paired ratios
  r = exp(mean_s log(t_s / b_s)).

The interval is the 95% percentile bootstrap (Efron & Tibshirani 1993, ch. 13) over seeds, resampling
(t_s, b_s) pairs together (``scipy.stats.bootstrap(paired=True)``) with a fixed-seed generator, so a
report is reproducible. Percentile intervals are transformation-invariant, so bootstrapping the mean
log ratio and exponentiating is the same as bootstrapping the geometric mean.

With only a handful of seeds a percentile bootstrap is narrower than a t interval (it cannot reach
beyond the observed paired differences): a `reproduced` from 3 seeds is weak evidence, and the
report prints n beside every verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

REPRODUCED, CONTRADICTED, INCONCLUSIVE, NO_DATA = "reproduced", "contradicted", "inconclusive", "no data"
KINDS = ("superiority", "noninferiority", "ratio")
N_RESAMPLES = 10_000
CONFIDENCE = 0.95


@dataclass
class Verdict:
    """One claim judged from the runs: arm summaries, the estimate with its interval, the decision."""

    claim_id: str
    text: str
    metric: str
    kind: str
    better: str
    treatment: str
    baseline: str
    n: int = 0                       # seeds paired (0 when the unpaired fallback was used)
    treatment_mean: float = math.nan
    treatment_std: float = math.nan
    baseline_mean: float = math.nan
    baseline_std: float = math.nan
    estimate: float = math.nan       # mean difference T - B, or geometric-mean ratio T / B for `ratio`
    lo: float = math.nan
    hi: float = math.nan
    verdict: str = NO_DATA
    note: str = ""
    published: dict[str, Any] = field(default_factory=dict)
    bound: float = 0.0               # the point the interval is compared with (0, the margin, the threshold)
    paired: bool = True
    n_treatment: int = 0
    n_baseline: int = 0


def get_field(obj: Any, name: str, default: Any = None) -> Any:
    """Read a field from a pydantic model, a dataclass, a namespace or a mapping."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "model_dump"):
        return {k: v for k, v in obj.model_dump().items() if v is not None}
    return dict(vars(obj))


def bootstrap_interval(
    treatment: np.ndarray, baseline: np.ndarray, *, paired: bool, log: bool = False,
    n_resamples: int = N_RESAMPLES, seed: int = 0,
) -> tuple[float, float, float]:
    """Estimate and 95% percentile bootstrap interval of mean(T - B) (paired) or mean(T) - mean(B).

    With ``log=True`` the values are log-transformed first and the results exponentiated, giving the
    geometric-mean ratio T / B and its interval.
    """
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


def reference_point(kind: str, better: str, margin: float | None, threshold: float | None) -> float:
    """The value the interval must clear: 0 (superiority), +-margin (noninferiority), threshold (ratio).

    Non-inferiority with lower-is-better tolerates T - B up to +margin; higher-is-better down to -margin.
    """
    if kind == "superiority":
        return 0.0
    if kind == "noninferiority":
        m = abs(float(margin or 0.0))
        return m if better == "lower" else -m
    if kind == "ratio":
        return 1.0 if threshold is None else float(threshold)
    raise ValueError(f"unknown claim kind {kind!r}; allowed: {', '.join(KINDS)}")


def decide(lo: float, hi: float, bound: float, better: str) -> str:
    """`reproduced` when [lo, hi] lies strictly on the claimed side of `bound`, `contradicted` when it
    lies strictly on the other side, else `inconclusive`."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return INCONCLUSIVE
    good, bad = (hi < bound, lo > bound) if better == "lower" else (lo > bound, hi < bound)
    return REPRODUCED if good else CONTRADICTED if bad else INCONCLUSIVE


def _finite(values: Mapping[int, float], positive: bool) -> tuple[dict[int, float], list[int]]:
    keep, dropped = {}, []
    for seed, x in values.items():
        if x is not None and math.isfinite(float(x)) and (not positive or float(x) > 0):
            keep[seed] = float(x)
        else:
            dropped.append(seed)
    return keep, sorted(dropped)


def _mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    if a.size == 0:
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else math.nan


def _excluded_note(v: Verdict, excluded: Mapping[str, Mapping[int, str]]) -> list[str]:
    arms = {"treatment": v.treatment, "baseline": v.baseline}
    notes = []
    for side, by_seed in excluded.items():
        for status in sorted(set(by_seed.values())):
            seeds = sorted(k for k, st in by_seed.items() if st == status)
            notes.append(f"{arms.get(side, side)}: {status} seed(s) {seeds} excluded")
    return notes


def judge(
    claim: Any, treatment: Mapping[int, float], baseline: Mapping[int, float], *,
    excluded: Mapping[str, Mapping[int, str]] | None = None, n_resamples: int = N_RESAMPLES, seed: int = 0,
) -> Verdict:
    """Judge `claim` from seed -> value maps of the jobs that finished ok.

    `claim` has the contract's Claim fields (id, text, metric, treatment, baseline, better, kind,
    margin, threshold, published). `excluded` names the jobs left out per side, seed -> status,
    e.g. {"treatment": {2: "diverged"}}. A side without values is `inconclusive` when some of its
    jobs diverged (training was tried: evidence), else `no data` (never run, or crashed).
    Seeds present in both arms are paired; seeds in only one arm are dropped (noted unless their
    exclusion is already noted). When fewer than 2 seeds pair but each arm has >= 2 values, the arms
    are compared unpaired (resampled independently). Non-finite values (and non-positive ones for
    ratios) are dropped and noted.
    """
    kind, better = get_field(claim, "kind") or "superiority", get_field(claim, "better") or "lower"
    bound = reference_point(kind, better, get_field(claim, "margin"), get_field(claim, "threshold"))
    v = Verdict(
        claim_id=str(get_field(claim, "id")), text=str(get_field(claim, "text") or ""),
        metric=str(get_field(claim, "metric")), kind=kind, better=better,
        treatment=str(get_field(claim, "treatment")), baseline=str(get_field(claim, "baseline")),
        published=_as_dict(get_field(claim, "published")), bound=bound,
    )
    excluded = excluded or {}
    notes = _excluded_note(v, excluded)
    empty = [side for side, vals in (("treatment", treatment), ("baseline", baseline)) if not vals]
    if empty:
        diverged = any(st == "diverged" for side in empty for st in excluded.get(side, {}).values())
        v.verdict = INCONCLUSIVE if diverged else NO_DATA
        names = ", ".join(v.treatment if side == "treatment" else v.baseline for side in empty)
        v.note = "; ".join([f"no finished runs for {names}", *notes])
        return v
    t, t_drop = _finite(treatment, positive=kind == "ratio")
    b, b_drop = _finite(baseline, positive=kind == "ratio")
    if t_drop or b_drop:
        what = "non-positive or non-finite" if kind == "ratio" else "non-finite"
        notes.append(f"{what} values dropped (treatment seeds {t_drop}, baseline seeds {b_drop})")
    explained = {k for by_seed in excluded.values() for k in by_seed} | set(t_drop) | set(b_drop)
    return _estimate(v, t, b, notes, explained, n_resamples, seed)


def _estimate(v: Verdict, t: dict[int, float], b: dict[int, float], notes: list[str], explained: set[int],
              n_resamples: int, seed: int) -> Verdict:
    common = sorted(set(t) & set(b))
    unmatched = sorted(set(t) ^ set(b) - explained)
    v.paired = len(common) >= 2 or min(len(t), len(b)) < 2
    if v.paired:
        if unmatched:
            notes.append(f"paired on the {len(common)} common seeds; unmatched seeds {unmatched} dropped")
        tv, bv = [t[s] for s in common], [b[s] for s in common]
        v.n = len(common)
    else:
        notes.append(f"seeds do not pair ({len(common)} common): arms compared unpaired")
        tv, bv = list(t.values()), list(b.values())
    v.n_treatment, v.n_baseline = len(tv), len(bv)
    v.treatment_mean, v.treatment_std = _mean_std(tv)
    v.baseline_mean, v.baseline_std = _mean_std(bv)
    if min(len(tv), len(bv)) < 2:
        v.verdict = INCONCLUSIVE
        notes.append(f"{min(len(tv), len(bv))} seed(s): at least 2 per arm are needed for an interval")
        if tv and bv and v.paired:
            v.estimate = _point(v.kind, np.asarray(tv), np.asarray(bv))
    else:
        v.estimate, v.lo, v.hi = bootstrap_interval(
            np.asarray(tv), np.asarray(bv), paired=v.paired, log=v.kind == "ratio",
            n_resamples=n_resamples, seed=seed)
        v.verdict = decide(v.lo, v.hi, v.bound, v.better)
    v.note = "; ".join(notes)
    return v


def _point(kind: str, t: np.ndarray, b: np.ndarray) -> float:
    return float(np.exp(np.mean(np.log(t / b)))) if kind == "ratio" else float(np.mean(t - b))


def mean_interval(
    values: list[float], *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of one arm's values (for error bars).

    Returns (nan, nan) with fewer than 2 finite values.
    """
    a = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if a.size < 2:
        return math.nan, math.nan
    res = sps.bootstrap((a,), np.mean, vectorized=True, n_resamples=n_resamples, confidence_level=CONFIDENCE,
                        method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)
