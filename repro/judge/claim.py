"""One claim, and the claims of one spec (a family), judged from seed -> value maps of finished jobs
with the rule of repro/judge/rule.py (time-to-event claims: repro/judge/censored.py). A decisive claim
is `reproduced` when its effect lies on the claimed side of the bound, else `contradicted`.

Never decisive: fewer than MIN_PAIRS pairs; differences without spread (no t test); a seed whose paired
difference is an outlier (repro/judge/rule.py), since the verdict would then rest on one run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from repro.judge import censored as time_to_event
from repro.judge.power import add_power
from repro.judge.rule import (
    ALPHA,
    MIN_PAIRS,
    holm,
    outlier_rows,
    robust_z,
    signflip_floor,
    signflip_p,
    skew_t_p,
    t_test,
)
from repro.judge.verdict import CONTRADICTED, INCONCLUSIVE, NO_DATA, REPRODUCED, Verdict, new_verdict
from repro.spec import Claim

Values = Mapping[int, float]           # seed -> the metric of a job that finished ok
Excluded = Mapping[str, Mapping[int, str]]   # "treatment"/"baseline" -> seed -> status of a left-out job
Censored = Mapping[str, Mapping[int, bool]]  # "treatment"/"baseline" -> seed -> event not reached


@dataclass
class ClaimData:
    """What one claim is judged on: both sides' values by seed, and the jobs left out of them."""

    claim: Claim
    treatment: Values
    baseline: Values
    excluded: Excluded = field(default_factory=dict)
    censored: Censored | None = None     # time-to-event claims: which values are censoring times


def judge(data: ClaimData, *, alpha: float = ALPHA, seed: int = 0) -> Verdict:
    """Judge one claim alone (a family of one). A side without values is `inconclusive` when some of its
    jobs diverged (training was tried: evidence), else `no data`. Only seeds present in both arms count;
    non-finite values (and non-positive ones for ratios) are dropped and noted. For the claims of one
    spec use `judge_family`, which Holm-adjusts across them."""
    return judge_family([data], alpha=alpha, seed=seed)[0]


def judge_family(items: Sequence[ClaimData], *, alpha: float = ALPHA, seed: int = 0) -> list[Verdict]:
    """Judge the claims of one spec together: each claim's p is Holm-adjusted over the claims of the
    family that have one; a claim is decisive when its adjusted p < alpha and it has >= MIN_PAIRS pairs."""
    verdicts = [_tested(d, alpha, seed) for d in items]
    tested = [v for v in verdicts if math.isfinite(v.p)]
    for v, adj in zip(tested, holm([v.p for v in tested]), strict=True):
        v.p_holm, v.family_size = adj, len(tested)
        _decision_interval(v)
        decide(v)
    return verdicts


def _decision_interval(v: Verdict) -> None:
    """The interval at the level this claim is decided at: Holm scales p by p_holm / p, so the claim is
    decisive when p < alpha p / p_holm; the t (or median) interval at that level excludes the bound
    exactly when its test passes Holm."""
    v.decision_level = v.alpha * v.p / v.p_holm if v.p_holm > 0 else v.alpha
    confidence = 1 - v.decision_level
    if v.test == time_to_event.SIGN_TEST:
        _, v.decision_lo, v.decision_hi = time_to_event.median_interval(np.asarray(v.differences), confidence)
        return
    x = np.asarray(v.differences)
    _, lo, hi = (float(a[()]) for a in t_test(x, confidence))
    back = math.exp if v.kind == "ratio" else float
    shift = math.log(v.bound) if v.kind == "ratio" else v.bound
    v.decision_lo, v.decision_hi = back(lo + shift), back(hi + shift)


def _finite(values: Values, positive: bool) -> tuple[dict[int, float], list[int]]:
    keep, dropped = {}, []
    for seed, x in values.items():
        if x is not None and math.isfinite(float(x)) and (not positive or float(x) > 0):
            keep[seed] = float(x)
        else:
            dropped.append(seed)
    return keep, sorted(dropped)


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else math.nan


