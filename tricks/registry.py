"""Trick names used in specs -> adapter classes, constructed as cls(**spec_kwargs)."""

from __future__ import annotations

import inspect

from tricks.averaging import EMA, SWA, CheckpointAverage
from tricks.clipping import ClipGradNorm
from tricks.ensembles import SnapshotEnsemble
from tricks.finetune import ChainThaw, DiscriminativeLR, GradualUnfreezing, LastLayers
from tricks.freezeout import FreezeOut
from tricks.hooks import Trick
from tricks.mixup import CutMix, Mixup
from tricks.smoothing import LabelSmoothing

TRICKS: dict[str, type[Trick]] = {
    cls.name: cls
    for cls in (
        LabelSmoothing,
        Mixup,
        CutMix,
        EMA,
        CheckpointAverage,
        SWA,
        SnapshotEnsemble,
        FreezeOut,
        DiscriminativeLR,
        GradualUnfreezing,
        ChainThaw,
        LastLayers,
        ClipGradNorm,
    )
}


def trick_kwargs(name: str) -> dict[str, object]:
    """The keyword arguments a spec may give trick `name`, with their defaults."""
    return {k: p.default for k, p in inspect.signature(TRICKS[name]).parameters.items()}


def build_trick(cfg: dict) -> Trick:
    """cfg = {"name": ..., **kwargs} -> a fresh adapter."""
    if cfg["name"] not in TRICKS:
        raise ValueError(f"unknown trick {cfg['name']!r}; known: {', '.join(TRICKS)}")
    return TRICKS[cfg["name"]](**{k: v for k, v in cfg.items() if k != "name"})
