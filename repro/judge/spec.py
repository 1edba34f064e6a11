"""The verdicts of a spec from its run records: the claims of one spec are one Holm family
(repro/judge/claim.py); where the spec ran with `--until-decided`, the looks of its design are replayed
(repro/judge/sequential.py); report-wide Benjamini-Hochberg q values; the smoke profile is not judged.

A spec ran sequentially when results/runs/<spec>/<profile>/design.json exists (written by
`repro run --until-decided` before its first look); the report then rebuilds exactly the verdicts the
run decided on, each with the look that decided it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from repro.files import write_json_atomic
from repro.judge.claim import ClaimData, judge_family
from repro.judge.derived import TIME_TO_EVENT, with_derived
from repro.judge.records import censored_flags, claim_table, side_values
from repro.judge.regime import BELOW_LINEAR, PRE_PLATEAU, Plateau, check_conditions, out_of_regime
from repro.judge.rule import ALPHA, bh_q
from repro.judge.sequential import Design, family_design, replay
from repro.judge.verdict import INCONCLUSIVE, NO_DATA, NOT_JUDGED, OUT_OF_REGIME, Verdict, new_verdict
from repro.spec import Claim, Spec

UNJUDGED_PROFILES = ("smoke",)      # plumbing checks on synthetic data: no verdicts
MEASURED_NOT_AT_PLATEAU = (PRE_PLATEAU, BELOW_LINEAR)


@dataclass
class ClaimResult:
    """One claim's verdict and its per-seed table (seed, treatment, baseline, difference/ratio, statuses)."""

    verdict: Verdict
    table: pd.DataFrame
    plateau: Plateau | None = None      # the spec's plateau check the verdict was judged with


def design_path(results_dir: Path, spec_id: str, profile: str) -> Path:
    return Path(results_dir) / "runs" / spec_id / profile / "design.json"


def write_design(results_dir: Path, spec_id: str, profile: str, design: Design) -> Path:
    return write_json_atomic(design_path(results_dir, spec_id, profile), design.to_dict())


def read_design(results_dir: Path, spec_id: str, profile: str) -> Design | None:
    path = design_path(results_dir, spec_id, profile)
    return Design.from_dict(json.loads(path.read_text())) if path.exists() else None


def judge_spec(records: pd.DataFrame, spec: Spec, profile: str, design: Design | None = None,
               alpha: float = ALPHA, plateau: Plateau | None = None) -> list[ClaimResult]:
    """Every claim of `spec` judged on `records` (one spec's records at one profile). With `plateau` (the
    spec's plateau check, repro/judge/regime.py), a claim out of its regime gets OUT_OF_REGIME; the
    family and its looks are judged first, on every claim (Holm over all of them: conservative)."""
    claims = list(spec.claims)
    tables = {c.id: claim_table(with_derived(records, c), c) for c in claims}
    if profile in UNJUDGED_PROFILES:
        return [ClaimResult(_not_judged(c, profile), tables[c.id]) for c in claims]
    if design is None:
        verdicts = _family(records, claims, alpha, seeds_below=None)
    else:
        verdicts = _sequential(records, claims, design)
    if plateau is not None:
        by_id = {c.id: c for c in claims}
        for v in verdicts:
            apply_regime(v, by_id[v.claim_id], plateau, records)
    return [ClaimResult(v, _judged_rows(tables[v.claim_id], v.look), plateau) for v in verdicts]


def apply_regime(v: Verdict, claim: Claim, plateau: Plateau, records: pd.DataFrame) -> None:
    """Record the claim's regime on its verdict (conditions on the seeds the verdict stands on); out of
    regime, a verdict with data becomes OUT_OF_REGIME, the statistics' own verdict kept beside it. A claim
    without data stays NO_DATA (an arm not runnable here says so), unless the spec's plateau check was
    measured and failed: then no seed could bring it in regime, and running its arms is not needed."""
    conditions = check_conditions(claim, records, v.look)
    reasons = out_of_regime(claim, plateau, conditions)
    parts = ([f"{plateau.status}: {plateau.summary()}"] if claim.plateau_needed else []) + \
        [c.text() for c in conditions]
    v.regime, v.regime_ok, v.plateau = "; ".join(parts), not reasons, plateau.status
    failed_plateau = claim.plateau_needed and plateau.status in MEASURED_NOT_AT_PLATEAU
    if v.verdict == NO_DATA and failed_plateau:
        v.statistical, v.verdict = NO_DATA, OUT_OF_REGIME
        v.reason = "; ".join([*reasons, "its arms were not run (no seed at this budget brings it in regime)"])
    elif reasons and v.verdict != NO_DATA:
        v.statistical, v.verdict = v.verdict, OUT_OF_REGIME
        v.reason = "; ".join(reasons)          # the verdict, OUT_OF_REGIME, names it already


