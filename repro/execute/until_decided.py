"""`repro run SPEC --until-decided`: seeds in looks fixed in advance, only where claims are undecided.

Before the first look the design (looks, calibrated nominal level: repro/judge/sequential.py) is written to
results/runs/<spec>/<profile>/design.json, so the report replays exactly the looks that were run. At
each look the specs' jobs for seeds 0..n-1 run for the arms of the claims still undecided; then every
spec is judged from its records (repro/judge/spec.py) with its plateau check (repro/judge/regime.py), and
a claim that is decisive, or out of regime, keeps its verdict. The run stops when every claim is decided
or the last look has run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from repro.errors import UserError
from repro.jobs.job import Job
from repro.jobs.plan import plan
from repro.judge.current import current_records
from repro.judge.records import load_records
from repro.judge.regime import plateau_for
from repro.judge.sequential import Design, looks_up_to, make_design
from repro.judge.spec import design_path, judge_spec, read_design, write_design
from repro.judge.verdict import INCONCLUSIVE, OUT_OF_REGIME, Verdict
from repro.spec import Spec


@dataclass
class LookLog:
    """What happened at one look: seeds per spec run, claims decided at it, claims left open."""

    n: int
    jobs: int
    decided: dict[str, list[str]] = field(default_factory=dict)     # spec id -> claim ids
    undecided: dict[str, list[str]] = field(default_factory=dict)


DEFAULT_MAX_SEEDS = 20


def design_for(max_seeds: int | None) -> Design:
    max_seeds = DEFAULT_MAX_SEEDS if max_seeds is None else max_seeds
    try:
        return make_design(looks_up_to(max_seeds))
    except ValueError as err:
        raise UserError(f"--max-seeds {max_seeds}: {err}") from None


def pin_design(results_dir: Path, specs: dict[str, Spec], profile: str,
               max_seeds: int | None) -> dict[str, Design]:
    """Each spec's design: the one its records were started with (design.json), or the one of
    `max_seeds` (None: DEFAULT_MAX_SEEDS), written now. An explicit `max_seeds` whose looks differ from a
    pinned design is refused: a spec's seeds never mix two designs."""
    designs = {}
    for sid in specs:
        old = read_design(results_dir, sid, profile)
        if old is not None and max_seeds is not None and old.looks != design_for(max_seeds).looks:
            where = design_path(results_dir, sid, profile).parent
            raise UserError(f"{sid} ran with looks {list(old.looks)} before; rerun with --max-seeds "
                            f"{old.looks[-1]} (or without --max-seeds: each spec keeps its own), or move "
                            f"{where}/ away to start over")
        designs[sid] = old or design_for(max_seeds)
        if old is None:
            write_design(results_dir, sid, profile, designs[sid])
    return designs


def _verdicts(results_dir: Path, specs: dict[str, Spec], profile: str, designs: dict[str, Design],
              hardware: str | None) -> dict[str, list[Verdict]]:
    """spec id -> its claims' verdicts, judged from the records (of hardware class `hardware` only, when
    given) with the spec's design and plateau check."""
    records = load_records(results_dir, profile, hardware)
    out = {}
    for sid, spec in specs.items():
        mine = current_records(records[records["spec"] == sid], spec, profile)[0]    # not a stale config
        plateau = plateau_for(results_dir, spec, profile, mine, hardware)
        out[sid] = [r.verdict for r in judge_spec(mine, spec, profile, designs[sid], plateau=plateau)]
    return out


def undecided_claims(results_dir: Path, specs: dict[str, Spec], profile: str,
                     designs: dict[str, Design], hardware: str | None = None) -> dict[str, list[str]]:
    """spec id -> ids of its claims still undecided."""
    verdicts = _verdicts(results_dir, specs, profile, designs, hardware)
    return {sid: [v.claim_id for v in vs if v.verdict == INCONCLUSIVE] for sid, vs in verdicts.items()}


