"""End to end through the `repro` command: records, skipping, resume after SIGKILL, divergence."""

import importlib.machinery
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from repro.cli import main

TINY = """
id: tiny
paper: {title: Tiny, venue: test, arxiv: "0000.00000"}
task: image-classification
base:
  model: {name: cifar_resnet, depth: 8}
  data: {name: synthetic_images, train_size: 512, test_size: 128}
  optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
  schedule: {name: cosine}
  batch_size: 32
  epochs: EPOCHS
arms:
  plain: {}
  boom: {optimizer: {lr: LR}}
claims:
  - {id: c, text: boom is worse, metric: test_error, treatment: boom, baseline: plain, better: lower}
profiles: {paper: {seeds: 1}, cpu: {seeds: 1}, smoke: {seeds: 1}}
"""


def tiny_spec(tmp_path: Path, epochs=2, lr=0.05) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("EPOCHS", str(epochs)).replace("LR", repr(lr)))
    return path


def repro(tmp_path: Path, *args: str, out="results") -> list[str]:
    return ["--results-dir", str(tmp_path / out), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data"), *args]


def record(tmp_path, arm="plain", out="results", profile="smoke") -> dict:
    return json.loads((tmp_path / out / "runs" / "tiny" / profile / arm / "seed0.json").read_text())


def test_run_writes_complete_records_and_skips_finished_jobs(tmp_path, capsys):
    spec = tiny_spec(tmp_path)
    assert main(["run", str(spec), "--profile", "smoke", "--no-report", *repro(tmp_path)]) == 0
    rec = record(tmp_path)
    assert rec["status"] == "ok" and rec["steps"] == 2 * 16
    for key in ("config", "config_hash", "git_commit", "hardware", "curves", "final", "wall_time_s",
                "throughput", "lr_trace"):
        assert key in rec
    assert rec["curves"]["epoch"] == [1, 2] and set(rec["final"]) >= {"test_error", "test_nll", "test_ece"}
    mtime = (tmp_path / "results/runs/tiny/smoke/plain/seed0.json").stat().st_mtime
    capsys.readouterr()
    assert main(["run", str(spec), "--profile", "smoke", "--no-report", *repro(tmp_path)]) == 0
    assert "2 already finished, 0 to run" in capsys.readouterr().out
    assert (tmp_path / "results/runs/tiny/smoke/plain/seed0.json").stat().st_mtime == mtime
    assert not list((tmp_path / "cache").rglob("*.pt"))      # checkpoints of finished jobs are removed


def test_a_diverging_arm_is_recorded_and_the_others_go_on(tmp_path):
    spec = tiny_spec(tmp_path, epochs=1, lr=1.0e30)
    assert main(["run", str(spec), "--profile", "smoke", "--no-report", *repro(tmp_path)]) == 0
    boom = record(tmp_path, "boom")
    assert boom["status"] == "diverged" and "at step" in boom["reason"]
    assert record(tmp_path, "plain")["status"] == "ok"


def test_a_job_missing_its_package_is_not_retried_until_the_package_is_there(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pylo", None)              # as on a machine without PyLO
    spec = tmp_path / "tiny.yaml"
    velo_arm = "{optimizer: {name: velo, lr: 1.0}}"
    spec.write_text(TINY.replace("EPOCHS", "1").replace("{optimizer: {lr: LR}}", velo_arm))
    args = ["run", str(spec), "--profile", "smoke", "--arms", "boom", "--no-report", *repro(tmp_path)]
    assert main(args) == 0
    velo = record(tmp_path, "boom")
    assert velo["status"] == "failed" and velo["missing_dependency"] and velo["missing_package"] == "pylo"
    path = tmp_path / "results/runs/tiny/smoke/boom/seed0.json"
    mtime = path.stat().st_mtime
    capsys.readouterr()
    assert main(args) == 0
    assert "1 already finished, 0 to run" in capsys.readouterr().out and path.stat().st_mtime == mtime
    monkeypatch.setitem(sys.modules, "pylo", types.ModuleType("pylo"))   # installed since: run it again
    monkeypatch.setattr(sys.modules["pylo"], "__spec__", importlib.machinery.ModuleSpec("pylo", None))
    capsys.readouterr()
    main(args)                            # the stand-in has no pylo.optim: it fails again, but it was tried
    assert "0 already finished, 1 to run" in capsys.readouterr().out


def _cli(tmp_path, spec, out, **popen):
    cmd = [sys.executable, "-m", "repro", "run", str(spec), "--profile", "smoke", "--arms", "plain",
           "--no-report", *repro(tmp_path, out=out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_rerun_ends_with_the_uninterrupted_metrics(tmp_path):
    spec = tiny_spec(tmp_path, epochs=6)
    assert _cli(tmp_path, spec, "straight").wait(timeout=300) == 0
    proc = _cli(tmp_path, spec, "killed")
    deadline = time.time() + 240
    while not list((tmp_path / "cache").rglob("*.pt")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)                                   # into the next epoch
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed/runs/tiny/smoke/plain/seed0.json").exists()
    assert _cli(tmp_path, spec, "killed").wait(timeout=300) == 0
    straight, resumed = record(tmp_path, out="straight"), record(tmp_path, out="killed")
    assert resumed["final"] == straight["final"]
    assert resumed["curves"]["test_error"] == straight["curves"]["test_error"]


@pytest.mark.slow
def test_jobs_2_runs_jobs_in_parallel_processes_with_the_same_records(tmp_path):
    spec = tiny_spec(tmp_path, epochs=1)
    args = [str(spec), "--profile", "smoke", "--no-report", "--arms", "plain", "--seeds", "0,1"]
    assert main(["run", *args, "--jobs", "2", *repro(tmp_path, out="par")]) == 0
    assert main(["run", *args, *repro(tmp_path, out="seq")]) == 0
    for seed in (0, 1):
        par = json.loads((tmp_path / f"par/runs/tiny/smoke/plain/seed{seed}.json").read_text())
        seq = json.loads((tmp_path / f"seq/runs/tiny/smoke/plain/seed{seed}.json").read_text())
        # workers use 1 thread each instead of 2: reductions sum in another order, so float noise
        assert par["status"] == "ok" and par["final"] == pytest.approx(seq["final"], rel=1e-3)


def test_malformed_spec_exits_2_with_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("EPOCHS", "2").replace("LR", "0.1").replace("batch_size: 32",
                                                                             "batch_size: -3"))
    out = subprocess.run([sys.executable, "-m", "repro", "run", str(bad), *repro(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.yaml" in lines[0] and "batch_size" in lines[0] and "-3" in lines[0]
    assert "Traceback" not in out.stderr


def test_unknown_arm_and_bad_seeds_are_one_line_errors(tmp_path, capsys):
    spec = tiny_spec(tmp_path)
    assert main(["run", str(spec), "--arms", "nope", *repro(tmp_path)]) == 2
    assert "no such arm" in capsys.readouterr().err
    assert main(["run", str(spec), "--seeds", "a-b", *repro(tmp_path)]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_list_shows_every_spec_with_arms_and_claims(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "label_smoothing" in out and "arms:     hard, smoothed" in out and "no-accuracy-loss" in out


def test_a_checkpoint_is_never_resumed_on_another_hardware_class(tmp_path):
    # a job stopped with 2 threads (cpu-...-2t) must start afresh with 1 (its record would say 1t)
    from repro.jobs.job import Job, checkpoint_path
    from repro.spec import SPEC_DIR, load_spec, resolve

    cfg = resolve(load_spec(SPEC_DIR / "label_smoothing.yaml"), "smoke")["hard"]
    job = Job("label_smoothing", "smoke", "hard", 0, cfg)
    one, two = (checkpoint_path(tmp_path, job, "ab" * 32, c) for c in ("cpu-avx2-1t", "cpu-avx2-2t"))
    assert one != two and one.parent == two.parent
    assert checkpoint_path(tmp_path, job, "ab" * 32, "cpu-avx2-1t") == one
