"""`repro compare RESULTS_A RESULTS_B`: the same claims from two result sets (two machines, two torch
versions, CPU vs GPU) side by side.

Each side is a verdicts.json file, a results folder holding <profile>/verdicts.json, or a results folder
with run records only (then its verdicts are judged here, nothing written). Flagged: a verdict flip
(the two verdicts differ and both sides judged the claim) and a significant change in effect (z test on
the two estimates, standard errors from their 95% t intervals, log scale for ratio claims, |z| > 1.96).

`repro run` ends with this comparison (`compare_run`): its report against the reference, the verdicts of
the results folder's own records (another machine's: repro/hardware_class.py) judged when the run starts,
written beside the run's report as compare-<profile>.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scipy import stats as sps

from repro.errors import UserError
from repro.files import write_text_atomic
from repro.judge.verdict import NO_DATA, NOT_JUDGED, OUT_OF_REGIME
from repro.report.conditions import select_records
from repro.report.format import to_markdown
from repro.report.outputs import claim_key, read_verdicts, verdict_entry
from repro.report.provenance import provenance, scale

Z_CRIT = 1.96
UNJUDGED = (NO_DATA, NOT_JUDGED, OUT_OF_REGIME)   # a claim out of regime on one side was not judged there


def load_side(path: Path, profile: str, judge: Any = None, specs: Mapping[str, Any] | None = None) -> dict:
    """spec/claim -> verdicts.json entry of one side; `judge(results_dir, profile, specs, records)` rebuilds
    verdicts from records where there is no verdicts.json (repro.report.render.judge_all)."""
    path = Path(path)
    for candidate in (path, path / profile / "verdicts.json", path / "verdicts.json"):
        if candidate.is_file():
            try:
                return {claim_key(e): e for e in read_verdicts(candidate)["claims"]}
            except ValueError as e:
                raise UserError(str(e)) from None
    records = select_records(path, profile) if path.is_dir() else None
    if records is None or records.empty or judge is None:
        raise UserError(f"{path}: no verdicts.json and no run records for profile {profile!r}")
    return judged_side(path, profile, judge, specs or {}, records)


def judged_side(path: Path, profile: str, judge: Any, specs: Mapping[str, Any], records) -> dict:
    """spec/claim -> verdicts.json entry, judged here from `records` (of one hardware class)."""
    entries = {}
    for sid, (_, spec_records, results) in judge(path, profile, specs, records).items():
        for r in results:
            v = r.verdict
            claim_records = spec_records[spec_records["arm"].isin(v.arms)]
            entries[f"{sid}/{v.claim_id}"] = verdict_entry(sid, v, scale(spec_records, profile),
                                                           provenance(claim_records))
    return entries


def _scaled(entry: dict) -> tuple[float, float]:
    """(estimate, standard error) on the scale the interval is symmetric on (log for ratio claims)."""
    est, iv, n = entry.get("estimate"), entry.get("interval") or {}, entry.get("n") or 0
    lo, hi = iv.get("lo"), iv.get("hi")
    if not all(isinstance(x, (int, float)) for x in (est, lo, hi)) or n < 2:
        return math.nan, math.nan
    if entry.get("kind") == "ratio":
        if min(est, lo, hi) <= 0:
            return math.nan, math.nan
        est, lo, hi = math.log(est), math.log(lo), math.log(hi)
    return est, (hi - lo) / (2 * sps.t.ppf(0.975, n - 1))


def change_z(a: dict, b: dict) -> float:
    """z of the difference between the two estimates (NaN when either has no interval)."""
    (ea, sa), (eb, sb) = _scaled(a), _scaled(b)
    se = math.hypot(sa, sb)
    return (eb - ea) / se if se > 0 else math.nan


def compare(a: dict, b: dict) -> list[dict]:
    """One row per claim in either side: both verdicts and estimates, z, flip, significant change."""
    rows = []
    for key in list(a) + [k for k in b if k not in a]:
        ea, eb = a.get(key), b.get(key)
        va, vb = (e["verdict"] if e else "absent" for e in (ea, eb))
        z = change_z(ea, eb) if ea and eb else math.nan
        flip = bool(ea and eb) and va != vb and va not in UNJUDGED and vb not in UNJUDGED
        rows.append({"claim": key, "a": va, "b": vb, "estimate_a": _text(ea), "estimate_b": _text(eb),
                     "z": z, "flip": flip, "changed": math.isfinite(z) and abs(z) > Z_CRIT})
    return rows


def _text(entry: dict | None) -> str:
    if not entry or not isinstance(entry.get("estimate"), (int, float)):
        return "–"
    iv = entry.get("interval") or {}
    lo, hi = (f"{x:.4g}" if isinstance(x, (int, float)) else "–" for x in (iv.get("lo"), iv.get("hi")))
    return f"{entry['estimate']:.4g} [{lo}, {hi}]"


def compare_markdown(rows: list[dict], name_a: str, name_b: str) -> str:
    head = ["claim", "A verdict", "B verdict", "A estimate [95% CI]", "B estimate [95% CI]", "z (B-A)",
            "flag"]
    body = [[r["claim"], r["a"], r["b"], r["estimate_a"], r["estimate_b"],
             f"{r['z']:.2f}" if math.isfinite(r["z"]) else "–",
             ", ".join(f for f, on in (("VERDICT FLIP", r["flip"]), ("effect changed", r["changed"])) if on)]
            for r in rows]
    flips, changed = sum(r["flip"] for r in rows), sum(r["changed"] for r in rows)
    both = sum(r["a"] != "absent" and r["b"] != "absent" for r in rows)
    only = [f"{n} only in {side}" for side, n in (("A", sum(r["b"] == "absent" for r in rows)),
                                                  ("B", sum(r["a"] == "absent" for r in rows))) if n]
    return to_markdown([("p", f"A: {name_a}; B: {name_b}"), ("table", head, body),
                        ("p", f"{flips} verdict flip(s), {changed} significant change(s) in effect "
                              f"(|z| > {Z_CRIT}) over the {both} claims in both"
                              + (f" ({', '.join(only)})." if only else "."))])


def reference_side(results_dir: Path, profile: str, judge: Any, specs: Mapping[str, Any]) -> dict | None:
    """The reference a run is compared with: the verdicts of `specs` judged now, by this code, from the
    records of results_dir's own hardware class (so a stale verdicts.json cannot pose as a change); None
    when it has none at `profile`."""
    records = select_records(results_dir, profile)
    records = records[records["spec"].isin(list(specs))]
    return judged_side(results_dir, profile, judge, specs, records) if len(records) else None


def compare_run(reference: dict, run_dir: Path, profile: str, names: tuple[str, str],
                out: Path, preamble: str = "") -> tuple[list[dict], str]:
    """The class's verdicts (run_dir/<profile>/verdicts.json: every spec of its report) beside the
    reference's, claim by claim; the Markdown (after `preamble`, a paragraph) is written to `out`, so a run
    of one spec leaves the other specs' rows in it. Returns (rows, the table's Markdown)."""
    rows = compare(reference, load_side(Path(run_dir) / profile / "verdicts.json", profile))
    text = compare_markdown(rows, *names)
    write_text_atomic(out, f"{preamble}\n\n{text}" if preamble else text)
    return rows, text
