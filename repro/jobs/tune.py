"""An arm's `tune:`: the tuned baseline as a spec feature (repro.spec.schema.TuneConfig).

Before the arm's seeds run, one run per grid value of `tune.param` trains (seed tune.seed) on the training
set minus a held-out validation split (`holdout`: a fixed fraction, the same for every grid point, chosen
by the task plugin deterministically) and is scored by `tune.metric` on that split (or by its last epoch's
mean training loss, `train_loss`). The best value wins (the first in grid order on ties; a diverged point
scores worst). Like the `lr_finder:` (repro/jobs/lr_search.py), the choice then replaces the parameter in
the arm's jobs before they run, so every record carries the value it trained with; each record also holds
the grid's summary (`tune`) and its cost in `extra` (tune_value, tune_grid_steps, tune_grid_seconds).

results/runs/<spec>/<profile>/<arm>/tune.json holds the choice, every grid point (value, metric, status,
steps, seconds) and the total cost; it is written atomically after every grid point, so an interrupted grid
resumes with the points it lacks, and reused while the arm's config (its hash) is unchanged. The points of
every grid a run needs are independent runs: they train through one map, `--jobs` at once.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from repro.errors import UserError
from repro.files import write_json_atomic
from repro.jobs.job import Job
from repro.jobs.run import is_rank0
from repro.jobs.train import train_job
from repro.spec import config_hash
from repro.spec.tuning import with_value

FILE = "tune.json"
# (train_point, items) -> (index, train_point(item, device)) of every item, in any order: how the grid
# points train (in_order here; repro.execute.local.map_local in the run's worker processes)
PointMap = Callable[[Callable[[Any, torch.device], dict], list], Iterator[tuple[int, dict]]]


def tune_path(results_dir: Path, spec_id: str, profile: str, arm: str) -> Path:
    return Path(results_dir) / "runs" / spec_id / profile / arm / FILE


def point_config(cfg, value: float):
    """The run config of one grid point: the value set, the validation split held out, the grid's budget."""
    tune = cfg.tune
    point = with_value(cfg, tune.param, value)
    return point.model_copy(update={"holdout": tune.holdout, "epochs": tune.epochs or cfg.epochs})


def score(result, metric: str) -> float:
    """The grid point's metric: `train_loss` = the last epoch's mean training loss, else a final metric."""
    if result.status != "ok":
        return math.nan
    if metric == "train_loss":
        return float(result.curves["train_loss_all"][-1])
    if metric not in result.final:
        raise UserError(f"tune.metric: {metric!r}: not a metric of the task; it has "
                        f"{', '.join(['train_loss', *result.final])}")
    return float(result.final[metric])


def best_index(points: list[dict], better: str) -> int | None:
    """The best finite score (first on ties), or None when no point has one."""
    finite = [(p["metric"], i) for i, p in enumerate(points) if math.isfinite(p["metric"])]
    if not finite:
        return None
    sign = 1 if better == "lower" else -1
    return min(finite, key=lambda t: (sign * t[0], t[1]))[1]


def train_point(item: tuple[Job, float, Path], device: torch.device) -> dict:
    """Train one grid point (its job, its value, the data root) and score it: the grid's entry for it."""
    point, value, data_root = item
    start = time.perf_counter()
    result, _ = train_job(point, device, data_root)
    losses = result.curves.get("train_loss_all")
    return {"value": value, "metric": score(result, point.config.tune.metric), "status": result.status,
            "steps": result.steps, "seconds": time.perf_counter() - start,
            "final_train_loss": float(losses[-1]) if losses else math.nan}


def in_order(device: torch.device) -> PointMap:
    """The grid points trained here, one after another (the map without worker processes)."""
    return lambda fn, items: ((i, fn(item, device)) for i, item in enumerate(items))


