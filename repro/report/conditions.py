"""What the records of a report ran under, stated once in its summary: the one hardware class they belong to
(a report never pools two: repro/hardware_class.py), the arms that could not run on that machine, and the
speed verdicts whose jobs ran on a loaded machine.

- Records: a report judges the records of one class, its folder's home class (REFERENCE.json) or the one
  `--hardware` names; a folder without REFERENCE.json whose records mix classes is refused with one line.
- Not runnable: an arm whose every record failed for a missing optional package (VeLO without PyLO and its
  hub weights) is one summary line "velo: not runnable here: <why and the install command>"; its claims stay
  in verdicts.json as "no data" with that reason, and leave the compact verdict table.
- Load: a record keeps os.getloadavg at its start and end (repro/jobs/run.py). The mean load over a job
  follows from the kernel's exponential 5-minute average, L_end = a L_start + (1 - a) m with
  a = exp(-T / 300 s), so m = (L_end - a L_start) / (1 - a) (jobs under a minute: the 1-minute average at
  the end). A speed claim (throughput or time) whose records ran at a mean load above LOAD_MARGIN x the
  machine's cores is flagged: other work shared the cores, so its speed is an underestimate.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from repro.errors import UserError
from repro.hardware_class import CLASSES_DIR, REFERENCE_FILE, read_reference
from repro.judge.records import load_records
from repro.judge.verdict import NO_DATA, Verdict

NOT_RUNNABLE = "not runnable here"
SPEED_METRICS = ("throughput", "wall_time_s", "train_time_s")
LOAD_MARGIN = 1.25          # mean load above 1.25 x the cores: the job shared them with other work
WHERE = re.compile(r"^\S+ \([^)]*\): ")     # "velo (step budget 300): " before tricks.optimizers' message


def select_records(results_dir: Path, profile: str, hardware: str | None = None) -> pd.DataFrame:
    """The records one report judges: those of class `hardware`, else of the folder's home class."""
    records = load_records(results_dir, profile)
    classes = sorted(set(records["hardware_class"]))
    reference = read_reference(results_dir)
    chosen = hardware or (reference or {}).get("class")
    if chosen is None and len(classes) > 1:
        counts = records["hardware_class"].value_counts()
        mix = ", ".join(f"{c}: {counts[c]}" for c in classes)
        raise UserError(f"{Path(results_dir) / 'runs'} holds {profile} records of {len(classes)} hardware "
                        f"classes ({mix}) and a report judges one: repro report --profile {profile} "
                        f"--results-dir {results_dir} --hardware {classes[0]}")
    if chosen is None:
        return records
    others = records[records["hardware_class"] != chosen]
    if len(others):
        why = REFERENCE_FILE if hardware is None else "--hardware"
        print(f"note: {len(others)} {profile} record(s) under {Path(results_dir) / 'runs'} are of hardware "
              f"class {', '.join(sorted(set(others['hardware_class'])))}, not {chosen} ({why}): not judged "
              f"in this report; their place is {Path(results_dir) / CLASSES_DIR}/<id>/runs/", file=sys.stderr)
    return records[records["hardware_class"] == chosen].reset_index(drop=True)


def unrunnable_arms(records: pd.DataFrame) -> dict[str, str]:
    """arm -> why, for the arms whose every record failed for a missing optional package."""
    out = {}
    for arm, recs in records.groupby("arm", sort=False):
        missing = recs["missing_dependency"].eq(True) & recs["status"].eq("failed")
        if len(recs) and missing.all():
            why = WHERE.sub("", str(recs["reason"].iloc[0] or "its package is missing"))
            out[arm] = why.removeprefix(f"{arm}: {NOT_RUNNABLE}: ")   # the preflight names it already
    return out


def is_unrunnable(v: Verdict) -> bool:
    return v.verdict == NO_DATA and f": {NOT_RUNNABLE}: " in v.reason


def job_load(load: dict | None, seconds: float | None) -> float | None:
    """The mean load over a job from its record's `load` and wall time (None without both ends)."""
    if not isinstance(load, dict) or not load.get("start") or not load.get("end") or not seconds:
        return None
    if seconds < 60:
        return float(load["end"][0])
    a = math.exp(-seconds / 300)
    return max(0.0, (load["end"][1] - a * load["start"][1]) / (1 - a))


def _loaded(records: pd.DataFrame, v: Verdict) -> tuple[int, int, float, int]:
    """(records over the margin, records with a load figure, highest mean load, cores) of a claim's arms."""
    rows = records[records["arm"].isin(v.arms) & records["status"].eq("ok")]
    loads = [(job_load(r.load, r.wall_time_s), (r.hardware or {}).get("cpu_count"))
             for r in rows.itertuples()]
    known = [(x, n) for x, n in loads if x is not None and n]
    over = [x for x, n in known if x > LOAD_MARGIN * n]
    top = max((x for x, _ in known), default=math.nan)
    return len(over), len(known), top, max((n for _, n in known), default=0)


def annotate(records: pd.DataFrame, results: Sequence) -> None:
    """Give the no-data claims of arms not runnable here that reason, and note speed claims run under load."""
    gone = unrunnable_arms(records)
    for v in (r.verdict for r in results):
        arms = [a for a in (v.treatment_ref.arm, v.baseline_ref.arm) if a in gone]
        if v.verdict == NO_DATA and arms:
            v.reason = f"{arms[0]}: {NOT_RUNNABLE}: {gone[arms[0]]}"
        if v.metric in SPEED_METRICS:
            over, known, top, cores = _loaded(records, v)
            if over:
                v.note = "; ".join(x for x in (v.note, f"{over} of {known} records ran at a mean load above "
                                               f"{LOAD_MARGIN:g} x the {cores} cores (up to {top:.1f}): "
                                               f"speed measured beside other work") if x)


def condition_blocks(records: pd.DataFrame, judged: dict) -> list[tuple]:
    """The summary's lines: the records' hardware class, each arm not runnable here, speed under load."""
    classes = sorted(set(records["hardware_class"])) if len(records) else []
    blocks = [("p", f"Hardware class: {', '.join(classes) or 'unknown'} (every verdict here is judged on "
                    f"this class's records only; other machines: {CLASSES_DIR}/<id>/ beside this folder's "
                    f"runs, `repro compare`).")]
    unrunnable: dict[tuple[str, str], list[str]] = {}
    loaded = []
    for sid, (_, _, results) in judged.items():
        for v in (r.verdict for r in results):
            if is_unrunnable(v):
                arm, _, why = v.reason.partition(f": {NOT_RUNNABLE}: ")
                unrunnable.setdefault((arm, why), []).append(sid)
            elif v.metric in SPEED_METRICS and "mean load above" in v.note:
                loaded.append(f"{sid}/{v.claim_id}")
    for (arm, why), sids in unrunnable.items():
        blocks.append(("p", f"{arm}: {NOT_RUNNABLE}: {why}. Its {len(sids)} claims in {len(set(sids))} specs "
                            f"have no data and are left out of the verdict table."))
    if loaded:
        blocks.append(("p", f"Speed measured under load (mean load over the job above {LOAD_MARGIN:g} x the "
                            f"cores): {', '.join(loaded)}; their speedups may not hold on a quiet machine."))
    return blocks
