"""Overhead of tricks.loop.train against a bare hand-written PyTorch loop on identical work.

Work: cifar_resnet-20, bf16 autocast, channels_last, batch 128, Fashion-MNIST-sized tensors
(1x28x28, 10 classes), SGD with momentum. Both loops see the same batches and start from the same
weights. Rounds are interleaved (A B, B A, A B, ...) so drift of the machine hits both alike.
Prints the per-round ratio (ours / bare) and its median and spread. Target: median <= 1.03.

    python benchmarks/loop_overhead.py [--steps 30] [--rounds 7] [--device auto]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F

from repro.hardware import fingerprint, pick_device
from repro.models import build_model
from tricks.hooks import LoopContext
from tricks.loop import LoopConfig, sync, train
from tricks.precision import Precision


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
    cfg = LoopConfig(epochs=1, steps_per_epoch=len(batches), precision="bf16", channels_last=True)
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
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (pairs of runs)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    Precision.create("bf16", device)
    torch.manual_seed(0)
    model0 = build_model({"name": "cifar_resnet", "depth": 20}, 10, 1).to(device)
    batches = make_batches(args.steps, 128, device)
    bare_loop(copy.deepcopy(model0), batches[:5], device)   # warm-up: kernels, allocator
    our_loop(copy.deepcopy(model0), batches[:5], device)
    ratios, ours_t, bare_t = [], [], []
    for r in range(args.rounds):
        order = [("bare", bare_loop), ("ours", our_loop)]
        if r % 2:
            order.reverse()
        times = {name: fn(copy.deepcopy(model0), batches, device) for name, fn in order}
        ours_t.append(times["ours"] / args.steps)
        bare_t.append(times["bare"] / args.steps)
        ratios.append(times["ours"] / times["bare"])
        print(f"round {r}: bare {bare_t[-1] * 1e3:7.1f} ms/step  ours {ours_t[-1] * 1e3:7.1f} ms/step  "
              f"ratio {ratios[-1]:.3f}")
    q = statistics.quantiles(ratios, n=4)
    print(f"hardware: {fingerprint(device)['id']}")
    print(f"median step: bare {statistics.median(bare_t) * 1e3:.1f} ms, "
          f"ours {statistics.median(ours_t) * 1e3:.1f} ms")
    print(f"loop overhead ratio (ours/bare): median {statistics.median(ratios):.3f}  "
          f"IQR [{q[0]:.3f}, {q[2]:.3f}]  min {min(ratios):.3f}  max {max(ratios):.3f}  "
          f"(target <= 1.03, {args.rounds} interleaved rounds of {args.steps} steps)")


if __name__ == "__main__":
    main()
