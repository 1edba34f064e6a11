"""The verdicts of a spec from its run records: the claims of one spec are one Holm family
(repro/stats.py); where the spec ran with `--until-decided`, the looks of its design are replayed
(repro/sequential.py); report-wide Benjamini-Hochberg q values; the smoke profile is not judged.

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
from typing import Any

import pandas as pd

from repro.files import write_json_atomic
from repro.report.derived import with_derived
from repro.report.records import claim_table, side_values
from repro.sequential import Design, replay
from repro.stats import ALPHA, NOT_JUDGED, Verdict, bh_q, get_field, judge_family, new_verdict

UNJUDGED_PROFILES = ("smoke",)      # plumbing checks on synthetic data: no verdicts


@dataclass
class ClaimResult:
    """One claim's verdict and its per-seed table (seed, treatment, baseline, difference/ratio, statuses)."""

    verdict: Verdict
    table: pd.DataFrame


def design_path(results_dir: Path, spec_id: str, profile: str) -> Path:
    return Path(results_dir) / "runs" / spec_id / profile / "design.json"


def write_design(results_dir: Path, spec_id: str, profile: str, design: Design) -> Path:
    return write_json_atomic(design_path(results_dir, spec_id, profile), design.to_dict())


def read_design(results_dir: Path, spec_id: str, profile: str) -> Design | None:
    path = design_path(results_dir, spec_id, profile)
    return Design.from_dict(json.loads(path.read_text())) if path.exists() else None


def judge_spec(records: pd.DataFrame, spec: Any, profile: str, design: Design | None = None,
               alpha: float = ALPHA) -> list[ClaimResult]:
    """Every claim of `spec` judged on `records` (one spec's records at one profile)."""
    claims = list(get_field(spec, "claims") or [])
    tables = {get_field(c, "id"): claim_table(with_derived(records, c), c) for c in claims}
    if profile in UNJUDGED_PROFILES:
        return [ClaimResult(_not_judged(c, profile), tables[get_field(c, "id")]) for c in claims]
    if design is None:
        verdicts = _family(records, claims, alpha, seeds_below=None)
    else:
        verdicts = _sequential(records, claims, design)
    return [ClaimResult(v, _judged_rows(tables[v.claim_id], v.look)) for v in verdicts]


def _judged_rows(table: pd.DataFrame, look: int | None) -> pd.DataFrame:
    """A claim judged at look n shows seeds 0..n-1, the seeds its verdict stands on (later seeds, of a
    look under way or of another claim on the same arm, are not part of it)."""
    return table if look is None else table[table["seed"] < look].reset_index(drop=True)


def claim_arms(v: Verdict) -> set[str]:
    """The arms a claim compares ("arm/predictor" refers to the arm)."""
    return {v.treatment.split("/")[0], v.baseline.split("/")[0]}


def judged_records(records: pd.DataFrame, results: Sequence[ClaimResult]) -> pd.DataFrame:
    """The records the verdicts stand on, for a section's tables, curves and regime line: an arm that
    a claim judged at look n keeps seeds 0..n-1 (a look still under way has added seeds no verdict
    uses yet); arms without a looked claim keep every seed."""
    looks: dict[str, int] = {}
    for v in (r.verdict for r in results if r.verdict.look is not None):
        for arm in claim_arms(v):
            looks[arm] = max(looks.get(arm, 0), v.look)
    keep = [arm not in looks or seed < looks[arm]
            for arm, seed in zip(records["arm"], records["seed"], strict=True)]
    return records[keep]


def _family(records: pd.DataFrame, claims: Sequence[Any], alpha: float,
            seeds_below: int | None) -> list[Verdict]:
    items = []
    for claim in claims:
        values, excluded = side_values(with_derived(records, claim), claim)   # repro/report/derived.py
        if seeds_below is not None:
            values = {s: {k: x for k, x in v.items() if k < seeds_below} for s, v in values.items()}
            excluded = {s: {k: x for k, x in v.items() if k < seeds_below} for s, v in excluded.items()}
        items.append((claim, values["treatment"], values["baseline"], excluded))
    return judge_family(items, alpha=alpha)


def _sequential(records: pd.DataFrame, claims: Sequence[Any], design: Design) -> list[Verdict]:
    by_id = {get_field(c, "id"): c for c in claims}

    def judge_at(n: int, level: float, ids: set[str]) -> list[Verdict]:
        return _family(records, [by_id[i] for i in by_id if i in ids], level, seeds_below=n)

    def available(ids: set[str]) -> int:
        return paired_seeds(records, [by_id[i] for i in ids])

    result = replay(design, list(by_id), judge_at, available)
    decided = {v.claim_id: v for v in result.verdicts}
    unlooked = [c for i, c in by_id.items() if i not in decided]     # fewer seeds than the first look
    fallback = {v.claim_id: v for v in _family(records, unlooked, design.nominal_alpha, None)}
    return [decided.get(i) or fallback[i] for i in by_id]


def paired_seeds(records: pd.DataFrame, claims: Sequence[Any]) -> int:
    """The look sizes the records allow: the smallest count of consecutive seeds 0..n-1 that every
    arm of every claim has finished (a look needs all its seeds, so later seeds of a gap do not count)."""
    arms = {get_field(c, side).split("/")[0] for c in claims for side in ("treatment", "baseline")}
    finished = records[records["status"].isin(["ok", "diverged"])]
    counts = []
    for arm in arms:
        seeds = set(finished.loc[finished["arm"] == arm, "seed"].astype(int))
        n = 0
        while n in seeds:
            n += 1
        counts.append(n)
    return min(counts, default=0)


def _not_judged(claim: Any, profile: str) -> Verdict:
    v = new_verdict(claim)
    v.verdict, v.reason = NOT_JUDGED, f"{profile}: not judged (a plumbing check on tiny data)"
    return v


def add_bh_q(results: Sequence[ClaimResult]) -> None:
    """Report-wide Benjamini-Hochberg q over every claim with a p value (shown; decisions use Holm)."""
    judged = [r.verdict for r in results if math.isfinite(r.verdict.p)]
    for v, q in zip(judged, bh_q([v.p for v in judged]), strict=True):
        v.q_bh = q
