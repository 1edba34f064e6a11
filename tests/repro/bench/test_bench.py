"""Speed benchmarks: interleaving, speedup intervals, the regression rule, MFU, `repro bench` end to end."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from repro.bench import amp_throughput as amp
from repro.bench import lib as bench_lib
from repro.cli import main
from repro.hardware_class import of_fingerprint


def test_rounds_rotate_the_order_of_the_variants():
    calls = []
    runners = {name: (lambda name=name: calls.append(name) or 1.0) for name in "ABC"}
    times = bench_lib.interleaved(runners, repeats=3)
    assert "".join(calls) == "ABCBCACAB"
    assert times == {"A": [1.0] * 3, "B": [1.0] * 3, "C": [1.0] * 3}


def test_speedup_median_interval_and_noise_on_constructed_rounds():
    ratios = [1.8, 1.9, 2.0, 2.1, 2.2]
    reference = [0.5 * r for r in ratios]          # variant takes 0.5 s per step in every round
    s = bench_lib.speedup(reference, [0.5] * 5)
    assert s["median"] == pytest.approx(2.0)
    assert 1.8 <= s["lo"] < 2.0 < s["hi"] <= 2.2   # a bootstrap median stays within the observed values
    # numpy's linear quartiles of 5 values are the 2nd and 4th; a normal IQR is 1.349 sigma
    assert s["log_sigma"] == pytest.approx((math.log(2.1) - math.log(1.9)) / 1.3489795, rel=1e-6)
    flat = bench_lib.speedup([1.0] * 4, [0.25] * 4)
    assert (flat["median"], flat["lo"], flat["hi"], flat["log_sigma"]) == (4.0, 4.0, 4.0, 0.0)


def test_threshold_from_noise_and_floor():
    noisy = {"log_sigma": 0.1, "n": 9}
    allowed, why = bench_lib.threshold(noisy, noisy, k=3, floor=0.05)
    se = math.sqrt(math.pi / 2) * 0.1 / 3      # standard error of a median of 9 Gaussian values
    assert allowed == pytest.approx(3 * math.sqrt(2) * se) and why.startswith("noise")
    quiet = {"log_sigma": 0.001, "n": 9}
    allowed, why = bench_lib.threshold(quiet, quiet, k=3, floor=0.05)
    assert 1 - math.exp(-allowed) == pytest.approx(0.05) and why.startswith("floor")


def _record(bf16_slowdown: float = 1.0, rng_seed: int = 0) -> dict:
    """A synthetic record: fp32 at 1 s/step, bf16 ~2x faster, 9 rounds with 2% multiplicative noise."""
    rng = np.random.default_rng(rng_seed)
    fp32 = 1.0 * np.exp(rng.normal(0, 0.02, 9))
    bf16 = 0.5 * bf16_slowdown * np.exp(rng.normal(0, 0.02, 9))
    return {"models": {"m": {"speedups": {"bf16": bench_lib.speedup(fp32, bf16)}}}}


def test_compare_passes_on_identical_and_noisy_records_and_fails_on_a_slowdown():
    base = _record()
    assert all(c.passed for c in bench_lib.compare_records(base, base))
    assert all(c.passed for c in bench_lib.compare_records(base, _record(rng_seed=1)))
    (check,) = bench_lib.compare_records(base, _record(bf16_slowdown=1.25, rng_seed=1))
    assert not check.passed and check.drop == pytest.approx(0.2, abs=0.05)
    (gone,) = bench_lib.compare_records(base, {"models": {}})
    assert not gone.passed


def test_flop_count_and_mfu_of_a_known_matmul():
    a, b = torch.ones(64, 32), torch.ones(32, 16)
    assert amp.count_flops(lambda: a @ b) == 2 * 64 * 32 * 16
    layer, x = nn.Linear(32, 16, bias=False), torch.ones(64, 32, requires_grad=True)
    # forward x W^T, backward dL/dx and dL/dW: three matmuls of 2 * 64 * 32 * 16 FLOPs each
    assert amp.count_flops(lambda: layer(x).sum().backward()) == 3 * 2 * 64 * 32 * 16
    # 2 * 1024^3 FLOPs in 10 ms on a 1 TFLOP/s device: 214.7 GFLOP/s achieved = 21.47%
    assert amp.mfu(2 * 1024**3, 0.01, 1e12) == pytest.approx(0.2147483648)


def test_published_peaks_match_the_right_gpu():
    assert amp.published_peak("NVIDIA A100-SXM4-80GB")[1]["bf16"] == pytest.approx(312e12)
    assert amp.published_peak("NVIDIA A10")[0] == "A10"
    assert amp.published_peak("NVIDIA L40S")[0] == "L40S" and amp.published_peak("NVIDIA L4")[0] == "L4"
    assert amp.published_peak("Tesla V100-PCIE-16GB")[1] == {"fp32": 14e12, "fp16": 112e12}
    assert amp.published_peak("AMD EPYC") is None


def test_variants_on_cpu():
    names = [v.name for v in amp.variants_for(torch.device("cpu"), convnet=True)]
    assert names == ["fp32", "bf16", "fp32+cl", "bf16+cl"]
    assert [v.name for v in amp.variants_for(torch.device("cpu"), convnet=False)] == ["fp32", "bf16"]


@pytest.fixture
def one_thread():
    """One intra-op thread: on a loaded 2-core machine two OpenMP threads wait on each other's
    preemption, which makes tiny-model timings far noisier than the slowdown the test injects."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_bench_end_to_end_baseline_compare_and_injected_slowdown(tmp_path, monkeypatch, capsys, one_thread):
    """save-baseline measures a tiny model; comparing a record with itself passes; re-measuring with
    the bf16 step slowed by 0.1 s (~10x a tiny step) fails with exit code 1."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    dirs = ["--out-dir", str(tmp_path / "out"), "--baselines-dir", str(tmp_path / "baselines")]
    assert main(["bench", "save-baseline", "--quick", "--models", "tiny", "--no-channels-last",
                 "--steps", "2", "--repeats", "5", "--warmup", "3", *dirs]) == 0
    (baseline,) = (tmp_path / "baselines").glob("*.json")
    record = json.loads(baseline.read_text())
    assert baseline.stem == of_fingerprint(record["hardware"]).id         # keyed by the hardware class id
    assert baseline.stem.startswith("cpu-") and baseline.stem.endswith(f"-{record['hardware']['threads']}t")
    tiny = record["models"]["tiny"]
    assert set(tiny["variants"]) == {"fp32", "bf16"}
    assert len(tiny["variants"]["bf16"]["seconds_per_step"]) == 5
    assert (tmp_path / "out" / "amp_summary.md").exists()
    assert (tmp_path / "out" / "amp_throughput.png").exists()
    assert main(["bench", "compare", "--record", str(baseline), "--baseline", str(baseline), *dirs]) == 0
    assert "ok: 1 speedups" in capsys.readouterr().out
    monkeypatch.setenv("REPRO_BENCH_SLOWDOWN", "bf16=0.1")
    with pytest.raises(SystemExit) as failed:
        main(["bench", "compare", *dirs])
    assert failed.value.code == 1
    assert "REGRESSION" in capsys.readouterr().out
