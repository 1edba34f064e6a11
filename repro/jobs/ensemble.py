"""Independent ensembles inside one job: `ensemble: {members: M}` in a spec's run config.

The job trains M copies of the run one after another through the same loop; member k runs exactly as
the plain job with seed member_seed(seed, k) would (its own init, data order and trick randomness), so
member 0 *is* the plain run. The job's one record is the ensemble's (Lakshminarayanan et al. 2017,
arXiv 1612.01474): p(y|x) = (1/M) sum_k softmax_k(x).

- final: the metrics of that mean softmax over all M members;
- extra: `ensemble/member<k>/...` each member alone, `ensemble/last<m>/...` the ensembles of the last
  m = 1..M members, pairwise diversity (tricks.ensembles.ensemble_metrics) and `ensemble/forward_passes`
  = M (the inference cost per test image); the members' own extras as `ensemble/member<k>/<key>`;
- curves, lr_trace, steps, train_time_s: the members' concatenated (epochs and steps continue across
  members, curve `member` says whose), so the record carries the training cost of the whole ensemble.

A finished member is kept in the cache dir (weights + results), so an interrupted job resumes at the
member it was training, from that member's last epoch checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import torch

from repro.jobs.build import TrainingSetup, build_training
from repro.jobs.job import Job
from repro.jobs.train import train_job
from tricks.ensembles import ensemble_metrics
from tricks.loop import Checkpointer, TrainResult, evaluator

MEMBER_STRIDE = 10_007  # member k of seed s trains with seed s + MEMBER_STRIDE * k (no clash with seeds 0..N)
PREFIX = "ensemble"
_RESULT_FIELDS = ("status", "reason", "curves", "final", "extra", "lr_trace", "steps", "samples",
                  "train_time_s")


def member_seed(seed: int, k: int) -> int:
    """The seed member k of a job with `seed` trains with; member 0 keeps the job's seed."""
    return seed + MEMBER_STRIDE * k


def member_job(job: Job, k: int) -> Job:
    """Member k as a plain job: the same config without `ensemble`, seed member_seed(seed, k)."""
    return dataclasses.replace(job, seed=member_seed(job.seed, k),
                               config=job.config.model_copy(update={"ensemble": None}))


def train_ensemble(job: Job, device: torch.device, data_root: Path, checkpoint: Checkpointer | None = None,
                   on_step: Callable[[int], None] | None = None,
                   on_start: Callable[[int], None] | None = None) -> tuple[TrainResult, TrainingSetup]:
    """Train (or reload) every member, then evaluate the ensemble; returns the job's combined result and
    the last member's TrainingSetup (every member runs with the same resolved precision and format)."""
    m = job.config.ensemble.members
    results, models, built = [], [], None
    for k in range(m):
        result, built = _member(job, k, device, data_root, checkpoint, *_progress(k, m, on_step, on_start))
        results.append(result)
        models.append(built.task.model.eval())
        if result.status != "ok":
            break
    combined = combine(results, job.config.epochs)
    if combined.status == "ok":
        ev = evaluator(built.task.evaluate, built.loop)
        with torch.no_grad():
            combined.extra.update(ensemble_metrics(models, [mod.state_dict() for mod in models], ev, PREFIX))
        combined.extra[f"{PREFIX}/forward_passes"] = float(m)
        last = f"{PREFIX}/last{m}/"
        combined.final = {k[len(last):]: v for k, v in combined.extra.items() if k.startswith(last)}
    for k in range(m) if checkpoint and checkpoint.writer else ():
        for path in _paths(checkpoint, k):
            path.unlink(missing_ok=True)
    return combined, built


def _paths(checkpoint: Checkpointer | None, k: int) -> tuple[Path, ...]:
    """(in-progress checkpoint, finished member) files of member k, beside the job's checkpoint."""
    if checkpoint is None:
        return ()
    base = checkpoint.path
    return base.with_name(f"{base.stem}-member{k}.pt"), base.with_name(f"{base.stem}-member{k}-done.pt")


def _member(job: Job, k: int, device, data_root, checkpoint, on_step, on_start
            ) -> tuple[TrainResult, TrainingSetup]:
    """Member k trained now, or reloaded when a previous attempt finished it."""
    paths = _paths(checkpoint, k)
    mjob = member_job(job, k)
    done = Checkpointer(paths[1]).load() if paths else None
    if done is None:
        ckpt = Checkpointer(paths[0], checkpoint.writer) if paths else None
        result, built = train_job(mjob, device, data_root, ckpt, on_step, on_start)
        if paths and checkpoint.writer:
            Checkpointer(paths[1]).save({"model": built.task.model.state_dict(),
                                         "result": {f: getattr(result, f) for f in _RESULT_FIELDS}})
            paths[0].unlink(missing_ok=True)
        return result, built
    built = build_training(mjob, device, data_root)
    built.task.model.load_state_dict(done["model"])
    if built.loop.channels_last:
        built.task.model.to(memory_format=torch.channels_last)
    return TrainResult(**done["result"]), built


def _progress(k: int, m: int, on_step, on_start):
    """Progress callbacks of member k that count over the whole ensemble (m members of T steps)."""
    total = [0]

    def start(steps: int) -> None:
        total[0] = steps
        if on_start:
            on_start(m * steps)

    def step(s: int) -> None:
        if on_step:
            on_step(k * total[0] + s)

    return step, start


def combine(results: list[TrainResult], epochs: int) -> TrainResult:
    """The members' results end to end: curves and lr traces continue in epochs and steps, costs add up;
    status is the first non-ok member's, with its reason prefixed by the member."""
    out = TrainResult()
    for k, r in enumerate(results):
        _append_curves(out.curves, r.curves, k, epoch0=k * epochs, step0=out.steps)
        out.lr_trace["step"] += [s + out.steps for s in r.lr_trace["step"]]
        out.lr_trace["lr"] += list(r.lr_trace["lr"])
        out.extra.update({f"{PREFIX}/member{k + 1}/{key}": v for key, v in r.extra.items()})
        out.steps, out.samples = out.steps + r.steps, out.samples + r.samples
        out.train_time_s += r.train_time_s
        if r.status != "ok":
            out.status, out.reason = r.status, f"member {k + 1} of {len(results)}: {r.reason}"
    return out


def _append_curves(dst: dict, src: dict, k: int, epoch0: int, step0: int) -> None:
    for key, values in src.items():
        shift = epoch0 if key == "epoch" else step0 if key == "step" else None
        dst.setdefault(key, []).extend(values if shift is None else [v + shift for v in values])
    dst.setdefault("member", []).extend([k + 1] * len(src.get("epoch", [])))
