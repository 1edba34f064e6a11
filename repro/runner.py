"""Jobs are (spec, profile, arm, seed); each ends in one JSON record, written atomically.

A finished job (record with status ok/diverged and the same config hash) is skipped; an interrupted
one resumes from its last epoch checkpoint in the cache dir. Only rank 0 writes anything, so
data-parallel jobs can reuse this code unchanged.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from repro import distributed
from repro.hardware import fingerprint, git_commit
from tricks.hooks import LoopContext
from tricks.loop import Checkpointer, LoopConfig, train

FINISHED = ("ok", "diverged")


@dataclass(frozen=True)
class Job:
    spec_id: str
    profile: str
    arm: str
    seed: int
    config: object            # repro.spec.RunConfig
    overrides: tuple[str, ...] = ()   # the --set KEY=VALUE texts already applied to config

    @property
    def name(self) -> str:
        return f"{self.spec_id}/{self.profile}/{self.arm}/seed{self.seed}"


def is_rank0() -> bool:
    return distributed.world()[0] == 0


def record_path(results_dir: Path, job: Job) -> Path:
    return Path(results_dir) / "runs" / job.spec_id / job.profile / job.arm / f"seed{job.seed}.json"


def checkpoint_path(cache_dir: Path, job: Job, config_hash: str) -> Path:
    return Path(cache_dir) / "checkpoints" / job.spec_id / job.profile / job.arm / \
        f"seed{job.seed}-{config_hash[:12]}.pt"


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    os.replace(tmp, path)


def is_finished(results_dir: Path, job: Job) -> bool:
    from repro.spec import config_hash

    path = record_path(results_dir, job)
    if not path.exists():
        return False
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    return record.get("status") in FINISHED and record.get("config_hash") == config_hash(job.config)


def make_optimizer(opt_cfg) -> Callable[[list[dict]], torch.optim.Optimizer]:
    """The optimizer named in the spec; the loop sets each group's lr every step."""
    def build(groups: list[dict]) -> torch.optim.Optimizer:
        if opt_cfg.name == "sgd":
            return torch.optim.SGD(groups, lr=opt_cfg.lr, momentum=opt_cfg.momentum,
                                   nesterov=opt_cfg.nesterov, weight_decay=opt_cfg.weight_decay)
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[opt_cfg.name]
        # the fused kernel: same update, ~5x faster than the per-tensor loop on CPU (MiniLM: 0.12 -> 0.024 s)
        params = [p for g in groups for p in g["params"]]
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
        return cls(groups, lr=opt_cfg.lr, betas=tuple(opt_cfg.betas), eps=opt_cfg.eps,
                   weight_decay=opt_cfg.weight_decay, fused=fused)
    return build


def seeded_generator(seed: int, stream: str) -> torch.Generator:
    """Independent CPU random streams per (seed, purpose), the same on every device."""
    offset = {"data": 0, "tricks": 7919}[stream]
    return torch.Generator().manual_seed(1_000_003 * seed + offset)


def build_training(job: Job, device: torch.device, data_root: Path):
    """Everything the loop needs for one job, built from the resolved config."""
    from repro.tasks import TASKS
    from tricks.registry import TRICKS
    from tricks.schedules import build_schedule

    cfg = job.config
    data_gen = seeded_generator(job.seed, "data")
    setup = TASKS[cfg.task](cfg, job.seed, device, data_root, data_gen)
    channels_last = setup.channels_last_default if cfg.channels_last is None else cfg.channels_last
    loop_cfg = LoopConfig(epochs=cfg.epochs, steps_per_epoch=setup.steps_per_epoch,
                          precision=cfg.precision, channels_last=channels_last,
                          eval_every=cfg.eval_every)
    schedule = cfg.schedule.model_dump()
    lr_at = build_schedule(schedule, cfg.optimizer.lr, loop_cfg.total_steps, setup.steps_per_epoch,
                           cfg.batch_size)
    tricks = [TRICKS[t["name"]](**{k: v for k, v in t.items() if k != "name"})
              for t in (tc.model_dump() for tc in cfg.tricks)]
    ctx = LoopContext(model=setup.model, total_steps=loop_cfg.total_steps,
                      steps_per_epoch=setup.steps_per_epoch, num_classes=setup.num_classes,
                      generator=seeded_generator(job.seed, "tricks"), device=device, schedule=schedule,
                      layer_groups=setup.layer_groups)
    return setup, loop_cfg, lr_at, tricks, ctx, data_gen


