"""Training throughput and memory of fp32 vs mixed precision (Micikevicius et al. 2018, arXiv 1710.03740).

Variants per model: fp32, bf16 autocast, and on CUDA fp16 autocast + GradScaler and (Ampere+) TF32, each
with and without channels_last for convnets; `compile=True` wraps every model in torch.compile. Models:
cifar_resnet-56 at 32x32 (repro.tasks.image.models), timm ResNet-50 at 224x224, the MT experiment's
Transformer
(repro.tasks.translation.model), and `tiny` (ResNet-8 at 16x16, for tests). One fixed synthetic batch per
model, so data loading is not measured; every variant starts from the same weights and takes the
training loop's step (tricks.precision.Precision: autocast, GradScaler for fp16) with SGD + momentum.

Timing: warm-up, then interleaved rounds (repro/bench/lib.py); throughput = items per step / time
per step (images, or target tokens for the Transformer); speedup over fp32 per round with a bootstrap
interval. MFU = FLOPs of one training step (torch.utils.flop_counter.FlopCounterMode over forward and
backward) / time per step / peak FLOP/s of the variant's math type: the published dense peak of the GPU
when it is in GPU_PEAKS, else the measured throughput of a 2048^2 matmul timed in the same interleaved
rounds (always measured and printed; on a shared CPU a peak measured at another moment is meaningless).
A 2048^2 torch.mm is a practical, not a theoretical, peak: oneDNN convolutions can beat it, so an fp32
MFU above 100% can happen on CPU.

    python benchmarks/amp_throughput.py [--quick] [--models cifar_resnet56,resnet50,transformer]
    (the same as `repro bench amp ...`)
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from repro.bench import lib as bench_lib
from repro.jobs.build import precision_for
from repro.tasks.image.models import build_model
from repro.tasks.translation.model import Seq2SeqInput
from repro.tasks.translation.model import transformer as build_transformer
from repro.tasks.translation.task import seq2seq_loss
from repro.tasks.translation.tokenize import SPECIALS

REFERENCE = "fp32"
MATMUL_N = 2048
MATH_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

# Dense (no structured sparsity) peak TFLOP/s, from NVIDIA's datasheets / architecture whitepapers.
# Datasheets print tensor-core numbers "with sparsity"; these are half of those. First match wins.
GPU_PEAKS: list[tuple[str, dict[str, float]]] = [
    # H100 datasheet (SXM / PCIe): FP32 67 / 51, TF32 989* / 756*, BF16 and FP16 1979* / 1513*
    ("H100 PCIe", {"fp32": 51.0, "tf32": 378.0, "bf16": 756.0, "fp16": 756.0}),
    ("H100", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}),
    ("H200", {"fp32": 67.0, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4}),   # H200 datasheet, same SXM core
    # A100 datasheet (SXM and PCIe, 40/80 GB): FP32 19.5, TF32 156 (312*), BF16/FP16 312 (624*)
    ("A100", {"fp32": 19.5, "tf32": 156.0, "bf16": 312.0, "fp16": 312.0}),
    # A10 datasheet: FP32 31.2, TF32 62.5 (125*), BF16/FP16 125 (250*)
    ("A10", {"fp32": 31.2, "tf32": 62.5, "bf16": 125.0, "fp16": 125.0}),
    # L40S datasheet: FP32 91.6, TF32 183 (366*), BF16/FP16 362.05 (733*)
    ("L40S", {"fp32": 91.6, "tf32": 183.0, "bf16": 362.05, "fp16": 362.05}),
    # L4 datasheet: FP32 30.3, TF32 60 (120*), BF16/FP16 121 (242*)
    ("L4", {"fp32": 30.3, "tf32": 60.0, "bf16": 121.0, "fp16": 121.0}),
    # Ada whitepaper (RTX 4090): FP32 82.6, TF32 82.6, BF16/FP16 with FP32 accumulate 165.2
    ("RTX 4090", {"fp32": 82.6, "tf32": 82.6, "bf16": 165.2, "fp16": 165.2}),
    # Ampere GA102 whitepaper (RTX 3090): FP32 35.6, TF32 35.6, BF16/FP16 with FP32 accumulate 71
    ("RTX 3090", {"fp32": 35.6, "tf32": 35.6, "bf16": 71.0, "fp16": 71.0}),
    # V100 datasheet (PCIe / SXM2): FP32 14 / 15.7, tensor FP16 112 / 125; no TF32 or BF16 units
    ("V100-PCIE", {"fp32": 14.0, "fp16": 112.0}),
    ("V100", {"fp32": 15.7, "fp16": 125.0}),
    # T4 datasheet: FP32 8.1, mixed FP16/FP32 tensor 65
    ("T4", {"fp32": 8.1, "fp16": 65.0}),
]


# ----------------------------------------------------------------------------- peaks and MFU


def published_peak(device_name: str) -> tuple[str, dict[str, float]] | None:
    """(table key, {math type: FLOP/s}) of the first GPU_PEAKS entry contained in the device name."""
    for key, peaks in GPU_PEAKS:
        if key.lower() in device_name.lower():
            return key, {k: v * 1e12 for k, v in peaks.items()}
    return None


def mfu(flops_per_step: float, seconds_per_step: float, peak: float) -> float:
    """Model FLOPs utilisation: achieved FLOP/s over the peak FLOP/s."""
    return flops_per_step / seconds_per_step / peak


def count_flops(step: Callable[[], None]) -> int:
    """FLOPs of one call of `step` (forward + backward of a training step), by torch's FLOP counter."""
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


