"""Tasks: how a resolved config becomes a model, its batches and its evaluation.

Each task gives the runner a `TaskSetup`; the runner and the loop never look inside the data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.functional.classification import multiclass_calibration_error

from repro.textcls import text_classification_task
from repro.translation import translation_task
from tricks.hooks import LossFn, Predictor
from tricks.loop import cross_entropy

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
    loss_fn: LossFn = cross_entropy                              # loss_fn(model(x), y)
    count: Callable[[object, Tensor], int] = lambda x, y: len(y)  # throughput unit per batch
    examples: Callable[[Predictor], list[dict]] | None = None     # a few outputs to show in the report


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


@lru_cache(maxsize=4)
def _cached_dataset(data_key: str, data_root: str, device: str):
    import json

    from repro.data import load_dataset
    return load_dataset(json.loads(data_key), Path(data_root), torch.device(device))


def image_classification(cfg, seed: int, device: torch.device, data_root: Path,
                         data_generator: torch.Generator) -> TaskSetup:
    import json

    from repro.data import steps_per_epoch, train_batches
    from repro.models import build_model

    data_cfg = cfg.data.model_dump()
    data = _cached_dataset(json.dumps(data_cfg, sort_keys=True), str(data_root), str(device))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)   # same seed -> same init in every arm
        model = build_model(cfg.model.model_dump(), data.num_classes, data.in_channels).to(device)
    augment = list(cfg.data.augment)

    def batches(epoch: int):
        return train_batches(data, cfg.batch_size, augment, data_generator)

    def evaluate(predict: Predictor) -> dict:
        return classification_metrics(predict, data.test_x, data.test_y, data.num_classes)

    groups = model.layer_groups() if hasattr(model, "layer_groups") else None
    return TaskSetup(model, batches, evaluate, steps_per_epoch(data, cfg.batch_size), data.num_classes,
                     channels_last_default=True, layer_groups=groups)


TASKS: dict[str, Callable[..., TaskSetup]] = {"image-classification": image_classification,
                                               "translation": translation_task,
                                               "text-classification": text_classification_task}
