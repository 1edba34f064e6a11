"""`repro run --executor ray` (repro/execute/ray_cluster.py) on a local 2-CPU Ray instance: the same
records as the local executor, a job whose worker is SIGKILLed is retried and resumes from its checkpoint, and
without Ray the executor is a one-line error while the local one still works."""

import json
import os
import signal
import sys
import tempfile
from pathlib import Path

import pytest
from tiny_spec import write_tiny_spec

from repro.cli import main, plan
from repro.execute import ray_cluster as ray_executor

ARMS = {"plain": {}, "smoothed": {"tricks": [{"name": "label_smoothing", "eps": 0.1}]}}

STEPS_PER_EPOCH, EPOCHS = 3, 2

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def local_ray():
    """One small local Ray instance for the module (the executor uses it as it is)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def spec_file(tmp_path: Path) -> Path:
    return write_tiny_spec(tmp_path / "tiny.yaml", ARMS, "smoothed", "plain")


def dirs(tmp_path: Path, out: str) -> list[str]:
    return ["--results-dir", str(tmp_path / out), "--cache-dir", str(tmp_path / f"cache-{out}"),
            "--data-root", str(tmp_path / "data")]


def record(tmp_path: Path, out: str, arm: str = "plain") -> dict:
    return json.loads((tmp_path / out / "runs" / "tiny" / "smoke" / arm / "seed0.json").read_text())


def assert_same_numbers(got: dict, want: dict) -> None:
    """Final metrics and curves equal up to float noise."""
    assert got["status"] == want["status"] == "ok" and got["steps"] == want["steps"]
    assert got["final"] == pytest.approx(want["final"], abs=1e-4)
    assert set(got["curves"]) == set(want["curves"])
    for key, values in want["curves"].items():
        assert got["curves"][key] == pytest.approx(values, abs=1e-4), key


def test_ray_records_equal_the_local_executor_records(tmp_path, local_ray):
    args = ["run", str(spec_file(tmp_path)), "--profile", "smoke", "--no-report"]
    assert main([*args, *dirs(tmp_path, "local")]) == 0
    assert main([*args, "--executor", "ray", *dirs(tmp_path, "ray")]) == 0
    for arm in ("plain", "smoothed"):
        got, want = record(tmp_path, "ray", arm), record(tmp_path, "local", arm)
        assert_same_numbers(got, want)
        assert got["config_hash"] == want["config_hash"] and got["hardware"]["threads"] == 1
    assert not list((tmp_path / "cache-ray").rglob("*.pt"))      # finished: checkpoints removed


def kill_once_after_first_checkpoint(flag: Path, steps_log: Path, scratch: Path):
    """A task body that logs every step and SIGKILLs its own worker once, at the first step after an
    epoch checkpoint exists (the flag file is deleted first, so the retry runs through). The scratch
    dir the killed worker cannot remove is left under `scratch`, not in /tmp."""
    def work(job, cache_dir, data_root, gpu):
        def on_step(step: int) -> None:
            with steps_log.open("a") as log:
                log.write(f"{step}\n")
            if flag.exists() and any(cache_dir.rglob("*.pt")):
                flag.unlink()
                os.kill(os.getpid(), signal.SIGKILL)
        tempdir, tempfile.tempdir = tempfile.tempdir, str(scratch)
        try:
            return ray_executor.run_on_worker(job, cache_dir, data_root, gpu, on_step=on_step)
        finally:
            tempfile.tempdir = tempdir
    return work


def test_a_sigkilled_worker_is_retried_and_the_job_resumes_from_its_checkpoint(tmp_path, local_ray):
    spec = spec_file(tmp_path)
    assert main(["run", str(spec), "--profile", "smoke", "--no-report", "--arms", "plain",
                 *dirs(tmp_path, "straight")]) == 0
    _, jobs = plan([spec], "smoke", ["plain"], None)
    flag, steps_log = tmp_path / "kill-once", tmp_path / "steps.log"
    flag.touch()
    work = kill_once_after_first_checkpoint(flag, steps_log, tmp_path)
    [rec] = ray_executor.run_jobs(jobs, tmp_path / "killed", tmp_path / "cache-killed", "cpu",
                                  tmp_path / "data", work=work)
    assert not flag.exists(), "the worker was never killed"
    steps = [int(s) for s in steps_log.read_text().split()]
    killed_at = STEPS_PER_EPOCH + 1                 # first step of epoch 2; the retry resumes there
    assert steps == [*range(1, killed_at + 1), *range(killed_at, STEPS_PER_EPOCH * EPOCHS + 1)]
    assert rec == record(tmp_path, "killed")        # the driver wrote what the task returned
    assert_same_numbers(rec, record(tmp_path, "straight"))


def test_without_ray_the_executor_is_a_one_line_error_and_local_still_works(tmp_path, monkeypatch,
                                                                              capsys):
    monkeypatch.setitem(sys.modules, "ray", None)   # `import ray` raises ImportError
    args = ["run", str(spec_file(tmp_path)), "--profile", "smoke", "--no-report", "--arms", "plain"]
    assert main([*args, "--executor", "ray", *dirs(tmp_path, "ray")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --executor ray needs Ray: pip install 'tricks-repro[ray]'"]
    assert main([*args, "--address", "auto", *dirs(tmp_path, "ray")]) == 2
    assert "--address is for --executor ray" in capsys.readouterr().err
    assert main([*args, *dirs(tmp_path, "local")]) == 0
    assert record(tmp_path, "local")["status"] == "ok"
