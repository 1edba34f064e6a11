"""The image-classification task: an image dataset (data.py), a model (models.py), top-1/NLL/ECE metrics."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import torch

from repro.tasks.base import TaskSetup, classification_metrics
from repro.tasks.holdout import holdout_indices
from repro.tasks.image.data import load_dataset, steps_per_epoch, train_batches
from repro.tasks.image.models import build_model
from tricks.hooks import Predictor


@lru_cache(maxsize=4)
def _cached_dataset(data_key: str, data_root: str, device: str):
    return load_dataset(json.loads(data_key), Path(data_root), torch.device(device))


def image_classification(cfg, seed: int, device: torch.device, data_root: Path,
                         data_generator: torch.Generator) -> TaskSetup:
    data_cfg = cfg.data.model_dump()
    data = _cached_dataset(json.dumps(data_cfg, sort_keys=True), str(data_root), str(device))
    if cfg.holdout:   # tuning: train on the rest of the training set, evaluate on the held-out split
        keep, held = (i.to(data.train_x.device) for i in holdout_indices(len(data.train_y), cfg.holdout))
        data = replace(data, train_x=data.train_x[keep], train_y=data.train_y[keep],
                       test_x=data.train_x[held], test_y=data.train_y[held])
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
