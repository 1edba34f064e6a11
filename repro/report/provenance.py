"""What a spec's results came from: the scale that was run (data, model, epochs, --set overrides) and the
hardware, thread counts and commits of its records. Results depend on the thread count, so a spec whose
records mix thread counts is flagged."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from repro.report.format import model_label


def scale(records: pd.DataFrame, profile: str) -> str:
    """What was run: profile + dataset (subset), model and epochs from the records' configs; where arms
    differ, every distinct value in record order, joined by ' / '."""
    if records.empty:
        return profile
    parts = [(_data_text, ""), (model_label, ""), (lambda cfg: str(cfg.get("epochs", "?")), " ep")]
    texts = [" / ".join(dict.fromkeys(fn(c) for c in records["config"])) + unit for fn, unit in parts]
    sets = dict.fromkeys(s for o in records["overrides"] if isinstance(o, list) for s in o)   # --set
    return f"{profile}: " + ", ".join(texts) + "".join(f", --set {s}" for s in sets)


def _data_text(cfg: dict) -> str:
    data = cfg.get("data") or {}
    return data.get("name", "?") + (f"[{data['subset']}]" if data.get("subset") else "")


def hardware_id(hw: dict | None) -> str:
    """The fingerprint id (repro.hardware.fingerprint_id), or the device name for older records."""
    hw = hw or {}
    return str(hw.get("id") or hw.get("device_name") or hw.get("device") or "unknown")


def _distinct(values: Iterable) -> list:
    return sorted({v for v in values if v is not None and v == v}, key=str)


def provenance(records: pd.DataFrame) -> dict:
    """{hardware: [ids], threads: [counts], commits: [git commits], mixed_threads: bool, hardware_class:
    [class ids] (repro/hardware_class.py; one, since a report judges one class)} of `records`."""
    hardware = list(records["hardware"]) if len(records) else []
    threads = _distinct((h or {}).get("threads") for h in hardware)
    classes = records["hardware_class"] if "hardware_class" in records and len(records) else []
    return {"hardware": _distinct(hardware_id(h) for h in hardware if h),
            "threads": threads,
            "commits": _distinct(records["git_commit"]) if len(records) else [],
            "mixed_threads": len(threads) > 1,
            "hardware_class": _distinct(classes)}


def provenance_text(prov: dict) -> str:
    """One line: 'hardware X (2 threads); commit abc' with a warning when thread counts are mixed."""
    threads = ", ".join(str(t) for t in prov["threads"]) or "?"
    text = (f"hardware {', '.join(prov['hardware']) or 'unknown'} ({threads} threads); "
            f"commit {', '.join(prov['commits']) or 'unknown'}")
    if prov["mixed_threads"]:
        text += ". WARNING: runs mix thread counts; results depend on the thread count"
    return text