def _judged_rows(table: pd.DataFrame, look: int | None) -> pd.DataFrame:
    """A claim judged at look n shows seeds 0..n-1, the seeds its verdict stands on (later seeds, of a
    look under way or of another claim on the same arm, are not part of it)."""
    return table if look is None else table[table["seed"] < look].reset_index(drop=True)


def judged_records(records: pd.DataFrame, results: Sequence[ClaimResult]) -> pd.DataFrame:
    """The records the verdicts stand on, for a section's tables, curves and regime line: an arm that
    a claim judged at look n keeps seeds 0..n-1 (a look still under way has added seeds no verdict
    uses yet); arms without a looked claim keep every seed."""
    looks: dict[str, int] = {}
    for v in (r.verdict for r in results if r.verdict.look is not None):
        for arm in v.arms:
            looks[arm] = max(looks.get(arm, 0), v.look)
    keep = [arm not in looks or seed < looks[arm]
            for arm, seed in zip(records["arm"], records["seed"], strict=True)]
    return records[keep]


def _family(records: pd.DataFrame, claims: Sequence[Claim], alpha: float,
            seeds_below: int | None) -> list[Verdict]:
    items = []
    for claim in claims:
        derived = with_derived(records, claim)
        values, excluded = side_values(derived, claim)
        censored = censored_flags(derived, claim) if claim.metric in TIME_TO_EVENT else None
        if seeds_below is not None:
            values, excluded = _below(values, seeds_below), _below(excluded, seeds_below)
            censored = censored and _below(censored, seeds_below)
        items.append(ClaimData(claim, values["treatment"], values["baseline"], excluded, censored))
    return judge_family(items, alpha=alpha)


def _below(by_side: dict, n: int) -> dict:
    return {side: {k: x for k, x in by_seed.items() if k < n} for side, by_seed in by_side.items()}


def _sequential(records: pd.DataFrame, claims: Sequence[Claim], run: Design) -> list[Verdict]:
    """Replay the family's looks over the claims that have data; a claim whose arm has no finished
    job (failed, or not runnable here) is `no data` and takes no part in the looks or the family."""
    design = family_design(run, len(claims))
    runnable = [c for c in claims if _has_runs(records, c)]
    missing = {v.claim_id: v for v in _family(records, [c for c in claims if c not in runnable],
                                              design.nominal_alpha, None)}
    by_id = {c.id: c for c in runnable}

    def judge_at(n: int, level: float, ids: set[str]) -> list[Verdict]:
        return _family(records, [by_id[i] for i in by_id if i in ids], level, seeds_below=n)

    def available(ids: set[str]) -> int:
        return paired_seeds(records, [by_id[i] for i in ids])

    result = replay(design, list(by_id), judge_at, available)
    decided = {v.claim_id: v for v in result.verdicts}
    unlooked = [c for i, c in by_id.items() if i not in decided]     # fewer seeds than the first look
    for v in _family(records, unlooked, design.nominal_alpha, None):
        v.verdict = INCONCLUSIVE if v.verdict != NO_DATA else v.verdict
        v.reason = (f"{v.n} paired seeds, fewer than the design's first look n = {design.looks[0]} "
                    f"(looks {list(design.looks)} for a family of {len(claims)} claims)")
        decided[v.claim_id] = v
    return [decided.get(c.id) or missing[c.id] for c in claims]


def _has_runs(records: pd.DataFrame, claim: Claim) -> bool:
    """Whether both arms of the claim have a finished (ok or diverged) job."""
    finished = records[records["status"].isin(["ok", "diverged"])]
    return all((finished["arm"] == arm).any() for arm in claim.arms)


def paired_seeds(records: pd.DataFrame, claims: Sequence[Claim]) -> int:
    """The look sizes the records allow: the smallest count of consecutive seeds 0..n-1 that every
    arm of every claim has finished (a look needs all its seeds, so later seeds of a gap do not count)."""
    arms = {arm for c in claims for arm in c.arms}
    finished = records[records["status"].isin(["ok", "diverged"])]
    counts = []
    for arm in arms:
        seeds = set(finished.loc[finished["arm"] == arm, "seed"].astype(int))
        n = 0
        while n in seeds:
            n += 1
        counts.append(n)
    return min(counts, default=0)


def _not_judged(claim: Claim, profile: str) -> Verdict:
    v = new_verdict(claim)
    v.verdict, v.reason = NOT_JUDGED, f"{profile}: not judged (a plumbing check on tiny data)"
    return v


def add_bh_q(results: Sequence[ClaimResult]) -> None:
    """Report-wide Benjamini-Hochberg q over every claim with a p value (shown; decisions use Holm)."""
    judged = [r.verdict for r in results if math.isfinite(r.verdict.p)]
    for v, q in zip(judged, bh_q([v.p for v in judged]), strict=True):
        v.q_bh = q
