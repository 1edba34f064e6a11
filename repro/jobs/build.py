"""Build one job: the resolved config -> a typed TrainingSetup holding everything the loop needs.

The facts of how a job runs are resolved here, once per job, and every consumer (the loop, the ensemble,
the example outputs, the LR range test, the dry run) takes them from the TrainingSetup: the device (picked
once per process by repro.hardware.pick_device and passed in), the precision (a tricks.precision.Precision,
one GradScaler for fp16), the memory format (channels_last_pays) and the seed of torch's global RNG, which
nn.Dropout draws its masks from (seed_global_rng). What was resolved goes into the record (RunFacts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from repro.jobs.job import Job
from repro.record import RunFacts
from repro.tasks.base import TaskSetup
from repro.tasks.registry import TASKS
from tricks.hooks import LoopContext, Trick
from tricks.loop import LoopConfig
from tricks.optimizers import OPTIMIZERS
from tricks.precision import Precision
from tricks.registry import TRICKS
from tricks.schedules import build_schedule


@dataclass
class TrainingSetup:
    """What build_training hands the trainers, the LR range test and the dry run."""

    task: TaskSetup                       # model, batches, evaluation, the task's loss
    loop: LoopConfig                      # holds the resolved precision and memory format
    lr_at: Callable[[int], float]         # the schedule: step -> base lr
    tricks: list[Trick]
    context: LoopContext                  # holds the device
    data_generator: torch.Generator
    facts: RunFacts                       # what was resolved, for the record

    @property
    def device(self) -> torch.device:
        return self.context.device

    @property
    def precision(self) -> Precision:
        return self.loop.precision

    @property
    def channels_last(self) -> bool:
        return self.loop.channels_last


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


def precision_for(name: str, device: torch.device) -> Precision:
    """The one place a precision name ('auto' included) becomes a Precision: build_training's, once per job
    (and the speed benchmarks', which fix theirs)."""
    return Precision.create(name, device)


def channels_last_pays(task: TaskSetup, device: torch.device, precision: str) -> bool:
    """The task's default, except fp32 (the resolved name) on a CPU without AVX-512: there NCHW is faster
    (fp32 ResNet-20 step ~3x faster on an AVX2 EPYC, torch 2.14.1) and keeps off oneDNN's channels_last
    1x1 kernel that corrupts the heap (repro/tasks/image/models.py, PointwiseShortcut). Same math either
    way."""
    if device.type != "cpu" or precision != "fp32":
        return task.channels_last_default
    return task.channels_last_default and torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def seed_global_rng(seed: int, task: TaskSetup) -> int | None:
    """Seed torch's global RNG for the job (nn.Dropout takes no generator: without this its masks would be
    the worker's history); returns the per-epoch seed base for a task that reseeds every epoch (the text
    task's convention, kept so its records stay as they are), else None."""
    torch.manual_seed(seed)
    return 1_000_003 * seed if task.dropout_seed_per_epoch else None


def run_facts(precision: Precision, channels_last: bool, device: torch.device) -> RunFacts:
    memory_format = "channels_last" if channels_last else "contiguous"
    return RunFacts(precision=precision.name, memory_format=memory_format, device=str(device),
                    threads=torch.get_num_threads())


def build_training(job: Job, device: torch.device, data_root: Path) -> TrainingSetup:
    """Everything the loop needs for one job, built from the resolved config."""
    cfg = job.config
    data_gen = seeded_generator(job.seed, "data")
    task = TASKS[cfg.task](cfg, job.seed, device, data_root, data_gen)
    precision = precision_for(cfg.precision, device)
    channels_last = (channels_last_pays(task, device, precision.name) if cfg.channels_last is None
                     else cfg.channels_last)
    loop_cfg = LoopConfig(epochs=cfg.epochs, steps_per_epoch=task.steps_per_epoch,
                          precision=precision, channels_last=channels_last,
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
    loop_cfg.epoch_rng_seed = seed_global_rng(job.seed, task)   # last: training starts from this state
    return TrainingSetup(task, loop_cfg, lr_at, tricks, ctx, data_gen,
                         run_facts(precision, channels_last, device))
