"""LR range test: ramp and smoothing by hand, suggestions on known curves, divergence, exact restore, and each
step the loop's (observe_loss, the run's memory format and precision)."""

import copy
import math

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from trick_harness import BATCH, make_data, make_model

from tricks.loop import LoopConfig
from tricks.lr_finder import (
    lr_at,
    lr_range_test,
    plot_range_test,
    smooth_losses,
    suggest_min_over_10,
    suggest_steepest,
)
from tricks.precision import Precision

matplotlib.use("Agg")


def test_ramp_by_hand():
    assert lr_at(0, 101, 1e-6, 1.0) == pytest.approx(1e-6, rel=1e-12)
    assert lr_at(50, 101, 1e-6, 1.0) == pytest.approx(1e-3, rel=1e-12)
    assert lr_at(100, 101, 1e-6, 1.0) == pytest.approx(1.0, rel=1e-12)
    assert lr_at(25, 101, 0.0, 2.0, "linear") == pytest.approx(0.5, rel=1e-12)
    with pytest.raises(ValueError):
        lr_at(0, 2, 0.1, 1.0, "cosine")


def test_smoothing_is_debiased():
    assert smooth_losses([1.0, 3.0], beta=0.5) == pytest.approx([1.0, 1.75 / 0.75], rel=1e-12)
    assert smooth_losses([2.5] * 50) == pytest.approx([2.5] * 50, rel=1e-12)  # no bias towards 0


def test_suggestions_on_known_curves():
    x = np.linspace(-7, 1, 161)
    lrs = list(10.0**x)
    steep = list(1 - np.tanh(x + 3))  # falls fastest at log10 lr = -3
    assert suggest_steepest(lrs, steep) == pytest.approx(1e-3, rel=1e-9)
    bowl = list((x + 1) ** 2)  # minimum at lr 0.1
    assert suggest_min_over_10(lrs, bowl) == pytest.approx(0.01, rel=1e-9)


def _setup(seed=0):
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = make_data()
    g = torch.Generator().manual_seed(seed)
    batches = ((x[i], y[i]) for i in iter(lambda: torch.randint(len(x), (BATCH,), generator=g), None))
    return model, opt, batches


def test_model_and_optimizer_restored_exactly():
    model, opt, batches = _setup()
    model(make_data(n=BATCH)[0]).sum().backward()
    opt.step()  # some momentum state to restore
    before_model, before_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    model.eval()
    res = lr_range_test(model, opt, F.cross_entropy, batches, num_steps=30)
    assert len(res.lrs) > 10 and not model.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before_model.items())
    after = opt.state_dict()
    assert after["param_groups"] == before_opt["param_groups"]
    assert all(
        torch.equal(before_opt["state"][i]["momentum_buffer"], s["momentum_buffer"])
        for i, s in after["state"].items()
    )


def test_stops_on_divergence_and_suggests_inside_range():
    model, opt, batches = _setup()
    res = lr_range_test(model, opt, F.cross_entropy, batches, start_lr=1e-4, end_lr=1e4, num_steps=200)
    assert res.diverged and len(res.lrs) < 200
    assert 1e-4 <= res.steepest <= 1e4 and 1e-5 <= res.min_over_10 <= 1e3
    assert min(res.smoothed) < res.smoothed[0]  # the loss did fall before it blew up
    fig = plot_range_test(res)
    assert len(fig.axes[0].lines) >= 3
    assert all(math.isfinite(v) for v in res.lrs)


class Probe(nn.Module):
    """A conv net that notes, per forward, whether its input is channels_last and whether autocast is on."""

    def __init__(self):
        super().__init__()
        self.conv, self.head = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 16, 3)
        self.seen: list[tuple[bool, torch.dtype]] = []

    def forward(self, x):
        out = self.head(self.conv(x).flatten(1))
        self.seen.append((x.is_contiguous(memory_format=torch.channels_last), out.dtype))
        return out


class LossReader(torch.optim.SGD):
    def observe_loss(self, loss):
        self.read = getattr(self, "read", 0) + 1


def test_each_step_is_the_loops_step_observe_loss_memory_format_and_precision():
    torch.manual_seed(0)
    model = Probe()
    opt = LossReader(model.parameters(), lr=0.01)
    x, y = make_data(n=BATCH)
    run = LoopConfig(epochs=1, steps_per_epoch=5, precision=Precision("bf16", torch.device("cpu")),
                     channels_last=True)
    res = lr_range_test(model, opt, F.cross_entropy, ((x, y) for _ in range(5)), num_steps=5, run=run)
    assert len(res.lrs) == 5 and opt.read == 5                  # learned optimizers read every loss
    assert model.seen == [(True, torch.bfloat16)] * 5            # channels_last inputs, bf16 autocast
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last)
