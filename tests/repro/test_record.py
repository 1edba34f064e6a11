"""The one Record schema (repro/record.py): written by the runner, read by the report; a record of a
"-dirty" commit carries the hash of the uncommitted diff (and the diff when small); records older than
version 3 still load, and the facts they did not keep (what ran: RunFacts, the processor facts) read
"unknown"."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from repro import hardware
from repro.record import (
    HARDWARE_FACTS,
    RECORD_VERSION,
    UNKNOWN,
    Record,
    RunFacts,
    execution_of,
    hardware_of,
    read_record,
    write_record,
)

RESULTS = Path(__file__).resolve().parents[2] / "results" / "runs"


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


VERSION_2 = {   # the keys a version-2 record has (results/runs/amp/cpu/bf16/seed0.json, trimmed)
    "schema_version": 2, "spec": "amp", "profile": "cpu", "arm": "bf16", "seed": 0, "status": "ok",
    "config": {"precision": "auto", "channels_last": None}, "config_hash": "ab12", "git_commit": "3ef6f8b",
    "hardware": {"device": "cpu", "device_name": "AMD EPYC", "cpu": "AMD EPYC", "threads": 1, "cpu_count": 2,
                 "torch": "2.14.1+cu130", "cuda": None, "python": "3.11.7", "id": "amd-epyc-1t-c7322546"},
    "final": {"test_error": 8.1}, "steps": 1170, "world_size": 1,
}


def test_a_version_2_record_loads_unchanged_and_reads_what_it_did_not_keep_as_unknown(tmp_path):
    path = tmp_path / "seed0.json"
    path.write_text(json.dumps(VERSION_2))
    back = read_record(path)
    assert back == VERSION_2                                   # nothing added, nothing lost
    assert execution_of(back) == RunFacts(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN)
    assert Record.model_validate(back).execution.precision == UNKNOWN
    hardware = hardware_of(back)
    assert all(hardware[k] == UNKNOWN for k in HARDWARE_FACTS) and hardware["cpu"] == "AMD EPYC"


def test_a_version_3_record_round_trips_its_run_facts(tmp_path):
    facts = {"precision": "bf16", "memory_format": "channels_last", "device": "cpu", "threads": 2}
    rec = {**VERSION_2, "schema_version": RECORD_VERSION, "execution": facts,
           "hardware": {**VERSION_2["hardware"], "cpu_capability": "AVX512", "amx_bf16": False}}
    back = read_record(write_record(tmp_path / "seed0.json", rec))
    assert back["execution"] == facts
    assert execution_of(back) == RunFacts("bf16", "channels_last", "cpu", 2)
    assert hardware_of(back)["cpu_capability"] == "AVX512" and hardware_of(back)["onednn"] == UNKNOWN


def test_a_version_4_record_keeps_when_it_ran_and_the_load_at_both_ends(tmp_path):
    when = {"started_at": "2026-01-02T03:04:05+00:00", "ended_at": "2026-01-02T03:14:05+00:00",
            "load": {"start": [0.5, 0.4, 0.3], "end": [2.1, 1.2, 0.6]}}
    rec = {**VERSION_2, "schema_version": RECORD_VERSION, **when}
    back = read_record(write_record(tmp_path / "seed0.json", rec))
    assert RECORD_VERSION == 4 and {k: back[k] for k in when} == when
    assert "load" not in read_record(write_record(tmp_path / "old.json", VERSION_2))   # nothing invented


def test_every_committed_record_still_loads():
    paths = sorted(RESULTS.glob("**/seed*.json"))
    for path in paths:
        record = read_record(path)
        if record.get("schema_version", 1) < 3:
            assert execution_of(record).memory_format == UNKNOWN, path
    assert paths or not RESULTS.exists()
