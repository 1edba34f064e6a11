"""Data-parallel training under torchrun with gloo on 2 CPU processes (repro/jobs/parallel.py,
repro/execute/torchrun.py)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from repro.jobs.parallel import shard

WORKER = Path(__file__).resolve().parents[2] / "helpers" / "ddp_worker.py"

SPEC = """
id: ddp
paper: {title: DDP, venue: test, arxiv: "0000.00000"}
task: image-classification
base:
  model: {name: MODEL}
  tricks: TRICKS
  data: {name: synthetic_images, train_size: 256, test_size: 64}
  optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 1.0e-4}
  schedule: {name: cosine}
  batch_size: 32
  epochs: 2
arms:
  plain: {}
  slow: {optimizer: {lr: 0.01}}
claims:
  - {id: c, text: c, metric: test_error, treatment: plain, baseline: slow, better: lower}
profiles: {paper: {seeds: 1}, cpu: {seeds: 1}, smoke: {seeds: 1}}
"""


def spec(tmp_path: Path, model: str = "plain_convnet", tricks: str = "[]") -> Path:
    path = tmp_path / "ddp.yaml"
    path.write_text(SPEC.replace("MODEL", model).replace("TRICKS", tricks))
    return path


def torchrun(*args: str, nproc: int = 2, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", REPRO_DIST_TIMEOUT="30")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc-per-node", str(nproc), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def test_shard_splits_every_tensor_of_a_batch_into_equal_consecutive_parts():
    x, y = torch.arange(12).reshape(6, 2), torch.arange(6)
    parts = [shard((x, {"y": y}), r, 3) for r in range(3)]
    assert torch.equal(torch.cat([p[0] for p in parts]), x)
    assert [p[1]["y"].tolist() for p in parts] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(Exception, match="multiple of the number of processes"):
        shard(torch.zeros(5), 0, 2)


@pytest.mark.slow
@pytest.mark.parametrize("tricks", ["[]", "[{name: freezeout, t0: 0.5}]"])   # frozen layers: no grad
def test_two_gloo_ranks_with_half_batches_end_with_the_weights_of_one_process(tmp_path, tricks):
    path = spec(tmp_path, tricks=tricks)
    one = subprocess.run([sys.executable, str(WORKER), str(path), str(tmp_path / "one.pt")],
                         capture_output=True, text=True, timeout=240,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert one.returncode == 0, one.stderr[-2000:]
    two = torchrun(str(WORKER), str(path), str(tmp_path / "two.pt"))
    assert two.returncode == 0, two.stderr[-2000:]
    a = torch.load(tmp_path / "one.pt", weights_only=True)
    b = torch.load(tmp_path / "two.pt", weights_only=True)
    assert a["samples"] == b["samples"] == 2 * 256        # throughput counts the samples of all ranks
    for name, w in a["weights"].items():
        torch.testing.assert_close(b["weights"][name], w, rtol=1e-4, atol=1e-5, msg=name)
    moved = sum((w - b["weights"][n]).abs().sum() for n, w in a["weights"].items())
    assert moved < 1e-2 and a["final"]["test_error"] == pytest.approx(b["final"]["test_error"])


@pytest.mark.slow
def test_a_failing_rank_ends_the_run_with_its_error_instead_of_a_hang(tmp_path):
    start = time.monotonic()
    run = torchrun(str(WORKER), str(spec(tmp_path)), str(tmp_path / "x.pt"), "--fail-rank", "1", timeout=180)
    assert run.returncode != 0
    assert "rank 1 failed on purpose at step 3" in run.stderr
    assert time.monotonic() - start < 120
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.slow
def test_a_crashed_data_parallel_job_resumes_on_every_rank_from_rank_0s_checkpoint(tmp_path):
    path, ckpt = spec(tmp_path), str(tmp_path / "ckpt.pt")
    whole = torchrun(str(WORKER), str(path), str(tmp_path / "whole.pt"))
    assert whole.returncode == 0, whole.stderr[-2000:]
    # 8 steps per epoch: rank 1 fails in epoch 2, after rank 0 saved the epoch-1 checkpoint
    crash = torchrun(str(WORKER), str(path), str(tmp_path / "x.pt"), "--fail-rank", "1", "--fail-step", "11",
                     "--checkpoint", ckpt)
    assert crash.returncode != 0 and torch.load(ckpt, weights_only=True)["epoch"] == 1
    resumed = torchrun(str(WORKER), str(path), str(tmp_path / "resumed.pt"), "--checkpoint", ckpt)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = torch.load(tmp_path / "whole.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed.pt", weights_only=True)
    for name, w in a["weights"].items():
        torch.testing.assert_close(b["weights"][name], w, rtol=1e-5, atol=1e-6, msg=name)
    assert b["final"] == pytest.approx(a["final"])


@pytest.mark.slow
def test_repro_run_under_torchrun_writes_one_record_from_rank_0_and_resumes(tmp_path):
    path = spec(tmp_path, "cifar_resnet")   # BatchNorm: per-rank statistics, so only close to 1 process
    dirs = ["--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data")]
    run = torchrun("-m", "repro", "run", str(path), "--profile", "smoke", "--device", "cpu",
                   "--arms", "plain", "--no-report", *dirs)
    assert run.returncode == 0, run.stderr[-2000:]
    rec = json.loads((tmp_path / "results/runs/ddp/smoke/plain/seed0.json").read_text())
    assert rec["status"] == "ok" and rec["world_size"] == 2 and rec["steps"] == 2 * 8
    assert not list((tmp_path / "cache").rglob("*.pt"))
    again = torchrun("-m", "repro", "run", str(path), "--profile", "smoke", "--device", "cpu",
                     "--arms", "plain", "--no-report", *dirs)
    assert again.returncode == 0 and "1 already finished, 0 to run" in again.stdout


@pytest.mark.slow
def test_scaling_benchmark_measures_both_process_counts_and_writes_its_summary(tmp_path):
    script = Path(__file__).resolve().parents[3] / "benchmarks" / "scaling.py"
    run = subprocess.run([sys.executable, str(script), "--rounds", "1", "--steps", "1", "--warmup", "1",
                          "--batch", "8", "--out-dir", str(tmp_path)], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert run.returncode == 0, run.stderr[-2000:]
    record = json.loads(next(tmp_path.glob("scaling-*.json")).read_text())
    assert record["config"]["backend"] == "gloo" and set(record["times"]) == {"1", "2"}
    t1, t2 = record["times"]["1"][0], record["times"]["2"][0]
    assert record["efficiency"]["median"] == pytest.approx(t1 / t2)      # (2 b / t2) / (2 b / t1)
    assert "Scaling efficiency" in (tmp_path / "scaling_summary.md").read_text()
