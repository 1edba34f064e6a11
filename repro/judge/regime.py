"""Is a claim judged where its mechanism acts? (issue #29)

The plateau check, per spec and profile: the budget-doubling check. The regime arm (the baseline) trained
at the profile `regime.doubling[profile]` (twice the budget) on >= `regime.seeds` seeds improves its
metric over the same seeds at the profile by less than `regime.threshold`: "at plateau"; by more:
"pre-plateau"; fewer seeds at twice the budget: "not measured". An image-classification baseline must
also beat the logistic regression on its train subset (repro/judge/linear_reference.py) by
`regime.linear_margin` points, or it is "below the linear reference" (no paper's regime). A paper
profile (named paper or paper_*) runs the paper's recipe: its regime is the paper's.

A claim's conditions (spec `conditions:`, written before the run) are checked on the mean over the
judged seeds of an arm's metric. A claim that needs the plateau (every metric but speed) where the check
did not pass, or whose condition failed, is "out of regime": never reproduced or contradicted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from repro.judge.current import current_records
from repro.judge.linear_reference import read_linear_reference
from repro.judge.records import MetricKey, load_records, metric_value
from repro.spec import Claim, Condition, Ref, Spec

AT_PLATEAU, PRE_PLATEAU, NOT_MEASURED = "at plateau", "pre-plateau", "not measured"
BELOW_LINEAR, PAPER_RECIPE = "below the linear reference", "the paper's recipe"
IN_REGIME = (AT_PLATEAU, PAPER_RECIPE)
DEFAULT_RELATIVE = 0.02       # 2% of the final value, when the spec states no threshold
LINEAR_TASKS = ("image-classification",)


@dataclass(frozen=True)
class Plateau:
    """The plateau check of one spec at one profile, with the measured values behind it."""

    status: str
    spec: str
    profile: str
    arm: str
    metric: str
    doubled: str | None = None        # the profile with twice the budget
    value: float = math.nan           # the arm's mean metric at the profile, over the paired seeds
    doubled_value: float = math.nan   # ... at twice the budget
    improvement: float = math.nan     # in the better direction (> 0: doubling helped)
    improvement_se: float = math.nan  # its standard error over the paired seeds (their gains' spread)
    threshold: float = math.nan
    seeds: int = 0
    linear: float = math.nan          # the logistic regression's test error on the same images
    linear_margin: float = math.nan   # the points the baseline must beat it by
    meet: str = ""                    # what would bring the baseline to its plateau (the spec's words)
    detail: str = ""                  # why it was not measured

    @property
    def ok(self) -> bool:
        return self.status in IN_REGIME

    @property
    def reversal_chance(self) -> float:
        """How often a check at these seeds would make the other call, were the true improvement the one
        measured (normal means with the measured standard error; nan without one): the call's noise."""
        if not self.improvement_se > 0:
            return math.nan
        return float(norm.sf(abs(self.improvement - self.threshold) / self.improvement_se))

    def summary(self) -> str:
        """The measured values in one clause (no verdict words)."""
        if self.status == PAPER_RECIPE:
            return f"{self.profile}: the paper's recipe, no plateau check"
        if self.status == NOT_MEASURED:
            return f"plateau not measured: {self.detail}"
        text = (f"{self.arm} {self.metric} {self.value:.3g} at the budget, {self.doubled_value:.3g} at twice "
                f"it ({self.doubled}, {self.seeds} seeds): improvement {self.improvement:.3g} "
                f"{'<' if self.improvement < self.threshold else '>='} {self.threshold:.3g}")
        chance = self.reversal_chance
        if math.isfinite(chance):
            text += (f" (standard error {self.improvement_se:.2g}: at these seeds the check would call it "
                     f"the other way {'under 1' if chance < 0.01 else f'about {100 * chance:.0f}'}% of the "
                     f"time, were the true improvement {self.improvement:.3g})")
        if math.isfinite(self.linear):
            text += (f"; logistic regression on the same images {self.linear:.3g} "
                     f"({self.linear - self.value:+.3g} points against the baseline, needs >= "
                     f"{self.linear_margin:g})")
        return text

    def line(self) -> str:
        """The report's regime line of the spec."""
        meet = f" To meet it: {self.meet}" if self.meet and not self.ok else ""
        return f"regime: {self.status}: {self.summary()}.{meet}"


def regime_settings(spec: Spec) -> tuple[str, str, str, float | None]:
    """(arm, metric, better direction, threshold or None) of the spec's plateau check."""
    first, regime = spec.claims[0], spec.regime
    arm = regime.arm or first.baseline_ref.arm
    metric = regime.metric or first.metric.split("@")[0]
    better = first.better if metric == first.metric else (
        "higher" if metric in ("bleu", "chrf", "accuracy") else "lower")
    return arm, metric, better, regime.threshold


def is_paper_profile(profile: str) -> bool:
    return profile == "paper" or profile.startswith("paper_")


