import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassCalibrationError

from repro.tasks.base import classification_metrics
from tricks.hooks import LoopContext, Trick
from tricks.loop import Checkpointer, LoopConfig, train
from tricks.precision import Precision

CPU = torch.device("cpu")
STEPS = 8


def data(seed=0, n=256):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=gen)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y


def setup(epochs=3, precision="fp32", seed=0, dropout=0.0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))
    x, y = data()
    data_gen = torch.Generator().manual_seed(1)

    def batches(epoch):
        perm = torch.randperm(len(x), generator=data_gen)
        return [(x[perm[i:i + 32]], y[perm[i:i + 32]]) for i in range(0, len(x), 32)]

    def evaluate(predict):
        return classification_metrics(predict, x, y, 2)

    cfg = LoopConfig(epochs=epochs, steps_per_epoch=STEPS, precision=Precision.create(precision, CPU),
                     check_every=3)
    ctx = LoopContext(model=model, total_steps=cfg.total_steps, steps_per_epoch=STEPS, num_classes=2,
                      generator=torch.Generator().manual_seed(2), device=CPU, schedule={})
    return model, batches, evaluate, cfg, ctx, data_gen


def sgd(groups):
    return torch.optim.SGD(groups, lr=0.1, momentum=0.9)


def run(epochs=3, dropout=0.0, **kw):
    model, batches, evaluate, cfg, ctx, data_gen = setup(epochs, dropout=dropout)
    result = train(model, sgd, lambda s: 0.1, batches, evaluate, cfg, ctx, data_generator=data_gen, **kw)
    return model, result


def test_loss_falls_and_curves_are_recorded():
    _, result = run()
    assert result.status == "ok"
    assert result.curves["epoch"] == [1, 2, 3]
    assert result.curves["train_loss"][-1] < result.curves["train_loss"][0]
    assert result.final["test_error"] < 10.0
    assert result.steps == 3 * STEPS and result.samples == 3 * 256


def test_lr_reaches_every_param_group_through_the_schedule_and_lr_hooks():
    seen = []

    class Halve(Trick):
        def param_groups(self, groups):
            params = groups[0]["params"]
            return [{"params": params[:2], "lr_scale": 1.0, "name": "low"},
                    {"params": params[2:], "lr_scale": 0.25, "name": "high"}]

        def lr(self, step, group, lr):
            return lr / 2

        def after_step(self, step):
            seen.append([g["lr"] for g in self.ctx.optimizer.param_groups])

    model, batches, evaluate, cfg, ctx, gen = setup(epochs=1)
    train(model, sgd, lambda s: 0.1 * (s + 1), batches, evaluate, cfg, ctx, [Halve()], data_generator=gen)
    assert seen[0] == pytest.approx([0.05, 0.0125])
    assert seen[-1] == pytest.approx([0.05 * STEPS, 0.0125 * STEPS])


def test_nan_loss_ends_the_run_as_diverged_at_the_first_bad_step():
    class Poison(Trick):
        def loss(self, loss_fn):
            return lambda logits, y: loss_fn(logits, y) * (math.nan if self.step >= 5 else 1.0)

        def setup(self, ctx):
            self.step = 0

        def after_step(self, step):
            self.step = step + 1

    model, batches, evaluate, cfg, ctx, gen = setup()
    result = train(model, sgd, lambda s: 0.1, batches, evaluate, cfg, ctx, [Poison()], data_generator=gen)
    assert result.status == "diverged"
    assert result.reason.endswith("at step 5")


class Crash(Exception):
    pass


def test_interrupted_run_resumes_bit_identical(tmp_path):
    # dropout draws from torch's global generator: the checkpoint must restore it too
    reference, ref_result = run(dropout=0.3)
    ckpt = Checkpointer(tmp_path / "ckpt.pt")

    def crash_mid_epoch(step):
        if step == STEPS + 3:          # in the second epoch, after one checkpoint
            raise Crash

    with pytest.raises(Crash):
        run(dropout=0.3, checkpoint=ckpt, on_step=crash_mid_epoch)
    assert ckpt.load()["epoch"] == 1
    resumed, result = run(dropout=0.3, checkpoint=ckpt)
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert result.curves == ref_result.curves
    assert result.final == ref_result.final


def test_checkpoint_loads_with_weights_only(tmp_path):
    ckpt = Checkpointer(tmp_path / "c.pt")
    run(epochs=1, checkpoint=ckpt)
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert state["epoch"] == 1 and not list(tmp_path.glob("*.tmp"))


