"""benchmarks/cpu_step_speed.py in a tiny configuration: it writes its markdown, ending in the speedup line.
No speed target here: a timed test on a shared machine would be flaky."""

import re

from repro.bench.cpu_step_speed import chosen_config, main


def test_tiny_run_writes_the_table_and_the_speedup_line(tmp_path):
    out = tmp_path / "cpu_step_speed.md"
    main(["--depth", "8", "--batch", "4", "--steps", "1", "--rounds", "2", "--matmul-size", "64",
          "--out", str(out)])
    lines = out.read_text().strip().splitlines()
    assert re.fullmatch(r"speedup: x\d+\.\d+ \[\d+\.\d+, \d+\.\d+\]", lines[-1])
    assert any(line.startswith("| today | bf16 | channels_last |") for line in lines)
    assert any(line.startswith("| chosen |") for line in lines) and "load average" in out.read_text()


def test_chosen_config_names_a_precision_and_a_memory_format():
    cfg = chosen_config()
    assert cfg["precision"] in {"fp32", "bf16"} and isinstance(cfg["channels_last"], bool)
