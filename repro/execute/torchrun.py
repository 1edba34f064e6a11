"""Under torchrun: join the process group before the jobs, leave it after (see repro/jobs/parallel.py)."""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist

from repro.hardware import pick_device
from repro.jobs.parallel import is_distributed, world

__all__ = ["init", "is_distributed", "shutdown", "world"]


def init(device_name: str) -> torch.device:
    """Join the process group (NCCL on CUDA, gloo on CPU) and return this rank's device."""
    device = pick_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        timeout = timedelta(seconds=float(os.environ.get("REPRO_DIST_TIMEOUT", "300")))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout)
    return device


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
