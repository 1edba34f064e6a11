"""ULMFiT fine-tuning: discriminative lrs by hand, unfreezing order, resume, training."""

import pytest
import torch
from trick_harness import Run, assert_same_state, resume_equivalence

from tricks.finetune import (
    ChainThaw,
    DiscriminativeLR,
    GradualUnfreezing,
    LastLayers,
    chain_thaw_stage,
    discriminative_lrs,
    layer_groups,
    split_by_layer_group,
    unfrozen_from,
)

TOL = dict(rel=1e-12, abs=1e-15)


def test_discriminative_lrs_by_hand():
    want = [5.689576695493855e-4, 1.4792899408284023e-3, 3.846153846153846e-3, 0.01]
    assert discriminative_lrs(4, 0.01) == pytest.approx(want, **TOL)
    assert discriminative_lrs(2, 1.0, factor=2.0) == [0.5, 1.0]


def test_split_by_layer_group_keeps_every_param_once():
    run = Run([], total_steps=1)
    extra = torch.nn.Parameter(torch.zeros(1))
    groups = [{"params": list(run.model.parameters()) + [extra], "lr_scale": 0.5, "name": "all"}]
    out = split_by_layer_group(groups, run.model.layer_groups())
    assert [g.get("layer_index") for g in out] == [0, 1, 2, None]
    assert [len(g["params"]) for g in out] == [4, 4, 2, 1] and all(g["lr_scale"] == 0.5 for g in out)
    assert split_by_layer_group(out, run.model.layer_groups()) == out


def test_layer_groups_fall_back_to_children():
    seq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert layer_groups(seq) == list(seq)
    run = Run([], total_steps=1)
    assert layer_groups(run.model) == [run.model.stem, run.model.body, run.model.head]


def test_unfreezing_schedules():
    assert [unfrozen_from(e, 4) for e in range(6)] == [3, 2, 1, 0, 0, 0]
    assert [chain_thaw_stage(e, 3) for e in range(6)] == [[2], [0], [1], [2], [0, 1, 2], [0, 1, 2]]


def test_discriminative_adapter_sets_group_lrs():
    run = Run([DiscriminativeLR(factor=2.6)], total_steps=2, lr=0.1)
    run.train(1)
    lrs = [g["lr"] for g in sorted(run.opt.param_groups, key=lambda g: g["layer_index"])]
    assert lrs == pytest.approx([0.1 / 6.76, 0.1 / 2.6, 0.1], **TOL)


def _trainable(run):
    return [all(p.requires_grad for p in g.parameters()) for g in run.model.layer_groups()]


def test_gradual_unfreezing_one_group_per_epoch_from_the_top():
    run = Run([GradualUnfreezing()], total_steps=48)  # 16 steps per epoch
    stem_w = run.model.stem[1].weight.detach().clone()
    assert _trainable(run) == [False, False, True]
    run.train(16)
    assert torch.equal(run.model.stem[1].weight, stem_w)
    assert _trainable(run) == [False, True, True]
    run.train(16)
    assert _trainable(run) == [True, True, True]


def test_chain_thaw_order():
    run = Run([ChainThaw()], total_steps=80)
    seen = [_trainable(run)]
    for _ in range(4):
        run.train(16)
        seen.append(_trainable(run))
    assert seen == [
        [False, False, True],
        [True, False, False],
        [False, True, False],
        [False, False, True],
        [True, True, True],
    ]


@pytest.mark.parametrize("make", [GradualUnfreezing, ChainThaw, DiscriminativeLR, LastLayers])
def test_resume_is_bit_identical(make):
    a, c = resume_equivalence(lambda: [make()], k=20)
    assert_same_state(a, c)
    assert _trainable(a) == _trainable(c)


@pytest.mark.parametrize("make", [GradualUnfreezing, ChainThaw, DiscriminativeLR])
def test_trains(make):
    run = Run([make()], total_steps=48)
    before = run.clean_loss()
    run.train(48)
    assert run.clean_loss() < 0.6 * before


def test_last_layers_trains_only_the_top_groups():
    run = Run([LastLayers()], total_steps=32)
    stem_w, body_w = run.model.stem[1].weight.detach().clone(), run.model.body[0].weight.detach().clone()
    run.train(32)
    assert _trainable(run) == [False, False, True]
    assert torch.equal(run.model.stem[1].weight, stem_w) and torch.equal(run.model.body[0].weight, body_w)
    assert _trainable(Run([LastLayers(groups=2)], total_steps=1)) == [False, True, True]


def test_chain_thaw_lr_ratio_scales_every_group_but_the_head():
    run = Run([ChainThaw(lr_ratio=0.1)], total_steps=2, lr=0.1)
    run.train(1)
    lrs = [g["lr"] for g in sorted(run.opt.param_groups, key=lambda g: g["layer_index"])]
    assert lrs == pytest.approx([0.01, 0.01, 0.1], **TOL)
