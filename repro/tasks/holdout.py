"""A validation split held out from a training set (RunConfig.holdout, set by the tuner, repro/jobs/tune.py).

The split is a fixed function of the training-set size and the fraction: the last ceil(fraction * n) indices
of a permutation from a generator with a fixed seed, the same for every run seed, grid point and machine.
A task with `holdout` trains on the rest and evaluates on the held-out part instead of its test split.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

HOLDOUT_SEED = 20_231_028


def holdout_indices(n: int, fraction: float) -> tuple[Tensor, Tensor]:
    """(kept, held out) index tensors of a set of n examples; both non-empty."""
    held = min(max(1, math.ceil(fraction * n)), n - 1)
    if n < 2:
        raise ValueError(f"cannot hold out a validation split from {n} example(s)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    return order[: n - held].sort().values, order[n - held:].sort().values
