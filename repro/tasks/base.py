"""What every task plugin hands the jobs layer: a TaskSetup, plus the shared classification metrics.

A task (image/, text/, translation/, lm/) turns a resolved config into a model, its batches, its loss (with
its ignore mask) and its evaluation; the jobs layer and the loop never look inside the data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.functional.classification import multiclass_calibration_error

from tricks.hooks import LossFn, Predictor
from tricks.loop import cross_entropy
from tricks.smoothing import SmoothedTargets

ECE_BINS = 15
EVAL_BATCH = 1000


@dataclass
class TaskSetup:
    model: nn.Module
    batches: Callable[[int], Iterable[tuple[Tensor, Tensor]]]   # epoch -> batches
    evaluate: Callable[[Predictor], dict]
    steps_per_epoch: int
    num_classes: int
    channels_last_default: bool
    layer_groups: list[nn.Module] | None = None
    loss_fn: LossFn = cross_entropy       # loss_fn(model(x), y): class ids, or soft targets [..., K]
                                          # (mixup, label smoothing) with ignored positions kept out
    count: Callable[[object, Tensor], int] = lambda x, y: len(y)  # throughput unit per batch
    examples: Callable[[Predictor], list[dict]] | None = None     # a few outputs to show in the report
    evaluate_curve: Callable[[Predictor], dict] | None = None     # cheaper evaluation before the last
                                                                  # (tricks.loop.train), for the curves
    dropout_seed_per_epoch: bool = False  # torch's global RNG reseeded before every epoch, not once per job
                                          # (repro.jobs.build.seed_global_rng; the text task's records)


def classification_metrics(predict: Predictor, x: Tensor, y: Tensor, num_classes: int,
                           batch_size: int = EVAL_BATCH) -> dict:
    """Top-1 error in %, NLL in nats per sample, ECE (15 equal-width bins, top label, L1)."""
    log_probs = torch.cat([F.log_softmax(predict(x[i:i + batch_size]).float(), dim=-1)
                           for i in range(0, len(x), batch_size)])
    error = (log_probs.argmax(-1) != y).float().mean().item() * 100
    nll = F.nll_loss(log_probs, y).item()
    ece = multiclass_calibration_error(log_probs.exp(), y, num_classes=num_classes, n_bins=ECE_BINS,
                                       norm="l1").item()
    return {"test_error": error, "test_nll": nll, "test_ece": ece}


def per_token(target: Tensor | SmoothedTargets) -> Tensor | SmoothedTargets:
    """Sequence targets, one row per token: ids [B, T] -> [B*T], soft targets [B, T, K] -> [B*T, K], and
    label-smoothed ids (tricks.smoothing.SmoothedTargets) with their ids flattened."""
    if isinstance(target, SmoothedTargets):
        return SmoothedTargets(target.ids.flatten(), target.eps)
    return target.flatten(0, 1) if target.is_floating_point() else target.flatten()


def stable_hash(text: str) -> int:
    """A 32-bit hash of `text` that is the same on every machine and run (sha1, unlike Python's hash)."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16)
