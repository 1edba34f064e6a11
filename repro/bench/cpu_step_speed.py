"""Speed of a CPU training step as a fraction of the machine, and the candidates a user would try.

Work: the schedules spec's cpu recipe (the heaviest of the suite's image profiles): cifar_resnet depth 8
width 12, batch 50, Fashion-MNIST-sized tensors (1x28x28, 10 classes), SGD momentum 0.9, fp32 (the profiles
pin it), one thread (the suite runs `--jobs 2` with one thread per job); cifar_resnet-20 batch 128 as a
second, heavier row.
The chosen configuration is what the suite runs there: fp32 in the memory format of
repro.jobs.build.channels_last_pays (NCHW on CPUs without AVX-512, channels_last with it).

1. Its achieved FLOP/s (one step's FLOPs by torch.utils.flop_counter.FlopCounterMode, forward + backward,
   over the median step time) as a fraction of a measured n x n matmul in its dtype (fp32; bf16 too).
2. Candidates, each timed in the same interleaved rounds as the chosen configuration (repro/bench/lib.py:
   per-round speedups, median, bootstrap interval): the other memory format; torch.compile of the model
   (default mode; inductor's FX graph cache under --compile-cache, so a second run reuses it; its compile
   time apart from the steady step, and the steps it takes to pay back); bf16 autocast only where the CPU
   runs bf16 natively (tricks.precision.resolve_precision's check, what `precision: auto` follows).
3. The suite's time to its verdicts on this hardware class: the wall_time_s of its run records
   (repro/report/minutes.py), per spec, as job-minutes and as wall time at --jobs 2.

    python benchmarks/cpu_step_speed.py [--steps 20] [--rounds 7] [--skip compile] [--no-heavy]
                                        [--out results/bench/<class>/cpu_step_speed.md]
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from repro.bench import lib as bench_lib
from repro.bench.cpu_step_render import amp_verdict, machine_facts, markdown, verdict_minutes
from repro.files import write_text_atomic
from repro.jobs.build import channels_last_pays, precision_for
from repro.tasks.image.models import build_model

CPU = torch.device("cpu")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
EMULATED_BF16_MATMUL = 512   # a 2048^2 bf16 matmul takes minutes where bf16 is emulated
CANDIDATES = ("memory_format", "compile", "bf16")


@dataclass(frozen=True)
class Variant:
    name: str
    precision: str
    channels_last: bool
    compiled: bool = False

    @property
    def memory_format(self) -> str:
        return "channels_last" if self.channels_last else "NCHW"


def native_bf16() -> bool:
    """The suite's own test: `precision: auto` resolves to bf16 only on a CPU with native bf16."""
    return precision_for("auto", CPU).name == "bf16"


def chosen_config() -> dict:
    """What the cpu profiles run: fp32 (pinned in the specs) in channels_last_pays' memory format."""
    image_task = type("ImageTask", (), {"channels_last_default": True})()
    return {"precision": "fp32", "channels_last": channels_last_pays(image_task, CPU, "fp32")}


def variants(skip: set[str]) -> list[Variant]:
    chosen = Variant("chosen", **chosen_config())
    out = [chosen]
    if "memory_format" not in skip:
        other = not chosen.channels_last
        out.append(Variant("channels_last" if other else "NCHW", "fp32", other))
    if "compile" not in skip:
        out.append(Variant("torch.compile", "fp32", chosen.channels_last, compiled=True))
    if "bf16" not in skip and native_bf16():
        image_task = type("ImageTask", (), {"channels_last_default": True})()
        out.append(Variant("bf16 autocast", "bf16", channels_last_pays(image_task, CPU, "bf16")))
    return out


class Stepper:
    """One variant's model and optimizer, built once; each call runs the batches and returns its seconds."""

    def __init__(self, model0: torch.nn.Module, v: Variant):
        self.fmt = torch.channels_last if v.channels_last else torch.contiguous_format
        self.model = copy.deepcopy(model0).to(memory_format=self.fmt).train()
        self.forward = torch.compile(self.model) if v.compiled else self.model
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        self.autocast = precision_for(v.precision, CPU).autocast

    def __call__(self, batches) -> float:
        start = time.perf_counter()
        for x, y in batches:
            with self.autocast():
                loss = F.cross_entropy(self.forward(x.contiguous(memory_format=self.fmt)).float(), y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return time.perf_counter() - start


def make_batches(steps: int, batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(batch, 1, 28, 28, generator=gen), torch.randint(0, 10, (batch,), generator=gen))
            for _ in range(steps)]


def step_flops(model0, batch) -> int:
    """FLOPs of one forward + backward pass (the optimizer step is negligible); the same math in every
    variant."""
    model, (x, y) = copy.deepcopy(model0), batch
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops()


