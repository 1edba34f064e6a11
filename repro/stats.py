"""Verdicts for claims: paired seeds, a paired t interval cross-checked by an exact sign-flip test,
Holm within a spec, seed power. The protocol and its simulated error rates: docs/statistics.md.

For a claim comparing treatment arm T with baseline arm B on one metric, over the seeds s both arms
finished, the paired differences are d_s = t_s - b_s (log(t_s / b_s) for `ratio` claims), shifted by
the claim's bound c (0 for superiority, the non-inferiority margin, log of the ratio threshold):
x_s = d_s - c. The null hypothesis is E[x] = 0 (the effect sits exactly on the bound).

- p_t: two-sided one-sample t test of x (``scipy.stats.ttest_1samp``), with its 95% interval;
- p_signflip: two-sided sign-flip permutation test of mean(x) (``scipy.stats.permutation_test``),
  exact over all 2^n sign patterns up to n = 16, Monte Carlo beyond;
- p = max(p_t, p_signflip): the claim is decisive only when both tests reject;
- within one spec the claims are one family: Holm's step-down adjustment of p
  (``statsmodels.stats.multitest.multipletests``); decisive when the adjusted p < alpha;
- fewer than MIN_PAIRS (6) paired seeds is never decisive: with 5 pairs the smallest two-sided
  sign-flip p is 2/32 = 0.0625 > 0.05.

A decisive claim is `reproduced` when mean(x) lies on the claimed side of the bound, else
`contradicted`. Power and the seeds 80% power needs come from ``statsmodels``' TTestPower at the
observed standardized effect d_z = mean(x) / sd(x) and, where the spec's published numbers (or its
`effect_of_interest`) define one, at the paper's effect measured in units of our seed noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

REPRODUCED, CONTRADICTED, INCONCLUSIVE, NO_DATA = "reproduced", "contradicted", "inconclusive", "no data"
NOT_JUDGED = "not judged"
KINDS = ("superiority", "noninferiority", "ratio")
ALPHA = 0.05
CONFIDENCE = 0.95
MIN_PAIRS = 6
EXACT_MAX_N = 16          # all 2^n sign patterns up to here, Monte Carlo beyond
MC_RESAMPLES = 9_999
TARGET_POWER = 0.8
N_RESAMPLES = 10_000      # bootstrap resamples of bootstrap_interval (descriptive only)


@dataclass
class Verdict:
    """One claim judged from the runs: arm summaries, the estimate with its interval, tests, decision."""

    claim_id: str
    text: str
    metric: str
    kind: str
    better: str
    treatment: str
    baseline: str
    n: int = 0                       # seeds paired
    treatment_mean: float = math.nan
    treatment_std: float = math.nan
    baseline_mean: float = math.nan
    baseline_std: float = math.nan
    estimate: float = math.nan       # mean difference T - B, or geometric-mean ratio T / B for `ratio`
    lo: float = math.nan             # 95% paired t interval of the estimate
    hi: float = math.nan
    verdict: str = NO_DATA
    note: str = ""                   # what was left out of the data, and why
    reason: str = ""                 # why the verdict is what it is (always set for inconclusive)
    published: dict[str, Any] = field(default_factory=dict)
    bound: float = 0.0               # the point the interval is compared with (0, the margin, the threshold)
    paired: bool = True
    n_treatment: int = 0
    n_baseline: int = 0
    p_t: float = math.nan
    p_signflip: float = math.nan
    p: float = math.nan              # max(p_t, p_signflip), before adjustment
    p_holm: float = math.nan         # Holm-adjusted within the spec (the decision uses this)
    q_bh: float = math.nan           # Benjamini-Hochberg q over the whole report (shown, not decided on)
    family_size: int = 1
    alpha: float = ALPHA             # the level the adjusted p is compared with (lower at sequential looks)
    claimed_side: bool | None = None  # mean shifted difference on the claimed side of the bound
    d_z: float = math.nan            # standardized effect mean(x) / sd(x)
    power: float = math.nan          # power of a t test at d_z and n
    seeds_needed: float = math.nan   # paired seeds for 80% power at d_z (inf: no effect)
    paper_effect: float = math.nan   # the paper's effect in metric units (ratio for ratio claims)
    paper_d_z: float = math.nan
    paper_power: float = math.nan
    paper_seeds_needed: float = math.nan
    noise: float = math.nan          # seed-to-seed sd of one arm's metric (pooled over the two arms)
    below_noise: bool = False        # |effect| < noise: one run per arm cannot tell them apart
    look: int | None = None          # sequential design: the look (seed count) that decided the claim


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


def reference_point(kind: str, better: str, margin: float | None, threshold: float | None) -> float:
    """The value the effect is compared with: 0 (superiority), +-margin (noninferiority), threshold (ratio).

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


