"""Gradient norm clipping (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent neural
networks", arXiv 1211.5063, Sec. 3.2, Algorithm 1).

With g the gradient of all parameters together, its norm ||g|| = || (||g_1||_p, ..., ||g_n||_p) ||_p
(p = norm_type; p = inf: the largest |g_ij|), and threshold c = max_norm:

    if ||g|| >= c:  g <- (c / ||g||) g

i.e. g <- min(1, c / (||g|| + eps)) g, with eps = 1e-6 keeping a zero gradient finite (as
torch.nn.utils.clip_grad_norm_ does). The direction of the step is kept; only its length is bounded.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from tricks.hooks import Trick

EPS = 1e-6


def global_norm(grads: list[Tensor], norm_type: float = 2.0) -> Tensor:
    """||g|| = || (||g_1||_p, ..., ||g_n||_p) ||_p over the gradient tensors g_i (0 for no tensors)."""
    if not grads:
        return torch.tensor(0.0)
    norms = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads])
    return torch.linalg.vector_norm(norms, norm_type)


def clip_coefficient(total_norm: Tensor, max_norm: float, eps: float = EPS) -> Tensor:
    """min(1, c / (||g|| + eps)): the factor every gradient is multiplied by."""
    return (max_norm / (total_norm + eps)).clamp(max=1.0)


def clip_grads_(grads: list[Tensor], max_norm: float, norm_type: float = 2.0) -> Tensor:
    """Scale `grads` in place by clip_coefficient(global_norm(grads)); returns the norm before clipping."""
    total = global_norm(grads, norm_type)
    coef = clip_coefficient(total, max_norm)
    for g in grads:
        g.mul_(coef.to(g.device, g.dtype))
    return total


def gradients(params: Iterable[Tensor]) -> list[Tensor]:
    """The .grad tensors of the parameters that have one."""
    return [p.grad for p in params if p.grad is not None]


class ClipGradNorm(Trick):
    """Clip the global gradient norm of the optimizer's parameters to `max_norm` before every step.

    Runs at the after_backward hook point, on the true gradients (after fp16 unscaling), in spec order
    among the tricks. Stateless: nothing to save for a resume.
    """

    name = "clip_grad_norm"

    def __init__(self, max_norm: float = 1.0, norm_type: float = 2.0):
        if max_norm <= 0:
            raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm}")
        self.max_norm, self.norm_type = float(max_norm), float(norm_type)

    def after_backward(self, optimizer: torch.optim.Optimizer) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        clip_grads_(gradients(params), self.max_norm, self.norm_type)
