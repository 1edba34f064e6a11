"""The one record schema: what a job's JSON record holds. The runner writes it, the report reads it.

Version 1: records written before the schema existed (no `schema_version` key); version 2 adds the
hash of the uncommitted diff (`git_diff_sha256`) and the diff itself when it is small (`git_patch`),
so a result measured on a "-dirty" commit can be traced back to its code; version 3 says what ran:
`execution` (RunFacts: the resolved precision, memory format, device, threads) and, in `hardware`, the
CPU's instruction-set capability and bf16 flags or the GPU's name and compute capability, and the
cuDNN / oneDNN versions (HARDWARE_FACTS); version 4 adds when the job ran and how loaded the machine was:
`started_at` / `ended_at` (UTC, ISO 8601) and `load` ({"start": [1, 5, 15 min], "end": [...]}, os.getloadavg
at the two ends; repro/report/load.py turns them into the mean load over the job). A record older than a
fact reads it as "unknown" (execution_of, hardware_of) or lacks the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from repro.files import write_json_atomic

RECORD_VERSION = 4
UNKNOWN = "unknown"   # a fact the record's version did not keep

# the keys repro.hardware.fingerprint writes since version 3 (None where they do not apply: no GPU on a CPU)
HARDWARE_FACTS = ("cpu_capability", "amx_bf16", "avx512_bf16", "gpu_name", "compute_capability",
                  "cudnn", "onednn")


@dataclass(frozen=True)
class RunFacts:
    """How a job ran, as resolved once per job (repro.jobs.build.build_training); a record's `execution`."""

    precision: str = UNKNOWN        # fp32 | bf16 | fp16 (the resolved one, never "auto")
    memory_format: str = UNKNOWN    # channels_last | contiguous
    device: str = UNKNOWN           # cpu, cuda, cuda:1, ...
    threads: int | str = UNKNOWN    # torch's intra-op threads


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
    execution: RunFacts = RunFacts()          # version 3; all "unknown" before
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
    started_at: str | None = None             # version 4
    ended_at: str | None = None
    load: dict[str, list[float] | None] | None = None


def execution_of(record: Mapping) -> RunFacts:
    """The record's RunFacts; each fact its version did not keep reads "unknown"."""
    known = {f.name for f in fields(RunFacts)}
    return RunFacts(**{k: v for k, v in (record.get("execution") or {}).items() if k in known})


def hardware_of(record: Mapping) -> dict:
    """The record's hardware fingerprint with every fact of HARDWARE_FACTS; those its version did not keep
    read "unknown"."""
    return {**dict.fromkeys(HARDWARE_FACTS, UNKNOWN), **(record.get("hardware") or {})}


def read_record(path: Path) -> dict:
    """A record file as a dict of the keys it has, validated against Record (ValueError if it is not one)."""
    data = json.loads(Path(path).read_text())   # json, not pydantic's parser: records may hold NaN
    return Record.model_validate(data).model_dump(exclude_unset=True)


def write_record(path: Path, record: Record | dict) -> Path:
    rec = record if isinstance(record, Record) else Record.model_validate(record)
    # python mode, not "json": pydantic's JSON mode would turn a NaN metric into null
    return write_json_atomic(path, rec.model_dump(exclude_unset=True))
