"""Data-parallel scaling: training throughput on 1 and N processes (DDP), and the scaling efficiency.

Weak scaling: every process trains on a per-rank batch of b images, so N processes take a global batch
of N*b per step. One "launch" is one torchrun with P processes (NCCL on GPUs, gloo on CPU) that warms
up, then times `--steps` DDP steps (forward, backward with the gradient all-reduce, SGD step); the
slowest rank's time counts. Launches of 1 and N processes alternate for `--rounds` rounds (1, N, N, 1,
...), so drift of the machine hits both alike and round r of each is a pair.

    efficiency_r = throughput_N,r / (N * throughput_1,r)          (1.0 = perfect scaling)

reported as the median over rounds with a 95% bootstrap interval (repro/bench/lib.py). On CPU each
process gets `--threads` threads: with 2 cores, 1 process x 1 thread against 2 processes x 1 thread.

    python -m repro.bench.scaling [--nproc 2] [--rounds 5] [--steps 20] [--batch 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from repro.bench import lib as bench_lib
from repro.execute import torchrun
from repro.files import write_json_atomic
from repro.hardware import pick_device
from repro.jobs import parallel
from repro.tasks.image.models import build_model
from tricks.loop import sync

OUT = Path("results/bench")


def worker(args) -> None:
    """One rank of a launch: time DDP steps of cifar_resnet-20 on random 1x28x28 batches."""
    torch.set_num_threads(args.threads)
    device = torchrun.init(args.device) if parallel.is_distributed() else pick_device(args.device)
    torch.manual_seed(0)
    model = build_model({"name": "cifar_resnet", "depth": 20}, 10, 1).to(device)
    forward = parallel.ddp_wrapper()(model) if parallel.is_distributed() else model
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = torch.randn(args.batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)

    def step() -> None:
        loss = F.cross_entropy(forward(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync(device)
    seconds = torch.tensor([time.perf_counter() - start])
    if parallel.is_distributed():
        torch.distributed.all_reduce(seconds, op=torch.distributed.ReduceOp.MAX)   # the slowest rank
    if parallel.world()[0] == 0:
        Path(args.out).write_text(json.dumps({"seconds": float(seconds)}))
    torchrun.shutdown()


def launch(nproc: int, args) -> float:
    """Seconds for `args.steps` steps on `nproc` processes (one torchrun)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "t.json"
        flags = ["--worker", "--out", str(out), "--steps", str(args.steps), "--batch", str(args.batch),
                 "--threads", str(args.threads), "--device", args.device, "--warmup", str(args.warmup)]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
               str(nproc), "-m", "repro.bench.scaling", *flags]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
        if run.returncode != 0:
            sys.exit(f"error: the {nproc}-process launch failed:\n{run.stderr[-3000:]}")
        return json.loads(out.read_text())["seconds"]


def summary(args, backend: str, times: dict, eff: dict, device) -> str:
    images = {p: [args.steps * args.batch * p / t for t in times[p]] for p in times}
    med = {p: bench_lib.spread(images[p])["median"] for p in images}
    n = args.nproc
    lines = [f"## Data-parallel scaling on {device.type}: 1 vs {n} processes ({backend})", "",
             f"cifar_resnet-20, 1x28x28, fp32, per-rank batch {args.batch}, {args.steps} timed steps per "
             f"launch after {args.warmup} warm-up steps, {args.threads} thread(s) per process, "
             f"{args.rounds} interleaved rounds.", "",
             "| processes | images/s (median) | IQR |", "|---:|---:|---:|"]
    for p in (1, n):
        lines.append(f"| {p} | {med[p]:.0f} | {bench_lib.spread(images[p])['iqr']:.0f} |")
    lines += ["", f"Scaling efficiency thr_{n} / ({n} x thr_1): median **{eff['median']:.3f}**, 95% CI "
              f"[{eff['lo']:.3f}, {eff['hi']:.3f}], per round "
              + ", ".join(f"{r:.3f}" for r in eff["per_round"]) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2, help="processes of the scaled run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per launch")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64, help="per-rank batch")
    parser.add_argument("--threads", type=int, default=1, help="threads per process (CPU)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out-dir", type=Path, default=OUT)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    device = pick_device(args.device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    times = bench_lib.interleaved({1: lambda: launch(1, args), args.nproc: lambda: launch(args.nproc, args)},
                                  args.rounds)
    # efficiency per round = (N b / t_N) / (N * b / t_1) = t_1 / t_N
    eff = bench_lib.speedup(times[1], times[args.nproc])
    text = summary(args, backend, times, eff, device)
    print(text)
    config = {k: getattr(args, k) for k in ("nproc", "rounds", "steps", "warmup", "batch", "threads")}
    record = bench_lib.make_record("scaling", device, {**config, "backend": backend},
                                   {"times": {str(k): v for k, v in times.items()}, "efficiency": eff})
    stamp = record["created"].replace(":", "").replace("-", "")[:15]
    write_json_atomic(args.out_dir / f"scaling-{record['hardware']['id']}-{stamp}.json", record)
    bench_lib.write_summary(text, args.out_dir / "scaling_summary.md")


if __name__ == "__main__":
    main()