# ---------------------------------------------------------------- the two tests


def t_test(x: np.ndarray) -> tuple[float, float, float]:
    """Two-sided one-sample t test of mean(x) = 0: (p, lo, hi) with the 95% interval of the mean.

    Identical differences have no spread: p is 0 when they are not 0 (the interval is the point).
    """
    m = float(np.mean(x))
    if np.ptp(x) <= 1e-12 * max(1.0, abs(m)):     # float round-off of identical differences
        return (1.0 if abs(m) <= 1e-12 else 0.0), m, m
    res = sps.ttest_1samp(x, 0.0)
    ci = res.confidence_interval(CONFIDENCE)
    return float(res.pvalue), float(ci.low), float(ci.high)


def signflip_test(x: np.ndarray, *, seed: int = 0) -> float:
    """Two-sided sign-flip permutation p of mean(x) = 0; exact up to EXACT_MAX_N pairs."""
    if not np.any(x):
        return 1.0
    res = sps.permutation_test(
        (x,), np.mean, permutation_type="samples", vectorized=True, alternative="two-sided",
        n_resamples=np.inf if x.size <= EXACT_MAX_N else MC_RESAMPLES, rng=np.random.default_rng(seed))
    return float(min(1.0, res.pvalue))


# ---------------------------------------------------------------- power