def train_job(job: Job, device: torch.device, data_root: Path, checkpoint: Checkpointer | None = None,
              on_step: Callable[[int], None] | None = None, on_start: Callable[[int], None] | None = None):
    """Build and train one job's model; returns (TrainResult, TaskSetup holding the model, LoopConfig).

    Under torchrun the job trains data-parallel on all ranks (repro/distributed.py).
    """
    setup, loop_cfg, lr_at, tricks, ctx, data_gen = build_training(job, device, data_root)
    if on_start:
        on_start(loop_cfg.total_steps)
    batches, count, wrap = setup.batches, setup.count, None
    if distributed.is_distributed():   # each rank trains on its shard; throughput counts all ranks
        world_size = distributed.world()[1]
        batches, wrap = distributed.sharded(batches), distributed.ddp_wrapper(
            job.config.sync_batchnorm, freezing=any(t.freezes_layers for t in tricks))
        count = lambda x, y: world_size * setup.count(x, y)  # noqa: E731
    result = train(setup.model, make_optimizer(job.config.optimizer), lr_at, batches,
                   setup.evaluate, loop_cfg, ctx, tricks, loss_fn=setup.loss_fn, checkpoint=checkpoint,
                   on_step=on_step, data_generator=data_gen, count=count, wrap=wrap)
    return result, setup, loop_cfg


def example_outputs(setup, loop_cfg: LoopConfig, precision: str, device: torch.device) -> list[dict]:
    """The task's example outputs (e.g. translations) of the final model, run as in evaluation."""
    from tricks.loop import evaluator
    from tricks.precision import Precision

    setup.model.eval()
    with torch.no_grad():
        return evaluator(setup.examples, Precision.create(precision, device), loop_cfg)(setup.model)


def run_job(job: Job, results_dir: Path, cache_dir: Path, device: torch.device, data_root: Path,
            on_step: Callable[[int], None] | None = None, on_start: Callable[[int], None] | None = None
            ) -> dict:
    """Train one job (resuming if a checkpoint exists) and write its record; returns the record."""
    from repro.spec import config_hash

    chash = config_hash(job.config)
    record = {"spec": job.spec_id, "profile": job.profile, "arm": job.arm, "seed": job.seed,
              "config": job.config.model_dump(mode="json"), "config_hash": chash,
              "git_commit": git_commit(), "hardware": fingerprint(device),
              "world_size": distributed.world()[1], "overrides": list(job.overrides)}
    ckpt = Checkpointer(checkpoint_path(cache_dir, job, chash), writer=is_rank0())
    start = time.perf_counter()
    try:
        if job.config.ensemble:
            from repro.ensemble import train_ensemble
            result = train_ensemble(job, device, data_root, ckpt, on_step, on_start)
        else:
            result, setup, loop_cfg = train_job(job, device, data_root, ckpt, on_step, on_start)
            if setup.examples and result.status == "ok":
                record["examples"] = example_outputs(setup, loop_cfg, job.config.precision, device)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # one failing job must not stop the others; the record says why
        record.update(status="failed", reason=f"{type(err).__name__}: {err}",
                      traceback=traceback.format_exc(limit=8))
        if distributed.is_distributed():   # the other ranks wait in a collective: stop them all
            if is_rank0():
                write_json_atomic(record_path(results_dir, job), record)
            raise
    else:
        record.update(status=result.status, reason=result.reason, curves=result.curves,
                      lr_trace=result.lr_trace, final=result.final, extra=result.extra,
                      steps=result.steps, train_time_s=result.train_time_s,
                      throughput=result.throughput)
    record["wall_time_s"] = time.perf_counter() - start
    if is_rank0():
        write_json_atomic(record_path(results_dir, job), record)
        if record["status"] in FINISHED:
            ckpt.delete()
    if distributed.is_distributed():
        torch.distributed.barrier()   # no rank starts the next job before the checkpoint is gone
    return record
