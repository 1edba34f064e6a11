"""benchmarks/cpu_step_speed.py in a tiny configuration (1 step, 1 round, a ResNet-8 of width 4, no
torch.compile): it writes its tables; the fraction-of-matmul arithmetic against a hand-computed case; the
one line an AVX2-only CPU gets for bf16; the time to the verdicts read from a class folder. No speed target
here: a timed test on a shared machine would be flaky."""

import json

import pytest
import torch

from repro.bench import cpu_step_render as render
from repro.bench import cpu_step_speed as bench
from repro.bench.cpu_step_speed import Variant, chosen_config, main, parse_args
from repro.hardware import fingerprint
from repro.hardware_class import of_fingerprint
from repro.spec import SPEC_DIR, resolve
from repro.spec.load import load_spec


@pytest.fixture
def threads():
    """main sets torch's threads (the suite's 1 per job); give the other tests theirs back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_tiny_run_writes_the_fraction_the_candidates_and_the_minutes(tmp_path, threads):
    torch.set_num_threads(1)
    cls = of_fingerprint(fingerprint(torch.device("cpu"))).id
    results = tmp_path / "results"
    _write(results / "REFERENCE.json", {"class": "cpu-elsewhere-1t"})
    _write(results / "runs/mixup/cpu/erm/seed0.json", {"wall_time_s": 9999.0})   # another class: not counted
    for rel, wall in [("cpu/erm/seed0.json", 120.0), ("cpu/mixup/seed0.json", 60.0),
                      ("cpu_x2/erm/seed0.json", 60.0)]:
        _write(results / "hardware" / cls / "runs/mixup" / rel, {"wall_time_s": wall})
    out = tmp_path / "cpu_step_speed.md"
    main(["--depth", "8", "--width", "4", "--batch", "4", "--steps", "1", "--rounds", "1", "--no-heavy",
          "--skip", "compile", "--matmul-size", "64", "--threads", "1", "--results", str(results),
          "--out", str(out)])
    text = out.read_text()
    lines = text.splitlines()
    assert lines[0] == f"# CPU training step on {cls}: speed as a fraction of the machine"
    assert "load average" in text and "1 thread(s)" in text
    assert "| workload | precision | memory format |" in text and "| of matmul |" in text
    fraction_row = next(line for line in lines if line.startswith("| cifar_resnet-8/4, batch 4 | fp32 |"))
    assert fraction_row.rstrip(" |").endswith("%")
    assert any(line.startswith("| chosen | fp32 |") and "| reference |" in line for line in lines)
    other = "NCHW" if chosen_config()["channels_last"] else "channels_last"
    assert any(line.startswith(f"| {other} | fp32 | {other} |") and "| x" in line for line in lines)
    assert "torch.compile" not in text
    if bench.native_bf16():
        assert any(line.startswith("| bf16 autocast | bf16 |") for line in lines)
        assert "accuracy-parity" in text
    else:
        assert render.NO_BF16 in lines
    assert "| mixup | 3.0 | 1.0 | 2.0 |" in lines and "| **total** | 3.0 | 1.0 | 2.0 |" in lines


def test_fraction_of_matmul_against_a_hand_computed_case():
    # 2 GFLOP per step in 40 ms is 50 GFLOP/s; against a 100 GFLOP/s matmul that is one half
    assert render.fraction_of_matmul(2e9, 0.04, 100e9) == pytest.approx(0.5)
    w = {"variants": [Variant("chosen", "fp32", False)], "step_times": {"chosen": [0.05, 0.04, 0.03]},
         "flops": 2e9, "batch": 50}
    table = render._fraction_table({"rows": [("w", w)], "matmul": {"fp32": {"rate": 100e9}}})
    assert "| w | fp32 | NCHW | 2.000 | 40.0 (30.0-50.0) | 1250 | 50.0 | 100.0 | 50.0% |" in table


def test_a_cpu_without_native_bf16_gets_one_line_and_no_bf16_candidate(monkeypatch):
    monkeypatch.setattr(bench, "native_bf16", lambda: False)
    assert all(v.precision == "fp32" for v in bench.variants(set()))
    m = {"bf16_skipped": False, "native_bf16": False}
    assert render._bf16_line(m) == "bf16: not tried (no native bf16 on this CPU: emulated, ~10x slower)"


def test_the_suite_row_is_the_cpu_profiles_recipe():
    args = parse_args([])
    assert (args.threads, args.depth, args.width, args.batch) == (1, 8, 12, 50)
    assert chosen_config()["precision"] == "fp32" and isinstance(chosen_config()["channels_last"], bool)
    cfg = resolve(load_spec(SPEC_DIR / "schedules.yaml", check_registries=False), "cpu")["step"]
    # amp, label_smoothing, mixup and snapshot_ensembles train the lighter ResNet-8/8 at batch 64
    assert (cfg.model.depth, cfg.model.width, cfg.batch_size, cfg.precision) == (8, 12, 50, "fp32")