def matmul_rate(dtype: torch.dtype, n: int, repeats: int = 3, budget_s: float = 2.0) -> float:
    """FLOP/s of an n x n matmul in dtype: best of `repeats` after a warm-up (fewer when one is slow)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    times = [_timed(lambda: a @ b)]
    if times[0] < budget_s:
        times = [_timed(lambda: a @ b) for _ in range(repeats)]
    return 2 * n**3 / min(times)


def matmul_rates(n: int) -> dict[str, dict]:
    native = native_bf16()
    sizes = {"fp32": n, "bf16": n if native else min(n, EMULATED_BF16_MATMUL)}
    return {p: {"n": size, "rate": matmul_rate(DTYPES[p], size),
                "note": "" if p == "fp32" else "native" if native else "emulated (no native bf16)"}
            for p, size in sizes.items()}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cache_counts() -> dict[str, int]:
    from torch._dynamo.utils import counters
    return {k: int(counters["inductor"][f"fxgraph_cache_{k}"]) for k in ("hit", "miss")}


def measure_workload(depth: int, width: int, batch: int, steps: int, rounds: int, skip: set[str]) -> dict:
    model0 = build_model({"name": "cifar_resnet", "depth": depth, "width": width}, 10, 1, seed=0)
    batches = make_batches(steps, batch)
    steppers, compile_info, failed = {}, None, {}
    for v in variants(skip):
        try:
            stepper = Stepper(model0, v)
            if v.compiled:
                before = _cache_counts()
                first = stepper(batches[:1])   # dynamo + inductor, forward and backward, and one step
                after = _cache_counts()
                compile_info = {"first_step_s": first, **{k: after[k] - before[k] for k in after}}
            stepper(batches[:1])                # warm-up: kernels, allocator (a recompile would show here)
        except Exception as e:   # a candidate that cannot run here (no C++ compiler, ...): reported
            if v.name == "chosen":
                raise
            failed[v.name] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            continue
        steppers[v] = stepper
    times = bench_lib.interleaved({v.name: (lambda s=s: s(batches)) for v, s in steppers.items()}, rounds)
    step_times = {name: [t / steps for t in ts] for name, ts in times.items()}
    speedups = {name: bench_lib.speedup(times["chosen"], ts) for name, ts in times.items()}
    if compile_info is not None and "torch.compile" in step_times:
        steady = bench_lib.spread(step_times["torch.compile"])["median"]
        compile_info["compile_s"] = max(compile_info["first_step_s"] - steady, 0.0)
    return {"depth": depth, "width": width, "batch": batch, "steps": steps, "rounds": rounds,
            "variants": list(steppers), "step_times": step_times, "speedups": speedups,
            "flops": step_flops(model0, batches[0]), "compile": compile_info, "failed": failed}


def default_out(class_id: str) -> Path:
    return Path("results/bench") / class_id / "cpu_step_speed.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=8, help="the suite row's cifar_resnet depth")
    parser.add_argument("--width", type=int, default=12, help="the suite row's cifar_resnet width")
    parser.add_argument("--batch", type=int, default=50, help="the suite row's batch size")
    parser.add_argument("--steps", type=int, default=20, help="training steps per timed run (suite row)")
    parser.add_argument("--heavy", action=argparse.BooleanOptionalAction, default=True,
                        help="also the cifar_resnet-20, batch 128 row")
    parser.add_argument("--heavy-steps", type=int, default=3, help="training steps per timed run (heavy row)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the suite: 1 per job)")
    parser.add_argument("--skip", action="append", choices=CANDIDATES, default=[],
                        help="a candidate not to run (repeatable)")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--compile-cache", type=Path,
                        default=Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR", "~/.cache/repro/inductor")),
                        help="inductor's cache dir (TORCHINDUCTOR_CACHE_DIR): a second run reuses it")
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder whose run records give the time to the verdicts")
    parser.add_argument("--out", type=Path, default=None,
                        help="default: results/bench/<hardware class>/cpu_step_speed.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if "compile" not in args.skip:
        import torch._inductor.config as inductor_config
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(args.compile_cache.expanduser())
        inductor_config.fx_graph_cache = True
        inductor_config.compile_threads = args.threads   # the compile on the job's own thread budget
    facts = machine_facts(CPU)
    load_before = os.getloadavg()[0]
    rows = [("cifar_resnet-8/12, batch 50 (the cpu profiles)" if (args.depth, args.width, args.batch) ==
             (8, 12, 50) else f"cifar_resnet-{args.depth}/{args.width}, batch {args.batch}",
             measure_workload(args.depth, args.width, args.batch, args.steps, args.rounds, set(args.skip)))]
    if args.heavy:
        rows.append(("cifar_resnet-20/16, batch 128 (heavier)",
                     measure_workload(20, 16, 128, args.heavy_steps, args.rounds, set(args.skip))))
    matmul = matmul_rates(args.matmul_size)
    facts["load"] = (load_before, os.getloadavg()[0])
    m = {"facts": facts, "rows": rows, "matmul": matmul, "native_bf16": native_bf16(),
         "bf16_skipped": "bf16" in args.skip, "compile_cache": str(args.compile_cache.expanduser()),
         "minutes": verdict_minutes(args.results, facts["class"]),
         "amp": amp_verdict(args.results, facts["class"])}
    text = markdown(m)
    write_text_atomic(args.out or default_out(facts["class"]), text)
    print(text)
    return text


if __name__ == "__main__":
    main()
