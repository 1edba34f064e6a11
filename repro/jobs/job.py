"""A job is (spec, profile, arm, seed) with its resolved run config; where its record and checkpoint live.

A finished job (record with status ok/diverged, the same config hash and, when the run names one, the same
hardware class: repro/hardware_class.py) is skipped on the next run, and so is a job that could not run for a
missing package (VeLO's PyLO offline) while that package is still missing. A record of another machine's class
is a reference, not a head start: its job runs again here.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from repro.hardware_class import legacy_facts, of_record
from repro.spec import RunConfig, config_hash

FINISHED = ("ok", "diverged")


@dataclass(frozen=True)
class Job:
    spec_id: str
    profile: str
    arm: str
    seed: int
    config: RunConfig
    overrides: tuple[str, ...] = ()   # the --set KEY=VALUE texts already applied to config
    # an arm's `tune:` grid summary (repro/jobs/tune.py), already applied to config; kept in the record
    tuned: dict | None = field(default=None, compare=False, hash=False)

    @property
    def name(self) -> str:
        return f"{self.spec_id}/{self.profile}/{self.arm}/seed{self.seed}"


def record_path(results_dir: Path, job: Job) -> Path:
    return Path(results_dir) / "runs" / job.spec_id / job.profile / job.arm / f"seed{job.seed}.json"


def checkpoint_path(cache_dir: Path, job: Job, chash: str, hardware_class: str = "") -> Path:
    """Keyed by the config and the hardware class: a job stopped on one class (another thread count, say)
    never resumes on another, whose record would then claim numerics it did not all have."""
    tag = f"-{hardware_class}" if hardware_class else ""
    return Path(cache_dir) / "checkpoints" / job.spec_id / job.profile / job.arm / \
        f"seed{job.seed}-{chash[:12]}{tag}.pt"


def read_record(path: Path) -> dict | None:
    """The record at `path`, or None where there is none or it is not valid JSON (a run cut off mid-write)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def is_finished(results_dir: Path, job: Job, hardware: str | None = None) -> bool:
    """Whether `job` has a finished record here (of hardware class `hardware`, when given)."""
    record = read_record(record_path(results_dir, job))
    if record is None:
        return False
    if record.get("config_hash") != config_hash(job.config):
        return False
    if hardware is not None and of_record(record, legacy_facts(results_dir)).id != hardware:
        return False
    return record.get("status") in FINISHED or still_missing(record.get("missing_package"))


def still_missing(package: str | None) -> bool:
    """True when a record names a package that is still not importable here (a rerun would fail the same)."""
    return package is not None and importlib.util.find_spec(package) is None


def pending(jobs: list[Job], results_dir: Path, hardware: str | None = None) -> tuple[list[Job], list[Job]]:
    """Split jobs into (to run, already finished with the same config, on hardware class `hardware`)."""
    done = [j for j in jobs if is_finished(results_dir, j, hardware)]
    return [j for j in jobs if j not in done], done
