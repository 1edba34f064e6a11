"""Run many jobs with the executor the command line chose: here (local) or on a Ray cluster."""

from __future__ import annotations

from pathlib import Path

import torch

from repro.execute.local import run_local
from repro.execute.ray_cluster import run_jobs as run_on_ray
from repro.jobs.job import Job

EXECUTORS = ("local", "ray")


def run_jobs(jobs: list[Job], results_dir: Path, cache_dir: Path, device: torch.device, data_root: Path,
             n_jobs: int = 1, executor: str = "local", address: str | None = None,
             device_request: str = "auto", costs: dict[str, float] | None = None) -> list[dict]:
    """Run every job; returns their records in completion order.

    executor "local": here, on `device` (picked once, repro.hardware.pick_device), `n_jobs` at once; "ray":
    one Ray task per job on the cluster at `address` (None: a local Ray instance), which decides how many
    run at once and, from `device_request` (--device as written), whether they take its GPUs: the
    cluster's devices are not this machine's. `costs` (job name -> expected seconds) weigh the local
    progress bar's ETA.
    """
    if executor == "ray":
        return run_on_ray(jobs, results_dir, cache_dir, device_request, data_root, address)
    if executor != "local":
        raise ValueError(f"unknown executor {executor!r}; use {' or '.join(EXECUTORS)}")
    return run_local(jobs, results_dir, cache_dir, device, data_root, n_jobs, costs)
