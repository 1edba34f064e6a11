"""Time per CPU training step: today's eager step against the suite's chosen configuration.

Work: cifar_resnet-20, batch 128, Fashion-MNIST-sized tensors (1x28x28, 10 classes), SGD with momentum,
the same batches and starting weights for both. Today's step is what the cpu profiles run: bf16 autocast,
channels_last. The chosen configuration is what the suite picks on this machine: `precision: auto`
(repro.jobs.build.precision_for: fp32 on CPUs without native bf16) and the channels_last default
(repro.jobs.build.channels_last_pays: NCHW for fp32 on CPUs without AVX-512). Rounds are interleaved;
the speedup is the median of per-round ratios with a bootstrap interval (repro/bench/lib.py). Achieved
FLOP/s counts one step's FLOPs with torch.utils.flop_counter.FlopCounterMode and compares them with a
measured square matmul in the step's dtype.

    python benchmarks/cpu_step_speed.py [--steps 3] [--rounds 5] [--out results/bench/cpu_step_speed.md]
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from repro.bench import lib as bench_lib
from repro.files import write_text_atomic
from repro.jobs.build import channels_last_pays, precision_for
from repro.tasks.image.models import build_model

CPU = torch.device("cpu")


def chosen_config() -> dict:
    precision = precision_for("auto", CPU).name
    image_task = SimpleNamespace(channels_last_default=True)
    return {"precision": precision, "channels_last": channels_last_pays(image_task, CPU, precision)}


TODAY = {"precision": "bf16", "channels_last": True}


def make_batches(steps: int, batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(batch, 1, 28, 28, generator=gen), torch.randint(0, 10, (batch,), generator=gen))
            for _ in range(steps)]


def run_steps(model0, batches, precision: str, channels_last: bool) -> float:
    """Seconds for len(batches) training steps from a fresh copy of model0."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = copy.deepcopy(model0).to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    autocast = precision_for(precision, CPU).autocast
    start = time.perf_counter()
    for x, y in batches:
        with autocast():
            loss = F.cross_entropy(model(x.contiguous(memory_format=fmt)).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def step_flops(model0, batch) -> int:
    """FLOPs of one forward + backward pass (the optimizer step is negligible)."""
    model, (x, y) = copy.deepcopy(model0), batch
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops()


def matmul_rate(dtype: torch.dtype, n: int, repeats: int = 3) -> float:
    """FLOP/s of an n x n matmul in dtype (best of `repeats`)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(depth: int, batch: int, steps: int, rounds: int, matmul_n: int) -> dict:
    torch.manual_seed(0)
    model0 = build_model({"name": "cifar_resnet", "depth": depth}, 10, 1)
    batches = make_batches(steps, batch)
    configs = {"today": TODAY, "chosen": chosen_config()}
    for cfg in configs.values():   # warm-up: kernels, allocator
        run_steps(model0, batches[:1], **cfg)
    load_before = os.getloadavg()[0]
    times = bench_lib.interleaved({name: lambda cfg=cfg: run_steps(model0, batches, **cfg)
                                   for name, cfg in configs.items()}, rounds)
    flops = step_flops(model0, batches[0])
    dtypes = {"bf16": torch.bfloat16, "fp32": torch.float32}
    rates = {name: matmul_rate(dtypes[cfg["precision"]], matmul_n) for name, cfg in configs.items()}
    return {"configs": configs, "times": times, "flops": flops, "matmul": rates, "steps": steps,
            "batch": batch, "depth": depth, "rounds": rounds, "matmul_n": matmul_n,
            "load": (load_before, os.getloadavg()[0]), "threads": torch.get_num_threads(),
            "speedup": bench_lib.speedup(times["today"], times["chosen"])}


def markdown(m: dict) -> str:
    rows = []
    for name, cfg in m["configs"].items():
        step = bench_lib.spread(m["times"][name])["median"] / m["steps"]
        achieved = m["flops"] / step
        rows.append(f"| {name} | {cfg['precision']} | {'channels_last' if cfg['channels_last'] else 'NCHW'} "
                    f"| {step * 1e3:.0f} | {m['batch'] / step:.0f} | {achieved / 1e9:.1f} "
                    f"| {m['matmul'][name] / 1e9:.1f} | {achieved / m['matmul'][name]:.0%} |")
    s = m["speedup"]
    return "\n".join([
        "# CPU training step: today's eager step vs the suite's chosen configuration", "",
        f"cifar_resnet-{m['depth']}, batch {m['batch']}, 1x28x28, SGD momentum; {m['rounds']} interleaved "
        f"rounds of {m['steps']} steps; torch {torch.__version__}, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, {m['threads']} threads; load average (1 min) "
        f"{m['load'][0]:.2f} before, {m['load'][1]:.2f} after. One step is {m['flops'] / 1e9:.2f} GFLOP "
        f"(FlopCounterMode, forward + backward); matmul rate: {m['matmul_n']}^2 matmul in the step's dtype.",
        "", "| step | precision | memory format | ms/step (median) | img/s | GFLOP/s | matmul GFLOP/s "
        "| of matmul |", "|---|---|---|---|---|---|---|---|", *rows, "",
        "per-round speedups: " + ", ".join(f"{r:.2f}" for r in s["per_round"]), "",
        f"speedup: x{s['median']:.2f} [{s['lo']:.2f}, {s['hi']:.2f}]", ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3, help="training steps per timed run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--out", type=Path, default=Path("results/bench/cpu_step_speed.md"))
    args = parser.parse_args(argv)
    m = measure(args.depth, args.batch, args.steps, args.rounds, args.matmul_size)
    text = markdown(m)
    write_text_atomic(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
