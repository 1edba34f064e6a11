"""A tiny stand-in for tricks/loop.py that drives trick adapters through every hook, so the trick tests
do not depend on the real loop: a 3-group MLP on 4x4 'images' of Gaussian class clusters. The hooks run
in the loop's one order and through its one step body (tricks.hooks.HookSequence.run_step and .update),
so the harness cannot drift from the loop."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from tricks.hooks import HookSequence, LoopContext, Trick
from tricks.loop import cross_entropy
from tricks.precision import Precision
from tricks.schedules import build_schedule

K, BATCH = 3, 32


class TinyNet(nn.Module):
    """forward(x) == the layer groups in sequence, head last (as repro/tasks/image/models.py promises)."""

    def __init__(self, k: int = K, width: int = 32):
        super().__init__()
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(16, width), nn.BatchNorm1d(width), nn.ReLU())
        self.body = nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU())
        self.head = nn.Linear(width, k)

    def layer_groups(self) -> list[nn.Module]:
        return [self.stem, self.body, self.head]

    def forward(self, x):
        for g in self.layer_groups():
            x = g(x)
        return x


def make_model(seed: int = 0) -> TinyNet:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return TinyNet()


def make_data(n: int = 512, seed: int = 0):
    """Linearly separable-ish clusters: x = mu[y] + noise, shaped [n, 1, 4, 4]."""
    g = torch.Generator().manual_seed(seed)
    mu = 1.5 * torch.randn(K, 1, 4, 4, generator=g)
    y = torch.randint(K, (n,), generator=g)
    return mu[y] + torch.randn(n, 1, 4, 4, generator=g), y


class Run:
    """One training run: model, optimizer, tricks and the data-order generator; resumable via state()."""

    def __init__(self, tricks: list[Trick], total_steps: int = 40, lr: float = 0.1, schedule=None, seed=0):
        self.x, self.y = make_data(seed=seed)
        self.model, self.tricks, self.total = make_model(seed), tricks, total_steps
        self.sched_cfg = schedule or {"name": "constant"}
        self.schedule = build_schedule(self.sched_cfg, lr, total_steps, len(self.x) // BATCH)
        self.gen = torch.Generator().manual_seed(seed + 1)
        ctx = LoopContext(
            self.model,
            total_steps,
            len(self.x) // BATCH,
            K,
            self.gen,
            torch.device("cpu"),
            self.sched_cfg,
            layer_groups=self.model.layer_groups(),
        )
        self.hooks = HookSequence(tricks)
        groups = self.hooks.prepare(ctx, [{"params": list(self.model.parameters()), "lr_scale": 1.0,
                                           "name": "all"}])
        self.opt = torch.optim.SGD(groups, lr=lr, momentum=0.9)
        ctx.optimizer = self.opt
        self.loss_fn = self.hooks.wrap_loss(cross_entropy)   # the loop's default task loss
        self.precision = Precision("fp32", torch.device("cpu"))
        self.step, self.losses = 0, []

    def train(self, steps: int) -> list[float]:
        self.model.train()
        for _ in range(steps):
            idx = torch.randint(len(self.x), (BATCH,), generator=self.gen)
            base_lr = self.schedule(self.step)
            loss = self.hooks.run_step(self.step, self.opt, base_lr, self.x[idx], self.y[idx], self._update)
            self.losses.append(loss.item())
            self.step += 1
        return self.losses

    def _update(self, x, y):
        """The loop's step body (forward, backward, after_backward, optimizer step): step 3 of run_step."""
        return self.hooks.update(self.model, self.opt, self.loss_fn, self.precision, x, y)

    def clean_loss(self, predictor=None) -> float:
        """Mean NLL on the training set of the model (or of a predictor returning log-probs)."""
        self.model.eval()
        with torch.no_grad():
            logp = predictor(self.x) if predictor else self.model(self.x).log_softmax(-1)
        self.model.train()
        return F.nll_loss(logp, self.y).item()

    def state(self) -> dict:
        return copy.deepcopy(
            {
                "model": self.model.state_dict(),
                "opt": self.opt.state_dict(),
                "step": self.step,
                "gen": self.gen.get_state(),
                "tricks": [t.state_dict() for t in self.tricks],
            }
        )

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for t, s in zip(self.tricks, state["tricks"], strict=True):
            t.load_state_dict(s)
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])
        self.step = state["step"]


def resume_equivalence(make_tricks, k: int = 10, **run_kwargs) -> tuple[Run, Run]:
    """Run 2k steps in one go, and k steps + save + load into fresh objects + k steps; return both runs."""
    a = Run(make_tricks(), total_steps=2 * k, **run_kwargs)
    a.train(2 * k)
    b = Run(make_tricks(), total_steps=2 * k, **run_kwargs)
    b.train(k)
    state = b.state()
    c = Run(make_tricks(), total_steps=2 * k, **run_kwargs)
    c.load(state)
    c.train(k)
    return a, c


def assert_same_state(a: Run, b: Run) -> None:
    for (n, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(p, q), n
    for ta, tb in zip(a.tricks, b.tricks, strict=True):
        _assert_equal(ta.state_dict(), tb.state_dict())


def _assert_equal(x, y) -> None:
    if isinstance(x, dict):
        assert x.keys() == y.keys()
        for k in x:
            _assert_equal(x[k], y[k])
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y)
        for u, v in zip(x, y, strict=True):
            _assert_equal(u, v)
    elif isinstance(x, torch.Tensor):
        assert torch.equal(x, y)
    else:
        assert x == y