def _excluded_note(v: Verdict, excluded: Excluded) -> list[str]:
    arms = {"treatment": v.treatment, "baseline": v.baseline}
    notes = []
    for side, by_seed in excluded.items():
        for status in sorted(set(by_seed.values())):
            seeds = sorted(k for k, st in by_seed.items() if st == status)
            notes.append(f"{arms.get(side, side)}: {status} seed(s) {seeds} excluded")
    return notes


def _tested(data: ClaimData, alpha: float, seed: int) -> Verdict:
    """Estimate, interval, raw p values and power of one claim; the verdict is decided by the family."""
    v = new_verdict(data.claim)
    v.alpha = alpha
    notes = _excluded_note(v, data.excluded)
    sides = {"treatment": data.treatment, "baseline": data.baseline}
    empty = [side for side, vals in sides.items() if not vals]
    if empty:
        diverged = any(st == "diverged" for side in empty for st in data.excluded.get(side, {}).values())
        v.verdict = INCONCLUSIVE if diverged else NO_DATA
        v.reason = f"no finished runs for {', '.join(getattr(v, side) for side in empty)}"
        v.note = "; ".join(notes)
        return v
    t, t_drop = _finite(data.treatment, positive=v.kind == "ratio")
    b, b_drop = _finite(data.baseline, positive=v.kind == "ratio")
    if t_drop or b_drop:
        what = "non-positive or non-finite" if v.kind == "ratio" else "non-finite"
        notes.append(f"{what} values dropped (treatment seeds {t_drop}, baseline seeds {b_drop})")
    explained = {k for by_seed in data.excluded.values() for k in by_seed} | set(t_drop) | set(b_drop)
    common = sorted(set(t) & set(b))
    unmatched = sorted(set(t) ^ set(b) - explained)
    if unmatched:
        notes.append(f"paired on the {len(common)} common seeds; unmatched seeds {unmatched} dropped")
    v.note = "; ".join(notes)
    tv, bv = np.array([t[s] for s in common]), np.array([b[s] for s in common])
    v.n, v.n_treatment, v.n_baseline = len(common), len(tv), len(bv)
    v.treatment_mean, v.treatment_std = _mean_std(tv)
    v.baseline_mean, v.baseline_std = _mean_std(bv)
    if data.censored is not None:
        cens = {side: data.censored.get(side, {}) for side in ("treatment", "baseline")}
        events = {side: {s: (vals[s], bool(cens[side].get(s, False))) for s in common}
                  for side, vals in (("treatment", t), ("baseline", b))}
        time_to_event.test_events(v, events["treatment"], events["baseline"])
        v.differences = tuple(e for s in common if not math.isnan(
            e := time_to_event.outcome(v, *events["treatment"][s], *events["baseline"][s])[1]))
        return v
    if v.n < 2:
        v.verdict = INCONCLUSIVE
        v.reason = f"n = {v.n} < {MIN_PAIRS} paired seeds (no interval from {v.n})"
        if v.n == 1:
            v.estimate = float(tv[0] / bv[0] if v.kind == "ratio" else tv[0] - bv[0])
        return v
    _test(v, tv, bv, data.claim.effect_of_interest, seed)
    return v


def _test(v: Verdict, tv: np.ndarray, bv: np.ndarray, effect_of_interest: float | None, seed: int) -> None:
    ratio = v.kind == "ratio"
    d = np.log(tv) - np.log(bv) if ratio else tv - bv
    shift = math.log(v.bound) if ratio else v.bound
    x = d - shift
    v.differences = tuple(float(e) for e in x)
    p_t, lo, hi = (float(a[()]) for a in t_test(x))
    v.p_t, v.p_skew = p_t, float(skew_t_p(x)[()])
    v.p_signflip = float(signflip_p(x, np.random.default_rng(seed))[0])
    v.p = max(v.p_t, v.p_skew, v.p_signflip)     # NaN without spread: then no test
    v.outlier = _outlier(x, v)
    if math.isnan(v.p):
        v.verdict = INCONCLUSIVE
        few = f"n = {v.n} < {MIN_PAIRS} paired seeds; " if v.n < MIN_PAIRS else ""
        v.reason = (f"{few}the {v.n} paired differences are identical (no spread): no t test, so no "
                    "verdict; a metric this coarse (censored or discrete values) needs a test of its own")
    mean = float(np.mean(d))
    back = math.exp if ratio else float
    v.estimate, v.lo, v.hi = back(mean), back(lo + shift), back(hi + shift)
    claimed = float(np.mean(x)) < 0 if v.better == "lower" else float(np.mean(x)) > 0
    v.claimed_side = claimed if np.any(x) else None
    pooled = np.sqrt((np.var(np.log(tv) if ratio else tv, ddof=1)
                      + np.var(np.log(bv) if ratio else bv, ddof=1)) / 2)
    v.noise = float(pooled)
    v.below_noise = bool(abs(mean) < v.noise)
    add_power(v, x, shift, effect_of_interest)


