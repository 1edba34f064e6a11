"""`repro run SPEC --until-decided`: seeds in looks fixed in advance, only where claims are undecided.

Before the first look the design (looks, calibrated nominal level: repro/sequential.py) is written to
results/runs/<spec>/<profile>/design.json, so the report replays exactly the looks that were run. At
each look the specs' jobs for seeds 0..n-1 run for the arms of the claims still undecided; then every
spec is judged from its records (repro/report/verdicts.py), and a claim that is decisive keeps its
verdict. The run stops when every claim is decided or the last look has run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from repro.errors import UserError
from repro.jobs.job import Job
from repro.jobs.plan import plan
from repro.report.records import load_records
from repro.report.verdicts import judge_spec, read_design, write_design
from repro.sequential import Design, looks_up_to, make_design
from repro.spec import Spec
from repro.stats import INCONCLUSIVE, get_field


@dataclass
class LookLog:
    """What happened at one look: seeds per spec run, claims decided at it, claims left open."""

    n: int
    jobs: int
    decided: dict[str, list[str]] = field(default_factory=dict)     # spec id -> claim ids
    undecided: dict[str, list[str]] = field(default_factory=dict)


def design_for(max_seeds: int) -> Design:
    try:
        return make_design(looks_up_to(max_seeds))
    except ValueError as err:
        raise UserError(f"--max-seeds {max_seeds}: {err}") from None


def pin_design(results_dir: Path, specs: dict[str, Spec], profile: str, design: Design) -> None:
    """Write each spec's design.json; refuse to mix designs for records that already have one."""
    for sid in specs:
        old = read_design(results_dir, sid, profile)
        if old is not None and old.looks != design.looks:
            raise UserError(f"{sid} ran with looks {list(old.looks)} before; rerun with --max-seeds "
                            f"{old.looks[-1]}, or move results/runs/{sid}/{profile}/ away to start over")
        write_design(results_dir, sid, profile, design)


def undecided_claims(results_dir: Path, specs: dict[str, Spec], profile: str,
                     design: Design) -> dict[str, list[str]]:
    """spec id -> ids of its claims still undecided, judged from the records with the design."""
    records = load_records(results_dir, profile)
    out = {}
    for sid, spec in specs.items():
        results = judge_spec(records[records["spec"] == sid], spec, profile, design)
        out[sid] = [r.verdict.claim_id for r in results if r.verdict.verdict == INCONCLUSIVE]
    return out


def claim_arms(spec: Spec, claim_ids: list[str]) -> list[str]:
    """The arms the claims compare (the arm of an "arm/predictor" reference)."""
    wanted = {get_field(c, side).split("/")[0] for c in spec.claims if c.id in claim_ids
              for side in ("treatment", "baseline")}
    return [arm for arm in spec.arms if arm in wanted]


def run_until_decided(paths: list[Path], profile: str, arms: list[str] | None, sets: list[str] | None,
                      max_seeds: int, results_dir: Path,
                      execute: Callable[[list[Job]], None]) -> list[LookLog]:
    """Run the looks; `execute(jobs)` trains the jobs that are not finished yet."""
    design = design_for(max_seeds)
    specs, _ = plan(paths, profile, arms, [0], sets)
    pin_design(results_dir, specs, profile, design)
    by_path = dict(zip(specs, paths, strict=True))
    open_claims = {sid: [c.id for c in spec.claims] for sid, spec in specs.items()}
    logs = []
    for n in design.looks:
        jobs = []
        for sid, claim_ids in open_claims.items():
            needed = [a for a in claim_arms(specs[sid], claim_ids) if not arms or a in arms]
            if needed:
                jobs += plan([by_path[sid]], profile, needed, list(range(n)), sets)[1]
        if not jobs:
            break
        print(f"look n = {n}: {len(jobs)} jobs for the claims still undecided in "
              f"{sum(1 for ids in open_claims.values() if ids)} spec(s)", flush=True)
        execute(jobs)
        now_open = undecided_claims(results_dir, specs, profile, design)
        decided = {s: sorted(set(ids) - set(now_open[s])) for s, ids in open_claims.items()}
        logs.append(LookLog(n, len(jobs), decided=decided, undecided=now_open))
        open_claims = {s: ids for s, ids in now_open.items() if ids}
    return logs


def summary(logs: list[LookLog]) -> str:
    lines = []
    for log in logs:
        decided = sum(len(v) for v in log.decided.values())
        left = sum(len(v) for v in log.undecided.values())
        lines.append(f"look n = {log.n}: {log.jobs} jobs, {decided} claim(s) decided, {left} undecided")
    return "\n".join(lines)
