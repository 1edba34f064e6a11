"""The one Record schema (repro/jobs/record.py): written by the runner, read by the report; a record of a
"-dirty" commit carries the hash of the uncommitted diff (and the diff when small)."""

from __future__ import annotations

import json
import math
import subprocess

import pytest

from repro import hardware
from repro.jobs.record import RECORD_VERSION, Record, read_record, write_record


def test_a_record_round_trips_with_only_the_keys_it_has(tmp_path):
    rec = {"schema_version": RECORD_VERSION, "spec": "s", "profile": "smoke", "arm": "a", "seed": 0,
           "status": "ok", "final": {"test_error": 1.5, "test_nll": math.nan}}
    path = write_record(tmp_path / "seed0.json", rec)
    back = read_record(path)
    assert set(back) == set(rec) and back["final"]["test_error"] == 1.5
    assert math.isnan(back["final"]["test_nll"])      # NaN stays NaN (the report notes it), not null


def test_version_1_records_still_read_and_a_non_record_is_refused(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"spec": "s", "profile": "cpu", "arm": "a", "seed": 3, "status": "ok"}))
    assert Record.model_validate(read_record(old)).schema_version == 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"spec": "s", "seed": "zero"}))
    with pytest.raises(ValueError):
        read_record(bad)


def _forget_git():
    hardware.git_diff.cache_clear()
    hardware.git_commit.cache_clear()


def test_records_written_during_a_run_do_not_make_the_commit_dirty_a_code_change_does(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "seed0.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    monkeypatch.setattr(hardware, "REPO", tmp_path)
    _forget_git()
    (tmp_path / "results" / "seed0.json").write_text('{"status": "ok"}')   # a record rewritten by the run
    assert not hardware.git_commit().endswith("-dirty") and hardware.git_diff() == (None, None)
    (tmp_path / "code.py").write_text("x = 2\n")                            # the code changed
    _forget_git()
    sha, patch = hardware.git_diff()
    assert hardware.git_commit().endswith("-dirty") and "+x = 2" in patch and "seed0" not in patch
    assert len(sha) == 64 and len(patch.encode()) < hardware.PATCH_LIMIT      # hashed, and small: kept whole
    _forget_git()