# ----------------------------------------------------------------------------- workloads


@dataclass
class Workload:
    """A model with one fixed batch: inputs (a tuple of model arguments) and targets."""

    name: str
    unit: str                      # what throughput counts: images or tokens
    items: int                     # items per step
    convnet: bool
    build: Callable[[], nn.Module]
    inputs: tuple
    targets: Tensor
    describe: str
    probe_n: int = MATMUL_N        # size of the matmul that measures the peak


def _images(name, build, batch, size, classes, device, describe) -> Workload:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=gen).to(device)
    y = torch.randint(0, classes, (batch,), generator=gen).to(device)
    return Workload(name, "images", batch, True, build, (x,), y, f"{describe}, batch {batch}, {size}x{size}")


def cifar_resnet56(device: torch.device, quick: bool) -> Workload:
    batch = 256 if device.type == "cuda" else 32 if quick else 64
    return _images("cifar_resnet56", lambda: build_model({"name": "cifar_resnet", "depth": 56}, 10, 3),
                   batch, 32, 10, device, "He et al. CIFAR ResNet-56")


def resnet50(device: torch.device, quick: bool) -> Workload:
    import timm  # here, not at the top: timm is slow to import and only resnet50 needs it
    batch = 128 if device.type == "cuda" else 4 if quick else 8
    return _images("resnet50", lambda: timm.create_model("resnet50", pretrained=False), batch, 224, 1000,
                   device, "timm ResNet-50")


def tiny(device: torch.device, quick: bool) -> Workload:
    w = _images("tiny", lambda: build_model({"name": "cifar_resnet", "depth": 8, "width": 8}, 10, 3),
                16, 16, 10, device, "CIFAR ResNet-8, width 8 (for tests)")
    w.probe_n = 512
    return w


def transformer(device: torch.device, quick: bool) -> Workload:
    """The MT experiment's Transformer (repro.tasks.translation.model, post-norm, tied embeddings): base
    shapes
    on CUDA (d 512, 8 heads, 6+6 layers, d_ff 2048, vocab 37000); on CPU the noam_transformer cpu
    profile's (d 128, 4 heads, 2+2 layers, d_ff 512, vocab 4000). Throughput counts target tokens."""
    if device.type == "cuda":
        shape, vocab, batch, length = dict(d_model=512, heads=8, encoder_layers=6, decoder_layers=6,
                                           d_ff=2048), 37000, 128, 64
    else:
        shape, vocab, batch, length = dict(d_model=128, heads=4, encoder_layers=2, decoder_layers=2,
                                           d_ff=512), 4000, 16 if quick else 32, 32
    gen = torch.Generator().manual_seed(0)
    src, tgt = (torch.randint(len(SPECIALS), vocab, (batch, n), generator=gen).to(device)
                for n in (length, length + 1))
    describe = (f"MT Transformer {shape['encoder_layers']}+{shape['decoder_layers']} layers, "
                f"d={shape['d_model']}, h={shape['heads']}, d_ff={shape['d_ff']}, vocab {vocab}, "
                f"batch {batch}x{length} tokens")
    return Workload("transformer", "tokens", batch * length, False, lambda: build_transformer(vocab, **shape),
                    (Seq2SeqInput(src, tgt[:, :-1]),), tgt[:, 1:], describe)


