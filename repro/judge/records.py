"""The judge's input: the run records (repro.record.Record) of a profile as a DataFrame, the one accessor
of a metric in a record (`metric_value`), and the per-seed values of a claim's two sides.

Reads results/runs/<spec>/<profile>/<arm>/seed<k>.json, each validated against the one Record schema.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from repro.hardware_class import legacy_facts, of_record
from repro.judge.derived import TIME_TO_EVENT, censored_key
from repro.record import read_record
from repro.spec import Claim, Ref
from repro.spec.legacy_ids import current_id

RECORD_NAME = re.compile(r"^seed(\d+)\.json$")
METRICS = ("test_error", "test_nll", "test_ece")
RECORD_FIELDS = ("throughput", "wall_time_s", "train_time_s", "steps")
COLUMNS = ["spec", "profile", "arm", "seed", "status", "reason", "git_commit", "hardware", "config",
           "curves", "lr_trace", "final", "extra", "examples", "overrides", *RECORD_FIELDS, "path",
           "hardware_class", "missing_dependency", "load"]


def load_records(results_dir: Path, profile: str, hardware: str | None = None) -> pd.DataFrame:
    """One row per record of `profile` (columns COLUMNS), of hardware class `hardware` only when given
    (repro/hardware_class.py; its id is the `hardware_class` column); temp and unreadable files are skipped.
    """
    rows, legacy = [], legacy_facts(results_dir)
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
                   seed=int(rec.get("seed", match.group(1))), status=rec.get("status", "failed"), path=path,
                   hardware_class=of_record(rec, legacy).id)
        if hardware is not None and row["hardware_class"] != hardware:
            continue
        for key in ("final", "extra", "curves", "lr_trace", "config", "hardware"):
            row[key] = row[key] or {}
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    # a job rerun under the spec's new id (repro/spec/legacy_ids.py) replaces its record under the old one
    return frame.drop_duplicates(["spec", "arm", "seed"], keep="last").reset_index(drop=True)


@dataclass(frozen=True)
class MetricKey:
    """Which number of a record a claim side reads: `name` of the run or of one of its predictors
    (e.g. the EMA weights' test_error), at the end or after epoch `epoch` (`test_error@1`)."""

    name: str
    predictor: str | None = None
    epoch: int | None = None

    @classmethod
    def of(cls, ref: Ref, metric: str) -> MetricKey:
        name, _, epoch = metric.partition("@")
        return cls(name, ref.predictor, int(epoch) if epoch else None)

    @property
    def key(self) -> str:
        return f"{self.predictor}/{self.name}" if self.predictor else self.name


def metric_value(row: Mapping, metric: MetricKey) -> float | None:
    """A metric from a record: `final` (NaN kept, the verdict notes it), then the top-level numbers
    (throughput, wall time, ...), then `extra`; with an epoch, its curve after that epoch. None when the
    record does not have it."""
    key = metric.key
    if metric.epoch is not None:
        curves = row["curves"]
        if metric.epoch not in curves.get("epoch", []) or key not in curves:
            return None
        x = curves[key][curves["epoch"].index(metric.epoch)]
        return math.nan if x is None else float(x)
    if key in row["final"]:
        x = row["final"][key]
        return math.nan if x is None else float(x)
    for source in ({k: row[k] for k in RECORD_FIELDS}, row["extra"]):
        if source.get(key) is not None and pd.notna(source[key]):
            return float(source[key])
    return None


def side_table(records: pd.DataFrame, ref: Ref, metric: str) -> pd.DataFrame:
    """Per seed (status, value) of one side of a claim.

    An ok record without the metric gets status "missing metric"; a NaN metric stays ok (and NaN).
    """
    key = MetricKey.of(ref, metric)
    rows = records[records["arm"] == ref.arm]
    values = [metric_value(r, key) if r["status"] == "ok" else None for _, r in rows.iterrows()]
    out = pd.DataFrame({"seed": rows["seed"], "status": rows["status"], "value": values})
    absent = pd.Series([x is None for x in values], index=out.index, dtype=bool)
    out.loc[absent & (out["status"] == "ok"), "status"] = "missing metric"
    return out.sort_values("seed").reset_index(drop=True)


def _sides(records: pd.DataFrame, claim: Claim) -> dict[str, pd.DataFrame]:
    return {"treatment": side_table(records, claim.treatment_ref, claim.metric),
            "baseline": side_table(records, claim.baseline_ref, claim.metric)}


def side_values(records: pd.DataFrame, claim: Claim) -> tuple[dict, dict]:
    """({side: {seed: value}} of the ok jobs, {side: {seed: status}} of the others) for one claim."""
    sides = _sides(records, claim)
    ok = {s: t[t["status"] == "ok"] for s, t in sides.items()}
    values = {s: dict(zip(t["seed"], t["value"].astype(float), strict=True)) for s, t in ok.items()}
    excluded = {s: {k: st for k, st in zip(t["seed"], t["status"], strict=True) if st != "ok"}
                for s, t in sides.items()}
    return values, excluded


def censored_flags(records: pd.DataFrame, claim: Claim) -> dict[str, dict[int, bool]]:
    """{side: {seed: censored?}} of a time-to-event claim's ok jobs (repro/judge/derived.py)."""
    key = censored_key(claim.metric)
    tables = {"treatment": side_table(records, claim.treatment_ref, key),
              "baseline": side_table(records, claim.baseline_ref, key)}
    return {s: {int(k): bool(x) for k, x, st in zip(t["seed"], t["value"], t["status"], strict=True)
                if st == "ok"} for s, t in tables.items()}


def claim_table(records: pd.DataFrame, claim: Claim) -> pd.DataFrame:
    """Per seed: both sides' values and statuses, and their difference (ratio for ratio claims)."""
    sides = _sides(records, claim)
    cols = ["seed", "value", "status"]
    table = sides["treatment"][cols].merge(sides["baseline"][cols], on="seed", how="outer",
                                           suffixes=("_t", "_b"))
    table.columns = ["seed", "treatment", "treatment_status", "baseline", "baseline_status"]
    both = table["treatment_status"].eq("ok") & table["baseline_status"].eq("ok")
    t, b = table["treatment"].astype(float), table["baseline"].astype(float)
    col = "ratio" if claim.kind == "ratio" else "difference"
    table[col] = (t / b if claim.kind == "ratio" else t - b).where(both)
    columns = ["seed", "treatment", "baseline", col, "treatment_status", "baseline_status"]
    if claim.metric in TIME_TO_EVENT:     # a censored value is a lower bound, not a number to difference
        flags = censored_flags(records, claim)
        for side in ("treatment", "baseline"):
            table[f"{side}_censored"] = [flags[side].get(int(s)) for s in table["seed"]]
        columns += ["treatment_censored", "baseline_censored"]
    return table[columns]
