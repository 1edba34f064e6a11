"""The hook points a trick can use in the training loop (tricks/loop.py).

A trick is a small object with a few of these methods overridden; every hook defaults to a no-op.
The loop calls the tricks in the order the spec lists them. Functional cores live in the trick
modules (schedules, averaging, ...); the adapters here are the thin layer that plugs them in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

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
