"""View: every `extra` number per arm, and the training cost (steps, seconds).

One row per `extra` key of the records, one column per arm, the per-seed values. Keys lose their first
component (the trick, or "ensemble" for `ensemble: {members: M}` runs), so snapshot and independent
ensembles line up: `snapshot_ensemble/member1/test_error` and `ensemble/member1/test_error` are both
row `member1/test_error`. The training cost of each arm (optimizer steps, training seconds) comes first.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from repro.files import write_text_atomic
from repro.report.format import mean_std

COST_ROWS = ("steps", "train_time_s")


DETAIL = re.compile(r"(^|/)pair\d+-\d+/")  # pairwise diversity: in the CSV only, the table shows means


METRIC_ORDER = ("test_error", "test_nll", "test_ece")


def _natural(key: str) -> list:
    """Sort key that puts member2 before member10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def _row_order(key: str) -> tuple:
    """Plain keys first, then grouped by metric (test_error, test_nll, test_ece, others), naturally."""
    metric = key.rsplit("/", 1)[-1]
    rank = METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER)
    return ("/" in key, rank, metric, _natural(key))


def _stripped(extra: dict) -> dict[str, float]:
    """extra with each key's first component dropped, unless two keys would then collide."""
    short = {k: k.split("/", 1)[1] if "/" in k else k for k in extra}
    counts = pd.Series(list(short.values())).value_counts()
    return {(s if counts[s] == 1 else k): float(extra[k]) for k, s in short.items()
            if isinstance(extra[k], (int, float)) and math.isfinite(extra[k])}


def extra_values(ok: pd.DataFrame, arms: list[str]) -> dict[str, dict[str, list[float]]]:
    """key -> arm -> per-seed values over the ok records (cost rows first); {} when no record has extras."""
    per_arm: dict[str, dict[str, list[float]]] = {}
    for row in ok.itertuples():
        for key, value in _stripped(row.extra or {}).items():
            per_arm.setdefault(key, {}).setdefault(row.arm, []).append(value)
    if not per_arm:
        return {}
    for key in COST_ROWS:
        per_arm[key] = {a: [float(x) for x in ok.loc[ok["arm"] == a, key].dropna()] for a in arms}
    order = list(COST_ROWS) + sorted(set(per_arm) - set(COST_ROWS), key=_row_order)
    return {k: {a: per_arm[k].get(a, []) for a in arms} for k in order}


def is_detail(key: str) -> bool:
    return bool(DETAIL.search(key))


def extra_blocks(out: Path, sid: str, ok: pd.DataFrame, arms: list[str]) -> list[tuple]:
    """Every `extra` number and the training cost, mean ± std per arm (repro/extras.py); extra.csv has
    all keys, the table leaves out the pairwise ones (their means are in it)."""

    values = extra_values(ok, arms)
    if not values:
        return []
    csv = pd.DataFrame([{"key": k, "arm": a, "mean": np.mean(v), "std": np.std(v, ddof=1) if len(v) > 1
                         else math.nan, "n": len(v)} for k, by_arm in values.items()
                        for a, v in by_arm.items() if v])
    write_text_atomic(out / sid / "extra.csv", csv.to_csv(index=False, float_format="%.10g"))
    keys = [k for k in values if not is_detail(k)]
    if len(arms) <= len(keys):
        table = ("table", ["key", *arms], [[k, *(mean_std(values[k][a]) for a in arms)] for k in keys])
    else:
        table = ("table", ["arm", *keys], [[a, *(mean_std(values[k][a]) for k in keys)] for a in arms])
    note = ("Keys without their trick prefix (`ensemble` for independent ensembles); steps and "
            "train_time_s are the training cost, forward_passes the inference cost per test image.")
    return [("h", 3, "Extra metrics (mean ± std over seeds)"), ("p", note), table,
            ("links", [("all keys (csv)", f"{sid}/extra.csv")])]