def t_power(d_z: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t test at standardized effect d_z with n pairs (statsmodels)."""
    from statsmodels.stats.power import TTestPower

    if n < 2 or not math.isfinite(d_z):
        return math.nan
    power = float(TTestPower().power(effect_size=abs(d_z), nobs=n, alpha=alpha, alternative="two-sided"))
    if math.isnan(power):     # statsmodels' noncentral t loses precision for very large effects
        crit, nc = sps.t.ppf(1 - alpha / 2, n - 1), abs(d_z) * math.sqrt(n)
        power = float(sps.nct.sf(crit, n - 1, nc) + sps.nct.cdf(-crit, n - 1, nc))
    return 1.0 if math.isnan(power) and abs(d_z) * math.sqrt(n) > 10 else power


def seeds_for_power(d_z: float, alpha: float = ALPHA, power: float = TARGET_POWER,
                    most: int = 10_000) -> float:
    """Paired seeds for `power` at effect d_z (at least MIN_PAIRS); inf when there is no effect or
    more than `most` would be needed. The smallest n whose statsmodels power reaches the target."""
    from statsmodels.stats.power import TTestPower

    if not math.isfinite(d_z) or abs(d_z) < 1e-3:
        return math.inf
    for lo, hi in ((2, 64), (64, 1_024), (1_024, most + 1)):    # most claims stop in the first block
        ns = np.arange(lo, hi)
        reach = TTestPower().power(effect_size=abs(d_z), nobs=ns, alpha=alpha,
                                   alternative="two-sided") >= power
        if reach.any():
            return float(max(MIN_PAIRS, ns[np.argmax(reach)]))
    return math.inf


def paper_effect(v: Verdict, effect_of_interest: float | None) -> float:
    """The effect the paper reports, in metric units: `effect_of_interest`, else published T - B
    (T / B for ratio claims) where the published numbers name both arms."""
    if effect_of_interest is not None:
        return float(effect_of_interest)
    pub = {k: x for k, x in v.published.items() if k != "source"}
    keys = [next((k for k in (ref, ref.split("/")[0], ref.split("/")[-1]) if k in pub), None)
            for ref in (v.treatment, v.baseline)]
    if None in keys:
        return math.nan
    t, b = float(pub[keys[0]]), float(pub[keys[1]])
    if v.kind == "ratio":
        return t / b if t > 0 and b > 0 else math.nan
    return t - b


def _power_fields(v: Verdict, x: np.ndarray, shift: float, effect_of_interest: float | None) -> None:
    sd = float(np.std(x, ddof=1)) if x.size > 1 else math.nan
    if not (math.isfinite(sd) and sd > 0):
        return
    v.d_z = float(np.mean(x)) / sd
    v.power, v.seeds_needed = t_power(v.d_z, v.n, v.alpha), seeds_for_power(v.d_z, v.alpha)
    v.paper_effect = paper_effect(v, effect_of_interest)
    if math.isfinite(v.paper_effect):
        raw = math.log(v.paper_effect) if v.kind == "ratio" else v.paper_effect
        v.paper_d_z = (raw - shift) / sd
        v.paper_power = t_power(v.paper_d_z, v.n, v.alpha)
        v.paper_seeds_needed = seeds_for_power(v.paper_d_z, v.alpha)


# ---------------------------------------------------------------- one claim


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


def new_verdict(claim: Any) -> Verdict:
    """An unjudged Verdict carrying the claim's fields."""
    kind, better = get_field(claim, "kind") or "superiority", get_field(claim, "better") or "lower"
    return Verdict(
        claim_id=str(get_field(claim, "id")), text=str(get_field(claim, "text") or ""),
        metric=str(get_field(claim, "metric")), kind=kind, better=better,
        treatment=str(get_field(claim, "treatment")), baseline=str(get_field(claim, "baseline")),
        published=_as_dict(get_field(claim, "published")),
        bound=reference_point(kind, better, get_field(claim, "margin"), get_field(claim, "threshold")),
    )


def judge(
    claim: Any, treatment: Mapping[int, float], baseline: Mapping[int, float], *,
    excluded: Mapping[str, Mapping[int, str]] | None = None, alpha: float = ALPHA, seed: int = 0,
) -> Verdict:
    """Judge `claim` alone (a family of one) from seed -> value maps of the jobs that finished ok.

    `claim` has the spec's Claim fields (id, text, metric, treatment, baseline, better, kind, margin,
    threshold, published, effect_of_interest). `excluded` names the jobs left out per side,
    seed -> status, e.g. {"treatment": {2: "diverged"}}. A side without values is `inconclusive` when
    some of its jobs diverged (training was tried: evidence), else `no data`. Only seeds present in
    both arms count; non-finite values (and non-positive ones for ratios) are dropped and noted.
    For the claims of one spec use `judge_family`, which Holm-adjusts across them.
    """
    return judge_family([(claim, treatment, baseline, excluded)], alpha=alpha, seed=seed)[0]


def _tested(claim: Any, treatment: Mapping[int, float], baseline: Mapping[int, float],
            excluded: Mapping[str, Mapping[int, str]] | None, alpha: float, seed: int) -> Verdict:
    """Estimate, interval, raw p values and power of one claim; the verdict is decided by the family."""
    v = new_verdict(claim)
    v.alpha = alpha
    excluded = excluded or {}
    notes = _excluded_note(v, excluded)
    empty = [side for side, vals in (("treatment", treatment), ("baseline", baseline)) if not vals]
    if empty:
        diverged = any(st == "diverged" for side in empty for st in excluded.get(side, {}).values())
        v.verdict = INCONCLUSIVE if diverged else NO_DATA
        names = ", ".join(v.treatment if side == "treatment" else v.baseline for side in empty)
        v.reason = f"no finished runs for {names}"
        v.note = "; ".join(notes)
        return v
    t, t_drop = _finite(treatment, positive=v.kind == "ratio")
    b, b_drop = _finite(baseline, positive=v.kind == "ratio")
    if t_drop or b_drop:
        what = "non-positive or non-finite" if v.kind == "ratio" else "non-finite"
        notes.append(f"{what} values dropped (treatment seeds {t_drop}, baseline seeds {b_drop})")
    explained = {k for by_seed in excluded.values() for k in by_seed} | set(t_drop) | set(b_drop)
    common = sorted(set(t) & set(b))
    unmatched = sorted(set(t) ^ set(b) - explained)
    if unmatched:
        notes.append(f"paired on the {len(common)} common seeds; unmatched seeds {unmatched} dropped")
    v.note = "; ".join(notes)
    tv, bv = np.array([t[s] for s in common]), np.array([b[s] for s in common])
    v.n, v.n_treatment, v.n_baseline = len(common), len(tv), len(bv)
    v.treatment_mean, v.treatment_std = _mean_std(list(tv))
    v.baseline_mean, v.baseline_std = _mean_std(list(bv))
    if v.n < 2:
        v.verdict = INCONCLUSIVE
        v.reason = f"n = {v.n} < {MIN_PAIRS} paired seeds (no interval from {v.n})"
        if v.n == 1:
            v.estimate = float(tv[0] / bv[0] if v.kind == "ratio" else tv[0] - bv[0])
        return v
    _test(v, tv, bv, get_field(claim, "effect_of_interest"), seed)
    return v


def _test(v: Verdict, tv: np.ndarray, bv: np.ndarray, effect_of_interest: float | None, seed: int) -> None:
    ratio = v.kind == "ratio"
    d = np.log(tv) - np.log(bv) if ratio else tv - bv
    shift = math.log(v.bound) if ratio else v.bound
    x = d - shift
    v.p_t, lo, hi = t_test(x)
    v.p_signflip = signflip_test(x, seed=seed)
    v.p = max(v.p_t, v.p_signflip)
    mean = float(np.mean(d))
    back = math.exp if ratio else float
    v.estimate, v.lo, v.hi = back(mean), back(lo + shift), back(hi + shift)
    claimed = float(np.mean(x)) < 0 if v.better == "lower" else float(np.mean(x)) > 0
    v.claimed_side = claimed if np.any(x) else None
    pooled = np.sqrt((np.var(np.log(tv) if ratio else tv, ddof=1)
                      + np.var(np.log(bv) if ratio else bv, ddof=1)) / 2)
    v.noise = float(pooled)
    v.below_noise = bool(abs(mean) < v.noise)
    _power_fields(v, x, shift, effect_of_interest)


# ---------------------------------------------------------------- a family (one spec)


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


def judge_family(items: Sequence[tuple], *, alpha: float = ALPHA, seed: int = 0) -> list[Verdict]:
    """Judge the claims of one spec together: items are (claim, treatment, baseline, excluded).

    Each claim's p is Holm-adjusted over the claims of the family that have one; a claim is decisive
    when its adjusted p < alpha and it has at least MIN_PAIRS paired seeds.
    """
    verdicts = [_tested(c, t, b, ex, alpha, seed) for c, t, b, ex in items]
    tested = [v for v in verdicts if math.isfinite(v.p)]
    for v, adj in zip(tested, holm([v.p for v in tested]), strict=True):
        v.p_holm, v.family_size = adj, len(tested)
        decide(v)
    return verdicts


def decide(v: Verdict) -> None:
    """Set v.verdict and v.reason from its adjusted p, n and the side its estimate is on."""
    if v.n < MIN_PAIRS:
        v.verdict = INCONCLUSIVE
        v.reason = f"n = {v.n} < {MIN_PAIRS} paired seeds; {_needed(v)}"
    elif v.p_holm < v.alpha and v.claimed_side is not None:
        v.verdict = REPRODUCED if v.claimed_side else CONTRADICTED
        v.reason = f"Holm p = {v.p_holm:.2g} < {v.alpha:.2g}"
    else:
        v.verdict = INCONCLUSIVE
        v.reason = _why_not(v)


def _why_not(v: Verdict) -> str:
    if v.p_t < v.alpha <= v.p_signflip or v.p_signflip < v.alpha <= v.p_t:
        why = f"the t test (p = {v.p_t:.2g}) and the sign-flip test (p = {v.p_signflip:.2g}) disagree"
    elif v.p < v.alpha:
        why = f"p = {v.p:.2g}, but Holm over {v.family_size} claims gives {v.p_holm:.2g} >= {v.alpha:.2g}"
    else:
        why = f"the interval straddles the bound {v.bound:g} (Holm p = {v.p_holm:.2g})"
    return f"{why}; {_needed(v)}"


def signflip_floor(family_size: int, alpha: float) -> int:
    """The fewest pairs at which the exact two-sided sign-flip test can pass Holm's first step over
    `family_size` claims: its smallest p, 2 / 2^n (every difference on one side), must be below
    alpha / family_size. One claim at 0.05 gives 6; 9 claims at 0.0241 give 10."""
    n = 1
    while 2.0 / 2**n * max(family_size, 1) >= alpha:
        n += 1
    return n


def _needed(v: Verdict) -> str:
    floor = signflip_floor(v.family_size, v.alpha) if math.isfinite(v.alpha) else 0
    late = (f"; with {v.family_size} claims the exact sign-flip test cannot pass Holm before n = {floor}"
            if floor > v.n else "")
    if not math.isfinite(v.seeds_needed):
        return ("no effect measured: more seeds would not decide it" if math.isfinite(v.d_z) else
                "too few seeds to estimate the noise") + late
    power = f"80% power needs ~{v.seeds_needed:.0f} paired seeds at the observed effect (d_z = {v.d_z:.2f})"
    return power + late


# ---------------------------------------------------------------- descriptive intervals (plots, tables)


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
    seeds it is too narrow (with 3 pairs it is [min d, max d]); verdicts use `judge_family`."""
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
