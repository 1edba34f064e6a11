"""One `repro run` after its preflight: which jobs still have to train, the plan printed before the first
of them (looks, jobs per spec, the time expected here: repro/jobs/estimate.py), and the jobs trained with a
progress bar whose ETA weighs each job by its expected cost."""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import torch

from repro.errors import Interrupted
from repro.execute.dispatch import run_jobs
from repro.execute.local import map_local
from repro.execute.plan_text import Column, plan_text
from repro.execute.regime_checks import doubling_jobs, linear_references
from repro.execute.until_decided import design_for
from repro.hardware import fingerprint, fingerprint_id
from repro.hardware_class import of_fingerprint
from repro.jobs import parallel
from repro.jobs.dry_run import probe
from repro.jobs.estimate import Estimator, costs, read_timed
from repro.jobs.job import Job, pending, record_path
from repro.jobs.lr_search import apply_lr_finder
from repro.jobs.preflight import Preflight
from repro.jobs.run import new_record
from repro.jobs.tune import apply_tuning
from repro.judge.sequential import family_design
from repro.judge.spec import read_design
from repro.record import Record, write_record


def worker_threads(device: torch.device, n_jobs: int, executor: str) -> int:
    """The torch threads each job will train with (repro/execute/local.py, ray_cluster.py)."""
    if executor == "ray" and device.type == "cpu":
        return 1
    if n_jobs > 1:
        return max(1, (os.cpu_count() or 1) // n_jobs)
    return torch.get_num_threads()


def hardware_id(device: torch.device, threads: int) -> str:
    """The hardware id the run's records will carry (repro.hardware.fingerprint_id)."""
    return fingerprint_id({**fingerprint(device), "threads": threads})


def hardware_class_id(device: torch.device, threads: int) -> str:
    """The hardware class id the run's records will carry (repro/hardware_class.py)."""
    return of_fingerprint({**fingerprint(device), "threads": threads}, parallel.world()[1]).id


def _probe_seconds(job: Job, device: torch.device, data_root: Path) -> float | None:
    """A spec without any record: a few timed steps of its job x the job's steps (None if it cannot)."""
    print(f"estimating {job.spec_id}: no record to go by, timing a few steps of {job.arm}", flush=True)
    try:
        row = probe(job, device, data_root)
    except Exception:   # noqa: BLE001 - an estimate only: the job itself will say what is wrong
        return None
    return row["hours"] * 3600 if "hours" in row else None


def record_not_run(job: Job, results_dir: Path, device: torch.device, why: str, package: str,
                   threads: int | None = None) -> None:
    """The record of a job whose arm cannot run here, written without training: the one repro/jobs/run.py
    writes when a missing package stops a job, so the report says why and the job counts as finished
    while the package is missing (repro/jobs/job.py, still_missing)."""
    record = new_record(job, device)
    if threads is not None:       # the threads its job would have trained with, not this process's
        hw = {**record["hardware"], "threads": threads}
        record["hardware"] = {**hw, "id": fingerprint_id(hw)}
    record.update(status="failed", reason=why, missing_dependency=True, missing_package=package,
                  wall_time_s=0.0)
    write_record(record_path(results_dir, job), Record.model_validate(record))


@dataclasses.dataclass
class RunSession:
    """What `repro run` needs between its looks: its arguments, specs, device and the preflight's verdict."""

    args: object
    specs: dict
    device: torch.device
    checked: Preflight
    failed: list[dict] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        a = self.args
        self.parallel = max(1, a.jobs)          # on Ray the cluster decides: --jobs is then a guess
        self.threads = threads = worker_threads(self.device, a.jobs, a.executor)
        self.hardware = hardware_id(self.device, threads)
        self.hardware_class = hardware_class_id(self.device, threads)
        self.estimate = Estimator(self._timed(), self.hardware,
                                  lambda job: _probe_seconds(job, self.device, a.data_root))

    def _timed(self) -> list:
        """This class's records and the reference folder's (another class: "other hardware" estimates)."""
        a = self.args
        roots = dict.fromkeys(Path(r) for r in (a.results_dir, getattr(a, "reference_dir", None)) if r)
        return [t for root in roots for t in read_timed(root, a.profile)]

    def todo(self, jobs: list[Job]) -> list[Job]:
        """The jobs without a finished record, learning rates found and tuned (those of arms not runnable
        here among them: `execute` records them as not run, without training)."""
        a = self.args
        jobs = apply_lr_finder(self.specs, jobs, a.results_dir, self.device, a.data_root)
        jobs = apply_tuning(self.specs, jobs, a.results_dir, self.device, a.data_root, self._grid_map())
        return pending(jobs, a.results_dir, self.hardware_class)[0]

    def _grid_map(self):
        """Tuning grids train `--jobs` points at once in worker processes when the jobs do (local, not
        torchrun, whose ranks train each point together; Ray's cluster: here, in order)."""
        a = self.args
        if a.executor != "local" or a.jobs <= 1 or parallel.is_distributed():
            return None
        return functools.partial(map_local, device=self.device, n_jobs=a.jobs)

    def show_plan(self, columns: list[Column], looks: tuple[int, ...] | None = None) -> None:
        skipped = len(columns[0][1]) - len(self.checked.keep(columns[0][1]))     # of the jobs run now
        columns = [(name, self.checked.keep(jobs)) for name, jobs in columns]
        self.estimate.timed = self._timed()          # the records of earlier looks time the later ones
        estimates = costs([j for _, jobs in columns for j in jobs], self.estimate)
        spec_looks = None
        if looks:
            sids = {j.spec_id for _, jobs in columns for j in jobs}
            designs = self._designs()
            spec_looks = {sid: family_design(designs[sid], len(self.specs[sid].claims)).looks for sid in sids}
        print(plan_text(columns, estimates, self.parallel, spec_looks, looks), flush=True)
        if skipped:
            print(f"  and {skipped} job(s) of arms not runnable here, recorded as not run (not trained)")

    def regime_checks(self, paths: list[Path], seeds: list[int] | None = None) -> None:
        """Before the claims' jobs: the budget-doubling jobs (on the first of `seeds`, default 0, 1, ...) and
        the linear references (regime_checks.py)."""
        a = self.args
        jobs = doubling_jobs(self.specs, dict(zip(self.specs, paths, strict=True)), a.profile, a.set, seeds)
        run = self.todo(jobs)
        if run:
            print(f"budget-doubling check: {len(run)} job(s) of the baseline arms at the profile and at "
                  f"twice its budget", flush=True)
            self.show_plan([("doubling check", run)])
            self.execute(run)
        linear_references(self.specs, a.profile, Path(a.results_dir), Path(a.data_root))

    def on_look(self, n: int, run: list[Job], later: list[tuple[int, list[Job]]]) -> None:
        """--until-decided: the plan before each look that trains (later looks: at most)."""
        columns = [(f"look {n}", run), *((f"look {m} (at most)", jobs) for m, jobs in later if jobs)]
        self.show_plan(columns, tuple(sorted({n for d in self._designs().values() for n in d.looks})))

    def _designs(self) -> dict:
        """spec id -> its design: the pinned one (design.json), else the one of --max-seeds."""
        a = self.args
        return {sid: read_design(a.results_dir, sid, a.profile) or design_for(a.max_seeds)
                for sid in self.specs}

    def execute(self, run: list[Job]) -> None:
        """Train `run` (jobs of arms not runnable here only get their not-run record); failed records (not
        those of a missing optional package) are kept in `failed`."""
        a = self.args
        for job in run:
            why = self.checked.not_runnable(job)
            if why is not None:
                record_not_run(job, a.results_dir, self.device, *why, threads=self.threads)
        run = self.checked.keep(run)
        if not run:
            return
        expected = {name: e.seconds for name, e in costs(run, self.estimate).items()}
        try:
            records = run_jobs(run, a.results_dir, a.cache_dir, self.device, a.data_root, a.jobs,
                               executor=a.executor, address=a.address, device_request=a.device,
                               costs=expected)
        except KeyboardInterrupt:
            raise Interrupted(len(run) - len(pending(run, a.results_dir, self.hardware_class)[0]),
                              len(run)) from None
        for r in (r for r in records if r.get("missing_dependency")):   # optional arms: noted, not an error
            print(f"not run: {r['spec']}/{r['arm']}/seed{r['seed']}: {r['reason']}")
        self.failed += [r for r in records if r["status"] == "failed" and not r.get("missing_dependency")]
