"""The report's machine-readable outputs under results/<profile>/:

runs.csv       every per-seed final number in tidy long form (one row per record and metric): spec,
               profile, arm, seed, metric, value, status, hardware, threads, commit
verdicts.json  {"profile", "records", "claims": [one entry per claim]}: the verdict with its numbers,
               the published values, the scale run, and the hardware, threads and commits of its runs
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from repro.files import write_json_atomic, write_text_atomic
from repro.judge.records import RECORD_FIELDS
from repro.judge.verdict import PAIRED_T, Verdict
from repro.report.provenance import hardware_id

RUNS_COLUMNS = ["spec", "profile", "arm", "seed", "metric", "value", "status", "hardware", "threads",
                "commit"]
NUMBERS = ("n", "estimate", "lo", "hi", "p_t", "p_skew", "p_signflip", "p", "p_holm", "q_bh", "alpha",
           "look", "d_z", "power", "seeds_needed", "paper_effect", "paper_seeds_needed", "noise", "bound",
           "family_size", "reached", "wins", "losses")


def runs_frame(records: pd.DataFrame) -> pd.DataFrame:
    """One row per (record, final metric or record number); a record without numbers keeps one row
    with an empty metric, so failed jobs stay visible."""
    rows = []
    for r in records.itertuples():
        hw = r.hardware or {}
        base = {"spec": r.spec, "profile": r.profile, "arm": r.arm, "seed": int(r.seed), "status": r.status,
                "hardware": hardware_id(hw), "threads": hw.get("threads"), "commit": r.git_commit}
        numbers = {k: v for k, v in (r.final or {}).items() if isinstance(v, (int, float)) or v is None}
        numbers.update({k: getattr(r, k) for k in RECORD_FIELDS if _is_number(getattr(r, k))})
        rows += [{**base, "metric": k, "value": math.nan if v is None else float(v)}
                 for k, v in numbers.items()] or [{**base, "metric": "", "value": math.nan}]
    frame = pd.DataFrame(rows, columns=RUNS_COLUMNS)
    return frame.sort_values(["spec", "arm", "seed", "metric"], kind="stable").reset_index(drop=True)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def write_runs_csv(out: Path, records: pd.DataFrame) -> Path:
    return write_text_atomic(out / "runs.csv", runs_frame(records).to_csv(index=False, float_format="%.10g"))


def _json_number(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def verdict_entry(spec_id: str, v: Verdict, scale: str, prov: dict) -> dict:
    """One claim of verdicts.json."""
    numbers = {k: _json_number(getattr(v, k)) for k in NUMBERS}
    censored = v.test != PAIRED_T
    interval = {"lo": numbers.pop("lo"), "hi": numbers.pop("hi"),
                "type": "95% median (order statistics)" if censored else "95% paired t"}
    decision = {"lo": _json_number(v.decision_lo), "hi": _json_number(v.decision_hi),
                "level": _json_number(v.decision_level),
                "type": f"{'median' if censored else 'paired t'} at the Holm decision level"}
    return {"spec": spec_id, "claim": v.claim_id, "text": v.text, "kind": v.kind, "metric": v.metric,
            "better": v.better, "treatment": v.treatment, "baseline": v.baseline, "verdict": v.verdict,
            "reason": v.reason, "note": v.note, "test": v.test, "outlier": v.outlier, **numbers,
            "interval": interval, "decision_interval": decision,
            "below_noise": bool(v.below_noise), "regime": v.regime, "in_regime": v.regime_ok,
            "plateau": v.plateau or None,
            "statistical_verdict": v.statistical or None,
            "published": {k: _json_number(x) for k, x in dict(v.published).items()},
            "scale": scale, **prov}


def write_verdicts_json(out: Path, profile: str, n_records: int, entries: list[dict]) -> Path:
    return write_json_atomic(out / "verdicts.json",
                             {"profile": profile, "records": n_records, "claims": entries})


def read_verdicts(path: Path) -> dict:
    """verdicts.json as written (ValueError when it is not one)."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ValueError(f"{path}: not a verdicts.json (no 'claims' list)")
    return data


def claim_key(entry: dict) -> str:
    return f"{entry['spec']}/{entry['claim']}"