WORKLOADS: dict[str, Callable[[torch.device, bool], Workload]] = {
    "cifar_resnet56": cifar_resnet56, "resnet50": resnet50, "transformer": transformer, "tiny": tiny}
DEFAULT_MODELS = ("cifar_resnet56", "resnet50", "transformer")


def loss_of(model: nn.Module, w: Workload, inputs: tuple) -> Tensor:
    """Cross-entropy of the model's logits: per image, or per target token as the MT task computes it."""
    if w.unit == "tokens":
        return seq2seq_loss(model(*inputs), w.targets)
    return F.cross_entropy(model(*inputs).float(), w.targets)


# ----------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    precision: str            # fp32 | bf16 | fp16 (autocast dtype; fp16 adds a GradScaler)
    channels_last: bool = False
    tf32: bool = False        # fp32 matmuls/convs on TF32 tensor cores (CUDA, Ampere+)

    @property
    def name(self) -> str:
        return ("tf32" if self.tf32 else self.precision) + ("+cl" if self.channels_last else "")

    @property
    def math(self) -> str:
        """The math type whose peak bounds this variant."""
        return "tf32" if self.tf32 else self.precision


def variants_for(device: torch.device, convnet: bool, channels_last: bool = True) -> list[Variant]:
    """fp32, bf16 (if supported), and on CUDA fp16 and TF32 (compute capability >= 8), x channels_last."""
    kinds = [Variant("fp32")]
    if device.type == "cuda":
        if torch.cuda.get_device_capability(device)[0] >= 8:
            kinds.append(Variant("fp32", tf32=True))
        if torch.cuda.is_bf16_supported():
            kinds.append(Variant("bf16"))
        kinds.append(Variant("fp16"))
    else:
        kinds.append(Variant("bf16"))
    if convnet and channels_last:
        kinds += [Variant(v.precision, True, v.tf32) for v in kinds]
    return kinds


@contextmanager
def tf32_mode(enabled: bool | None):
    """TF32 on/off for CUDA matmuls and cuDNN convs (cuDNN's default is on: fp32 must switch it off);
    None leaves the flags alone (CPU)."""
    if enabled is None:
        yield
        return
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


class Trainer:
    """One variant: its own copy of the model and optimizer; `timed(n)` returns seconds per step."""

    def __init__(self, w: Workload, model0: nn.Module, v: Variant, device: torch.device,
                 compile: bool = False, sleep: float = 0.0):
        model = copy.deepcopy(model0).train()
        if v.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        self.model = torch.compile(model) if compile else model
        self.w, self.v, self.device, self.sleep = w, v, device, sleep
        self.precision = precision_for(v.precision, device)
        cl = torch.channels_last
        self.inputs = tuple(x.contiguous(memory_format=cl) if v.channels_last and isinstance(x, Tensor)
                            and x.dim() == 4 else x for x in w.inputs)

    def step(self) -> None:
        with tf32_mode(self.v.tf32 if self.device.type == "cuda" else None):
            with self.precision.autocast():
                loss = loss_of(self.model, self.w, self.inputs)
            self.optimizer.zero_grad(set_to_none=True)
            self.precision.backward_and_step(loss, self.optimizer)
        if self.sleep:
            time.sleep(self.sleep)  # an injected slowdown (tests of the regression check)

    def timed(self, steps: int) -> float:
        _sync(self.device)
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        _sync(self.device)
        return (time.perf_counter() - start) / steps


class MatmulProbe:
    """An n x n matmul (2 n^3 FLOPs) in one math type, timed in the same rounds as the variants, so the
    measured peak and the training steps see the same machine state; `timed(reps)` is seconds per matmul."""

    def __init__(self, device: torch.device, math: str, n: int = MATMUL_N):
        gen = torch.Generator().manual_seed(0)
        self.a, self.b = (torch.randn(n, n, generator=gen).to(device, MATH_DTYPES[math]) for _ in range(2))
        self.device, self.flops = device, 2 * n**3
        self.tf32 = math == "tf32" if device.type == "cuda" else None
        self.reps = 20 if device.type == "cuda" else 1

    def timed(self, reps: int | None = None) -> float:
        reps = reps or self.reps
        with tf32_mode(self.tf32):
            _sync(self.device)
            start = time.perf_counter()
            for _ in range(reps):
                torch.mm(self.a, self.b)
            _sync(self.device)
        return (time.perf_counter() - start) / reps


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------- measuring


