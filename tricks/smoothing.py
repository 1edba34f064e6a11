"""Label smoothing (Szegedy et al. 2016, arXiv 1512.00567; analysed by Mueller et al. 2019, arXiv 1906.02629).

q'(k) = (1 - eps) q(k) + eps / K, where q is the one-hot (or an already soft, e.g. mixup) target.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from tricks.hooks import LossFn, Trick


def as_soft(y: Tensor, num_classes: int) -> Tensor:
    """Class ids [B] -> one-hot float [B, K]; float soft targets pass through."""
    return y if y.is_floating_point() else F.one_hot(y, num_classes).float()


def smooth_targets(y: Tensor, num_classes: int, eps: float) -> Tensor:
    """q' = (1 - eps) q + eps / K for class ids or soft targets (arXiv 1512.00567, Sec. 7)."""
    return (1 - eps) * as_soft(y, num_classes) + eps / num_classes


def soft_cross_entropy(logits: Tensor, q: Tensor) -> Tensor:
    """H(q, p) = -sum_k q_k log p_k, averaged over the batch."""
    return -(q * logits.log_softmax(-1)).sum(-1).mean()


def smoothed_cross_entropy(
    logits: Tensor, target: Tensor, eps: float = 0.1, ignore_index: int = -100
) -> Tensor:
    """H(q', p) with q' = (1 - eps) q + eps/K; equals torch's CrossEntropyLoss(label_smoothing=eps).

    Class-id targets equal to ignore_index are left out of the mean; soft targets [B, K] are smoothed too.
    """
    if target.is_floating_point():
        return soft_cross_entropy(logits, smooth_targets(target, logits.shape[-1], eps))
    keep = target != ignore_index
    logp = logits[keep].log_softmax(-1)
    nll = -logp.gather(-1, target[keep, None]).squeeze(-1)
    return ((1 - eps) * nll - eps * logp.mean(-1)).mean()


class LabelSmoothing(Trick):
    """Spec: `{name: label_smoothing, eps: 0.1}`. Class-id targets (any shape, logits [..., K]) get the
    smoothed cross-entropy, skipping ignore_index (e.g. padding tokens); soft targets (mixup's) are
    smoothed and handed to the wrapped loss, which must accept soft targets (F.cross_entropy does)."""

    name = "label_smoothing"

    def __init__(self, eps: float = 0.1, ignore_index: int = -100):
        if not 0.0 <= eps < 1.0:
            raise ValueError(f"label smoothing eps must lie in [0, 1), got {eps}")
        self.eps, self.ignore_index = eps, ignore_index

    def loss(self, loss_fn: LossFn) -> LossFn:
        def smoothed(logits: Tensor, targets: Tensor) -> Tensor:
            k = logits.shape[-1]
            if targets.is_floating_point():
                return loss_fn(logits, smooth_targets(targets, k, self.eps).to(logits.dtype))
            flat = logits.float().reshape(-1, k)
            return smoothed_cross_entropy(flat, targets.reshape(-1), self.eps, self.ignore_index)

        return smoothed
