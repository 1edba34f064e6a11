"""The one record schema: what a job's JSON record holds. The runner writes it, the report reads it.

Version 1: records written before the schema existed (no `schema_version` key); version 2 adds the
hash of the uncommitted diff (`git_diff_sha256`) and the diff itself when it is small (`git_patch`),
so a result measured on a "-dirty" commit can be traced back to its code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from repro.files import write_json_atomic

RECORD_VERSION = 2


class Record(BaseModel):
    """One job's outcome. Only `spec`, `profile`, `arm` and `seed` are always present."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = 1
    spec: str
    profile: str
    arm: str
    seed: int
    status: str = "failed"                    # ok | diverged | failed
    reason: str | None = None
    traceback: str | None = None
    config: dict[str, Any] | None = None      # the resolved RunConfig (JSON)
    config_hash: str | None = None
    git_commit: str | None = None
    git_diff_sha256: str | None = None
    git_patch: str | None = None
    hardware: dict[str, Any] | None = None
    world_size: int | None = None
    overrides: list[str] | None = None        # --set KEY=VALUE texts applied to the config
    curves: dict[str, Any] | None = None
    lr_trace: dict[str, Any] | None = None
    final: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None
    examples: list[dict] | None = None
    steps: int | None = None
    train_time_s: float | None = None
    throughput: float | None = None
    wall_time_s: float | None = None


def read_record(path: Path) -> dict:
    """A record file as a dict of the keys it has, validated against Record (ValueError if it is not one)."""
    data = json.loads(Path(path).read_text())   # json, not pydantic's parser: records may hold NaN
    return Record.model_validate(data).model_dump(exclude_unset=True)


def write_record(path: Path, record: Record | dict) -> Path:
    rec = record if isinstance(record, Record) else Record.model_validate(record)
    # python mode, not "json": pydantic's JSON mode would turn a NaN metric into null
    return write_json_atomic(path, rec.model_dump(exclude_unset=True))
