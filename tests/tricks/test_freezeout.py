"""FreezeOut: freeze points and per-layer lr by hand; frozen groups really leave the backward pass."""

import pytest
import torch
from trick_harness import Run, assert_same_state, resume_equivalence

from tricks.freezeout import FreezeOut, estimated_saving, freeze_points, group_flops, layer_lr

TOL = dict(rel=1e-12, abs=1e-15)


def test_freeze_points_by_hand():
    assert freeze_points(5, 0.8, "linear") == pytest.approx([0.8, 0.85, 0.9, 0.95, 1.0], **TOL)
    assert freeze_points(5, 0.8, "squared") == pytest.approx([0.64, 0.7225, 0.81, 0.9025, 1.0], **TOL)
    assert freeze_points(5, 0.8, "cubic") == pytest.approx([0.512, 0.614125, 0.729, 0.857375, 1.0], **TOL)
    assert freeze_points(1, 0.8) == [1.0]


def test_layer_lr_by_hand():
    T, t = 1000, 0.512  # anneal ends at step 512
    assert layer_lr(0, T, t, 0.1) == pytest.approx(0.1953125, **TOL)
    assert layer_lr(256, T, t, 0.1) == pytest.approx(0.09765625, **TOL)
    assert layer_lr(0, T, t, 0.1, scale_lr=False) == pytest.approx(0.1, **TOL)
    assert layer_lr(384, T, t, 0.1, scale_lr=False) == pytest.approx(0.05 * (1 - 2**-0.5), **TOL)
    assert layer_lr(512, T, t, 0.1) == 0.0 and layer_lr(999, T, 1.0, 0.1) > 0


def test_estimated_saving_by_hand():
    assert estimated_saving([0.5, 1.0]) == pytest.approx(0.125, **TOL)
    # heavier first group: 1 - (3 * 1.5 + 1 * 2) / (4 * 2)
    assert estimated_saving([0.5, 1.0], flops=[3.0, 1.0]) == pytest.approx(0.1875, **TOL)
    assert estimated_saving([0.5, 1.0], backward_ratio=2.0) == pytest.approx(1 - 5 / 6, **TOL)


def test_group_flops_counts_linear_layers():
    run = Run([], total_steps=1)
    flops = group_flops(run.model.layer_groups(), run.x[:1])
    assert flops == [2 * 16 * 32, 2 * 32 * 32, 2 * 32 * 3]  # 2 x in x out per sample, bias/BN not counted
    assert run.model.training


def test_frozen_groups_leave_the_backward_pass():
    run = Run([FreezeOut(t0=0.5, mode="cubic")], total_steps=20)  # t = [0.125, 0.42, 1]: freeze at 3, 9
    stem, body = run.model.stem, run.model.body
    calls = {"stem": 0, "body": 0}
    for name, w in (("stem", stem[1].weight), ("body", body[0].weight)):  # fires when autograd reaches w
        w.register_hook(lambda g, name=name: calls.__setitem__(name, calls[name] + 1))
    run.train(3)
    assert calls == {"stem": 3, "body": 3}
    frozen_w = stem[1].weight.detach().clone()
    running = stem[2].running_mean.clone()
    run.train(7)  # steps 3..9
    assert calls["stem"] == 3 and calls["body"] == 9
    assert torch.equal(stem[1].weight, frozen_w) and torch.equal(stem[2].running_mean, running)
    assert all(p.grad is None and not p.requires_grad for p in stem.parameters())
    assert not any(p in run.opt.state for p in stem.parameters())
    assert run.model.stem(run.x[:4]).grad_fn is None  # no graph is built through the frozen prefix
    assert run.tricks[0].frozen == [True, True, False]
    lrs = {g["layer_index"]: g["lr"] for g in run.opt.param_groups}
    assert lrs[0] == 0.0 and lrs[1] == 0.0 and lrs[2] > 0


def test_lr_per_group_follows_layer_lr():
    run = Run([FreezeOut(t0=0.8, mode="linear", scale_lr=True)], total_steps=40, lr=0.1)
    run.train(5)
    got = sorted((g["layer_index"], g["lr"]) for g in run.opt.param_groups)
    want = [(i, layer_lr(4, 40, t, 0.1)) for i, t in enumerate([0.8, 0.9, 1.0])]
    assert got == [(i, pytest.approx(v, rel=1e-12)) for i, v in want]


def test_extra_metrics_report_estimates():
    run = Run([FreezeOut()], total_steps=4)
    run.train(1)
    m = run.tricks[0].extra_metrics(None)
    assert 0 < m["freezeout/estimated_saving_flops"] < 0.5 and m["freezeout/frozen_groups"] == 0


@pytest.mark.parametrize("t0,mode", [(0.6, "linear"), (0.5, "cubic"), (0.7, "squared")])
def test_resume_is_bit_identical(t0, mode):
    a, c = resume_equivalence(lambda: [FreezeOut(t0=t0, mode=mode)], k=10)
    assert_same_state(a, c)
    assert a.tricks[0].frozen == c.tricks[0].frozen


def test_trains_with_freezeout():
    run = Run([FreezeOut(t0=0.8, mode="cubic")], total_steps=40)
    before = run.clean_loss()
    run.train(40)
    assert run.clean_loss() < 0.5 * before and run.tricks[0].frozen == [True, True, False]