def run_grids(jobs: list[Job], results_dir: Path, data_root: Path, map_points: PointMap) -> list[dict]:
    """Train (or load) the grid of each job's arm, every missing point of them through `map_points`;
    returns each arm's tune.json content, in the order of `jobs`."""
    states = [_load(job, results_dir) for job in jobs]
    todo = [(k, value) for k, (job, state) in enumerate(zip(jobs, states, strict=True))
            if not state.get("complete")
            for value in job.config.tune.grid if value not in {p["value"] for p in state.get("points", [])}]
    for k in sorted({k for k, _ in todo}):
        tune = jobs[k].config.tune
        print(f"{_name(jobs[k])}: tuning {tune.param} over {len(tune.grid)} value(s), "
              f"{sum(j == k for j, _ in todo)} to train", flush=True)
    items = [(Job(jobs[k].spec_id, jobs[k].profile, jobs[k].arm, jobs[k].config.tune.seed,
                  point_config(jobs[k].config, value)), value, data_root) for k, value in todo]
    for i, point in map_points(train_point, items):
        k = todo[i][0]
        grid = list(jobs[k].config.tune.grid)
        points = sorted([*states[k].get("points", []), point], key=lambda p: grid.index(p["value"]))
        print(f"{_name(jobs[k])}: {jobs[k].config.tune.param} = {point['value']:g}: "
              f"{jobs[k].config.tune.metric} {point['metric']:.4g} ({len(points)}/{len(grid)})", flush=True)
        states[k] = _write(jobs[k], results_dir, points, complete=False)
    return [state if state.get("complete") else _finish(job, results_dir, state["points"])
            for job, state in zip(jobs, states, strict=True)]


def _name(job: Job) -> str:
    return f"{job.spec_id}/{job.profile}/{job.arm}"


def _load(job: Job, results_dir: Path) -> dict:
    """The arm's tune.json, or {} when there is none or it is of another config (then it trains anew)."""
    path = tune_path(results_dir, job.spec_id, job.profile, job.arm)
    state = json.loads(path.read_text()) if path.exists() else {}
    return state if state.get("config_hash") == config_hash(job.config) else {}


def _finish(job: Job, results_dir: Path, points: list[dict]) -> dict:
    best = best_index(points, job.config.tune.better)
    if best is None:
        raise UserError(f"{job.spec_id}/{job.arm}: tune: no grid value of {job.config.tune.param} trained to "
                        f"a finite {job.config.tune.metric}; widen the grid")
    return _write(job, results_dir, points, complete=True, best=best)


def _write(job: Job, results_dir: Path, points: list[dict], complete: bool, best: int | None = None) -> dict:
    state = _summary(job, config_hash(job.config), points, complete, best)
    if is_rank0():
        write_json_atomic(tune_path(results_dir, job.spec_id, job.profile, job.arm), state)
    return state


def _summary(job: Job, key: str, points: list[dict], complete: bool, best: int | None = None) -> dict:
    tune = job.config.tune
    out = {"config_hash": key, "spec": job.spec_id, "profile": job.profile, "arm": job.arm,
           "param": tune.param, "metric": tune.metric, "better": tune.better, "holdout": tune.holdout,
           "seed": tune.seed, "grid": list(tune.grid), "points": points, "complete": complete,
           "grid_steps": sum(p["steps"] for p in points), "grid_seconds": sum(p["seconds"] for p in points)}
    if best is not None:
        out.update(chosen=points[best]["value"], chosen_metric=points[best]["metric"],
                   at_grid_edge=best in (0, len(points) - 1))
    return out


def record_fields(state: dict) -> dict:
    """What each seed's record keeps of the grid: the summary (`tune`) and its cost in `extra`."""
    summary = {k: state[k] for k in ("param", "metric", "chosen", "chosen_metric", "at_grid_edge",
                                     "grid_steps", "grid_seconds", "holdout", "seed")}
    summary["points"] = [{k: p[k] for k in ("value", "metric", "status", "steps")} for p in state["points"]]
    return summary


def apply_tuning(specs: dict, jobs: list[Job], results_dir: Path, device: torch.device, data_root: Path,
                 map_points: PointMap | None = None) -> list[Job]:
    """Jobs of arms with `tune:` get the chosen value (and the grid's summary); the others pass unchanged.
    The grids of all the arms train together, through `map_points` (default: here, in order)."""
    first: dict[tuple, Job] = {}
    for job in jobs:
        if job.config.tune is not None:
            first.setdefault(_grid_key(job), job)
    states = run_grids(list(first.values()), results_dir, data_root, map_points or in_order(device))
    found = dict(zip(first, states, strict=True))
    out = []
    for job in jobs:
        if job.config.tune is None:
            out.append(job)
            continue
        state = found[_grid_key(job)]
        out.append(replace(job, config=with_value(job.config, job.config.tune.param, state["chosen"]),
                           tuned=record_fields(state)))
    return out


def _grid_key(job: Job) -> tuple:
    return job.spec_id, job.profile, job.arm, config_hash(job.config)
