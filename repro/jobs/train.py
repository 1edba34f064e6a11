"""Train one job's model through the one loop (tricks/loop.py); data-parallel under torchrun."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from repro.jobs import parallel
from repro.jobs.build import TrainingSetup, build_training, make_optimizer
from repro.jobs.job import Job
from tricks.loop import Checkpointer, TrainResult, evaluator, train


def train_job(job: Job, device: torch.device, data_root: Path, checkpoint: Checkpointer | None = None,
              on_step: Callable[[int], None] | None = None, on_start: Callable[[int], None] | None = None
              ) -> tuple[TrainResult, TrainingSetup]:
    """Build and train one job's model; returns (TrainResult, the TrainingSetup holding the model).

    Under torchrun the job trains data-parallel on all ranks (repro/jobs/parallel.py).
    """
    built = build_training(job, device, data_root)
    task = built.task
    if on_start:
        on_start(built.loop.total_steps)
    batches, count, wrap = task.batches, task.count, None
    if parallel.is_distributed():   # each rank trains on its shard; throughput counts all ranks
        world_size = parallel.world()[1]
        batches, wrap = parallel.sharded(batches), parallel.ddp_wrapper(
            job.config.sync_batchnorm, freezing=any(t.freezes_layers for t in built.tricks))
        count = lambda x, y: world_size * task.count(x, y)  # noqa: E731
    build_optimizer = make_optimizer(job.config.optimizer, built.loop.total_steps)
    result = train(task.model, build_optimizer, built.lr_at, batches,
                   task.evaluate, built.loop, built.context, built.tricks, loss_fn=task.loss_fn,
                   checkpoint=checkpoint, on_step=on_step, data_generator=built.data_generator,
                   count=count, wrap=wrap, evaluate_curve=task.evaluate_curve)
    return result, built


def example_outputs(built: TrainingSetup) -> list[dict]:
    """The task's example outputs (e.g. translations) of the final model, run as in evaluation (the job's
    precision and memory format)."""
    built.task.model.eval()
    with torch.no_grad():
        return evaluator(built.task.examples, built.loop)(built.task.model)
