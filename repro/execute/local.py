"""Run many jobs here: one after another, or N at once in worker processes (one GPU each when there are
GPUs)."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
from tqdm.auto import tqdm

from repro.execute.progress import say_status
from repro.hardware import pick_device
from repro.jobs.job import Job
from repro.jobs.run import is_rank0, run_job

_worker_device: torch.device | None = None


def run_local(jobs: list[Job], results_dir: Path, cache_dir: Path, device: str, data_root: Path,
              n_jobs: int = 1) -> list[dict]:
    """Run every job here, `n_jobs` at once; returns their records in completion order."""
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
            say_status(records[-1])
    finally:
        outer.close()
    return records


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
        # workers are spawned by submit(): with SIGINT ignored meanwhile, they start with it ignored (an
        # ignored signal survives exec), so a Ctrl-C while they still import prints no traceback
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            futures = [pool.submit(_work, j, results_dir, cache_dir, data_root) for j in jobs]
        finally:
            signal.signal(signal.SIGINT, handler)
        try:
            for fut in tqdm(as_completed(futures), total=len(futures), desc="jobs", unit="job"):
                records.append(fut.result())
                say_status(records[-1])
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
