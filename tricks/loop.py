"""The one training loop: read it top to bottom.

for each epoch:  (torch's global RNG reseeded first when cfg.epoch_rng_seed is set)
  for each batch:  (the hook order and the step body are tricks.hooks.HookSequence, written once)
    lr of every param group = schedule(step) * group lr_scale, then each trick's `lr` hook
    x, y = each trick's `batch` hook (mixup, cutmix, ...)
    loss = the task's loss_fn wrapped by each trick's `loss` hook, under autocast
    backward, each trick's `after_backward` (unscaled gradients), optimizer step (GradScaler for fp16),
    then each trick's `after_step`
  evaluate the model and every trick's predictors (EMA weights, snapshot ensemble, ...): the task's
    full evaluation at the end, its cheaper curve evaluation (if it has one) before
  checkpoint everything (model, optimizer, scaler, generators, trick state) for an exact resume
Optimizers with a train/eval mode (Schedule-Free) are put in train mode before an epoch's steps and in
eval mode before evaluation and checkpointing (tricks.optimizers.set_mode).

A non-finite loss ends the run as `diverged` at the first bad step; the loss is checked every
`check_every` steps so the GPU is not synchronised on every step.

The precision (a resolved tricks.precision.Precision, its GradScaler included) and the memory format come
in resolved with the LoopConfig; the loop never resolves them itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from tricks.hooks import HookSequence, LoopContext, LossFn, Predictor, Trick
from tricks.optimizers import set_mode
from tricks.precision import Precision
from tricks.smoothing import cross_entropy_of

Batches = Callable[[int], Iterable[tuple[Tensor, Tensor]]]  # epoch -> that epoch's batches
Evaluate = Callable[[Predictor], dict]                      # predictor -> {"test_error": ..}


def _fp32() -> Precision:
    return Precision("fp32", torch.device("cpu"))   # no autocast, no scaler: the device plays no part


@dataclass
class LoopConfig:
    epochs: int
    steps_per_epoch: int
    precision: Precision = field(default_factory=_fp32)   # resolved once per job, GradScaler included
    channels_last: bool = False
    epoch_rng_seed: int | None = None   # torch.manual_seed(this + epoch) before each epoch (dropout masks)
    eval_every: int = 1          # epochs
    check_every: int = 25        # steps between finite-loss checks (one device sync each)
    lr_trace_points: int = 400   # how many (step, lr) pairs the record keeps

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch


@dataclass
class TrainResult:
    status: str = "ok"                           # ok | diverged
    reason: str | None = None
    curves: dict = field(default_factory=dict)   # per evaluated epoch
    final: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    lr_trace: dict = field(default_factory=lambda: {"step": [], "lr": []})
    steps: int = 0
    samples: int = 0
    train_time_s: float = 0.0

    @property
    def throughput(self) -> float:
        return self.samples / self.train_time_s if self.train_time_s > 0 else 0.0


class Diverged(Exception):
    pass


def cross_entropy(logits: Tensor, targets) -> Tensor:
    """CE with class ids, soft targets [B, K] or label-smoothed ids (tricks.smoothing.SmoothedTargets)."""
    return cross_entropy_of(logits.float(), targets)


def default_param_groups(model: nn.Module) -> list[dict]:
    return [{"params": [p for p in model.parameters() if p.requires_grad], "lr_scale": 1.0, "name": "all"}]


def train(model: nn.Module, make_optimizer: Callable[[list[dict]], torch.optim.Optimizer],
          lr_at: Callable[[int], float], batches: Batches, evaluate: Evaluate, cfg: LoopConfig,
          ctx: LoopContext, tricks: list[Trick] = (), loss_fn: LossFn = cross_entropy,
          checkpoint: Checkpointer | None = None, on_step: Callable[[int], None] | None = None,
          data_generator: torch.Generator | None = None,
          count: Callable[[object, Tensor], int] = lambda x, y: len(y),
          wrap: Callable[[nn.Module], nn.Module] | None = None,
          evaluate_curve: Evaluate | None = None) -> TrainResult:
    """Train `model` for cfg.epochs; resume from `checkpoint` when it holds a state.

    `evaluate_curve`, when given, replaces `evaluate` at every evaluation but the last: a cheaper one
    for the learning curves (e.g. perplexity without decoding); metrics it leaves out are NaN there.

    `count(x, y)` is what throughput counts per batch: samples by default, tokens for translation.
    `wrap(model)` gives the module that runs the training forward (DDP); tricks and evaluation see
    `model` itself.
    """
    precision = cfg.precision
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    hooks = HookSequence(tricks)
    groups = hooks.prepare(ctx, default_param_groups(model))  # groups first: a frozen param may thaw later
    forward = wrap(model) if wrap else model
    optimizer = ctx.optimizer = make_optimizer(groups)
    loss_fn = hooks.wrap_loss(loss_fn)
    result, start_epoch = TrainResult(), 0
    state = checkpoint.load() if checkpoint else None
    if state is not None:
        start_epoch = _restore(state, model, optimizer, precision, tricks, ctx, data_generator, result)
    for epoch in range(start_epoch, cfg.epochs):
        seed_epoch(cfg, epoch)
        try:
            _train_epoch(epoch, forward, optimizer, lr_at, batches(epoch), loss_fn, precision, hooks,
                         cfg, result, on_step, count)
        except Diverged as bad:
            result.status, result.reason = "diverged", str(bad)
            return result
        set_mode(optimizer, training=False)   # Schedule-Free: evaluate and checkpoint the averaged point x
        last = epoch + 1 == cfg.epochs
        if (epoch + 1) % cfg.eval_every == 0 or last:
            _evaluate_all(epoch, model, evaluate if last or evaluate_curve is None else evaluate_curve,
                          tricks, cfg, result)
        if checkpoint and checkpoint.writer:
            checkpoint.save(_snapshot(epoch, model, optimizer, precision, tricks, ctx, data_generator,
                                      result))
    result.extra.update(_extra_metrics(model, evaluate, tricks, cfg))
    return result


def _train_epoch(epoch, model, optimizer, lr_at, batches, loss_fn, precision, hooks: HookSequence, cfg,
                 result, on_step, count) -> None:
    model.train()
    set_mode(optimizer, training=True)   # Schedule-Free: train at the gradient point y (tricks.optimizers)
    step0 = epoch * cfg.steps_per_epoch
    losses = torch.zeros(cfg.steps_per_epoch, device=next(model.parameters()).device)
    sync(losses.device)
    start = time.perf_counter()
    n = 0

    def update(x, y) -> Tensor:   # step 3 of HookSequence.run_step: the one step body, and the count
        loss = hooks.update(model, optimizer, loss_fn, precision, x, y)
        result.samples += count(x, y)
        return loss

    for i, (x, y) in enumerate(_limit(batches, cfg.steps_per_epoch)):
        step = step0 + i
        x = to_memory_format(x, cfg.channels_last)
        losses[i] = hooks.run_step(step, optimizer, lr_at(step), x, y, update).detach()
        _trace_lr(optimizer, step, result, cfg)
        n, result.steps = i + 1, step + 1
        if (i + 1) % cfg.check_every == 0:
            _check_finite(losses[: i + 1], step0)
        if on_step:
            on_step(step + 1)
    _check_finite(losses[:n], step0)
    sync(losses.device)
    result.train_time_s += time.perf_counter() - start
    result.curves.setdefault("train_loss_all", []).append(losses[:n].mean().item())


def _limit(batches: Iterable, n: int) -> Iterator:
    for i, b in enumerate(batches):
        if i == n:
            return
        yield b


def _trace_lr(optimizer, step: int, result: TrainResult, cfg: LoopConfig) -> None:
    """Keep (step, lr of the first group) every total/lr_trace_points steps and at the last step."""
    every = max(1, cfg.total_steps // cfg.lr_trace_points)
    if step % every == 0 or step == cfg.total_steps - 1:
        result.lr_trace["step"].append(step)
        result.lr_trace["lr"].append(optimizer.param_groups[0]["lr"])


def seed_epoch(cfg: LoopConfig, epoch: int) -> None:
    """Reseed torch's global RNG (nn.Dropout's masks) for `epoch` when the run draws its masks per epoch."""
    if cfg.epoch_rng_seed is not None:
        torch.manual_seed(cfg.epoch_rng_seed + epoch)


def to_memory_format(x, channels_last: bool):
    """A 4-d input tensor in channels_last (NHWC) when the model runs so; anything else as it is."""
    if channels_last and isinstance(x, Tensor) and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _check_finite(losses: Tensor, step0: int) -> None:
    bad = ~torch.isfinite(losses)
    if bool(bad.any()):
        k = int(bad.nonzero()[0, 0])
        raise Diverged(f"loss is {losses[k].item()} at step {step0 + k}")


def _predictor(model: nn.Module, cfg: LoopConfig) -> Predictor:
    def predict(x: Tensor) -> Tensor:
        with cfg.precision.autocast():
            return model(to_memory_format(x, cfg.channels_last)).float()
    return predict


def evaluator(evaluate: Evaluate, cfg: LoopConfig) -> Evaluate:
    """evaluate(fn), running a module predictor like the model: the run's autocast and memory format
    (cfg.precision, cfg.channels_last), float output."""
    return lambda fn: evaluate(_predictor(fn, cfg) if isinstance(fn, nn.Module) else fn)


def _evaluate_all(epoch, model, evaluate, tricks, cfg, result: TrainResult) -> None:
    model.eval()
    evaluate = evaluator(evaluate, cfg)
    with torch.no_grad():
        metrics = dict(evaluate(model))
        for trick in tricks:
            for name, fn in trick.predictors().items():
                metrics.update({f"{name}/{k}": v for k, v in evaluate(fn).items()})
    model.train()
    curves = result.curves
    curves.setdefault("epoch", []).append(epoch + 1)
    curves.setdefault("step", []).append(result.steps)
    curves.setdefault("train_loss", []).append(curves["train_loss_all"][-1])
    curves.setdefault("lr", []).append(result.lr_trace["lr"][-1] if result.lr_trace["lr"] else math.nan)
    _append_metrics(curves, metrics)
    result.final = metrics


PER_EPOCH = {"epoch", "step", "train_loss", "lr", "train_loss_all"}   # curves the loop itself keeps


def _append_metrics(curves: dict, metrics: dict) -> None:
    """One evaluation's metrics onto the curves, NaN where an evaluation did not measure a metric,
    so every metric's curve stays aligned with curves["epoch"]."""
    earlier = len(curves["epoch"]) - 1
    for key in metrics.keys() - curves.keys():
        curves[key] = [math.nan] * earlier
    for key in curves.keys() - metrics.keys() - PER_EPOCH:
        curves[key].append(math.nan)
    for key, value in metrics.items():
        curves[key].append(value)