def _outlier(x: np.ndarray, v: Verdict) -> str:
    """The pair whose difference is an outlier (repro/judge/rule.py: outlier_rows), as a sentence."""
    if not outlier_rows(x)[0]:
        return ""
    z = robust_z(x)[0]
    k = int(np.nanargmax(z))
    return f"pair {k + 1} of {x.size} is {z[k]:.1f} robust sds from the median of the differences"


def decide(v: Verdict) -> None:
    """Set v.verdict and v.reason from its adjusted p, n and the side its estimate is on."""
    if v.n < MIN_PAIRS:
        v.verdict = INCONCLUSIVE
        v.reason = f"n = {v.n} < {MIN_PAIRS} paired seeds; {_needed(v)}"
    elif v.outlier and v.p_holm < v.alpha:
        v.verdict = INCONCLUSIVE
        v.reason = (f"an outlier seed ({v.outlier}): a decisive verdict would rest on one run "
                    f"(Holm p = {v.p_holm:.2g}); look at that run, or add seeds")
    elif v.p_holm < v.alpha and v.claimed_side is not None:
        v.verdict = REPRODUCED if v.claimed_side else CONTRADICTED
        v.reason = f"Holm p = {v.p_holm:.2g} < {v.alpha:.2g}"
    else:
        v.verdict = INCONCLUSIVE
        v.reason = _why_not(v)


def _why_not(v: Verdict) -> str:
    if v.test == time_to_event.SIGN_TEST:
        why = (f"sign test: {v.wins} seeds on the claimed side, {v.losses} not (Holm p = {v.p_holm:.2g} >= "
               f"{v.alpha:.2g})")
    elif max(v.p_t, v.p_skew) < v.alpha <= v.p_signflip or v.p_signflip < v.alpha <= max(v.p_t, v.p_skew):
        why = (f"the t tests (p = {v.p_t:.2g}, skew-corrected {v.p_skew:.2g}) and the sign-flip test "
               f"(p = {v.p_signflip:.2g}) disagree")
    elif v.p < v.alpha:
        why = f"p = {v.p:.2g}, but Holm over {v.family_size} claims gives {v.p_holm:.2g} >= {v.alpha:.2g}"
    else:
        why = f"the interval straddles the bound {v.bound:g} (Holm p = {v.p_holm:.2g})"
    return f"{why}; {_needed(v)}"


def _needed(v: Verdict) -> str:
    floor = signflip_floor(v.family_size, v.alpha) if math.isfinite(v.alpha) else 0
    late = (f"; with {v.family_size} claims the exact sign-flip test cannot pass Holm before n = {floor}"
            if floor > v.n else "")
    if v.test == time_to_event.SIGN_TEST:
        share = f"{v.wins} of {(v.wins or 0) + (v.losses or 0)}"
        return (f"80% power needs ~{v.seeds_needed:.0f} decided pairs at the observed share of wins ({share})"
                if math.isfinite(v.seeds_needed) else "no effect measured: more seeds would not decide it")
    if not math.isfinite(v.seeds_needed):
        return ("no effect measured: more seeds would not decide it" if math.isfinite(v.d_z) else
                "too few seeds to estimate the noise") + late
    power = f"80% power needs ~{v.seeds_needed:.0f} paired seeds at the observed effect (d_z = {v.d_z:.2f})"
    return power + late
