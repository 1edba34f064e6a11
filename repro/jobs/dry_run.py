"""`repro run SPEC --profile P --dry-run`: check every job of a profile before it meets a GPU.

For each arm (the seeds only change random numbers), build the job as the real run would (model,
data, schedule, tricks, optimizer) and train it for a few steps through the real loop. When the data
cannot be had here (CIFAR offline, say), an image job trains on synthetic images of the real shapes
instead, so a paper profile is still checked on a laptop. The plan printed per arm: the steps of the
real run, the seconds per step measured here and the cost estimate steps x seconds x seeds (on this
device: divide by the GPU's speedup). Nothing is written.

The seconds per step are the median of TIMED_STEPS steps after WARMUP_STEPS untimed ones (the first
steps pay for allocation, autotuning and caches, and would inflate the estimate),
with the spread (min..max) of the timed steps. A line per arm on stderr shows the probing as it goes.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from repro.errors import UserError
from repro.jobs.build import build_training, make_optimizer
from repro.jobs.job import Job
from repro.spec import DataConfig
from repro.tasks.image.data import dataset_shape, train_size
from tricks.loop import train
from tricks.optimizers import MissingDependency

WARMUP_STEPS = 2
TIMED_STEPS = 5


def _synthetic_job(job: Job) -> tuple[Job, int, str]:
    """The job on synthetic images of its dataset's shapes; with the real run's steps per epoch."""
    cfg = job.config
    data = cfg.data.model_dump()
    classes, channels, size = dataset_shape(data)
    synth = DataConfig(name="synthetic_images", num_classes=classes, channels=channels, image_size=size,
                       train_size=(WARMUP_STEPS + TIMED_STEPS) * cfg.batch_size, test_size=8,
                       augment=list(cfg.data.augment))
    steps = train_size(data) // cfg.batch_size
    return (dataclasses.replace(job, config=cfg.model_copy(update={"data": synth})), steps,
            f"synthetic {channels}x{size}x{size}")


def probe(job: Job, device: torch.device, data_root: Path) -> dict:
    """Build `job`, train WARMUP_STEPS + TIMED_STEPS steps and time them; a row of the plan."""
    cfg = job.config
    row = {"arm": job.arm, "model": cfg.model.name, "data": cfg.data.name, "batch": cfg.batch_size}
    try:
        built = build_training(job, device, data_root)
        steps, row["probe data"] = built.task.steps_per_epoch, "real"
    except UserError as err:
        if cfg.task != "image-classification":
            return {**row, "status": f"cannot build here: {err}"}
        job, steps, row["probe data"] = _synthetic_job(job)
        built = build_training(job, device, data_root)
    members = cfg.ensemble.members if cfg.ensemble else 1
    row["steps"] = total = cfg.epochs * steps * members
    task = built.task
    probe_steps = min(WARMUP_STEPS + TIMED_STEPS, task.steps_per_epoch)
    probe_cfg = dataclasses.replace(built.loop, epochs=1, steps_per_epoch=probe_steps)
    no_eval = lambda predict: collections.defaultdict(lambda: math.nan)  # noqa: E731
    stamps = [time.perf_counter()]

    def on_step(step: int) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        stamps.append(time.perf_counter())
    build_optimizer = make_optimizer(cfg.optimizer, built.loop.total_steps)
    try:
        result = train(task.model, build_optimizer, built.lr_at, task.batches, no_eval, probe_cfg,
                       built.context, built.tricks, loss_fn=task.loss_fn, data_generator=built.data_generator,
                       count=task.count, on_step=on_step)
    except MissingDependency as err:   # the run would record this arm as "not run" and go on
        return {**row, "status": f"not run: {err}"}
    row.update(step_times(stamps))
    row["status"] = result.status if result.status != "ok" else "ok"
    row["hours"] = total * row["s/step"] / 3600
    return row


def step_times(stamps: list[float]) -> dict:
    """Seconds per step from the times after each step: the median after the warm-up steps, and the
    spread (min..max) of those steps; with too few steps, every step counts."""
    steps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    timed = steps[WARMUP_STEPS:] or steps
    return {"s/step": statistics.median(timed), "spread": f"{min(timed):.3g}..{max(timed):.3g}",
            "warm-up s": sum(steps[: len(steps) - len(timed)])}


def dry_run(jobs: list[Job], seeds: dict[str, int], device: torch.device, data_root: Path) -> list[dict]:
    """Probe the first seed of every (spec, profile, arm); the cost counts `seeds[spec]` seeds."""
    rows, seen = [], set()
    arms = len({(j.spec_id, j.profile, j.arm) for j in jobs})
    for job in jobs:
        key = (job.spec_id, job.profile, job.arm)
        if key in seen:
            continue
        seen.add(key)
        print(f"probing {len(seen)}/{arms}: {job.spec_id}/{job.profile}/{job.arm} ({WARMUP_STEPS} warm-up + "
              f"{TIMED_STEPS} timed steps)", file=sys.stderr, flush=True)
        row = {"spec": job.spec_id, "profile": job.profile, **probe(job, device, data_root)}
        if "hours" in row:
            row["hours"] *= seeds[job.spec_id]
        rows.append(row)
    return rows


def plan_markdown(rows: list[dict], device: torch.device, seeds: dict[str, int]) -> str:
    table = pd.DataFrame(rows).fillna("")
    total = sum(r.get("hours", 0) for r in rows)
    return (f"{table.to_markdown(index=False, floatfmt='.3g')}\n\nEstimated training cost on {device}: "
            f"{total:.3g} h for every arm x seed (median s/step after {WARMUP_STEPS} warm-up steps x steps x "
            f"seeds; evaluation not included)")
