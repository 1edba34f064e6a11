"""Run many jobs: one after another, N at once in worker processes (one GPU each when there are GPUs),
or as tasks on a Ray cluster (repro/ray_executor.py)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
from tqdm.auto import tqdm

from repro.hardware import pick_device
from repro.runner import Job, is_finished, is_rank0, run_job

_worker_device: torch.device | None = None


def pending(jobs: list[Job], results_dir: Path) -> tuple[list[Job], list[Job]]:
    """Split jobs into (to run, already finished with the same config)."""
    done = [j for j in jobs if is_finished(results_dir, j)]
    return [j for j in jobs if j not in done], done


def run_jobs(jobs: list[Job], results_dir: Path, cache_dir: Path, device: str, data_root: Path,
             n_jobs: int = 1, executor: str = "local", address: str | None = None) -> list[dict]:
    """Run every job; returns their records in completion order.

    executor "local": here, `n_jobs` at once; "ray": one Ray task per job on the cluster at `address`
    (None: a local Ray instance), which decides how many run at once.
    """
    if executor == "ray":
        from repro.ray_executor import run_jobs as run_on_ray
        return run_on_ray(jobs, results_dir, cache_dir, device, data_root, address)
    if executor != "local":
        raise ValueError(f"unknown executor {executor!r}; use local or ray")
    if n_jobs <= 1:
        return _run_sequential(jobs, results_dir, cache_dir, pick_device(device), data_root)
    return _run_parallel(jobs, results_dir, cache_dir, device, data_root, n_jobs)


def _run_sequential(jobs, results_dir, cache_dir, device, data_root) -> list[dict]:
    records = []
    outer = tqdm(jobs, desc="jobs", unit="job", disable=not is_rank0())
    try:
        for job in outer:
            outer.set_postfix_str(job.name)
            bar = tqdm(desc=f"  {job.arm} seed {job.seed}", unit="step", leave=False, disable=not is_rank0())

            def on_start(total, bar=bar):
                bar.reset(total=total)

            def on_step(step, bar=bar):
                bar.n = step
                if step % 10 == 0:
                    bar.refresh()
            try:
                records.append(run_job(job, results_dir, cache_dir, device, data_root, on_step, on_start))
            finally:             # Ctrl-C: the bars end before the one-line message (repro.cli.main)
                bar.close()
            _say_status(records[-1])
    finally:
        outer.close()
    return records


def _say_status(record: dict) -> None:
    if record["status"] != "ok" and is_rank0():
        tqdm.write(f"{record['spec']}/{record['arm']}/seed{record['seed']}: {record['status']}: "
                   f"{record.get('reason')}")


def _init_worker(devices: mp.Queue, threads: int) -> None:
    global _worker_device
    # Ctrl-C reaches the whole process group: the parent alone stops the run (no traceback per worker)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_device = torch.device(devices.get())
    torch.set_num_threads(threads)


def _work(job: Job, results_dir, cache_dir, data_root) -> dict:
    return run_job(job, results_dir, cache_dir, _worker_device, data_root)


def _run_parallel(jobs, results_dir, cache_dir, device_name, data_root, n_jobs) -> list[dict]:
    device = pick_device(device_name)
    ctx = mp.get_context("spawn")
    devices = ctx.Queue()
    if device.type == "cuda" and device_name in ("auto", "cuda"):
        names = [f"cuda:{i % torch.cuda.device_count()}" for i in range(n_jobs)]
    else:
        names = [str(device)] * n_jobs
    for name in names:
        devices.put(name)
    threads = max(1, (os.cpu_count() or 1) // n_jobs)
    records = []
    with ProcessPoolExecutor(n_jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(devices, threads)) as pool:
        futures = [pool.submit(_work, j, results_dir, cache_dir, data_root) for j in jobs]
        try:
            for fut in tqdm(as_completed(futures), total=len(futures), desc="jobs", unit="job"):
                records.append(fut.result())
                _say_status(records[-1])
        except KeyboardInterrupt:
            _stop(pool)
            raise
    return records


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the jobs not started and end the running ones now (they resume from their checkpoints)."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in workers:
        proc.terminate()
    for proc in workers:
        proc.join(timeout=10)
