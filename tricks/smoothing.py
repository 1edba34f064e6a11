"""Label smoothing (Szegedy et al. 2016, arXiv 1512.00567; analysed by Mueller et al. 2019, arXiv 1906.02629).

q'(k) = (1 - eps) q(k) + eps / K, where q is the one-hot (or an already soft, e.g. mixup) target.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class SmoothedTargets:
    """Class ids with label smoothing, not expanded: q' = (1 - eps) onehot(ids) + eps / K.

    What the label_smoothing trick hands the task's loss in place of class ids. The task's loss applies it
    with its own ignore mask, e.g. F.cross_entropy(logits, ids, ignore_index=PAD, label_smoothing=eps),
    so ignored positions (padding) carry no loss whatever eps is, and eps = 0 is exactly the plain loss.
    """

    ids: Tensor
    eps: float

    def soft(self, num_classes: int) -> Tensor:
        """The expanded soft targets [..., K] (every position, ignored ones included)."""
        return smooth_targets(self.ids, num_classes, self.eps)


def cross_entropy_of(logits: Tensor, target: Tensor | SmoothedTargets, ignore_index: int = -100) -> Tensor:
    """Mean cross-entropy over logits [N, K] for class ids [N], soft targets [N, K] or SmoothedTargets;
    class ids equal to ignore_index are left out (soft targets have no ignore mask of their own)."""
    if isinstance(target, SmoothedTargets):
        return F.cross_entropy(logits, target.ids, ignore_index=ignore_index, label_smoothing=target.eps)
    if target.is_floating_point():
        return F.cross_entropy(logits, target)
    return F.cross_entropy(logits, target, ignore_index=ignore_index)


class LabelSmoothing(Trick):
    """Spec: `{name: label_smoothing, eps: 0.1}`. Composes with the task's loss, which keeps its ignore
    mask: class ids (any shape, logits [..., K]) become SmoothedTargets(ids, eps), which the task's loss
    consumes (e.g. translation leaves padding out); soft targets (mixup's) are smoothed,
    q' = (1 - eps) q + eps / K, and handed to the task's loss as they are."""

    name = "label_smoothing"

    def __init__(self, eps: float = 0.1):
        if not 0.0 <= eps < 1.0:
            raise ValueError(f"label smoothing eps must lie in [0, 1), got {eps}")
        self.eps = eps

    def loss(self, loss_fn: LossFn) -> LossFn:
        def smoothed(logits: Tensor, targets: Tensor) -> Tensor:
            if targets.is_floating_point():   # float32 whatever the autocast dtype: losses compute in fp32
                return loss_fn(logits, smooth_targets(targets, logits.shape[-1], self.eps))
            return loss_fn(logits, SmoothedTargets(targets, self.eps))

        return smoothed
