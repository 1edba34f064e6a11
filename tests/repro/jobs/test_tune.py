"""An arm's `tune:` grid: the choice, its cost and the grid in tune.json and the records; resumable; the
held-out validation split; spec checks. The reference for the choice is each grid point trained directly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from tiny_spec import tiny_mlp_spec_text

from repro.cli import main
from repro.jobs.job import Job
from repro.jobs.train import train_job
from repro.jobs.tune import best_index, point_config, score, tune_path
from repro.spec import load_spec, resolve
from repro.spec.problems import SpecError
from repro.tasks.holdout import holdout_indices

SPEC = tiny_mlp_spec_text(
    "tuned", "{name: adamw, lr: 0.001}",
    "  tuned: {tune: {param: optimizer.lr, grid: [0.0001, 0.003, 0.1], metric: test_nll, epochs: 1}}\n"
    "  default: {optimizer: {name: adam}}",
    "{id: c, text: tuned wins, metric: test_error, treatment: tuned, baseline: default, better: lower}",
    smoke_seeds=2)


def _spec(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "tuned.yaml"
    path.write_text(text)
    return path


def _args(tmp_path: Path) -> list[str]:
    return ["--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data"), "--no-report"]


def test_grid_picks_the_best_point_and_records_carry_choice_and_cost(tmp_path):
    spec = _spec(tmp_path)
    assert main(["run", str(spec), "--profile", "smoke", *_args(tmp_path)]) == 0
    state = json.loads(tune_path(tmp_path / "results", "tuned", "smoke", "tuned").read_text())
    assert state["complete"] and [p["value"] for p in state["points"]] == [0.0001, 0.003, 0.1]
    # reference: each grid point trained directly on the held-out split scores what tune.json says
    cfg = resolve(load_spec(spec), "smoke")["tuned"]
    direct = []
    for value in cfg.tune.grid:
        point = Job("tuned", "smoke", "tuned", 0, point_config(cfg, value))
        result, _ = train_job(point, torch.device("cpu"), tmp_path / "data")
        direct.append(score(result, "test_nll"))
    assert [p["metric"] for p in state["points"]] == pytest.approx(direct, rel=1e-6)
    assert state["chosen"] == cfg.tune.grid[min(range(3), key=direct.__getitem__)]
    # 3 points x 1 epoch x 3 steps: 115 of the 128 training images (13 held out), batches of 32
    assert state["grid_steps"] == 3 * 3 and state["grid_seconds"] > 0
    for seed in (0, 1):
        rec = json.loads((tmp_path / f"results/runs/tuned/smoke/tuned/seed{seed}.json").read_text())
        assert rec["config"]["optimizer"]["lr"] == state["chosen"]
        assert rec["tune"]["chosen"] == state["chosen"] and len(rec["tune"]["points"]) == 3
        assert rec["extra"]["tune_grid_steps"] == 9 and rec["extra"]["tune_value"] == state["chosen"]
        assert rec["steps"] == 2 * 4    # the arm runs its own budget on the whole training set


def test_a_finished_grid_is_reused_and_an_interrupted_one_resumes(tmp_path, monkeypatch):
    spec = _spec(tmp_path)
    path = tune_path(tmp_path / "results", "tuned", "smoke", "tuned")
    assert main(["run", str(spec), "--profile", "smoke", "--seeds", "0", *_args(tmp_path)]) == 0
    first = json.loads(path.read_text())
    partial = {**first, "complete": False, "points": first["points"][:2]}
    path.write_text(json.dumps(partial))
    calls = []
    real = train_job

    def counting(job, *a, **k):
        calls.append(job.config.optimizer.lr if job.config.holdout else None)
        return real(job, *a, **k)

    monkeypatch.setattr("repro.jobs.tune.train_job", counting)
    assert main(["run", str(spec), "--profile", "smoke", "--seeds", "0", *_args(tmp_path)]) == 0
    assert calls == [0.1]                     # only the missing grid point trained
    again = json.loads(path.read_text())
    assert again["points"][:2] == first["points"][:2] and again["complete"]
    calls.clear()
    assert main(["run", str(spec), "--profile", "smoke", "--seeds", "0", *_args(tmp_path)]) == 0
    assert calls == []                        # complete and same config: nothing retrains


def test_a_grid_missing_a_middle_point_trains_that_point_only_and_keeps_grid_order(tmp_path, monkeypatch):
    spec = _spec(tmp_path)
    path = tune_path(tmp_path / "results", "tuned", "smoke", "tuned")
    assert main(["run", str(spec), "--profile", "smoke", "--seeds", "0", *_args(tmp_path)]) == 0
    first = json.loads(path.read_text())
    path.write_text(json.dumps({**first, "complete": False, "points": [first["points"][i] for i in (0, 2)]}))
    calls = []
    real = train_job
    monkeypatch.setattr("repro.jobs.tune.train_job",
                        lambda job, *a, **k: calls.append(job.config.optimizer.lr) or real(job, *a, **k))
    assert main(["run", str(spec), "--profile", "smoke", "--seeds", "1", *_args(tmp_path)]) == 0
    again = json.loads(path.read_text())
    assert calls == [0.003]                   # the missing value, not the grid's third
    assert [p["value"] for p in again["points"]] == [0.0001, 0.003, 0.1] and again["complete"]
    assert [p["metric"] for p in again["points"]] == pytest.approx([p["metric"] for p in first["points"]])


def test_with_two_jobs_the_grid_trains_in_worker_processes_to_the_same_choice(tmp_path, monkeypatch,
                                                                              one_thread):
    """The reference: the same grid trained here, one point after another (--jobs 1), with one thread as
    each of the two workers has on two cores."""
    spec = _spec(tmp_path)
    seq, par = tmp_path / "seq", tmp_path / "par"
    assert main(["run", str(spec), "--profile", "smoke", "--seeds", "0", *_args(seq)]) == 0

    def not_here(*args, **kwargs):
        raise AssertionError("a grid point trained in the driver with --jobs 2")

    monkeypatch.setattr("repro.jobs.tune.train_job", not_here)     # the spawned workers import the real one
    assert main(["run", str(spec), "--profile", "smoke", "--seeds", "0", "--jobs", "2", *_args(par)]) == 0
    one, two = (json.loads(tune_path(f / "results", "tuned", "smoke", "tuned").read_text())
                for f in (seq, par))
    assert [p["value"] for p in two["points"]] == [0.0001, 0.003, 0.1] and two["complete"]
    assert [p["metric"] for p in two["points"]] == pytest.approx([p["metric"] for p in one["points"]],
                                                                 rel=1e-5)
    assert two["chosen"] == one["chosen"] and two["grid_steps"] == one["grid_steps"]


def test_holdout_split_is_fixed_disjoint_and_covers_the_set():
    keep, held = holdout_indices(100, 0.1)
    again = holdout_indices(100, 0.1)
    assert torch.equal(keep, again[0]) and torch.equal(held, again[1])
    assert len(held) == 10 and set(keep.tolist()).isdisjoint(held.tolist())
    assert sorted(keep.tolist() + held.tolist()) == list(range(100))


def test_best_index_prefers_finite_first_best():
    points = [{"metric": math.nan}, {"metric": 2.0}, {"metric": 1.0}, {"metric": 1.0}]
    assert best_index(points, "lower") == 2 and best_index(points, "higher") == 1
    assert best_index([{"metric": math.nan}], "lower") is None


@pytest.mark.parametrize(("change", "where"), [
    ("param: optimizer.lr", "param: optimizer.lrr"),
    ("param: optimizer.lr", "param: data.name"),
])
def test_bad_tune_section_is_one_line(tmp_path, change, where):
    with pytest.raises(SpecError) as err:
        load_spec(_spec(tmp_path, SPEC.replace(change, where)))
    assert "tune" in str(err.value) and "\n" not in str(err.value)
