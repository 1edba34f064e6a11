"""FreezeOut (Brock, Lim, Ritchie, Weston 2017, arXiv 1706.04983): anneal each layer group's lr to zero
at its own point t_i * T, then freeze it, so the backward pass gets shorter as training goes on.

Layer group i of L + 1 (i = 0..L, the head last and never frozen):
  t_i = f(t0 + (1 - t0) i / L), f(x) = x (linear), x^2 (squared), x^3 (cubic)
  a_i(t) = 0.5 a_i(0) (1 + cos(pi t / (t_i T))), a_i(0) = a / t_i (scaled) or a (unscaled)
(the paper's equation misses the 1/2, the official code has it).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from tricks.finetune import split_by_layer_group
from tricks.hooks import LoopContext, Trick

POWERS = {"linear": 1, "squared": 2, "cubic": 3}


def freeze_points(num_groups: int, t0: float, mode: str = "cubic") -> list[float]:
    """t_i = f(t0 + (1 - t0) i / L), i = 0..L = num_groups - 1 (fractions of training; t_L = 1)."""
    if num_groups == 1:
        return [1.0]
    return [(t0 + (1 - t0) * i / (num_groups - 1)) ** POWERS[mode] for i in range(num_groups)]


def layer_lr(step: int, total_steps: int, t_i: float, lr: float, scale_lr: bool = True) -> float:
    """a_i(t) = 0.5 a_i(0) (1 + cos(pi t / (t_i T))) for t < t_i T, else 0; a_i(0) = lr / t_i if scale_lr."""
    end = t_i * total_steps
    if step >= end:
        return 0.0
    return 0.5 * (lr / t_i if scale_lr else lr) * (1 + math.cos(math.pi * step / end))


def is_frozen(step: int, total_steps: int, t_i: float) -> bool:
    """Group i is frozen from the first step at which its lr is exactly zero, t >= t_i T."""
    return step >= t_i * total_steps


def estimated_saving(t: list[float], flops: list[float] | None = None, backward_ratio: float = 1.0) -> float:
    """Fraction of training compute saved, as the official code estimates it from FLOPs:
    1 - sum_i c_i (1 + r t_i) / sum_i c_i (1 + r), c_i = forward FLOPs of group i, r = backward / forward.
    (The official code also multiplies the linear mode's estimate by 1.3; that fudge is not applied.)"""
    c = flops if flops is not None else [1.0] * len(t)
    cost = sum(ci * (1 + backward_ratio * ti) for ci, ti in zip(c, t, strict=True))
    return 1 - cost / (sum(c) * (1 + backward_ratio))


@torch.no_grad()
def group_flops(layer_groups: list[nn.Module], x: Tensor) -> list[float]:
    """Forward FLOPs of each layer group on input x, running the groups in sequence (eval mode, restored)."""
    modes = [m.training for g in layer_groups for m in g.modules()]
    out = []
    for g in layer_groups:
        g.eval()
        with FlopCounterMode(display=False) as counter:
            x = g(x)
        out.append(float(counter.get_total_flops()))
    for m, mode in zip([m for g in layer_groups for m in g.modules()], modes, strict=True):
        m.train(mode)
    return out


def _install_hooks(group: nn.Module, frozen: list[bool], i: int) -> None:
    """A frozen group runs with BN in eval mode and returns a detached output (no graph through it).
    Closures, not bound methods, so a deepcopy of the model (e.g. for EMA) does not copy the trick."""

    def pre(module: nn.Module, args):
        if frozen[i]:
            module.eval()

    def post(module: nn.Module, args, output):
        return output.detach() if frozen[i] else output

    group.register_forward_pre_hook(pre)
    group.register_forward_hook(post)


class FreezeOut(Trick):
    """Spec: `{name: freezeout, t0: 0.8, mode: cubic, scale_lr: true}` with `schedule: {name: constant}`.

    One param group per layer group with the per-layer cosine lr (times whatever the schedule gives);
    from t_i T on, group i is frozen: requires_grad off and grad None (torch optimizers skip such
    parameters entirely: no momentum, no weight decay), its optimizer state dropped, BN in eval mode,
    output detached. Parameters stay listed in their (lr 0) param group so the optimizer's state_dict
    keeps its layout and a resumed run loads it unchanged.
    """

    name = "freezeout"
    lr_composes = True   # anneals whatever lr it is given, layer by layer
    freezes_layers = True

    def __init__(
        self, t0: float = 0.8, mode: Literal["linear", "squared", "cubic"] = "cubic", scale_lr: bool = True
    ):
        if mode not in POWERS:
            raise ValueError(f"freezeout mode {mode!r}: use one of {', '.join(POWERS)}")
        self.t0, self.mode, self.scale_lr = t0, mode, scale_lr

    def setup(self, ctx: LoopContext) -> None:
        super().setup(ctx)
        if not ctx.layer_groups:
            raise ValueError("freezeout needs a model with layer_groups()")
        self.groups = ctx.layer_groups
        self.t = freeze_points(len(self.groups), self.t0, self.mode)
        self.frozen = [False] * len(self.groups)
        self.flops: list[float] | None = None
        for i, g in enumerate(self.groups):
            _install_hooks(g, self.frozen, i)
        self._apply(0)

    def param_groups(self, groups: list[dict]) -> list[dict]:
        return split_by_layer_group(groups, self.groups)

    def lr(self, step: int, group: dict, lr: float) -> float:
        t_i = self.t[group.get("layer_index", len(self.t) - 1)]
        return layer_lr(step, self.ctx.total_steps, t_i, lr, self.scale_lr)

    def batch(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        if self.flops is None:
            self.flops = group_flops(self.groups, x[:1])
        return x, y

    def _apply(self, next_step: int) -> None:
        """Freeze every group whose point has passed by `next_step` (idempotent: resuming re-applies it)."""
        self.next_step = next_step
        for i, g in enumerate(self.groups[:-1]):
            if not self.frozen[i] and is_frozen(next_step, self.ctx.total_steps, self.t[i]):
                self.frozen[i] = True
                for p in g.parameters():
                    p.requires_grad_(False)
                    p.grad = None
                    if self.ctx.optimizer is not None:
                        self.ctx.optimizer.state.pop(p, None)

    def after_step(self, step: int) -> None:
        self._apply(step + 1)

    def extra_metrics(self, evaluate) -> dict:
        flop_saving = estimated_saving(self.t, self.flops) if self.flops else float("nan")
        return {
            "freezeout/estimated_saving_flops": flop_saving,
            "freezeout/estimated_saving_uniform": estimated_saving(self.t),
            "freezeout/frozen_groups": float(sum(self.frozen)),
        }

    def state_dict(self) -> dict:
        return {"next_step": self.next_step}

    def load_state_dict(self, state: dict) -> None:
        self._apply(state["next_step"])
