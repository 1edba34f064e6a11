"""Gradient norm clipping (tricks/clipping.py) against torch.nn.utils.clip_grad_norm_ and hand-computed norms,
at the loop's after_backward hook point (on unscaled gradients under a GradScaler), and an exact resume."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn
from trick_harness import assert_same_state, make_data, make_model, resume_equivalence

from tricks.clipping import ClipGradNorm, clip_grads_, global_norm, gradients
from tricks.hooks import HookSequence, Trick
from tricks.loop import cross_entropy
from tricks.precision import Precision

CPU = torch.device("cpu")
X, Y = make_data(n=32)


def _backward(model: nn.Module, scale: float) -> None:
    model.zero_grad()
    (scale * cross_entropy(model(X), Y)).backward()


def _twins(scale: float = 5.0) -> tuple[nn.Module, nn.Module]:
    """Two copies of one model holding the same gradients."""
    a = make_model(0)
    b = copy.deepcopy(a)
    _backward(a, scale)
    _backward(b, scale)
    return a, b


def test_global_norm_by_hand():
    grads = [torch.tensor([3.0, 0.0]), torch.tensor([[4.0]]), torch.tensor([-12.0])]
    assert global_norm(grads).item() == pytest.approx(13.0)                 # sqrt(9 + 16 + 144)
    assert global_norm(grads, 1.0).item() == pytest.approx(19.0)
    assert global_norm(grads, math.inf).item() == pytest.approx(12.0)
    clipped = clip_grads_(grads, 6.5)                                       # factor 6.5 / 13 = 1/2
    assert clipped.item() == pytest.approx(13.0)
    torch.testing.assert_close(grads[2], torch.tensor([-6.0]), rtol=1e-6, atol=0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [1e-3, 0.5, 1e6])   # clipped hard, clipped, untouched
def test_clipping_equals_torch_clip_grad_norm(max_norm, norm_type):
    ours, theirs = _twins()
    norm = clip_grads_(gradients(ours.parameters()), max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type)
    torch.testing.assert_close(norm, expected)
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)


def test_the_hook_clips_before_the_step_like_torch_on_a_copy():
    ours, theirs = make_model(0), make_model(0)
    opt_a = torch.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    opt_b = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    hooks = HookSequence([ClipGradNorm(max_norm=0.05)])
    for _ in range(3):
        hooks.update(ours, opt_a, cross_entropy, Precision("fp32", CPU), X, Y)
        opt_b.zero_grad()
        cross_entropy(theirs(X), Y).backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.05)
        opt_b.step()
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad)
        torch.testing.assert_close(p, q)


class GradRecorder(Trick):
    def after_backward(self, optimizer):
        self.grads = [p.grad.clone() for g in optimizer.param_groups for p in g["params"]]


def test_after_backward_sees_unscaled_gradients_under_a_loss_scale():
    scaled, plain = make_model(0), make_model(0)
    # fp32 math with a loss scale of 1024: isolates the scaler's unscaling from fp16 rounding
    precision = Precision("fp32", CPU, torch.amp.GradScaler("cpu", init_scale=1024.0))
    recorder = GradRecorder()
    HookSequence([recorder]).update(scaled, torch.optim.SGD(scaled.parameters(), lr=0.0), cross_entropy,
                                    precision, X, Y)
    _backward(plain, 1.0)
    for got, p in zip(recorder.grads, plain.parameters(), strict=True):
        torch.testing.assert_close(got, p.grad)


def test_zero_gradients_stay_zero_and_a_bad_threshold_is_refused():
    grads = [torch.zeros(3)]
    assert clip_grads_(grads, 1.0).item() == 0.0 and torch.equal(grads[0], torch.zeros(3))
    with pytest.raises(ValueError, match="max_norm"):
        ClipGradNorm(max_norm=0.0)


def test_resume_is_exact():
    a, b = resume_equivalence(lambda: [ClipGradNorm(max_norm=0.1)])
    assert_same_state(a, b)
    assert a.losses[-10:] == b.losses[-10:]
