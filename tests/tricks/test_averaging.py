"""EMA against its closed form, checkpoint averaging by hand, SWA against torch's AveragedModel."""

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from trick_harness import Run, assert_same_state, resume_equivalence

from tricks.averaging import (
    EMA,
    SWA,
    CheckpointAverage,
    average_checkpoint_files,
    average_state_dicts,
    ema_update_,
    opennmt_ema_decay,
    swap_in,
)


def test_opennmt_decay_golden():
    assert opennmt_ema_decay(0) == 0.1
    assert opennmt_ema_decay(1) == pytest.approx(2 / 11, rel=1e-15)
    assert opennmt_ema_decay(10) == 0.55
    assert opennmt_ema_decay(10**6) == 0.9999
    assert opennmt_ema_decay(100, decay=0.5) == 0.5


def _weights_sequence(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 4, generator=g, dtype=torch.float64) for _ in range(n + 1)]


@pytest.mark.parametrize("schedule", ["fixed", "opennmt"])
def test_ema_matches_closed_form(schedule):
    n, ws = 30, _weights_sequence(30)
    ds = [0.8 if schedule == "fixed" else opennmt_ema_decay(t, 0.9) for t in range(1, n + 1)]
    model = nn.Linear(4, 3, bias=False).double()
    avg = copy.deepcopy(model)
    avg.weight.data.copy_(ws[0])
    for t in range(1, n + 1):
        model.weight.data.copy_(ws[t])
        ema_update_(avg, model, ds[t - 1])
    # shadow_n = prod_t d_t * w_0 + sum_t (1 - d_t) prod_{s > t} d_s * w_t
    tail = [float(np.prod(ds[t:])) for t in range(n + 1)]  # tail[t] = prod_{s=t+1..n} d_s
    closed = tail[0] * ws[0] + sum((1 - ds[t - 1]) * tail[t] * ws[t] for t in range(1, n + 1))
    assert torch.allclose(avg.weight, closed, rtol=1e-12, atol=1e-14)


def test_bn_buffer_choice():
    model, avg = nn.BatchNorm1d(2).double(), nn.BatchNorm1d(2).double()
    model.running_mean.fill_(1.0)
    model.num_batches_tracked.fill_(7)
    ema_update_(avg, model, 0.75, buffers="average")
    assert avg.running_mean.tolist() == [0.25, 0.25] and int(avg.num_batches_tracked) == 7
    ema_update_(avg, model, 0.75, buffers="copy")
    assert avg.running_mean.tolist() == [1.0, 1.0]


def test_ema_adapter_first_update_uses_t_equal_one():
    run = Run([EMA(decay=0.9999)], total_steps=1)
    w0 = run.model.head.weight.detach().clone()
    run.train(1)
    expected = 2 / 11 * w0 + 9 / 11 * run.model.head.weight.detach()
    assert torch.allclose(run.tricks[0].avg.head.weight, expected, atol=1e-7)


def test_swap_in_restores_exactly():
    model = nn.Linear(3, 2)
    own = copy.deepcopy(model.state_dict())
    other = {k: torch.randn_like(v) for k, v in own.items()}
    with swap_in(model, other):
        assert torch.equal(model.weight, other["weight"])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in own.items())


def _bn_state(seed):
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(5, 5, generator=g), "num_batches_tracked": torch.tensor(seed)}


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_k_copies_of_one_checkpoint_average_to_it_exactly(k):
    s = _bn_state(0)
    out = average_state_dicts([s] * k)
    assert torch.equal(out["w"], s["w"]) and out["w"].dtype == torch.float32


def test_checkpoint_average_by_hand(tmp_path):
    states = [
        {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)},
        {"w": torch.tensor([2.0, 4.0]), "n": torch.tensor(5)},
        {"w": torch.tensor([6.0, 0.0]), "n": torch.tensor(9)},
    ]
    paths = []
    for i, s in enumerate(states):
        paths.append(tmp_path / f"ckpt{i}.pt")
        torch.save({"model": s, "step": i}, paths[-1])
    out = average_checkpoint_files(paths, last=2)
    assert out["w"].tolist() == [4.0, 2.0] and int(out["n"]) == 9
    assert average_checkpoint_files(paths)["w"].tolist() == [3.0, 2.0]


def test_swa_running_mean_matches_torch_averaged_model():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)).double()
    ref = AveragedModel(model)
    ours = copy.deepcopy(model)
    g = torch.Generator().manual_seed(0)
    for n in range(6):
        for p in model.parameters():
            p.data.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
        ref.update_parameters(model)
        ema_update_(ours, model, n / (n + 1))
    for a, b in zip(ours.parameters(), ref.module.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=1e-12)


def test_swa_recomputes_bn_on_seen_inputs():
    run = Run([SWA(start=0.5, every_epochs=0.25, bn_batches=4)], total_steps=20)
    run.train(20)
    swa = run.tricks[0]
    assert swa.updates == 3  # boundaries after steps 11, 15, 19
    swa.predictors()
    with torch.no_grad():  # cumulative BN averages = mean over batches of batch mean / unbiased variance
        hs = [swa.avg.stem[1](swa.avg.stem[0](x)) for x in swa.seen]
    assert torch.allclose(
        swa.avg.stem[2].running_mean, torch.stack([h.mean(0) for h in hs]).mean(0), atol=1e-5
    )
    assert torch.allclose(swa.avg.stem[2].running_var, torch.stack([h.var(0) for h in hs]).mean(0), rtol=1e-4)


def test_swa_lr_override():
    swa = SWA(start=0.5, swa_lr=0.05)
    swa.first_step = 10
    assert swa.lr(9, {"lr_scale": 1.0}, 0.1) == 0.1 and swa.lr(10, {"lr_scale": 0.5}, 0.1) == 0.025


MAKERS = {
    "ema": lambda: [EMA(decay=0.9)],
    "ema_copy": lambda: [EMA(decay=0.9, opennmt_warmup=False, buffers="copy")],
    "checkpoint_average": lambda: [CheckpointAverage(last=3, every_epochs=0.25)],
    "swa": lambda: [SWA(start=0.5, every_epochs=0.25, swa_lr=0.05, bn_batches=4)],
}


@pytest.mark.parametrize("name", MAKERS)
def test_resume_is_bit_identical(name):
    a, c = resume_equivalence(MAKERS[name], k=10)
    for run in (a, c):
        run.tricks[0].predictors()
    assert_same_state(a, c)


@pytest.mark.parametrize("name", MAKERS)
def test_averaged_predictor_trains(name):
    run = Run(MAKERS[name](), total_steps=40)
    before = run.clean_loss()
    run.train(40)
    (predict,) = run.tricks[0].predictors().values()
    assert run.clean_loss(predict) < 0.5 * before
