"""Label smoothing against torch's CrossEntropyLoss(label_smoothing=eps), the reference."""

import pytest
import torch
import torch.nn.functional as F
from trick_harness import Run

from tricks.loop import cross_entropy
from tricks.smoothing import (
    LabelSmoothing,
    SmoothedTargets,
    cross_entropy_of,
    smooth_targets,
    smoothed_cross_entropy,
)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_equals_torch_label_smoothing(eps):
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(16, 7, generator=g, dtype=torch.float64), torch.randint(7, (16,), generator=g)
    ref = torch.nn.CrossEntropyLoss(label_smoothing=eps)(logits, y)
    assert torch.allclose(smoothed_cross_entropy(logits, y, eps), ref, rtol=1e-12, atol=0)


def test_ignore_index_matches_torch():
    g = torch.Generator().manual_seed(1)
    logits, y = torch.randn(12, 5, generator=g, dtype=torch.float64), torch.randint(5, (12,), generator=g)
    y[[0, 3, 7]] = 255
    ref = torch.nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=255)(logits, y)
    assert torch.allclose(smoothed_cross_entropy(logits, y, 0.1, ignore_index=255), ref, rtol=1e-12, atol=0)


def test_soft_targets_match_torch():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(8, 4, generator=g, dtype=torch.float64)
    q = torch.rand(8, 4, generator=g, dtype=torch.float64).softmax(-1)
    ref = torch.nn.CrossEntropyLoss(label_smoothing=0.2)(logits, q)
    assert torch.allclose(smoothed_cross_entropy(logits, q, 0.2), ref, rtol=1e-12, atol=0)


def test_smoothed_targets_by_hand():
    q = smooth_targets(torch.tensor([1]), 4, 0.1)
    assert q[0].tolist() == pytest.approx([0.025, 0.925, 0.025, 0.025], abs=1e-7)
    mixed = torch.tensor([[0.3, 0.7, 0.0, 0.0]], dtype=torch.float64)
    assert smooth_targets(mixed, 4, 0.1)[0].tolist() == pytest.approx([0.295, 0.655, 0.025, 0.025], abs=1e-15)


def test_adapter_wraps_loss_like_torch():
    g = torch.Generator().manual_seed(3)
    logits, y = torch.randn(6, 3, generator=g), torch.randint(3, (6,), generator=g)
    loss = LabelSmoothing(eps=0.1).loss(cross_entropy)   # the loop's default task loss
    assert torch.allclose(loss(logits, y), F.cross_entropy(logits, y, label_smoothing=0.1), atol=1e-6)
    with pytest.raises(ValueError):
        LabelSmoothing(eps=1.0)


def test_adapter_on_token_targets_with_padding():
    g = torch.Generator().manual_seed(4)
    logits, y = torch.randn(2, 5, 11, generator=g), torch.randint(11, (2, 5), generator=g)
    y[0, 3:] = 0  # padding id 0
    def task_loss(logits, target):   # a task that owns its ignore mask: padding id 0 carries no loss
        flat = SmoothedTargets(target.ids.flatten(), target.eps) if isinstance(target, SmoothedTargets) \
            else target.flatten() if not target.is_floating_point() else target
        k = logits.shape[-1]
        return cross_entropy_of(logits.reshape(-1, k) if flat.__class__ is not torch.Tensor or
                                not flat.is_floating_point() else logits, flat, ignore_index=0)

    loss = LabelSmoothing(eps=0.1).loss(task_loss)
    ref = torch.nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=0)(
        logits.reshape(-1, 11), y.reshape(-1)
    )
    assert torch.allclose(loss(logits, y), ref, atol=1e-6)
    soft = F.one_hot(y[1], 11).float()
    assert torch.allclose(
        loss(logits[1], soft), F.cross_entropy(logits[1], y[1], label_smoothing=0.1), atol=1e-6
    )


def test_trains_with_label_smoothing():
    run = Run([LabelSmoothing(eps=0.1)], total_steps=40)
    before = run.clean_loss()
    run.train(40)
    assert run.clean_loss() < 0.5 * before
