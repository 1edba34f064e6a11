"""Where a result was measured: device, library versions, CPU (its instruction set and bf16 flags) or GPU
(name, compute capability), threads, git commit. The device is picked here (pick_device), once per process."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import subprocess
from functools import cache
from pathlib import Path

import torch

from repro.errors import UserError

REPO = Path(__file__).resolve().parent.parent


def pick_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda when there is one, else cpu; 'cuda:N' is checked to exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is visible here; use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UserError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    return device


@cache
def _cpuinfo(key: str) -> str | None:
    """The first value of `key` in /proc/cpuinfo (None off Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_flag(flag: str) -> bool | None:
    """Whether the CPU lists `flag` (amx_bf16, avx512_bf16, ...) in /proc/cpuinfo; None where unknown."""
    flags = _cpuinfo("flags")
    return None if flags is None else flag in flags.split()


@cache
def onednn_version() -> str | None:
    """oneDNN's (formerly MKL-DNN) version in this torch build, from torch.__config__.show()."""
    if not torch.backends.mkldnn.is_available():
        return None
    found = re.search(r"(?:oneDNN|MKL-DNN) v(\S+)", torch.__config__.show())
    return found.group(1) if found else None


def processor_facts(device: torch.device) -> dict:
    """The instruction set the kernels run with: the CPU's capability and bf16 flags (their values on a CUDA
    job describe the host), the GPU's name and compute capability on CUDA (None on a CPU)."""
    gpu = device.type == "cuda"
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "amx_bf16": cpu_flag("amx_bf16"),
        "avx512_bf16": cpu_flag("avx512_bf16"),
        "gpu_name": torch.cuda.get_device_name(device) if gpu else None,
        "compute_capability": ".".join(map(str, torch.cuda.get_device_capability(device))) if gpu else None,
        "cudnn": torch.backends.cudnn.version() if gpu else None,
        "onednn": onednn_version(),
    }


def fingerprint(device: torch.device) -> dict:
    """The facts a speed number depends on (repro.record.HARDWARE_FACTS: the ones added in version 3)."""
    info = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model(),
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "python": platform.python_version(),
        **processor_facts(device),
    }
    info["id"] = fingerprint_id(info)
    return info


def fingerprint_id(info: dict) -> str:
    """A short, file-name-safe name for a hardware + software combination."""
    raw = f"{info['device_name']}|{info['threads']}|torch{info['torch']}|cuda{info['cuda']}"
    slug = "".join(c if c.isalnum() else "-" for c in info["device_name"].lower()).strip("-")
    return f"{slug[:40]}-{info['threads']}t-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"


# the code a record was made with: everything but results/, where a long run writes (and so changes
# committed) records while it goes on; those changes are data, not a "-dirty" commit
CODE = ("--", ".", ":(exclude)results")


@cache
def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", *CODE], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


PATCH_LIMIT = 20_000  # bytes: a smaller uncommitted diff is stored whole in each record


@cache
def git_diff() -> tuple[str | None, str | None]:
    """(sha256 of `git diff HEAD`, the diff itself when under PATCH_LIMIT bytes): traces a "-dirty" commit.

    (None, None) for a clean tree or outside a checkout.
    """
    try:
        out = subprocess.run(["git", "diff", "HEAD", "--no-color", "--no-ext-diff", *CODE], cwd=REPO,
                             capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None, None
    if out.returncode != 0 or not out.stdout:
        return None, None
    patch = out.stdout
    small = patch.decode("utf-8", "replace") if len(patch) < PATCH_LIMIT else None
    return hashlib.sha256(patch).hexdigest(), small
