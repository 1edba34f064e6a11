"""Fan independent jobs out on a Ray cluster (`repro run ... --executor ray [--address auto]`).

Design:
- One Ray task per (spec, profile, arm, seed) job. The task calls repro.jobs.run.run_job and returns
  the record dict; `num_gpus=1` per task when the cluster has GPUs (Ray sets CUDA_VISIBLE_DEVICES,
  so the task trains on "cuda"), else `num_cpus=1` with torch limited to that many threads.
- The driver is the only writer of the results tree: on the worker, run_job writes its record into
  a scratch directory that is removed afterwards, and the driver writes the returned record with
  write_record(record_path(...)). Records therefore land on the driver's machine whether or
  not the workers share its filesystem, and no two processes ever write the same record file.
- Checkpoints go to the cache dir as given (made absolute on the driver), exactly as with the
  local executor. A task whose worker dies (SIGKILL, OOM killer, lost node) is retried by Ray
  (`max_retries`) and resumes from its last epoch checkpoint, provided the retry can see the
  file: always on one machine; across nodes only when the cache dir is on a shared filesystem
  (otherwise the retry starts the job from scratch, still correct, just slower).
- Exceptions are not retried (`retry_exceptions=False`): run_job already turns a failing job
  into a `failed` record, so an exception reaching Ray is a bug, and retrying it would only
  repeat it. A job whose retries all die comes back as a `failed` record that is not written,
  so the next `repro run` picks it up again (resuming from its checkpoint).
- Ray is optional: it is imported only here, only when this executor is chosen.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from repro.errors import UserError
from repro.execute.progress import say_status
from repro.hardware import pick_device
from repro.jobs.job import Job, record_path
from repro.jobs.run import run_job
from repro.record import write_record

MAX_RETRIES = 3          # worker deaths per job before it is given up
CPUS_PER_TASK = 1        # on CPU-only clusters: cores (and torch threads) per job


def import_ray():
    """The ray module, or a one-line UserError saying how to install it."""
    try:
        import ray  # here, not at the top: Ray is optional and slow to import (the `ray` extra)
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install 'tricks-repro[ray]'") from None
    return ray


def run_on_worker(job: Job, cache_dir: Path, data_root: Path, gpu: bool,
                  on_step: Callable[[int], None] | None = None) -> dict:
    """Body of one Ray task: train `job` and return its record (written only to a scratch dir)."""
    if not gpu:
        torch.set_num_threads(CPUS_PER_TASK)
    device = pick_device("cuda" if gpu else "cpu")   # this worker's one pick: Ray gave it one GPU or none
    with tempfile.TemporaryDirectory(prefix="repro-ray-") as scratch:
        return run_job(job, Path(scratch), cache_dir, device, data_root, on_step=on_step)


def task_options(gpu: bool) -> dict:
    """Resources and retry policy of one job's task."""
    resources = {"num_gpus": 1, "num_cpus": 1} if gpu else {"num_cpus": CPUS_PER_TASK}
    return {**resources, "max_retries": MAX_RETRIES, "retry_exceptions": False}


def use_gpus(ray, device: str) -> bool:
    """GPU tasks when the cluster has GPUs, unless --device cpu; --device cuda* without GPUs is an error."""
    has_gpus = ray.cluster_resources().get("GPU", 0) > 0
    if device.startswith("cuda") and not has_gpus:
        raise UserError(f"--device {device}: the Ray cluster has no GPUs; use --device cpu or auto")
    return has_gpus and device != "cpu"


def lost_record(job: Job, err: Exception) -> dict:
    """What the driver returns (and does not write) for a job whose task could not finish."""
    return {"spec": job.spec_id, "profile": job.profile, "arm": job.arm, "seed": job.seed,
            "status": "failed", "reason": f"Ray task lost: {type(err).__name__}: {err}".splitlines()[0]}


def run_jobs(jobs: list[Job], results_dir: Path, cache_dir: Path, device: str, data_root: Path,
             address: str | None = None, work: Callable[..., dict] = run_on_worker) -> list[dict]:
    """Run every job as a Ray task; returns their records in completion order.

    `address` goes to ray.init (None starts a local instance); an already initialised Ray is used
    as it is. `work(job, cache_dir, data_root, gpu)` is the task body (tests wrap run_on_worker).
    """
    ray = import_ray()
    if not jobs:
        return []
    started = not ray.is_initialized()
    if started:
        ray.init(address=address)
    try:
        gpu = use_gpus(ray, device)
        task = ray.remote(work).options(**task_options(gpu))
        cache_dir, data_root = Path(cache_dir).resolve(), Path(data_root).resolve()
        refs = {task.remote(job, cache_dir, data_root, gpu): job for job in jobs}
        return collect(ray, refs, results_dir)
    finally:
        if started:
            ray.shutdown()


def collect(ray, refs: dict, results_dir: Path) -> list[dict]:
    """Wait for the tasks as they finish; write each finished record into the results tree."""
    records, waiting = [], list(refs)
    with tqdm(total=len(refs), desc="jobs (ray)", unit="job") as bar:
        while waiting:
            [ref], waiting = ray.wait(waiting, num_returns=1)
            job = refs[ref]
            try:
                record = ray.get(ref)
            except ray.exceptions.RayError as err:
                record = lost_record(job, err)
            else:
                write_record(record_path(results_dir, job), record)
            records.append(record)
            say_status(record)
            bar.update()
    return records
