"""The hook points a trick can use in the training loop (tricks/loop.py).

A trick is a small object with a few of these methods overridden; every hook defaults to a no-op.
The order in which the hooks are called is written once, in HookSequence below, and so is the step body
(HookSequence.update: forward, loss, backward, optimizer step): the loop (tricks/loop.py), the LR range
test (tricks/lr_finder.py) and the tests' harness (tests/helpers/trick_harness.py) all use both.
Within each hook point the tricks run in the order the spec lists them. Functional cores live in the trick
modules (schedules, averaging, ...); the adapters here are the thin layer that plugs them in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from tricks.optimizers import observe_loss
from tricks.precision import Precision

LossFn = Callable[[Tensor, Tensor], Tensor]
Predictor = Callable[[Tensor], Tensor]


@dataclass
class LoopContext:
    """What a trick may read about the run it is part of."""

    model: nn.Module
    total_steps: int
    steps_per_epoch: int
    num_classes: int | None
    generator: torch.Generator
    device: torch.device
    schedule: dict
    optimizer: torch.optim.Optimizer | None = None
    layer_groups: list[nn.Module] | None = None


class Trick:
    """Base class: hook points called by the loop. `step` is the 0-based optimizer step."""

    name: str = ""
    freezes_layers: bool = False   # sets requires_grad during training (data-parallel runs must know)
    lr_composes: bool = False      # its `lr` hook is a function of the lr it is given (may follow another)

    def sets_lr(self) -> bool:
        """Whether this trick's `lr` hook changes the lr (by default: when the subclass overrides `lr`)."""
        return type(self).lr is not Trick.lr

    def setup(self, ctx: LoopContext) -> None:
        """Called once before the optimizer is built."""
        self.ctx = ctx

    def param_groups(self, groups: list[dict]) -> list[dict]:
        """Rewrite the optimizer's param groups; each has 'params', 'lr_scale' and 'name'."""
        return groups

    def lr(self, step: int, group: dict, lr: float) -> float:
        """The lr of one param group at `step`; on entry lr = schedule(step) * group['lr_scale']."""
        return lr

    def batch(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Transform a training batch; y is int64 class ids or float soft targets [B, K]."""
        return x, y

    def loss(self, loss_fn: LossFn) -> LossFn:
        """Wrap the loss function loss_fn(logits, targets) -> scalar."""
        return loss_fn

    def after_backward(self, optimizer: torch.optim.Optimizer) -> None:
        """Called after the backward pass, before the optimizer step, on the true gradients (unscaled for
        fp16); may change them in place (gradient clipping)."""

    def after_step(self, step: int) -> None:
        """Called after the optimizer step `step` (0-based)."""

    def predictors(self) -> dict[str, Predictor]:
        """Extra models to evaluate: name -> fn(x) returning log-probabilities [B, K]."""
        return {}

    def extra_metrics(self, evaluate: Callable[[Predictor], dict]) -> dict:
        """More numbers for the run's record; evaluate(fn) gives test metrics of a predictor."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict returned."""


class LrConflict(ValueError):
    """Two tricks set the lr of the same param groups and the later one would silently win."""


def check_lr_setters(tricks: Sequence[Trick]) -> None:
    """Raise LrConflict when a trick that replaces the lr (not lr_composes) follows another lr-setting one.

    Every lr hook sees every param group, so two lr-setting tricks always meet on the same groups. The
    later one wins; that is only allowed when it explicitly composes the lr it is given (e.g. FreezeOut's
    per-layer annealing of whatever lr it receives), never when it replaces it (e.g. SWA's constant lr).
    """
    setters = [t for t in tricks if t.sets_lr()]
    for earlier, later in zip(setters, setters[1:], strict=False):
        if not later.lr_composes:
            raise LrConflict(
                f"tricks {earlier.name!r} and {later.name!r} both set the lr of the same param groups: "
                f"{later.name!r} (listed later) would silently replace the lr of {earlier.name!r}. "
                f"List {later.name!r} first if {earlier.name!r} composes the lr it is given, or drop one.")


class HookSequence:
    """The one order of the hook calls in a run; tricks run in spec order at each hook point.

    prepare:  every trick's setup(ctx), then param_groups (each rewrites the groups of the one before);
              lr setters checked (check_lr_setters)
    wrap_loss: the task's loss wrapped by each trick's `loss` hook, the first listed innermost
    run_step: per optimizer step
        1. lrs: group lr = base_lr(step) * group lr_scale, then each trick's `lr` hook
        2. batch: x, y = each trick's `batch` hook (mixup, cutmix, ...)
        3. update(x, y): the caller's wrapper of the one step body `HookSequence.update`; returns the loss
           a. loss = the wrapped loss_fn(model(x), y), under the precision's autocast
           b. zero the gradients; hand the loss to optimizers that read it (observe_loss: VeLO)
           c. backward (on the scaled loss for fp16), then unscale the gradients (fp16)
           d. each trick's `after_backward(optimizer)` on the true gradients (gradient clipping, ...)
           e. the optimizer step (GradScaler's for fp16: skipped on inf/nan)
        4. each trick's `after_step(step)` (averaging, freezing, snapshots, ...)
    """

    def __init__(self, tricks: Sequence[Trick] = ()):
        self.tricks = list(tricks)

    def prepare(self, ctx: LoopContext, groups: list[dict]) -> list[dict]:
        for trick in self.tricks:
            trick.setup(ctx)
        for trick in self.tricks:
            groups = trick.param_groups(groups)
        check_lr_setters(self.tricks)
        return groups

    def wrap_loss(self, loss_fn: LossFn) -> LossFn:
        for trick in self.tricks:
            loss_fn = trick.loss(loss_fn)
        return loss_fn

    def set_lrs(self, optimizer: torch.optim.Optimizer, step: int, base_lr: float) -> None:
        for group in optimizer.param_groups:
            lr = base_lr * group.get("lr_scale", 1.0)
            for trick in self.tricks:
                lr = trick.lr(step, group, lr)
            group["lr"] = lr

    def batch(self, x, y: Tensor):
        for trick in self.tricks:
            x, y = trick.batch(x, y)
        return x, y

    def after_backward(self, optimizer: torch.optim.Optimizer) -> None:
        for trick in self.tricks:
            trick.after_backward(optimizer)

    def after_step(self, step: int) -> None:
        for trick in self.tricks:
            trick.after_step(step)

    def update(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: LossFn,
               precision: Precision, x, y) -> Tensor:
        """The one step body (step 3 of run_step): forward, loss, backward, after_backward, optimizer step."""
        with precision.autocast():
            loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        observe_loss(optimizer, loss)
        precision.backward(loss)
        precision.unscale(optimizer)
        self.after_backward(optimizer)
        precision.step(optimizer)
        return loss

    def run_step(self, step: int, optimizer: torch.optim.Optimizer, base_lr: float, x, y: Tensor,
                 update: Callable[[object, Tensor], Tensor]) -> Tensor:
        """One optimizer step in the one hook order; returns what `update(x, y)` returned (the loss)."""
        self.set_lrs(optimizer, step, base_lr)
        x, y = self.batch(x, y)
        loss = update(x, y)
        self.after_step(step)
        return loss