def measure_model(w: Workload, device: torch.device, variants: Sequence[Variant], steps: int, repeats: int,
                  warmup: int, compile: bool = False, slowdown: dict[str, float] | None = None) -> dict:
    """Warm up and measure the memory of each variant in turn, then time them in interleaved rounds."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        model0 = w.build().to(device)
    flops = count_flops(Trainer(w, model0, Variant("fp32"), device).step)
    trainers, memory = {}, {}
    for v in variants:
        before = bench_lib.reset_peak_memory(device)
        trainers[v.name] = t = Trainer(w, model0, v, device, compile, (slowdown or {}).get(v.precision, 0.0))
        t.timed(warmup)
        peak, source = bench_lib.peak_memory(device)
        memory[v.name] = {"peak_mb": peak, "step_mb": peak - before, "source": source}
    probes = {m: MatmulProbe(device, m, w.probe_n) for m in dict.fromkeys(v.math for v in variants)}
    for p in probes.values():
        p.timed()
    runners = {name: lambda t=t: t.timed(steps) for name, t in trainers.items()}
    runners.update({f"matmul:{m}": p.timed for m, p in probes.items()})
    times = bench_lib.interleaved(runners, repeats)
    matmul = {m: p.flops / bench_lib.spread(times[f"matmul:{m}"])["median"] for m, p in probes.items()}
    out = {"unit": w.unit, "items_per_step": w.items, "describe": w.describe, "flops_per_step": flops,
           "matmul_n": w.probe_n, "matmul_peaks": matmul, "variants": {}, "speedups": {}}
    for v in variants:
        out["variants"][v.name] = {"math": v.math, "seconds_per_step": times[v.name],
                                   **bench_lib.spread([w.items / s for s in times[v.name]]),
                                   "memory": memory[v.name]}
        if v.name != REFERENCE:
            out["speedups"][v.name] = bench_lib.speedup(times[REFERENCE], times[v.name])
    return out


def published(device: torch.device) -> dict:
    """The published peaks of the GPU when GPU_PEAKS has it; MFU then uses them, else the matmul probe."""
    table = published_peak(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    return {"published": table[1] if table else None, "published_key": table[0] if table else None,
            "used": "published" if table else "measured matmul (median, same rounds)"}


def add_mfu(result: dict, peak: dict) -> None:
    """Achieved FLOP/s and MFU per variant, against the peak of its math type."""
    table = peak["published"] or result["matmul_peaks"]
    for stats in result["variants"].values():
        seconds = result["items_per_step"] / stats["median"]
        stats["flops_per_s"] = result["flops_per_step"] / seconds
        p = table.get(stats["math"])
        stats["mfu"] = mfu(result["flops_per_step"], seconds, p) if p else None


def defaults(device: torch.device, quick: bool) -> dict:
    """Steps per timed repeat, interleaved repeats, warm-up steps."""
    if quick:
        return {"steps": 2, "repeats": 5, "warmup": 3}
    return {"steps": 20, "repeats": 11, "warmup": 10} if device.type == "cuda" else \
        {"steps": 3, "repeats": 11, "warmup": 3}


def run(models: Sequence[str], device: torch.device, quick: bool = False, steps: int | None = None,
        repeats: int | None = None, warmup: int | None = None, compile: bool = False,
        channels_last: bool = True, slowdown: dict[str, float] | None = None,
        log: Callable[[str], None] = print) -> dict:
    """Measure every model; returns the benchmark record (bench_lib.make_record)."""
    cfg = defaults(device, quick)
    cfg.update({k: v for k, v in {"steps": steps, "repeats": repeats, "warmup": warmup}.items() if v})
    config = {"models": list(models), "quick": quick, "compile": compile, "channels_last": channels_last,
              **cfg}
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    peak = published(device)
    results = {}
    for name in models:
        w = WORKLOADS[name](device, quick)
        log(f"measuring {name}: {w.describe} ...")
        results[name] = measure_model(w, device, variants_for(device, w.convnet, channels_last),
                                      cfg["steps"], cfg["repeats"], cfg["warmup"], compile, slowdown)
        add_mfu(results[name], peak)
    return bench_lib.make_record("amp-throughput", device, config, {"peaks": peak, "models": results})

