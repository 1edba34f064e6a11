"""The report's input: the run records (repro.jobs.record.Record) of a profile as a DataFrame, and the
claims judged on them.

Reads results/runs/<spec>/<profile>/<arm>/seed<k>.json, each validated against the one Record schema.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from repro.jobs.record import read_record
from repro.spec.legacy_ids import current_id
from repro.stats import get_field

RECORD_NAME = re.compile(r"^seed(\d+)\.json$")
METRICS = ("test_error", "test_nll", "test_ece")
RECORD_FIELDS = ("throughput", "wall_time_s", "train_time_s", "steps")
COLUMNS = ["spec", "profile", "arm", "seed", "status", "reason", "git_commit", "hardware", "config",
           "curves", "lr_trace", "final", "extra", "examples", "overrides", *RECORD_FIELDS, "path"]


def load_records(results_dir: Path, profile: str) -> pd.DataFrame:
    """One row per record of `profile` (columns COLUMNS); temp and unreadable files are skipped."""
    rows = []
    for path in sorted(Path(results_dir, "runs").glob(f"*/{profile}/*/seed*.json")):
        match = RECORD_NAME.match(path.name)
        if not match:
            continue
        try:
            rec = read_record(path)
        except (OSError, ValueError) as e:
            warnings.warn(f"skipping unreadable record {path}: {e}", stacklevel=2)
            continue
        row = {c: rec.get(c) for c in COLUMNS}
        row.update(spec=current_id(rec.get("spec", path.parts[-4])), profile=profile,
                   arm=rec.get("arm", path.parts[-2]),
                   seed=int(rec.get("seed", match.group(1))), status=rec.get("status", "failed"), path=path)
        for key in ("final", "extra", "curves", "lr_trace", "config", "hardware"):
            row[key] = row[key] or {}
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    # a job rerun under the spec's new id (repro/spec/legacy_ids.py) replaces its record under the old one
    return frame.drop_duplicates(["spec", "arm", "seed"], keep="last").reset_index(drop=True)


def _value(row: Mapping, key: str) -> float | None:
    """A metric from a record: `final` (NaN kept, the verdict notes it), then the top-level numbers
    (throughput, wall time, ...), then `extra`; `name@E` is the curve of `name` after epoch E."""
    name, _, epoch = key.partition("@")
    if epoch:
        curves = row["curves"]
        if int(epoch) not in curves.get("epoch", []) or name not in curves:
            return None
        x = curves[name][curves["epoch"].index(int(epoch))]
        return math.nan if x is None else float(x)
    if key in row["final"]:
        x = row["final"][key]
        return math.nan if x is None else float(x)
    for source in ({k: row[k] for k in RECORD_FIELDS}, row["extra"]):
        if source.get(key) is not None and pd.notna(source[key]):
            return float(source[key])
    return None


def side_table(records: pd.DataFrame, ref: str, metric: str) -> pd.DataFrame:
    """Per seed (status, value) of one side of a claim; `ref` is "arm" or "arm/predictor".

    An ok record without the metric gets status "missing metric"; a NaN metric stays ok (and NaN).
    """
    arm, _, predictor = ref.partition("/")
    key = f"{predictor}/{metric}" if predictor else metric
    rows = records[records["arm"] == arm]
    values = [_value(r, key) if r["status"] == "ok" else None for _, r in rows.iterrows()]
    out = pd.DataFrame({"seed": rows["seed"], "status": rows["status"], "value": values})
    absent = pd.Series([x is None for x in values], index=out.index, dtype=bool)
    out.loc[absent & (out["status"] == "ok"), "status"] = "missing metric"
    return out.sort_values("seed").reset_index(drop=True)


def side_values(records: pd.DataFrame, claim: Any) -> tuple[dict, dict]:
    """({side: {seed: value}} of the ok jobs, {side: {seed: status}} of the others) for one claim."""
    metric = get_field(claim, "metric")
    sides = {s: side_table(records, get_field(claim, s), metric) for s in ("treatment", "baseline")}
    ok = {s: t[t["status"] == "ok"] for s, t in sides.items()}
    values = {s: dict(zip(t["seed"], t["value"].astype(float), strict=True)) for s, t in ok.items()}
    excluded = {s: {k: st for k, st in zip(t["seed"], t["status"], strict=True) if st != "ok"}
                for s, t in sides.items()}
    return values, excluded


def claim_table(records: pd.DataFrame, claim: Any) -> pd.DataFrame:
    """Per seed: both sides' values and statuses, and their difference (ratio for ratio claims)."""
    metric = get_field(claim, "metric")
    sides = {s: side_table(records, get_field(claim, s), metric) for s in ("treatment", "baseline")}
    cols = ["seed", "value", "status"]
    table = sides["treatment"][cols].merge(sides["baseline"][cols], on="seed", how="outer",
                                           suffixes=("_t", "_b"))
    table.columns = ["seed", "treatment", "treatment_status", "baseline", "baseline_status"]
    both = table["treatment_status"].eq("ok") & table["baseline_status"].eq("ok")
    t, b = table["treatment"].astype(float), table["baseline"].astype(float)
    ratio = (get_field(claim, "kind") or "superiority") == "ratio"
    col = "ratio" if ratio else "difference"
    table[col] = (t / b if ratio else t - b).where(both)
    return table[["seed", "treatment", "baseline", col, "treatment_status", "baseline_status"]]
