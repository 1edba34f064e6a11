"""The one Record schema (repro/jobs/record.py): written by the runner, read by the report; a record of a
"-dirty" commit carries the hash of the uncommitted diff (and the diff when small)."""

from __future__ import annotations

import json
import math

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


def test_uncommitted_diff_is_hashed_and_kept_when_small(monkeypatch):
    hardware.git_diff.cache_clear()
    sha, patch = hardware.git_diff()
    if sha is None:
        assert patch is None                     # a clean checkout: nothing to trace
    else:
        assert len(sha) == 64 and (patch is None or len(patch.encode()) < hardware.PATCH_LIMIT)
