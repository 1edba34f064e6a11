"""A spec's `lr_finder:`: pick the learning rate with the LR range test once per (spec, profile), before
the jobs, the fast.ai way (Smith 2017, arXiv 1506.01186, Sec. 3.3; Howard & Ruder 2018, arXiv 1801.06146).

The test (tricks.lr_finder.lr_range_test) trains arm `lr_finder.arm` of the profile, seed 0, as its job is
built (repro.jobs.build: param groups from the tricks' param_groups hooks, e.g. discriminative LRs, the
resolved precision and memory format, the seeding of dropout masks) through the loop's step, while the lr
rises exponentially from start_lr to end_lr over num_steps batches; the model is thrown away afterwards.
The suggestion (steepest descent of the smoothed loss, or the minimum / 10) times lr_finder.scale[arm]
(default 1) replaces optimizer.lr of every arm, so the job records carry the lr they trained with.
The result is cached, with its plot, in results/<profile>/<spec>/lr_finder.{json,png} and reused while
the arm's config and the finder settings are unchanged; the report shows both.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import torch
from matplotlib.figure import Figure

from repro.errors import UserError
from repro.files import write_atomic, write_json_atomic
from repro.jobs.build import TrainingSetup, build_training, make_optimizer
from repro.jobs.job import Job
from repro.jobs.run import is_rank0
from repro.spec import config_hash, resolve
from tricks.hooks import HookSequence
from tricks.loop import default_param_groups, seed_epoch
from tricks.lr_finder import (
    RangeTestResult,
    lr_range_test,
    plot_range_test,
    suggest_min_over_10,
    suggest_steepest,
)

FILE = "lr_finder"


def range_test(job: Job, device: torch.device, data_root: Path, finder) -> RangeTestResult:
    """The LR range test on `job`'s model, param groups, loss and batches (epochs chained as needed)."""
    built = build_training(job, device, data_root)
    task, hooks = built.task, HookSequence(built.tricks)
    groups = hooks.prepare(built.context, default_param_groups(task.model))
    optimizer = built.context.optimizer = make_optimizer(job.config.optimizer, finder.num_steps)(groups)
    loss_fn = hooks.wrap_loss(task.loss_fn)
    return lr_range_test(task.model, optimizer, loss_fn, _every_epoch(built), finder.start_lr,
                         finder.end_lr, finder.num_steps, hooks=hooks, run=built.loop)


def _every_epoch(built: TrainingSetup):
    """The job's batches, epoch after epoch, each epoch begun as the loop begins it (seed_epoch)."""
    for epoch in itertools.count():
        seed_epoch(built.loop, epoch)
        yield from built.task.batches(epoch)


def suggest(result: RangeTestResult, finder) -> RangeTestResult:
    """Both suggestions from the finite part of the smoothed curve without its first skip_start and last
    skip_end points (fastai v1's plot(suggestion=True)): the EMA's warm-up and the blow-up."""
    finite = [(lr, s) for lr, s in zip(result.lrs, result.smoothed, strict=True) if math.isfinite(s)]
    kept = finite[finder.skip_start: len(finite) - finder.skip_end]
    if len(kept) < 2:
        return replace(result, steepest=math.nan, min_over_10=math.nan)
    lrs, smoothed = (list(v) for v in zip(*kept, strict=True))
    return replace(result, steepest=suggest_steepest(lrs, smoothed),
                   min_over_10=suggest_min_over_10(lrs, smoothed))


def finder_path(results_dir: Path, profile: str, spec_id: str) -> Path:
    return Path(results_dir) / profile / spec_id / f"{FILE}.json"


def found_lr(spec, profile: str, results_dir: Path, device: torch.device, data_root: Path) -> float:
    """The suggested lr of `spec` under `profile`: from the cache, else from a new range test."""
    finder = spec.lr_finder
    cfg = resolve(spec, profile)[finder.arm]
    key = config_hash({"config": cfg.model_dump(mode="json"), "lr_finder": finder.model_dump(mode="json")})
    path = finder_path(results_dir, profile, spec.id)
    if path.exists():
        cached = json.loads(path.read_text())
        if cached.get("key") == key:
            return float(cached["lr"])
    print(f"{spec.id}: LR range test on arm {finder.arm!r} ({finder.num_steps} steps)", flush=True)
    result = suggest(range_test(Job(spec.id, profile, finder.arm, 0, cfg), device, data_root, finder), finder)
    lr = getattr(result, finder.suggestion)
    if not math.isfinite(lr):
        raise UserError(f"{spec.path}: lr_finder: the range test gave no {finder.suggestion} suggestion "
                        f"({len(result.lrs)} steps); widen start_lr..end_lr or raise num_steps")
    if is_rank0():
        write_json_atomic(path, {"key": key, "spec": spec.id, "profile": profile, "arm": finder.arm,
                                 "seed": 0, "suggestion": finder.suggestion, "lr": lr, "scale": finder.scale,
                                 "settings": finder.model_dump(mode="json"), **asdict(result)})
        title = f"{spec.id} ({profile}): LR range test, arm {finder.arm}"
        _plot(result, finder, title, path.with_suffix(".png"))
    return lr


def _plot(result: RangeTestResult, finder, title: str, path: Path) -> None:
    """The range test with the y axis fitted to the part of the curve the suggestions come from."""
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.subplots()
    plot_range_test(result, ax)
    kept = [s for s in result.smoothed[finder.skip_start: len(result.smoothed) - finder.skip_end]
            if math.isfinite(s)]
    if kept:
        pad = 0.15 * (max(kept) - min(kept)) + 1e-3
        ax.set_ylim(min(kept) - pad, max(kept) + 2 * pad)
    ax.set_title(title, fontsize=9)
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=100, bbox_inches="tight"))


def with_lr(cfg, lr: float):
    """A copy of RunConfig `cfg` whose optimizer.lr is `lr`."""
    return cfg.model_copy(update={"optimizer": cfg.optimizer.model_copy(update={"lr": lr})})


def apply_lr_finder(specs: dict, jobs: list[Job], results_dir: Path, device: torch.device,
                    data_root: Path) -> list[Job]:
    """Jobs of specs with `lr_finder:` get lr = found lr x scale[arm] (only the finder's `arms`, when it
    names them); the others pass unchanged."""
    found: dict[tuple[str, str], float] = {}
    out = []
    for job in jobs:
        finder = specs[job.spec_id].lr_finder
        if finder is None or not finder.sets_lr_of(job.arm):
            out.append(job)
            continue
        key = (job.spec_id, job.profile)
        if key not in found:
            spec = specs[job.spec_id]
            found[key] = found_lr(spec, job.profile, results_dir, device, data_root)
        out.append(replace(job, config=with_lr(job.config, found[key] * finder.scale.get(job.arm, 1.0))))
    return out