def check_plateau(spec: Spec, profile: str, records: pd.DataFrame, doubled: pd.DataFrame | None,
                  linear: Mapping | None = None) -> Plateau:
    """The plateau check from the spec's records at `profile` and at its doubled profile (one spec each)."""
    arm, metric, better, threshold = regime_settings(spec)
    base = {"spec": spec.id, "profile": profile, "arm": arm, "metric": metric, "meet": spec.regime.meet}
    if is_paper_profile(profile):
        return Plateau(PAPER_RECIPE, **base)
    name = spec.regime.doubling.get(profile)
    if name is None:
        return Plateau(NOT_MEASURED, **base, detail=f"the spec names no profile with twice {profile}'s "
                       f"budget (regime.doubling)")
    now, twice = _values(records, arm, metric), _values(doubled, arm, metric)
    seeds = sorted(set(now) & set(twice))
    if len(seeds) < spec.regime.seeds:
        return Plateau(NOT_MEASURED, **base, doubled=name, seeds=len(seeds), detail=(
            f"{len(seeds)} seed(s) of {arm} at {name} and {profile}, the check needs {spec.regime.seeds}: "
            f"repro run {spec.id} --profile {name} --arms {arm} --seeds 0-{spec.regime.seeds - 1}"))
    value = float(np.mean([now[s] for s in seeds]))
    doubled_value = float(np.mean([twice[s] for s in seeds]))
    sign = 1.0 if better == "lower" else -1.0
    gains = [sign * (now[s] - twice[s]) for s in seeds]
    gain = sign * (value - doubled_value)
    se = float(np.std(gains, ddof=1) / math.sqrt(len(gains))) if len(gains) > 1 else math.nan
    limit = threshold if threshold is not None else DEFAULT_RELATIVE * abs(doubled_value)
    facts = dict(base, doubled=name, value=value, doubled_value=doubled_value, improvement=gain,
                 improvement_se=se, threshold=limit, seeds=len(seeds))
    status = AT_PLATEAU if gain < limit else PRE_PLATEAU
    if spec.task in LINEAR_TASKS and metric == "test_error":
        margin = spec.regime.linear_margin
        if linear is None:
            return Plateau(NOT_MEASURED, **facts, linear_margin=margin, detail=(
                f"no logistic-regression reference on {profile}'s images (repro run computes it; "
                "repro/jobs/linear_reference.py)"))
        facts.update(linear=float(linear["test_error"]), linear_margin=margin)
        if status == AT_PLATEAU and facts["linear"] - value < margin:
            status = BELOW_LINEAR
    return Plateau(status, **facts)


def plateau_for(results_dir: Path, spec: Spec, profile: str, records: pd.DataFrame,
                hardware: str | None = None) -> Plateau:
    """check_plateau with the doubled profile's records and the linear reference read from results_dir
    (of hardware class `hardware` only, when given, like the claims' records)."""
    name = spec.regime.doubling.get(profile)
    doubled = None
    if name is not None and not is_paper_profile(profile):
        every = load_records(results_dir, name, hardware)
        doubled = current_records(every[every["spec"] == spec.id], spec, name)[0]
    records = current_records(records, spec, profile)[0]
    linear = read_linear_reference(results_dir, spec.id, profile)
    return check_plateau(spec, profile, records, doubled, linear)


def _values(records: pd.DataFrame | None, arm: str, metric: str) -> dict[int, float]:
    """seed -> the arm's final metric (or its curve's last value: train_loss), over its ok records."""
    if records is None or records.empty:
        return {}
    out = {}
    for _, row in records[(records["arm"] == arm) & (records["status"] == "ok")].iterrows():
        x = condition_value(row, Ref(arm), metric)
        if x is not None and math.isfinite(x):
            out[int(row["seed"])] = x
    return out


# ------------------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class ConditionResult:
    condition: Condition
    value: float          # mean over the judged seeds; NaN when no seed has the metric
    seeds: int

    @property
    def held(self) -> bool:
        c, x = self.condition, self.value
        return math.isfinite(x) and (c.above is None or x > c.above) and (c.below is None or x < c.below)

    def text(self) -> str:
        measured = f"{self.value:.3g} over {self.seeds} seeds" if self.seeds else "not measured"
        return f"{self.condition.text()} ({measured}): {'held' if self.held else 'failed'}"


def condition_value(row: Mapping, ref: Ref, metric: str) -> float | None:
    """A condition's number of one record: the claim's accessor, else the last value of a curve."""
    x = metric_value(row, MetricKey(metric, ref.predictor))
    if x is not None:
        return x
    curve = [v for v in (row["curves"].get(MetricKey(metric, ref.predictor).key) or []) if v is not None]
    return float(curve[-1]) if curve else None


def check_conditions(claim: Claim, records: pd.DataFrame, seeds_below: int | None = None
                     ) -> list[ConditionResult]:
    """Each condition of the claim on the ok records of its arm (seeds below `seeds_below` when given)."""
    results = []
    for cond in claim.conditions:
        rows = records[(records["arm"] == cond.ref.arm) & (records["status"] == "ok")]
        if seeds_below is not None:
            rows = rows[rows["seed"] < seeds_below]
        values = [condition_value(r, cond.ref, cond.metric) for _, r in rows.iterrows()]
        values = [x for x in values if x is not None and math.isfinite(x)]
        results.append(ConditionResult(cond, float(np.mean(values)) if values else math.nan, len(values)))
    return results


def out_of_regime(claim: Claim, plateau: Plateau, conditions: list[ConditionResult]) -> list[str]:
    """Why the claim is out of regime (empty: in regime), each reason with the measured values and what
    would meet it."""
    reasons = []
    if claim.plateau_needed and not plateau.ok:
        meet = f"; to meet it: {plateau.meet}" if plateau.meet else ""
        reasons.append(f"{plateau.status} ({plateau.summary()}){meet}")
    for result in conditions:
        if not result.held:
            meet = f"; to meet it: {result.condition.meet}" if result.condition.meet else ""
            reasons.append(f"condition {result.text()} ({result.condition.why}){meet}")
    return reasons
