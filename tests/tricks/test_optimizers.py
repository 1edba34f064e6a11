"""The registered optimizers against their own libraries, and the loop's optimizer protocols.

Each registered name, built the way a job builds it (repro.jobs.build.make_optimizer from a spec's
optimizer section), must move the parameters exactly as the library optimizer constructed directly.
"""

from __future__ import annotations

import dadaptation
import prodigyopt
import pytest
import schedulefree
import torch
from torch import nn

from repro.jobs.build import make_optimizer
from repro.spec.schema import OptimizerConfig
from tricks.hooks import LoopContext
from tricks.loop import LoopConfig, train
from tricks.optimizers import MissingDependency, observe_loss, set_mode


def _problem(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(64, 5, generator=g), torch.randint(0, 3, (64,), generator=g)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for p in model.parameters():
            nn.init.normal_(p, std=0.5)
    return model, x, y


def _train(model, opt, x, y, steps: int = 15) -> list[torch.Tensor]:
    for i in range(steps):
        set_mode(opt, training=True)
        batch = slice(8 * (i % 8), 8 * (i % 8) + 8)
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    set_mode(opt, training=False)
    return [p.detach().clone() for p in model.parameters()]


CASES = [
    ({"name": "schedulefree_adamw", "lr": 0.01, "weight_decay": 0.01, "warmup_steps": 3},
     lambda ps: schedulefree.AdamWScheduleFree(ps, lr=0.01, weight_decay=0.01, warmup_steps=3)),
    ({"name": "prodigy", "lr": 1.0, "d_coef": 0.5},
     lambda ps: prodigyopt.Prodigy(ps, lr=1.0, d_coef=0.5)),
    ({"name": "dadapt_adam", "lr": 1.0, "decouple": True, "weight_decay": 0.001},
     lambda ps: dadaptation.DAdaptAdam(ps, lr=1.0, decouple=True, weight_decay=0.001)),
]


@pytest.mark.parametrize(("section", "reference"), CASES, ids=[c[0]["name"] for c in CASES])
def test_registered_optimizer_moves_parameters_as_its_library(section, reference):
    ours_model, x, y = _problem()
    ref_model, _, _ = _problem()
    ours = make_optimizer(OptimizerConfig.model_validate(section), total_steps=15)(
        [{"params": list(ours_model.parameters()), "lr_scale": 1.0, "name": "all"}])
    ref = reference(list(ref_model.parameters()))
    assert type(ours) is type(ref)
    start = [p.detach().clone() for p in ref_model.parameters()]
    got, want = _train(ours_model, ours, x, y), _train(ref_model, ref, x, y)
    assert any(not torch.equal(a, b) for a, b in zip(want, start, strict=True))   # it did train
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_schedulefree_eval_mode_holds_the_averaged_point_and_train_mode_restores_y():
    model, x, y = _problem()
    opt = schedulefree.AdamWScheduleFree(model.parameters(), lr=0.05)
    _train(model, opt, x, y)                      # ends in eval mode: parameters = x
    at_x = [p.detach().clone() for p in model.parameters()]
    set_mode(opt, training=True)                  # parameters = y (the gradient point)
    at_y = [p.detach().clone() for p in model.parameters()]
    assert any(not torch.allclose(a, b) for a, b in zip(at_x, at_y, strict=True))
    set_mode(opt, training=False)
    for a, b in zip(at_x, [p.detach() for p in model.parameters()], strict=True):
        torch.testing.assert_close(a, b)
    # the library's own definition of x: the z / y interpolation, y = (1 - beta1) z + beta1 x
    beta1 = opt.param_groups[0]["betas"][0]
    set_mode(opt, training=True)
    for p, x_point in zip(model.parameters(), at_x, strict=True):
        z = opt.state[p]["z"]
        torch.testing.assert_close(p.detach(), (1 - beta1) * z + beta1 * x_point, rtol=1e-5, atol=1e-6)


class _Recorder(torch.optim.SGD):
    """An SGD that logs the mode calls and losses the loop hands it."""

    calls: list

    def train(self):
        self.calls.append("train")

    def eval(self):
        self.calls.append("eval")

    def observe_loss(self, loss):
        self.calls.append("loss")


def test_loop_switches_modes_around_training_evaluation_and_checkpoints():
    model, x, y = _problem()
    calls: list = []

    def build(groups):
        opt = _Recorder(groups, lr=0.1)
        opt.calls = calls
        return opt

    def evaluate(predict):
        calls.append("evaluate")
        return {"test_error": 0.0}

    cfg = LoopConfig(epochs=2, steps_per_epoch=2)
    ctx = LoopContext(model, cfg.total_steps, 2, 3, torch.Generator(), torch.device("cpu"), {})
    train(model, build, lambda s: 0.1, lambda e: [(x[:8], y[:8]), (x[8:16], y[8:16])], evaluate, cfg, ctx)
    assert calls == ["train", "loss", "loss", "eval", "evaluate"] * 2


def test_plain_optimizers_ignore_the_protocols():
    model, x, y = _problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    set_mode(opt, training=False)
    observe_loss(opt, torch.tensor(1.0))     # no error, nothing changes


def test_velo_without_pylo_says_what_to_install_in_one_line(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pylo", None)   # as on a machine without PyLO
    build = make_optimizer(OptimizerConfig.model_validate({"name": "velo", "lr": 1.0}), total_steps=700)
    with pytest.raises(MissingDependency) as err:
        build([{"params": [nn.Parameter(torch.zeros(2))], "lr_scale": 1.0, "name": "all"}])
    message = str(err.value)
    assert "\n" not in message and "pip install git+https://github.com/Belilovsky-Lab/pylo" in message
    assert "step budget 700" in message and "Hugging Face" in message
