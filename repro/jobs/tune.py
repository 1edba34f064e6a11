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
resumes at the next point, and reused while the arm's config (its hash) is unchanged.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import torch

from repro.errors import UserError
from repro.files import write_json_atomic
from repro.jobs.job import Job
from repro.jobs.run import is_rank0
from repro.jobs.train import train_job
from repro.spec import config_hash
from repro.spec.tuning import with_value

FILE = "tune.json"


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


def run_grid(job: Job, results_dir: Path, device: torch.device, data_root: Path) -> dict:
    """Train (or load) the grid of `job`'s arm; returns the tune.json content."""
    cfg, tune = job.config, job.config.tune
    key = config_hash(cfg)
    path = tune_path(results_dir, job.spec_id, job.profile, job.arm)
    state = json.loads(path.read_text()) if path.exists() else {}
    if state.get("config_hash") != key:
        state = {}
    if state.get("complete"):
        return state
    points = state.get("points", [])
    for value in tune.grid[len(points):]:
        print(f"{job.spec_id}/{job.arm}: tuning {tune.param} = {value:g} "
              f"({len(points) + 1}/{len(tune.grid)})", flush=True)
        start = time.perf_counter()
        point = Job(job.spec_id, job.profile, job.arm, tune.seed, point_config(cfg, value))
        result, _ = train_job(point, device, data_root)
        points.append({"value": value, "metric": score(result, tune.metric), "status": result.status,
                       "steps": result.steps, "seconds": time.perf_counter() - start,
                       "final_train_loss": float(result.curves["train_loss_all"][-1])
                       if result.curves.get("train_loss_all") else math.nan})
        state = _summary(job, key, points, complete=False)
        if is_rank0():
            write_json_atomic(path, state)
    best = best_index(points, tune.better)
    if best is None:
        raise UserError(f"{job.spec_id}/{job.arm}: tune: no grid value of {tune.param} trained to a finite "
                        f"{tune.metric}; widen the grid")
    state = _summary(job, key, points, complete=True, best=best)
    if is_rank0():
        write_json_atomic(path, state)
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


def apply_tuning(specs: dict, jobs: list[Job], results_dir: Path, device: torch.device,
                 data_root: Path) -> list[Job]:
    """Jobs of arms with `tune:` get the chosen value (and the grid's summary); the others pass unchanged."""
    found: dict[tuple, dict] = {}
    out = []
    for job in jobs:
        tune = job.config.tune
        if tune is None:
            out.append(job)
            continue
        key = (job.spec_id, job.profile, job.arm, config_hash(job.config))
        if key not in found:
            found[key] = run_grid(job, results_dir, device, data_root)
        state = found[key]
        out.append(replace(job, config=with_value(job.config, tune.param, state["chosen"]),
                           tuned=record_fields(state)))
    return out
