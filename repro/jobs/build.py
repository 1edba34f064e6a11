"""Build one job: the resolved config -> a typed TrainingSetup holding everything the loop needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from repro.jobs.job import Job
from repro.tasks.base import TaskSetup
from repro.tasks.registry import TASKS
from tricks.hooks import LoopContext, Trick
from tricks.loop import LoopConfig
from tricks.optimizers import OPTIMIZERS
from tricks.precision import resolve_precision
from tricks.registry import TRICKS
from tricks.schedules import build_schedule


@dataclass
class TrainingSetup:
    """What build_training hands the trainers, the LR range test and the dry run."""

    task: TaskSetup                       # model, batches, evaluation, the task's loss
    loop: LoopConfig
    lr_at: Callable[[int], float]         # the schedule: step -> base lr
    tricks: list[Trick]
    context: LoopContext
    data_generator: torch.Generator


def make_optimizer(opt_cfg, total_steps: int) -> Callable[[list[dict]], torch.optim.Optimizer]:
    """The optimizer named in the spec, built by its library (tricks.optimizers); the loop sets each group's
    lr every step. `total_steps` is the run's step budget (an input of VeLO)."""
    def build(groups: list[dict]) -> torch.optim.Optimizer:
        common = {k: getattr(opt_cfg, k)
                  for k in ("lr", "betas", "eps", "weight_decay", "momentum", "nesterov")}
        return OPTIMIZERS[opt_cfg.name](groups, **common, total_steps=total_steps,
                                        **dict(opt_cfg.model_extra or {}))
    return build


def seeded_generator(seed: int, stream: str) -> torch.Generator:
    """Independent CPU random streams per (seed, purpose), the same on every device."""
    offset = {"data": 0, "tricks": 7919}[stream]
    return torch.Generator().manual_seed(1_000_003 * seed + offset)


def channels_last_pays(task: TaskSetup, device: torch.device, precision: str) -> bool:
    """The task's default, except fp32 on a CPU without AVX-512: there NCHW is faster (fp32 ResNet-20
    step ~3x faster on an AVX2 EPYC, torch 2.14.1) and keeps off oneDNN's channels_last 1x1 kernel
    that corrupts the heap (repro/tasks/image/models.py, PointwiseShortcut). Same math either way."""
    if device.type != "cpu" or resolve_precision(precision, device) != "fp32":
        return task.channels_last_default
    return task.channels_last_default and torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def build_training(job: Job, device: torch.device, data_root: Path) -> TrainingSetup:
    """Everything the loop needs for one job, built from the resolved config."""
    cfg = job.config
    data_gen = seeded_generator(job.seed, "data")
    task = TASKS[cfg.task](cfg, job.seed, device, data_root, data_gen)
    channels_last = (channels_last_pays(task, device, cfg.precision) if cfg.channels_last is None
                     else cfg.channels_last)
    loop_cfg = LoopConfig(epochs=cfg.epochs, steps_per_epoch=task.steps_per_epoch,
                          precision=cfg.precision, channels_last=channels_last,
                          eval_every=cfg.eval_every)
    schedule = cfg.schedule.model_dump()
    lr_at = build_schedule(schedule, cfg.optimizer.lr, loop_cfg.total_steps, task.steps_per_epoch,
                           cfg.batch_size)
    tricks = [TRICKS[t["name"]](**{k: v for k, v in t.items() if k != "name"})
              for t in (tc.model_dump() for tc in cfg.tricks)]
    ctx = LoopContext(model=task.model, total_steps=loop_cfg.total_steps,
                      steps_per_epoch=task.steps_per_epoch, num_classes=task.num_classes,
                      generator=seeded_generator(job.seed, "tricks"), device=device, schedule=schedule,
                      layer_groups=task.layer_groups)
    return TrainingSetup(task, loop_cfg, lr_at, tricks, ctx, data_gen)