def test_bf16_run_trains():
    model, batches, evaluate, cfg, ctx, gen = setup(precision="bf16")
    result = train(model, sgd, lambda s: 0.1, batches, evaluate, cfg, ctx, data_generator=gen)
    assert result.status == "ok" and result.final["test_error"] < 15.0


def test_metrics_against_closed_form_and_torchmetrics():
    # 4 samples, 2 classes; confidences 0.8, 0.8, 0.6, 0.9; correct, wrong, correct, correct
    probs = torch.tensor([[0.8, 0.2], [0.8, 0.2], [0.4, 0.6], [0.1, 0.9]])
    y = torch.tensor([0, 1, 1, 1])
    index = torch.arange(4).unsqueeze(1)   # the 'inputs' pick rows of probs, evaluated in 2 batches
    m = classification_metrics(lambda x: probs[x[:, 0]].log(), index, y, 2, batch_size=3)
    assert m["test_error"] == pytest.approx(25.0)
    nll = -(math.log(0.8) + math.log(0.2) + math.log(0.6) + math.log(0.9)) / 4
    assert m["test_nll"] == pytest.approx(nll, rel=1e-6)
    # bins of width 1/15: 0.8 and 0.8 share a bin (acc 0.5, conf 0.8); 0.6 and 0.9 alone
    ece = (2 * abs(0.8 - 0.5) + abs(0.6 - 1) + abs(0.9 - 1)) / 4
    assert m["test_ece"] == pytest.approx(ece, rel=1e-5)
    reference = MulticlassCalibrationError(num_classes=2, n_bins=15, norm="l1")(probs, y).item()
    assert m["test_ece"] == pytest.approx(reference, rel=1e-6)


def test_soft_targets_give_the_two_term_mixup_loss():
    logits = torch.randn(5, 3)
    ya, yb, lam = torch.tensor([0, 1, 2, 0, 1]), torch.tensor([2, 2, 0, 1, 1]), 0.3
    soft = lam * F.one_hot(ya, 3).float() + (1 - lam) * F.one_hot(yb, 3).float()
    from tricks.loop import cross_entropy
    expected = lam * F.cross_entropy(logits, ya) + (1 - lam) * F.cross_entropy(logits, yb)
    torch.testing.assert_close(cross_entropy(logits, soft), expected)


def test_a_cheaper_curve_evaluation_runs_before_the_last_and_leaves_nan_where_it_measures_nothing():
    model, batches, evaluate, cfg, ctx, gen = setup(epochs=3)
    calls = []

    def nll_only(predict):
        calls.append(len(calls))
        return {"test_nll": evaluate(predict)["test_nll"]}

    result = train(model, sgd, lambda s: 0.1, batches, evaluate, cfg, ctx, data_generator=gen,
                   evaluate_curve=nll_only)
    _, plain = run()   # the same training, evaluated in full at every epoch
    assert len(calls) == 2
    assert result.curves["test_nll"] == plain.curves["test_nll"]
    assert [math.isnan(v) for v in result.curves["test_error"]] == [True, True, False]
    assert result.curves["test_error"][-1] == plain.curves["test_error"][-1] == result.final["test_error"]
    assert len(result.curves["test_ece"]) == len(result.curves["epoch"]) == 3



class FirstDrawOfEachEpoch(Trick):
    """Draws from torch's global RNG at the first batch of every epoch (where dropout would draw first)."""

    def setup(self, ctx):
        self.steps, self.draws = 0, []

    def batch(self, x, y):
        if self.steps % STEPS == 0:
            self.draws.append(torch.rand(()).item())
        return x, y

    def after_step(self, step):
        self.steps += 1


def _first_draw(seed: int) -> float:
    torch.manual_seed(seed)
    return torch.rand(()).item()


def test_with_an_epoch_rng_seed_each_epoch_draws_from_torch_manual_seed_of_seed_plus_epoch():
    model, batches, evaluate, cfg, ctx, gen = setup(epochs=3)
    cfg.epoch_rng_seed = 1000
    trick = FirstDrawOfEachEpoch()
    train(model, sgd, lambda s: 0.1, batches, evaluate, cfg, ctx, [trick], data_generator=gen)
    assert trick.draws == [_first_draw(1000 + epoch) for epoch in range(3)]