def claims_in_regime(results_dir: Path, specs: dict[str, Spec], profile: str,
                     designs: dict[str, Design], hardware: str | None = None) -> dict[str, list[str]]:
    """Before the first look: spec id -> ids of its claims not already out of regime (a spec whose
    plateau check failed trains no seeds for the claims that need the plateau)."""
    verdicts = _verdicts(results_dir, specs, profile, designs, hardware)
    return {sid: [v.claim_id for v in vs if v.verdict != OUT_OF_REGIME] for sid, vs in verdicts.items()}


def claim_arms(spec: Spec, claim_ids: list[str]) -> list[str]:
    """The arms the claims compare (the arm of an "arm/predictor" reference)."""
    wanted = {arm for c in spec.claims if c.id in claim_ids for arm in c.arms}
    return [arm for arm in spec.arms if arm in wanted]


def _look_jobs(n: int, open_claims: dict[str, list[str]], specs: dict[str, Spec], by_path: dict[str, Path],
               profile: str, arms: list[str] | None, sets: list[str] | None,
               designs: dict[str, Design]) -> list[Job]:
    """The jobs of look n: seeds 0..n-1 of the arms the open claims compare, in the specs whose design has
    that look."""
    jobs = []
    for sid, claim_ids in open_claims.items():
        needed = [a for a in claim_arms(specs[sid], claim_ids) if not arms or a in arms]
        if needed and n in designs[sid].looks:
            jobs += plan([by_path[sid]], profile, needed, list(range(n)), sets)[1]
    return jobs


def run_until_decided(paths: list[Path], profile: str, arms: list[str] | None, sets: list[str] | None,
                      max_seeds: int | None, results_dir: Path, execute: Callable[[list[Job]], None],
                      todo: Callable[[list[Job]], list[Job]] | None = None,
                      on_look: Callable[[int, list[Job], list[tuple[int, list[Job]]]], None] | None = None,
                      hardware: str | None = None) -> list[LookLog]:
    """Run the looks. `todo(jobs)` is the jobs of a look still to train (default: all); `execute(jobs)` trains
    them; `on_look(n, to_run, later)` is told before a look trains, with the jobs each later look would run
    if no claim were decided before it (for the plan). A look that trains nothing leaves the records as they
    were, so they are judged again only after a look that trained something. With `hardware`, the looks
    judge the records of that hardware class only (a claim never pools two machines). Each spec keeps the
    design it was started with (pin_design); the looks run are those of every spec's design."""
    specs, _ = plan(paths, profile, arms, [0], sets)
    designs = pin_design(results_dir, specs, profile, max_seeds)
    looks = sorted({n for d in designs.values() for n in d.looks})
    by_path = dict(zip(specs, paths, strict=True))
    todo = todo or (lambda jobs: jobs)
    open_claims = claims_in_regime(results_dir, specs, profile, designs, hardware)
    for sid, spec in specs.items():
        if len(open_claims[sid]) < len(spec.claims):
            out = len(spec.claims) - len(open_claims[sid])
            print(f"{sid}: {out} claim(s) out of regime before the first look (repro/judge/regime.py): "
                  "no seeds run for them", flush=True)
    logs, judged = [], None
    for i, n in enumerate(looks):
        jobs = _look_jobs(n, open_claims, specs, by_path, profile, arms, sets, designs)
        if not jobs:
            continue
        run = todo(jobs)
        print(f"look n = {n}: {len(jobs)} jobs for the claims still undecided in "
              f"{sum(1 for ids in open_claims.values() if ids)} spec(s): {len(run)} to run, "
              f"{len(jobs) - len(run)} finished or skipped", flush=True)
        if run:
            if on_look is not None:
                later = [(m, todo(_look_jobs(m, open_claims, specs, by_path, profile, arms, sets, designs)))
                         for m in looks[i + 1:]]
                on_look(n, run, later)
            execute(run)
        if run or judged is None:
            print(f"judging the records after look n = {n}", flush=True)
            judged = undecided_claims(results_dir, specs, profile, designs, hardware)
        now_open = judged
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
