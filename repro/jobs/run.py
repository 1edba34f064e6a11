"""Run one job: train it (resuming from its checkpoint), then write its one record, atomically.

Only rank 0 writes anything, so data-parallel jobs reuse this code unchanged.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import torch

from repro.hardware import fingerprint, git_commit, git_diff
from repro.hardware_class import of_fingerprint
from repro.jobs import parallel
from repro.jobs.ensemble import train_ensemble
from repro.jobs.job import FINISHED, Job, checkpoint_path, record_path
from repro.jobs.train import example_outputs, train_job
from repro.record import RECORD_VERSION, Record, write_record
from repro.spec import config_hash
from tricks.loop import Checkpointer
from tricks.optimizers import MissingDependency


def is_rank0() -> bool:
    return parallel.world()[0] == 0


def new_record(job: Job, device: torch.device) -> dict:
    """The fields a record has before its job trains: what ran, with which code, where."""
    diff_sha, patch = git_diff()
    record = {"schema_version": RECORD_VERSION, "spec": job.spec_id, "profile": job.profile, "arm": job.arm,
              "seed": job.seed, "config": job.config.model_dump(mode="json"),
              "config_hash": config_hash(job.config), "git_commit": git_commit(),
              "hardware": fingerprint(device), "world_size": parallel.world()[1],
              "overrides": list(job.overrides)}
    if diff_sha:
        record.update(git_diff_sha256=diff_sha, git_patch=patch)
    if job.tuned:
        record["tune"] = job.tuned
    return record


def run_job(job: Job, results_dir: Path, cache_dir: Path, device: torch.device, data_root: Path,
            on_step: Callable[[int], None] | None = None, on_start: Callable[[int], None] | None = None
            ) -> dict:
    """Train one job (resuming if a checkpoint exists) and write its record; returns the record."""
    record = new_record(job, device)
    hardware_class = of_fingerprint(record["hardware"], record["world_size"]).id
    ckpt = Checkpointer(checkpoint_path(cache_dir, job, record["config_hash"], hardware_class),
                        writer=is_rank0())
    record.update(started_at=utc_now(), load={"start": load_average()})
    start = time.perf_counter()
    try:
        record.update(_train(job, device, data_root, ckpt, on_step, on_start))
    except (KeyboardInterrupt, SystemExit):
        raise
    except MissingDependency as err:   # an optional optimizer this machine cannot have (VeLO offline)
        record.update(status="failed", reason=str(err), missing_dependency=True, missing_package=err.package)
    except Exception as err:  # one failing job must not stop the others; the record says why
        record.update(status="failed", reason=f"{type(err).__name__}: {err}",
                      traceback=traceback.format_exc(limit=8))
        if parallel.is_distributed():   # the other ranks wait in a collective: stop them all
            if is_rank0():
                write_record(record_path(results_dir, job), record)
            raise
    record["wall_time_s"] = time.perf_counter() - start
    record.update(ended_at=utc_now(), load={**record["load"], "end": load_average()})
    if is_rank0():
        write_record(record_path(results_dir, job), Record.model_validate(record))
        if record["status"] in FINISHED:
            ckpt.delete()
    if parallel.is_distributed():
        torch.distributed.barrier()   # no rank starts the next job before the checkpoint is gone
    return record


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_average() -> list[float] | None:
    """The machine's 1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def _tune_extra(job: Job) -> dict:
    """The tuned value and the grid's cost as numbers the report and claims can read (extra)."""
    if not job.tuned:
        return {}
    return {"tune_value": job.tuned["chosen"], "tune_grid_steps": job.tuned["grid_steps"],
            "tune_grid_seconds": job.tuned["grid_seconds"]}


def _train(job: Job, device, data_root, ckpt, on_step, on_start) -> dict:
    """The trained job's part of the record, with what ran (the setup's resolved RunFacts)."""
    out = {}
    if job.config.ensemble:
        result, built = train_ensemble(job, device, data_root, ckpt, on_step, on_start)
    else:
        result, built = train_job(job, device, data_root, ckpt, on_step, on_start)
        if built.task.examples and result.status == "ok":
            out["examples"] = example_outputs(built)
    out["execution"] = asdict(built.facts)
    return {"status": result.status, "reason": result.reason, "curves": result.curves,
            "lr_trace": result.lr_trace, "final": result.final, "extra": {**result.extra, **_tune_extra(job)},
            "steps": result.steps, "train_time_s": result.train_time_s,
            "throughput": result.throughput, **out}
