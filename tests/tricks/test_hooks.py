"""The hook order, written once (tricks.hooks.HookSequence), and the lr-setter rule (issue #13)."""

from __future__ import annotations

import pytest
import torch
from trick_harness import Run

from tricks.averaging import SWA
from tricks.freezeout import FreezeOut
from tricks.hooks import HookSequence, LrConflict, Trick, check_lr_setters
from tricks.precision import Precision

CPU = torch.device("cpu")


class Recorder(Trick):
    def __init__(self, name: str, log: list):
        self.name, self.log = name, log

    def lr(self, step, group, lr):
        self.log.append(f"{self.name}.lr")
        return lr * 2

    def batch(self, x, y):
        self.log.append(f"{self.name}.batch")
        return x, y

    def after_backward(self, optimizer):
        grad = optimizer.param_groups[0]["params"][0].grad
        self.log.append(f"{self.name}.after_backward grad={grad.item()}")

    def after_step(self, step):
        self.log.append(f"{self.name}.after_step")


def test_one_step_runs_lrs_then_batch_then_update_then_after_step_in_spec_order():
    log: list[str] = []
    hooks = HookSequence([Recorder("a", log), Recorder("b", log)])
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    opt.param_groups[0]["lr_scale"] = 0.5

    def update(x, y):
        log.append(f"update lr={opt.param_groups[0]['lr']}")
        return torch.tensor(0.0)

    hooks.run_step(0, opt, 1.0, torch.zeros(1), torch.zeros(1), update)
    assert log == ["a.lr", "b.lr", "a.batch", "b.batch", "update lr=2.0", "a.after_step", "b.after_step"]


class StepLogger(torch.optim.SGD):
    """SGD that logs its step and the loss handed to it (observe_loss, as learned optimizers read it)."""

    def __init__(self, params, log):
        super().__init__(params, lr=1.0)
        self.log = log

    def observe_loss(self, loss):
        self.log.append(f"observe_loss {loss.item()}")

    def step(self, closure=None):
        self.log.append(f"step grad={self.param_groups[0]['params'][0].grad.item()}")
        return super().step(closure)


def test_the_step_body_runs_backward_then_after_backward_then_the_step():
    log: list[str] = []
    w = torch.tensor([3.0], requires_grad=True)
    opt = StepLogger([w], log)
    hooks = HookSequence([Recorder("a", log), Recorder("b", log)])
    loss_fn = lambda out, y: (out * y).sum()   # noqa: E731  d/dw (w x y) = x y = 2
    step = lambda x, y: hooks.update(lambda v: w * v, opt, loss_fn, Precision("fp32", CPU), x, y)  # noqa: E731
    loss = hooks.run_step(0, opt, 1.0, torch.tensor([1.0]), torch.tensor([2.0]), step)
    assert loss.item() == 6.0 and w.item() == 3.0 - 4.0 * 2.0   # lr 1 * 2 (a) * 2 (b) = 4
    assert log == ["a.lr", "b.lr", "a.batch", "b.batch", "observe_loss 6.0", "a.after_backward grad=2.0",
                   "b.after_backward grad=2.0", "step grad=2.0", "a.after_step", "b.after_step"]


def test_a_trick_replacing_the_lr_after_another_lr_setter_is_an_error_at_setup():
    with pytest.raises(LrConflict, match="'freezeout' and 'swa' both set the lr"):
        check_lr_setters([FreezeOut(), SWA(swa_lr=0.05)])
    with pytest.raises(LrConflict):
        Run([FreezeOut(), SWA(swa_lr=0.05)])          # raised by HookSequence.prepare, before training


def test_a_trick_that_composes_the_lr_it_is_given_may_follow():
    check_lr_setters([SWA(swa_lr=0.05), FreezeOut()])   # FreezeOut anneals SWA's lr: explicit composition
    check_lr_setters([FreezeOut(), SWA()])              # SWA without swa_lr keeps the lr: no conflict
    assert not SWA().sets_lr() and SWA(swa_lr=0.1).sets_lr() and FreezeOut().lr_composes
