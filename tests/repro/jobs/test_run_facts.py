"""What ran is resolved once per job (repro.jobs.build.build_training) and written into its record: the
resolved precision, memory format, device and threads (`execution`), and the CPU's instruction-set
capability and bf16 flags in the hardware fingerprint. The task plugins no longer seed torch's global RNG;
build_training does, once."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import torch
from tiny_spec import write_tiny_spec

from repro.cli import main
from repro.jobs.build import build_training
from repro.jobs.plan import plan
from repro.spec import SPEC_DIR
from repro.tasks.registry import TASKS
from tricks.precision import Precision

CPU = torch.device("cpu")
ARMS = {"auto": {"precision": "auto"}, "nchw": {"precision": "fp32", "channels_last": False}}

pytestmark = pytest.mark.usefixtures("one_thread")


def native_bf16() -> bool:
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def tiny_jobs(tmp_path: Path):
    spec = write_tiny_spec(tmp_path / "tiny.yaml", ARMS, "auto", "nchw")
    return {job.arm: job for job in plan([spec], "smoke", None, [0])[1]}, spec


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("facts")
    _, spec = tiny_jobs(tmp)
    assert main(["run", str(spec), "--profile", "smoke", "--no-report", "--device", "cpu",
                 "--results-dir", str(tmp / "results"), "--cache-dir", str(tmp / "cache"),
                 "--data-root", str(tmp / "data")]) == 0
    runs = tmp / "results/runs/tiny/smoke"
    return {arm: json.loads((runs / arm / "seed0.json").read_text()) for arm in ARMS}


def test_a_new_record_says_which_precision_and_memory_format_ran(records):
    auto, nchw = records["auto"]["execution"], records["nchw"]["execution"]
    precision = "bf16" if native_bf16() else "fp32"   # 'auto' on a CPU: bf16 where oneDNN has native bf16
    # the image task's channels_last default, except fp32 on a CPU without AVX-512
    avx512 = torch.backends.cpu.get_cpu_capability().startswith("AVX512")
    fmt = "channels_last" if precision == "bf16" or avx512 else "contiguous"
    assert auto == {"precision": precision, "memory_format": fmt, "device": "cpu", "threads": 1}
    assert nchw == {"precision": "fp32", "memory_format": "contiguous", "device": "cpu", "threads": 1}
    assert records["auto"]["config"]["precision"] == "auto"     # the config stays as written (its hash too)
    assert records["auto"]["schema_version"] == 4


def test_a_new_record_carries_the_cpus_instruction_set_and_bf16_flags(records):
    hardware = records["auto"]["hardware"]
    assert hardware["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    flags = cpu_flags()
    assert hardware["avx512_bf16"] == ("avx512_bf16" in flags)
    assert hardware["amx_bf16"] == ("amx_bf16" in flags)
    assert hardware["gpu_name"] is hardware["compute_capability"] is hardware["cudnn"] is None   # no GPU ran
    assert hardware["torch"] == torch.__version__
    if torch.backends.mkldnn.is_available():
        assert hardware["onednn"] and hardware["onednn"] in torch.__config__.show()


def test_a_new_record_says_when_it_ran_and_the_load_at_its_two_ends(records):
    rec = records["nchw"]
    start, end = (datetime.fromisoformat(rec[k]) for k in ("started_at", "ended_at"))
    assert start.tzinfo is not None and 0 <= (end - start).total_seconds() <= rec["wall_time_s"] + 1.5
    assert [len(rec["load"][k]) for k in ("start", "end")] == [3, 3]         # os.getloadavg: 1, 5, 15 min
    assert all(x >= 0 for k in ("start", "end") for x in rec["load"][k])


def test_build_resolves_the_precision_once_and_every_consumer_reads_that_one(tmp_path):
    jobs, _ = tiny_jobs(tmp_path)
    built = build_training(jobs["auto"], CPU, tmp_path / "data")
    assert isinstance(built.precision, Precision) and built.precision is built.loop.precision
    assert built.precision.name == ("bf16" if native_bf16() else "fp32") and built.precision.scaler is None
    assert built.facts.precision == built.precision.name and built.device == CPU
    assert built.facts.memory_format == ("channels_last" if built.channels_last else "contiguous")


def test_tasks_do_not_seed_the_global_rng_build_training_does(tmp_path):
    jobs, _ = tiny_jobs(tmp_path)
    job = jobs["nchw"]
    torch.manual_seed(123)
    before = torch.get_rng_state()
    TASKS[job.config.task](job.config, job.seed, CPU, tmp_path / "data", torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), before)          # the plugin leaves the global RNG alone
    built = build_training(job, CPU, tmp_path / "data")
    drawn = torch.rand(4)
    torch.manual_seed(job.seed)                                # the seed the tasks used to set themselves
    assert torch.equal(drawn, torch.rand(4)) and built.loop.epoch_rng_seed is None


def test_the_text_task_keeps_its_per_epoch_dropout_seed(tmp_path):
    """Its records were made with torch.manual_seed(1_000_003 * seed + epoch) before each epoch."""
    pytest.importorskip("transformers")
    [job] = plan([SPEC_DIR / "optimizers_textcls.yaml"], "smoke", ["adam_default"], [2])[1]
    built = build_training(job, CPU, tmp_path / "data")
    assert built.loop.epoch_rng_seed == 1_000_003 * 2
