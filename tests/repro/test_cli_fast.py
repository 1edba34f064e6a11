"""`repro --help` and `repro list` answer without importing torch (issue #15, item 3), and `repro list` shows
the minutes the run records measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro.cli import EXECUTORS, main
from repro.report.minutes import measured_minutes

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "torchvision", "torchmetrics", "transformers", "pandas", "matplotlib", "timm", "datasets",
         "ray")

PROBE = """
import contextlib, io, json, sys
from repro.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main({argv!r})
    except SystemExit as e:   # --help
        code = e.code
print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in {heavy})]))
"""


def _imported(argv: list[str]) -> tuple[int, list[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=set(HEAVY))], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    code, modules = json.loads(out.splitlines()[-1])
    return code, modules


@pytest.mark.parametrize("argv", [["list", "--results-dir", "/nonexistent"], ["--help"], ["run", "--help"],
                                  ["bench", "amp", "--help"]])
def test_help_and_list_import_no_torch(argv):
    code, heavy = _imported(argv)
    assert code == 0
    assert heavy == []


def test_executors_match_the_dispatcher():
    from repro.execute.dispatch import EXECUTORS as DISPATCHED

    assert EXECUTORS == DISPATCHED


def _record(path: Path, wall_time_s) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"status": "ok", "wall_time_s": wall_time_s}))


def test_minutes_sum_the_wall_time_of_the_records(tmp_path):
    runs = tmp_path / "runs"
    _record(runs / "label_smoothing" / "cpu" / "hard" / "seed0.json", 90.0)
    _record(runs / "label_smoothing" / "cpu" / "smooth" / "seed0.json", 30.0)
    _record(runs / "label_smoothing" / "cpu" / "smooth" / "seed1.json", None)     # no time: not counted
    (runs / "label_smoothing" / "cpu" / "smooth" / "seed2.json").write_text("{half")  # unreadable
    _record(runs / "label-smoothing" / "cpu" / "hard" / "seed0.json", 600.0)  # old name, rerun since
    _record(runs / "label-smoothing" / "cpu" / "hard" / "seed1.json", 60.0)   # old name, still counts
    _record(runs / "label_smoothing" / "smoke" / "hard" / "seed0.json", 3)
    _record(runs / "mixup" / "cpu" / "erm" / "seed0.json", 6000.0)            # another spec
    assert measured_minutes(tmp_path, "label_smoothing") == pytest.approx({"cpu": 3.0, "smoke": 0.05})
    grid = runs / "label_smoothing" / "cpu" / "hard" / "tune.json"               # an arm's tuning grid counts
    grid.write_text(json.dumps({"grid_seconds": 120.0, "wall_time_s": 1e6}))
    assert measured_minutes(tmp_path, "label_smoothing") == pytest.approx({"cpu": 5.0, "smoke": 0.05})
    assert measured_minutes(tmp_path / "nothing", "label_smoothing") == {}


def test_list_shows_measured_minutes_or_not_run(tmp_path, capsys):
    _record(tmp_path / "runs" / "label_smoothing" / "cpu" / "hard" / "seed0.json", 150.0)
    assert main(["list", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    block = out[out.index("label_smoothing  ("):]
    profiles = next(line for line in block.splitlines() if line.strip().startswith("profiles:"))
    assert "cpu (" in profiles and "2.5 job-min on " in profiles                 # on the folder's class
    assert "total measured at cpu on " in out and ": 2 job-min (1 min of wall time at --jobs 2)" in out
    assert "paper (" in profiles and "not run" in profiles


@pytest.mark.parametrize("argv", [["run", "nosuchspec"], ["run", "label_smoothing", "--seeds", "5-2"],
                                  ["run", "label_smoothing", "--arms", "nope"],
                                  ["run", "mixup", "--jobs", "0"], ["run", "mixup", "--profile", "nope"],
                                  ["report", "--profile", "nope"],
                                  ["report", "--results-dir", "/nonexistent"]])
def test_bad_arguments_fail_before_torch_is_imported(argv):
    """A mistake is one line and exit 2 within a second or two: nothing heavy is imported to find it
    (before: 9-13 s of imports first)."""
    code, heavy = _imported(argv)
    assert code == 2
    assert heavy == []
