"""Label smoothing composes with the translation task's loss (issue #13), end to end through the runner.

The task owns its loss and its ignore mask (padding); the label_smoothing trick only turns the targets into
smoothed ones. So an eps = 0 arm trains exactly like the plain arm, and padded positions carry no loss and
no gradient at any eps. (Before, the trick replaced the loss with one ignoring id -100 while padding is id 0:
the smoothed arms of noam_transformer counted padding as targets.)
"""

from __future__ import annotations

import json

import pytest
import torch
from tiny_spec import TRANSLATION_BASE, write_tiny_translation_spec

from repro.cli import main
from repro.jobs.build import build_training
from repro.jobs.plan import plan
from repro.tasks.translation import tokenize as T
from tricks.smoothing import LabelSmoothing

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]

ARMS = {"plain": {}, "ls0": {"tricks": [{"name": "label_smoothing", "eps": 0.0}]},
        "ls": {"tricks": [{"name": "label_smoothing", "eps": 0.1}]}}


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "mt_ls.yaml"
    return write_tiny_translation_spec(path, ARMS, "ls0", "plain", batch_size=128, epochs=2,
                                       data={**TRANSLATION_BASE["data"], "subset": 120})


def test_eps_zero_arm_trains_to_exactly_the_plain_arms_loss(spec, tmp_path):
    dirs = ["--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data")]
    assert main(["run", str(spec), "--profile", "smoke", "--arms", "plain,ls0", "--no-report", *dirs]) == 0
    plain, ls0 = (json.loads((tmp_path / f"res/runs/mt_ls/smoke/{arm}/seed0.json").read_text())
                  for arm in ("plain", "ls0"))
    assert plain["status"] == ls0["status"] == "ok"
    assert ls0["curves"]["train_loss"] == plain["curves"]["train_loss"]      # exactly, every epoch
    assert ls0["final"] == plain["final"]


def test_padding_carries_no_loss_and_no_gradient(spec, tmp_path):
    _, jobs = plan([spec], "smoke", ["ls"], [0])
    built = build_training(jobs[0], torch.device("cpu"), tmp_path / "data")
    x, y = next((x, y) for x, y in built.task.batches(0) if (y == T.PAD).any())   # a batch with padding
    pad = y == T.PAD
    assert pad.any() and (~pad).any()
    loss_fn = LabelSmoothing(eps=0.1).loss(built.task.loss_fn)
    logits = built.task.model(x).detach().requires_grad_()
    loss = loss_fn(logits, y)
    loss.backward()
    assert torch.count_nonzero(logits.grad[pad]) == 0 and torch.count_nonzero(logits.grad[~pad]) > 0
    moved = logits.detach().clone()
    moved[pad] = torch.randn_like(moved[pad]) * 10      # anything at padded positions
    assert torch.equal(loss_fn(moved, y), loss.detach())
    ref = torch.nn.functional.cross_entropy(logits.detach()[~pad], y[~pad], label_smoothing=0.1)
    assert torch.allclose(loss.detach(), ref, rtol=1e-6, atol=0)   # smoothed over the real tokens only
