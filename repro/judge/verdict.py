"""One claim's Verdict: the arms' summaries, the estimate with its interval, the tests, the decision.

For a claim comparing treatment arm T with baseline arm B on one metric, over the seeds s both arms
finished, the paired differences are d_s = t_s - b_s (log(t_s / b_s) for `ratio` claims), shifted by
the claim's bound c (0 for superiority, the non-inferiority margin, log of the ratio threshold):
x_s = d_s - c. The null hypothesis is E[x] = 0 (the effect sits exactly on the bound); the rule that
decides it is repro/judge/rule.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from repro.spec import Claim, Ref

REPRODUCED, CONTRADICTED, INCONCLUSIVE, NO_DATA = "reproduced", "contradicted", "inconclusive", "no data"
NOT_JUDGED = "not judged"
# the fifth verdict (repro/judge/regime.py): the run did not reach the regime the claim is about (baseline
# before its plateau, or a pre-registered condition failed); its statistics are shown, never decided on
OUT_OF_REGIME = "out of regime"
PAIRED_T = "paired t + sign-flip"
KINDS = ("superiority", "noninferiority", "ratio")


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
    treatment_ref: Ref = Ref("")
    baseline_ref: Ref = Ref("")
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
    p_skew: float = math.nan         # Hall's skewness-corrected t (repro/judge/rule.py)
    p: float = math.nan              # max(p_t, p_skew, p_signflip) (or the sign test's), before adjustment
    p_holm: float = math.nan         # Holm-adjusted within the spec (the decision uses this)
    q_bh: float = math.nan           # Benjamini-Hochberg q over the whole report (shown, not decided on)
    family_size: int = 1
    alpha: float = 0.05              # the level the adjusted p is compared with (lower at sequential looks)
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
    test: str = PAIRED_T             # the test behind p: PAIRED_T, or the censoring-aware sign test
    reached: int | None = None       # time-to-event claims: seeds whose treatment reached the target
    wins: int | None = None          # ... pairs on the claimed side of the bound, and on the other side
    losses: int | None = None
    decision_level: float = math.nan  # the two-sided level at which this claim's test decides (Holm)
    decision_lo: float = math.nan    # the interval at that level: excludes the bound iff decisive
    decision_hi: float = math.nan
    outlier: str = ""                # a seed whose paired difference is an outlier (no decisive verdict)
    differences: tuple[float, ...] = ()  # the per-seed effects tested (shifted by the bound), for intervals
    regime: str = ""                 # the plateau check and the claim's conditions, with measured values
    regime_ok: bool | None = None    # None: no regime check applied (smoke, benchmarks)
    plateau: str = ""                # the spec's plateau status the claim was judged at (judge/regime.py)
    statistical: str = ""            # the verdict the statistics alone gave, when out of regime

    @property
    def arms(self) -> set[str]:
        """The arms the claim compares (an "arm/predictor" side refers to its arm)."""
        return {self.treatment_ref.arm, self.baseline_ref.arm}


def reference_point(claim: Claim) -> float:
    """The value the effect is compared with: 0 (superiority), +-margin (noninferiority), threshold (ratio).

    Non-inferiority with lower-is-better tolerates T - B up to +margin; higher-is-better down to -margin.
    """
    if claim.kind == "superiority":
        return 0.0
    if claim.kind == "noninferiority":
        m = abs(float(claim.margin or 0.0))
        return m if claim.better == "lower" else -m
    if claim.kind == "ratio":
        return float(claim.threshold)
    raise ValueError(f"unknown claim kind {claim.kind!r}; allowed: {', '.join(KINDS)}")


def new_verdict(claim: Claim) -> Verdict:
    """An unjudged Verdict carrying the claim's fields."""
    published = {k: v for k, v in claim.published.model_dump().items() if v is not None}
    return Verdict(
        claim_id=claim.id, text=claim.text, metric=claim.metric, kind=claim.kind, better=claim.better,
        treatment=claim.treatment, baseline=claim.baseline, treatment_ref=claim.treatment_ref,
        baseline_ref=claim.baseline_ref, published=published, bound=reference_point(claim),
    )
