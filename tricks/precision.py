"""Precision policy: fp32, bf16 autocast, or fp16 autocast with dynamic loss scaling.

Mixed precision (Micikevicius et al., ICLR 2018, arXiv 1710.03740): FP32 master weights, the forward
and backward pass in 16 bits, FP32 accumulation, and for fp16 a loss scale S so that small gradients
do not flush to zero: backward on S * loss, unscale the gradients by 1/S, skip the step and halve S
when an inf/nan appears, double S after `growth_interval` clean steps (torch.amp.GradScaler).

bf16 has fp32's exponent range, so it needs no loss scaling; fp16 autocast is only used on CUDA.
The weights always stay fp32 (autocast casts per op), which is the paper's master copy.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch

PRECISIONS = ("fp32", "bf16", "fp16", "auto")


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto' -> fp16 on CUDA without bf16 support, bf16 on CUDA with it and on CPUs with native bf16,
    fp32 on other CPUs."""
    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r} is not one of {', '.join(PRECISIONS)}")
    if name == "fp16" and device.type != "cuda":
        raise ValueError("precision 'fp16' needs CUDA (GradScaler); use 'bf16' on CPU")
    if name != "auto":
        return name
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "fp16"
    if device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "fp32"   # no native bf16 (AVX2 only): bf16 autocast steps ran ~10x slower than fp32
    return "bf16"


@dataclass
class Precision:
    """Autocast context + optional GradScaler for one device and precision name."""

    name: str
    device: torch.device
    scaler: torch.amp.GradScaler | None = None

    @classmethod
    def create(cls, name: str, device: torch.device, init_scale: float = 2.0**16,
               growth_interval: int = 2000) -> Precision:
        name = resolve_precision(name, device)
        scaler = None
        if name == "fp16":
            scaler = torch.amp.GradScaler(device.type, init_scale=init_scale,
                                          growth_interval=growth_interval)
        return cls(name, device, scaler)

    @property
    def dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)

    def autocast(self) -> AbstractContextManager:
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        """Backward pass; for fp16 on the scaled loss S * loss."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Divide the gradients by S (fp16), so what runs before the step sees the true gradients.
        GradScaler.step would unscale them itself; doing it first changes nothing in the update."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Optimizer step; returns False when fp16 overflow skipped it (the scale then shrinks)."""
        if self.scaler is None:
            optimizer.step()
            return True
        scale_before = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        return self.scaler.get_scale() >= scale_before

    def backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> bool:
        """Backward pass and optimizer step; returns False when fp16 overflow skipped the step."""
        self.backward(loss)
        return self.step(optimizer)

    def state_dict(self) -> dict:
        return {} if self.scaler is None else {"scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
