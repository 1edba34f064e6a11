"""mixup (Zhang et al. 2018, arXiv 1710.09412) and CutMix (Yun et al. 2019, arXiv 1905.04899).

Both draw lam ~ Beta(alpha, alpha) and a permutation j of the batch from an explicit generator, and return
soft targets q = lam onehot(y_i) + (1 - lam) onehot(y_j), so that H(q, p) = lam CE(y_i) + (1 - lam) CE(y_j):
the two-term loss of the official code, by linearity of the cross-entropy in its target.
"""

from __future__ import annotations

import math

import torch
from scipy.special import betaincinv
from torch import Tensor

from tricks.hooks import LoopContext, Trick
from tricks.smoothing import as_soft


def sample_lam(alpha: float, generator: torch.Generator) -> float:
    """lam ~ Beta(alpha, alpha) by inverting the CDF at u ~ U(0, 1); alpha <= 0 gives lam = 1 (no mixing)."""
    if alpha <= 0:
        return 1.0
    u = torch.rand((), generator=generator, dtype=torch.float64).item()
    return float(betaincinv(alpha, alpha, u))


def permutation(n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
    """A random permutation of the batch (drawn on the generator's CPU, then moved)."""
    return torch.randperm(n, generator=generator).to(device)


def mix_targets(y: Tensor, perm: Tensor, lam: float, num_classes: int) -> Tensor:
    """q = lam * q_i + (1 - lam) * q_perm(i) for class ids or soft targets."""
    q = as_soft(y, num_classes)
    return lam * q + (1 - lam) * q[perm]


def mixup(x: Tensor, y: Tensor, lam: float, perm: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """x~ = lam x_i + (1 - lam) x_j, y~ = lam y_i + (1 - lam) y_j  (arXiv 1710.09412, Eq. 1)."""
    return lam * x + (1 - lam) * x[perm], mix_targets(y, perm, lam, num_classes)


def cutmix_box(lam: float, height: int, width: int, generator: torch.Generator) -> tuple[int, int, int, int]:
    """Box (y0, y1, x0, x1) of side sqrt(1 - lam) * (H, W) around a uniform centre, clipped to the image."""
    cut = math.sqrt(1.0 - lam)
    ch, cw = int(height * cut), int(width * cut)
    cy = int(torch.randint(height, (), generator=generator))
    cx = int(torch.randint(width, (), generator=generator))
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, height)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, width)
    return y0, y1, x0, x1


def cutmix(
    x: Tensor, y: Tensor, lam: float, perm: Tensor, num_classes: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Paste a box of x_j into x_i; lam becomes the area kept, 1 - box area / (H W) (arXiv 1905.04899)."""
    y0, y1, x0, x1 = cutmix_box(lam, x.shape[-2], x.shape[-1], generator)
    mixed = x.clone()
    mixed[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
    lam = 1.0 - (y1 - y0) * (x1 - x0) / (x.shape[-2] * x.shape[-1])
    return mixed, mix_targets(y, perm, lam, num_classes)


class Mixup(Trick):
    """Spec: `{name: mixup, alpha: 1.0}`. Turns each training batch into mixed inputs and soft targets."""

    name = "mixup"

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def setup(self, ctx: LoopContext) -> None:
        super().setup(ctx)
        if ctx.num_classes is None:
            raise ValueError("mixup needs a classification task (num_classes)")

    def batch(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        lam = sample_lam(self.alpha, self.ctx.generator)
        return mixup(x, y, lam, permutation(len(x), self.ctx.generator, x.device), self.ctx.num_classes)


class CutMix(Mixup):
    """Spec: `{name: cutmix, alpha: 1.0, prob: 0.5}`. With probability prob, CutMix the batch."""

    name = "cutmix"

    def __init__(self, alpha: float = 1.0, prob: float = 1.0):
        super().__init__(alpha)
        self.prob = prob

    def batch(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        g, k = self.ctx.generator, self.ctx.num_classes
        if torch.rand((), generator=g).item() >= self.prob:
            return x, as_soft(y, k)
        lam = sample_lam(self.alpha, g)
        return cutmix(x, y, lam, permutation(len(x), g, x.device), k, g)
