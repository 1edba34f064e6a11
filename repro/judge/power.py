"""Seed power: statsmodels' TTestPower at the observed standardized effect d_z = mean(x) / sd(x) and, where
the spec's published numbers (or its `effect_of_interest`) define one, at the paper's effect measured in
units of our seed noise."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from repro.judge.rule import ALPHA, MIN_PAIRS
from repro.judge.verdict import Verdict

TARGET_POWER = 0.8


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
    (T / B for ratio claims) where the published numbers name both sides (by "arm/predictor", arm or
    predictor)."""
    if effect_of_interest is not None:
        return float(effect_of_interest)
    pub = {k: x for k, x in v.published.items() if k != "source"}
    keys = [next((k for k in (str(ref), ref.arm, ref.predictor or ref.arm) if k in pub), None)
            for ref in (v.treatment_ref, v.baseline_ref)]
    if None in keys:
        return math.nan
    t, b = float(pub[keys[0]]), float(pub[keys[1]])
    if v.kind == "ratio":
        return t / b if t > 0 and b > 0 else math.nan
    return t - b


def add_power(v: Verdict, x: np.ndarray, shift: float, effect_of_interest: float | None) -> None:
    """Fill v's d_z, power and seeds needed, at the observed effect and at the paper's."""
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
