"""Weight averaging: EMA (OpenNMT-tf / TF ExponentialMovingAverage), checkpoint averaging, SWA.

All three keep an averaged copy of the model, updated by one rule, avg <- d avg + (1 - d) w:
EMA with d fixed or d_t = min(decay, (1 + t)/(10 + t)); SWA with d = n/(n + 1) (the equal-weight running mean
of Izmailov et al. 2018, arXiv 1803.05407); checkpoint averaging as a plain mean of stored state dicts.

BatchNorm buffers (an explicit choice): with buffers="average" the float buffers (running mean/var) are
averaged with the same rule as the weights, as timm's ModelEmaV2 does; with buffers="copy" they are copied
from the live model. Integer buffers (num_batches_tracked) are always copied from the newest model. SWA
instead recomputes BN statistics for its averaged weights (update_bn), as the paper does.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections import deque
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import update_bn

from tricks.hooks import LoopContext, Predictor, Trick


def opennmt_ema_decay(step: int, decay: float = 0.9999) -> float:
    """d_t = min(decay, (1 + t)/(10 + t)), t = number of updates so far (TF ExponentialMovingAverage
    num_updates, OpenNMT-tf's optimizer.iterations after the step; Vaswani et al. arXiv 1706.03762 setup)."""
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def ema_update_(avg: nn.Module, model: nn.Module, decay: float, buffers: str = "average") -> None:
    """avg <- decay * avg + (1 - decay) * model, for parameters and (if buffers='average') float buffers."""
    for a, p in zip(avg.parameters(), model.parameters(), strict=True):
        a.lerp_(p.detach(), 1 - decay)
    for a, b in zip(avg.buffers(), model.buffers(), strict=True):
        if buffers == "average" and a.is_floating_point():
            a.lerp_(b, 1 - decay)
        else:
            a.copy_(b)


def average_state_dicts(states: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Mean of float tensors (summed in float64, so k copies of one state give it back exactly);
    integer tensors (e.g. num_batches_tracked) from the newest (last) state. OpenNMT average_checkpoints."""
    newest = states[-1]
    out = {}
    for name, t in newest.items():
        if t.is_floating_point():
            out[name] = (sum(s[name].double() for s in states) / len(states)).to(t.dtype)
        else:
            out[name] = t.clone()
    return out


def load_model_state(path: str | Path) -> dict[str, Tensor]:
    """A checkpoint's model state dict, loaded safely (weights_only=True); accepts {'model': state} files."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["model"] if "model" in state and isinstance(state["model"], dict) else state


def average_checkpoint_files(paths: list[str | Path], last: int | None = None) -> dict[str, Tensor]:
    """Average the last `last` checkpoints of `paths` (given oldest first), like OpenNMT-tf's averager."""
    chosen = list(paths)[-last:] if last else list(paths)
    return average_state_dicts([load_model_state(p) for p in chosen])


@contextlib.contextmanager
def swap_in(model: nn.Module, state: dict[str, Tensor]):
    """Temporarily load `state` (e.g. averaged weights) into `model`, restoring its own state on exit."""
    own = copy.deepcopy(model.state_dict())
    model.load_state_dict(state)
    try:
        yield model
    finally:
        model.load_state_dict(own)


def frozen_copy(model: nn.Module) -> nn.Module:
    """A deep copy that autograd ignores: the holder of averaged weights."""
    avg = copy.deepcopy(model)
    for p in avg.parameters():
        p.requires_grad_(False)
    return avg


def log_prob_predictor(module: nn.Module) -> Predictor:
    def predict(x: Tensor) -> Tensor:
        module.eval()
        with torch.no_grad():
            return module(x).log_softmax(-1)

    return predict


class _Averaged(Trick):
    """Shared plumbing: an averaged copy made at setup, evaluated as predictor `self.name`."""

    def setup(self, ctx: LoopContext) -> None:
        super().setup(ctx)
        self.avg = frozen_copy(ctx.model)
        self.updates = 0

    def predictors(self) -> dict[str, Predictor]:
        return {self.name: log_prob_predictor(self.avg)} if self.updates else {}

    def averaged_state_dict(self) -> dict[str, Tensor]:
        """The averaged weights, for export (the shadow replaces the weights only when exported)."""
        return self.avg.state_dict()

    def state_dict(self) -> dict:
        return {"avg": copy.deepcopy(self.avg.state_dict()), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.avg.load_state_dict(state["avg"])
        self.updates = state["updates"]


class EMA(_Averaged):
    """Spec: `{name: ema, decay: 0.9999, opennmt_warmup: true, buffers: average}`.
    After every optimizer step: shadow <- d shadow + (1 - d) w, d = min(decay, (1+t)/(10+t)) with t the
    number of steps taken (opennmt_warmup) or d = decay. Evaluated as predictor "ema"."""

    name = "ema"

    def __init__(
        self,
        decay: float = 0.9999,
        opennmt_warmup: bool = True,
        buffers: Literal["average", "copy"] = "average",
    ):
        if buffers not in ("average", "copy"):
            raise ValueError(f"ema buffers {buffers!r}: use 'average' or 'copy'")
        self.decay, self.opennmt_warmup, self.buffers = decay, opennmt_warmup, buffers

    def after_step(self, step: int) -> None:
        d = opennmt_ema_decay(step + 1, self.decay) if self.opennmt_warmup else self.decay
        ema_update_(self.avg, self.ctx.model, d, self.buffers)
        self.updates += 1


def _every(epochs: float, ctx: LoopContext) -> int:
    return max(1, round(epochs * ctx.steps_per_epoch))


def _is_boundary(step: int, interval: int, total_steps: int) -> bool:
    """True after the last step of each `interval`-step period and after the final step."""
    return (step + 1) % interval == 0 or step + 1 == total_steps


class CheckpointAverage(_Averaged):
    """Spec: `{name: checkpoint_average, last: 5, every_epochs: 1.0}`. Keeps the model state every
    `every_epochs` (in memory, on CPU) and evaluates the average of the last `last` (Vaswani et al.,
    arXiv 1706.03762: last 5 of checkpoints written every 10 minutes). Predictor "checkpoint_average"."""

    name = "checkpoint_average"

    def __init__(self, last: int = 5, every_epochs: float = 1.0):
        self.last, self.every_epochs = last, every_epochs

    def setup(self, ctx: LoopContext) -> None:
        super().setup(ctx)
        self.kept: deque[dict[str, Tensor]] = deque(maxlen=self.last)

    def after_step(self, step: int) -> None:
        if _is_boundary(step, _every(self.every_epochs, self.ctx), self.ctx.total_steps):
            self.kept.append(
                {k: v.detach().to("cpu", copy=True) for k, v in self.ctx.model.state_dict().items()}
            )
            self.avg.load_state_dict(average_state_dicts(list(self.kept)))
            self.updates += 1

    def state_dict(self) -> dict:
        return {**super().state_dict(), "kept": list(self.kept)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.kept = deque(state["kept"], maxlen=self.last)


class SWA(_Averaged):
    """Spec: `{name: swa, start: 0.75, every_epochs: 1.0, swa_lr: 0.05, bn_batches: 16}` (arXiv 1803.05407).

    From `start` (fraction of training) on, w_swa <- (n w_swa + w)/(n + 1) at the end of every
    `every_epochs`; the lr is held at swa_lr (if given) from then on. Before evaluation, BN statistics of the
    averaged model are recomputed (update_bn) on the last `bn_batches` training inputs this trick saw
    (the loop gives tricks no data loader; list swa before input-mixing tricks). Predictor "swa".
    """

    name = "swa"

    def __init__(
        self,
        start: float = 0.75,
        every_epochs: float = 1.0,
        swa_lr: float | None = None,
        bn_batches: int = 16,
    ):
        self.start, self.every_epochs, self.swa_lr, self.bn_batches = start, every_epochs, swa_lr, bn_batches

    def setup(self, ctx: LoopContext) -> None:
        super().setup(ctx)
        self.first_step = math.floor(self.start * ctx.total_steps)
        self.seen: deque[Tensor] = deque(maxlen=self.bn_batches)
        self.bn_fresh = False

    def sets_lr(self) -> bool:
        return self.swa_lr is not None   # replaces the lr from first_step on

    def lr(self, step: int, group: dict, lr: float) -> float:
        return (
            self.swa_lr * group.get("lr_scale", 1.0)
            if self.swa_lr is not None and step >= self.first_step
            else lr
        )

    def batch(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        self.seen.append(x.detach().clone())
        return x, y

    def after_step(self, step: int) -> None:
        if step >= self.first_step and _is_boundary(
            step, _every(self.every_epochs, self.ctx), self.ctx.total_steps
        ):
            ema_update_(self.avg, self.ctx.model, self.updates / (self.updates + 1), buffers="copy")
            self.updates += 1
            self.bn_fresh = False

    def predictors(self) -> dict[str, Predictor]:
        if self.updates and not self.bn_fresh:
            update_bn(list(self.seen), self.avg)
            self.bn_fresh = True
        return super().predictors()

    def state_dict(self) -> dict:
        return {**super().state_dict(), "seen": list(self.seen), "bn_fresh": self.bn_fresh}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.seen = deque(state["seen"], maxlen=self.bn_batches)
        self.bn_fresh = state["bn_fresh"]
