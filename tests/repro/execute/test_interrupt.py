"""Ctrl-C during `repro run`: one line naming how far it got, exit 130, no traceback; the rerun resumes."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_spec import write_tiny_spec

ROOT = Path(__file__).resolve().parents[3]
ARMS = {"plain": {}, "other": {"optimizer": {"lr": 0.1}}}
MESSAGE = "run the same command again to resume"


def _start(spec: Path, tmp_path: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "repro", "run", str(spec), "--profile", "smoke", "--device", "cpu",
           "--no-report", "--set", "epochs=12", "--results-dir", str(tmp_path / "res"),
           "--cache-dir", str(tmp_path / "cache"), *extra]
    path = f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    # a session of its own: SIGINT to its process group is what Ctrl-C in a terminal does; SIGINT back to
    # its default, since a test run started in the background (CI, `cmd &`) passes it on ignored
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler))


def _interrupt_after_first_checkpoint(proc: subprocess.Popen, cache: Path) -> tuple[int, str]:
    deadline = time.time() + 240
    while not list(cache.rglob("*.pt")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def _messages(stderr: str) -> list[str]:
    """stderr without the progress bars (tqdm redraws with carriage returns)."""
    stderr = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", stderr)      # cursor moves of nested bars
    lines = [seg.strip() for line in stderr.splitlines() for seg in line.split("\r")]
    return [line for line in lines if line and "it/s" not in line and "s/it" not in line
            and "step/s" not in line and "s/step" not in line and "job/s" not in line and "s/job" not in line
            and "|" not in line]


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_prints_one_line_exits_130_and_the_rerun_resumes(tmp_path, jobs):
    spec = write_tiny_spec(tmp_path / "tiny.yaml", ARMS, "other", "plain")
    rc, err = _interrupt_after_first_checkpoint(_start(spec, tmp_path, "--jobs", jobs), tmp_path / "cache")
    assert rc == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    messages = _messages(err)
    assert len(messages) == 1 and messages[0].startswith("interrupted after "), err
    assert messages[0].endswith(f" of 2 jobs; {MESSAGE}")
    finished = int(messages[0].split()[2])
    records = list((tmp_path / "res").rglob("seed0.json"))
    assert finished == len(records) < 2
    checkpoints = list((tmp_path / "cache").rglob("*.pt"))
    assert checkpoints, "the job in progress keeps its last epoch checkpoint"

    proc = _start(spec, tmp_path, "--jobs", jobs)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    for arm in ARMS:
        rec = json.loads((tmp_path / "res/runs/tiny/smoke" / arm / "seed0.json").read_text())
        assert rec["status"] == "ok" and rec["curves"]["epoch"] == list(range(1, 13))
