"""Wall time of the tuning grids a run trains first: one point after another (the driver alone, what a run
did before grids went through the job pool, and still does at --jobs 1) against `--jobs N` points at once
in the run's worker processes (repro.execute.local.map_local).

Work: the grids of a spec's budget-doubling check (its baseline arm with `tune:` at the profile and at the
doubled profile: two grids, trained by the run's first `todo`), each side in a fresh results folder, so
nothing is reused. Rounds alternate the order (A B, B A, ...). Both sides must choose the same values.

    OMP_NUM_THREADS=1 python benchmarks/tuning_grid.py --spec optimizers_bible_lm [--jobs 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from pathlib import Path

import torch

from repro.bench import lib as bench_lib
from repro.bench.cpu_step_render import machine_facts
from repro.errors import UserError
from repro.execute.local import map_local
from repro.execute.regime_checks import doubling_jobs
from repro.files import write_text_atomic
from repro.jobs.tune import apply_tuning
from repro.spec import load_spec
from repro.spec.paths import spec_paths

CPU = torch.device("cpu")


def grid_jobs(spec_name: str, profile: str) -> tuple[dict, list]:
    path = spec_paths([spec_name], False)[0]
    specs = {path.stem: load_spec(path)}
    first = {}                                     # one job per grid: the seeds share it
    for job in doubling_jobs(specs, {path.stem: path}, profile, None):
        if job.config.tune is not None:
            first.setdefault((job.profile, job.arm), job)
    jobs = list(first.values())
    if not jobs:
        raise UserError(f"{spec_name}: its regime arm at {profile} has no `tune:` grid; pick a spec with one "
                        f"(the optimizer specs, label_smoothing, schedules)")
    return specs, jobs


def timed_side(specs: dict, jobs: list, data_root: Path, n_jobs: int, chosen: dict) -> float:
    """Train every grid of `jobs` in a fresh folder, in order (n_jobs 1) or n_jobs at once; keep the
    choices in `chosen` (side -> list) to check the two sides agree."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        tuned = apply_tuning(specs, jobs, Path(tmp), CPU, data_root,
                             functools.partial(map_local, device=CPU, n_jobs=n_jobs))
        seconds = time.perf_counter() - start
    chosen.setdefault(n_jobs, []).append([j.tuned["chosen"] for j in tuned])
    return seconds


def markdown(spec: str, profile: str, jobs: list, n_jobs: int, times: dict, ratio: dict, facts: dict) -> str:
    points = sum(len(j.config.tune.grid) for j in jobs)
    seq, par = (bench_lib.spread(times[k]) for k in ("in order", f"{n_jobs} at once"))
    return "\n".join([
        f"# Tuning grids: in order vs {n_jobs} at once", "",
        f"Machine: {facts['line']}. Work: {spec}'s doubling-check grids at {profile} "
        f"({len(jobs)} grid(s), {points} points), `python benchmarks/tuning_grid.py --spec {spec} "
        f"--profile {profile} --jobs {n_jobs} --rounds {seq['n']}`.", "",
        "| side | wall s median (min-max) | rounds |", "|---|---|---|",
        f"| in order (the driver alone) | {seq['median']:.1f} ({min(times['in order']):.1f}-"
        f"{max(times['in order']):.1f}) | {seq['n']} |",
        f"| {n_jobs} at once (worker processes) | {par['median']:.1f} ({min(times[f'{n_jobs} at once']):.1f}-"
        f"{max(times[f'{n_jobs} at once']):.1f}) | {par['n']} |", "",
        f"Speedup (in order / at once, per round): x{ratio['median']:.2f} [{ratio['lo']:.2f}, "
        f"{ratio['hi']:.2f}]; both sides chose the same values.", ""])


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="optimizers_bible_lm")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--jobs", type=int, default=2, help="points at once on the parallel side")
    parser.add_argument("--rounds", type=int, default=1,
                        help="interleaved rounds (each trains every grid twice)")
    parser.add_argument("--data-root", type=Path, default=Path("data"))
    parser.add_argument("--out", type=Path, default=None,
                        help="default: results/bench/<class>/tuning_grid.md")
    args = parser.parse_args(argv)
    try:
        specs, jobs = grid_jobs(args.spec, args.profile)
    except UserError as err:
        parser.exit(2, f"{err}\n")
    chosen: dict = {}
    times = bench_lib.interleaved({
        "in order": lambda: timed_side(specs, jobs, args.data_root, 1, chosen),
        f"{args.jobs} at once": lambda: timed_side(specs, jobs, args.data_root, args.jobs, chosen)},
        args.rounds)
    if chosen[1] != chosen[args.jobs]:
        raise SystemExit(f"the two sides chose different values: {json.dumps(chosen)}")
    ratio = bench_lib.speedup(times["in order"], times[f"{args.jobs} at once"])
    facts = machine_facts(CPU)
    text = markdown(args.spec, args.profile, jobs, args.jobs, times, ratio, facts)
    write_text_atomic(args.out or Path("results/bench") / facts["class"] / "tuning_grid.md", text)
    print(text)
    return text


if __name__ == "__main__":
    main()
