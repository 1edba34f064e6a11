"""The language-model task on synthetic text: causality, nats per token, learning, holdout, a spec run."""

from __future__ import annotations

import math

import torch

from repro.spec.schema import RunConfig
from repro.tasks.lm.model import causal_transformer
from repro.tasks.lm.task import _blocks, language_model_task, lm_loss, synthetic_lm
from repro.tasks.translation import tokenize as T
from tricks.hooks import LoopContext
from tricks.loop import LoopConfig, train
from tricks.optimizers import adamw
from tricks.smoothing import LabelSmoothing


def _cfg(**over) -> RunConfig:
    data = {"name": "synthetic_lm", "context": 16, "vocab_size": 200}
    base = {"task": "language-model", "model": {"name": "causal_transformer", "d_model": 32, "heads": 2,
                                                "layers": 1, "ff": 64},
            "data": data, "optimizer": {"name": "adamw", "lr": 0.003}, "batch_size": 16, "epochs": 3}
    return RunConfig.model_validate({**base, **over})


def test_a_position_never_sees_the_future():
    model = causal_transformer(50, 12, d_model=16, heads=2, layers=2, ff=32)
    model.reset_parameters(torch.Generator().manual_seed(0))
    ids = torch.randint(4, 50, (2, 12), generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[:, 7:] = (changed[:, 7:] + 5) % 50
    a, b = model(ids), model(changed)
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_blocks_are_the_stream_joined_with_eos():
    blocks = _blocks([[5, 6, 7], [8, 9]], context=2)
    # stream 5 6 7 </s> 8 9 </s>: blocks of context + 1 tokens starting every `context` tokens, so every
    # token after the first is predicted exactly once
    assert blocks.tolist() == [[5, 6, 7], [7, T.EOS, 8], [8, 9, T.EOS]]


def test_label_smoothing_composes_with_the_lm_loss():
    """Issue 24: lm_loss took only id tensors, and the label_smoothing trick hands it SmoothedTargets."""
    g = torch.Generator().manual_seed(0)
    logits, ids = torch.randn(2, 5, 11, generator=g), torch.randint(11, (2, 5), generator=g)
    smoothed = LabelSmoothing(eps=0.1).loss(lm_loss)(logits, ids)
    torch.testing.assert_close(smoothed, torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), ids.flatten(), label_smoothing=0.1))
    assert torch.equal(LabelSmoothing(eps=0.0).loss(lm_loss)(logits, ids), lm_loss(logits, ids))


def test_untrained_loss_is_log_vocab_and_training_learns_the_successors(tmp_path):
    cfg = _cfg()
    task = language_model_task(cfg, 0, torch.device("cpu"), tmp_path, torch.Generator().manual_seed(0))
    start = task.evaluate(task.model)
    # near-uniform predictions at init (N(0, 0.02) weights): the loss in nats is about log V
    assert abs(start["valid_loss"] - math.log(task.num_classes)) < 0.1
    assert math.isclose(start["valid_ppl"], math.exp(start["valid_loss"]))
    loop = LoopConfig(epochs=cfg.epochs, steps_per_epoch=task.steps_per_epoch)
    ctx = LoopContext(task.model, loop.total_steps, task.steps_per_epoch, task.num_classes, torch.Generator(),
                      torch.device("cpu"), {})

    def build(groups):
        return adamw(groups, lr=0.003, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum=0.0,
                     nesterov=False, total_steps=loop.total_steps)

    result = train(task.model, build, lambda s: 0.003, task.batches, task.evaluate, loop, ctx,
                   loss_fn=task.loss_fn)
    assert result.status == "ok"
    assert result.final["valid_loss"] < 0.6 * start["valid_loss"]
    assert len(result.curves["train_loss_all"]) == 3


def test_holdout_evaluates_on_training_blocks_left_out(tmp_path):
    full = synthetic_lm(tmp_path, context=16)
    task = language_model_task(_cfg(holdout=0.25), 0, torch.device("cpu"), tmp_path, torch.Generator())
    assert task.steps_per_epoch == (len(full.train) - math.ceil(0.25 * len(full.train))) // 16
