"""Data-parallel training under torchrun: every job of a run trained on all ranks with DDP.

This module: the rank's view of the world, batch sharding and the DDP wrapper (used while training);
joining and leaving the process group is repro/execute/torchrun.py.

    torchrun --nproc-per-node N -m repro run SPEC --profile P         # N GPUs (NCCL) or N CPU procs (gloo)

torchrun starts N copies of the same command. Each one joins the process group, plans the same jobs,
and trains each job together with the others:

- the spec's `batch_size` B stays the *global* batch: rank r takes rows [r B/N, (r+1) B/N) of the batch
  one process would take (same permutation, same augmentation draws), so N ranks compute the update of
  one process with batch B; exactly so for models without BatchNorm, whose statistics are per rank
  unless the config sets `sync_batchnorm: true` (SyncBatchNorm, CUDA).
- DDP all-reduces (averages) the gradients during backward.
- only rank 0 writes records, checkpoints and the report; every rank reads the checkpoint to resume.
- collectives time out after REPRO_DIST_TIMEOUT seconds (default 300), and an exception on any rank
  propagates so torchrun stops the others: a failing rank ends the run with its error, not a hang.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from repro.errors import UserError


def world() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) outside it."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_distributed() -> bool:
    return world()[1] > 1


def shard(batch, rank: int, world_size: int):
    """Rank `rank`'s equal share (along dim 0) of every tensor in a batch (tensor, tuple, list or dict)."""
    if isinstance(batch, Tensor):
        n = batch.shape[0]
        if n % world_size:
            raise UserError(f"batch of {n} does not split over {world_size} ranks: make batch_size a "
                            f"multiple of the number of processes")
        size = n // world_size
        return batch[rank * size:(rank + 1) * size]
    if isinstance(batch, (tuple, list)):
        return type(batch)(shard(b, rank, world_size) for b in batch)
    if isinstance(batch, dict):
        return {k: shard(v, rank, world_size) for k, v in batch.items()}
    return batch


def sharded(batches: Callable[[int], Iterable]) -> Callable[[int], Iterable]:
    """epoch -> this rank's shard of each of that epoch's global batches."""
    rank, world_size = world()

    def epoch_batches(epoch: int):
        for x, y in batches(epoch):
            yield shard(x, rank, world_size), shard(y, rank, world_size)
    return epoch_batches


def ddp_wrapper(sync_batchnorm: bool = False, freezing: bool = False) -> Callable[[nn.Module], nn.Module]:
    """The loop's `wrap`: the module that runs the training forward/backward, gradients all-reduced.

    With `freezing` tricks (gradual unfreezing, FreezeOut) layers are frozen before and thawed after
    this point, so DDP is built with every parameter trainable and `find_unused_parameters`: frozen
    layers then get no gradient on any rank, and thawed ones are all-reduced like the rest.
    """
    def wrap(model: nn.Module) -> nn.Module:
        if sync_batchnorm:
            if model_device(model).type != "cuda":
                raise UserError("sync_batchnorm: true needs CUDA (SyncBatchNorm has no CPU kernel); "
                                "set it false on CPU")
            # swaps the BatchNorm children in place, keeping their parameters; returns a new module
            # only when `model` itself is a BatchNorm, which no registered model is
            if nn.SyncBatchNorm.convert_sync_batchnorm(model) is not model:
                raise UserError("sync_batchnorm: the model itself is a BatchNorm layer; wrap it in a module")
        frozen = [p for p in model.parameters() if not p.requires_grad]
        for p in frozen:
            p.requires_grad_(True)
        device_ids = [model_device(model).index] if model_device(model).type == "cuda" else None
        ddp = nn.parallel.DistributedDataParallel(model, device_ids=device_ids,
                                                  find_unused_parameters=freezing)
        for p in frozen:
            p.requires_grad_(False)
        return ddp
    return wrap


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