def _extra_metrics(model, evaluate, tricks, cfg) -> dict:
    model.eval()
    extra = {}
    with torch.no_grad():
        for trick in tricks:
            extra.update(trick.extra_metrics(evaluator(evaluate, cfg)))
    return extra


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- exact resume -------------------------------------------------------------------------------

class Checkpointer:
    """Keeps the latest training state in one file, written atomically (temp file + rename).

    With writer=False (data-parallel ranks other than 0) it only reads: every rank resumes from the
    state rank 0 saved.
    """

    def __init__(self, path, writer: bool = True):
        self.path = Path(path)
        self.writer = writer

    def load(self) -> dict | None:
        if not self.path.exists():
            return None
        return torch.load(self.path, map_location="cpu", weights_only=True)

    def save(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.path)

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


def _snapshot(epoch, model, optimizer, precision, tricks, ctx, data_generator, result) -> dict:
    return {
        "epoch": epoch + 1,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "precision": precision.state_dict(),
        "tricks": [t.state_dict() for t in tricks],
        "trick_rng": ctx.generator.get_state(),
        "torch_rng": torch.get_rng_state(),   # dropout draws from the global generators
        "cuda_rng": torch.cuda.get_rng_state(ctx.device) if ctx.device.type == "cuda" else None,
        "data_rng": data_generator.get_state() if data_generator is not None else None,
        "result": {"curves": result.curves, "final": result.final, "lr_trace": result.lr_trace,
                   "steps": result.steps, "samples": result.samples, "train_time_s": result.train_time_s},
    }


def _restore(state, model, optimizer, precision, tricks, ctx, data_generator, result) -> int:
    model.load_state_dict(state["model"])
    for trick, trick_state in zip(tricks, state["tricks"], strict=True):  # may reshape the optimizer
        trick.load_state_dict(trick_state)
    optimizer.load_state_dict(state["optimizer"])
    precision.load_state_dict(state["precision"])
    ctx.generator.set_state(state["trick_rng"])
    if "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(state["cuda_rng"], ctx.device)
    if data_generator is not None and state["data_rng"] is not None:
        data_generator.set_state(state["data_rng"])
    for key, value in state["result"].items():
        setattr(result, key, value)
    return int(state["epoch"])
