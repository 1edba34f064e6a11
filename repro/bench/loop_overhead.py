"""Overhead of tricks.loop.train against a bare hand-written PyTorch loop on identical work.

Work: cifar_resnet-20, bf16 autocast, channels_last, batch 128, Fashion-MNIST-sized tensors
(1x28x28, 10 classes), SGD with momentum. Both loops see the same batches and start from the same
weights. Rounds are interleaved (A B, B A, ...) so drift of the machine hits both alike.
Prints the per-round ratio (ours / bare), its median with a bootstrap interval. Target: median <= 1.03.

    python benchmarks/loop_overhead.py [--steps 30] [--rounds 7] [--device auto]
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from repro.bench import lib as bench_lib
from repro.files import write_json_atomic
from repro.hardware import fingerprint, pick_device
from repro.jobs.build import precision_for
from repro.tasks.image.models import build_model
from tricks.hooks import LoopContext
from tricks.loop import LoopConfig, sync, train


def make_batches(steps: int, batch: int, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(batch, 1, 28, 28, generator=gen).to(device),
             torch.randint(0, 10, (batch,), generator=gen).to(device)) for _ in range(steps)]


def sgd(params) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-4)


def bare_loop(model, batches, device) -> float:
    """The reference: what one would write by hand."""
    model.to(memory_format=torch.channels_last).train()
    opt = sgd(model.parameters())
    sync(device)
    start = time.perf_counter()
    for x, y in batches:
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return time.perf_counter() - start


def our_loop(model, batches, device) -> float:
    cfg = LoopConfig(epochs=1, steps_per_epoch=len(batches), precision=precision_for("bf16", device),
                     channels_last=True)
    ctx = LoopContext(model=model, total_steps=cfg.total_steps, steps_per_epoch=len(batches),
                      num_classes=10, generator=torch.Generator(), device=device, schedule={})
    sync(device)
    start = time.perf_counter()
    train(model, sgd, lambda step: 0.05, lambda epoch: batches, lambda predict: {}, cfg, ctx)
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps per timed run")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=None, help="also write the record (JSON) here")
    args = parser.parse_args()
    device = pick_device(args.device)
    torch.manual_seed(0)
    model0 = build_model({"name": "cifar_resnet", "depth": 20}, 10, 1).to(device)
    batches = make_batches(args.steps, 128, device)
    bare_loop(copy.deepcopy(model0), batches[:5], device)   # warm-up: kernels, allocator
    our_loop(copy.deepcopy(model0), batches[:5], device)
    times = bench_lib.interleaved({"bare": lambda: bare_loop(copy.deepcopy(model0), batches, device),
                                   "ours": lambda: our_loop(copy.deepcopy(model0), batches, device)},
                                  args.rounds)
    for r, (bare, ours) in enumerate(zip(times["bare"], times["ours"], strict=True)):
        print(f"round {r}: bare {bare / args.steps * 1e3:7.1f} ms/step  ours {ours / args.steps * 1e3:7.1f} "
              f"ms/step  ratio {ours / bare:.3f}")
    overhead = bench_lib.speedup(times["ours"], times["bare"])   # t_ours / t_bare per round
    print(f"hardware: {fingerprint(device)['id']}")
    print(f"median step: bare {bench_lib.spread(times['bare'])['median'] / args.steps * 1e3:.1f} ms, "
          f"ours {bench_lib.spread(times['ours'])['median'] / args.steps * 1e3:.1f} ms")
    print(f"loop overhead ratio (ours/bare): median {overhead['median']:.3f}  95% CI "
          f"[{overhead['lo']:.3f}, {overhead['hi']:.3f}]  min {min(overhead['per_round']):.3f}  "
          f"max {max(overhead['per_round']):.3f}  (target <= 1.03, {args.rounds} interleaved rounds of "
          f"{args.steps} steps)")
    if args.out:
        config = {"model": "cifar_resnet-20", "precision": "bf16", "batch": 128, "steps": args.steps,
                  "rounds": args.rounds}
        record = bench_lib.make_record("loop_overhead", device, config, {"times": times, "ratio": overhead})
        write_json_atomic(args.out, record)


if __name__ == "__main__":
    main()
