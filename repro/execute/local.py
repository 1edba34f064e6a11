"""Run many jobs here: one after another, or N at once in worker processes (one GPU each when there are
GPUs); map_local runs other independent work (a tuning grid's points) in the same kind of workers. The
device comes in picked (repro.hardware.pick_device, once in the driver); each worker process picks the one
it is handed."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from repro.execute.progress import JobsBar, say_status
from repro.hardware import pick_device
from repro.jobs.job import Job
from repro.jobs.run import is_rank0, run_job
from repro.jobs.tune import in_order

_worker_device: torch.device | None = None


def run_local(jobs: list[Job], results_dir: Path, cache_dir: Path, device: torch.device, data_root: Path,
              n_jobs: int = 1, costs: dict[str, float] | None = None) -> list[dict]:
    """Run every job here, `n_jobs` at once; returns their records in completion order.

    With several jobs at once on `cuda` without an index (--device auto or cuda), the workers take the
    visible GPUs in turn; a device with an index (cuda:1) or the CPU is every worker's. `costs` (job name ->
    expected seconds) weigh the progress bar's ETA; no jobs, no bar."""
    if not jobs:
        return []
    if n_jobs <= 1:
        return _run_sequential(jobs, results_dir, cache_dir, device, data_root, costs)
    return _run_parallel(jobs, results_dir, cache_dir, device, data_root, n_jobs, costs)


def _run_sequential(jobs, results_dir, cache_dir, device, data_root, costs=None) -> list[dict]:
    records = []
    outer = JobsBar(jobs, costs)
    try:
        for job in jobs:
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
            outer.finished(job.name)
            say_status(records[-1])
    finally:
        outer.close()
    return records


def _init_worker(devices: mp.Queue, threads: int) -> None:
    global _worker_device
    # Ctrl-C reaches the whole process group: the parent alone stops the run (no traceback per worker)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_device = pick_device(devices.get())
    torch.set_num_threads(threads)


def _work(job: Job, results_dir, cache_dir, data_root) -> dict:
    return run_job(job, results_dir, cache_dir, _worker_device, data_root)


def _run_parallel(jobs, results_dir, cache_dir, device: torch.device, data_root, n_jobs,
                  costs=None) -> list[dict]:
    records = []
    with _pool(device, n_jobs) as pool:
        futures = dict(zip(_submit(pool, [(_work, (j, results_dir, cache_dir, data_root)) for j in jobs]),
                           (j.name for j in jobs), strict=True))
        bar = JobsBar(jobs, costs, parallel=n_jobs)
        try:
            for fut in as_completed(futures):
                records.append(fut.result())
                bar.finished(futures[fut])
                say_status(records[-1])
        finally:
            bar.close()
    return records


def map_local(fn: Callable[[Any, torch.device], Any], items: list, device: torch.device,
              n_jobs: int) -> Iterator[tuple[int, Any]]:
    """(index, fn(item, device)) of every item as it finishes: `n_jobs` at once in the worker processes
    run_local's jobs run in (their device, their threads), or here in order. `fn` and the items must
    pickle (a module-level function)."""
    if n_jobs <= 1 or len(items) <= 1:
        yield from in_order(device)(fn, items)
        return
    with _pool(device, min(n_jobs, len(items))) as pool:
        futures = dict(zip(_submit(pool, [(_on_worker_device, (fn, item)) for item in items]),
                           range(len(items)), strict=True))
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def _on_worker_device(fn, item):
    return fn(item, _worker_device)


@contextmanager
def _pool(device: torch.device, n_jobs: int) -> Iterator[ProcessPoolExecutor]:
    """n_jobs spawned workers, one device each (the visible GPUs in turn on `cuda` without an index), the
    machine's cores shared out; a Ctrl-C (or a consumer that stops early) ends the running ones now."""
    ctx = mp.get_context("spawn")
    devices = ctx.Queue()
    if device.type == "cuda" and device.index is None:
        names = [f"cuda:{i % torch.cuda.device_count()}" for i in range(n_jobs)]
    else:
        names = [str(device)] * n_jobs
    for name in names:
        devices.put(name)
    threads = max(1, (os.cpu_count() or 1) // n_jobs)
    with ProcessPoolExecutor(n_jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(devices, threads)) as pool:
        try:
            yield pool
        except (KeyboardInterrupt, GeneratorExit):
            _stop(pool)
            raise


def _submit(pool: ProcessPoolExecutor, calls: list[tuple[Callable, tuple]]) -> list[Future]:
    # workers are spawned by submit(): with SIGINT ignored meanwhile, they start with it ignored (an
    # ignored signal survives exec), so a Ctrl-C while they still import prints no traceback
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return [pool.submit(fn, *args) for fn, args in calls]
    finally:
        signal.signal(signal.SIGINT, handler)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the jobs not started and end the running ones now (they resume from their checkpoints)."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in workers:
        proc.terminate()
    for proc in workers:
        proc.join(timeout=10)
