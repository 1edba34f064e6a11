"""The plan `repro run` prints before its first job: the looks, the jobs per spec at each look and the time
they are expected to take here (repro/jobs/estimate.py), in one small table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from repro.jobs.estimate import Estimate, sources_text
from repro.jobs.job import Job

Column = tuple[str, list[Job]]      # ("look 12", its jobs to run) or ("look 20 (at most)", ...)
LOOKS_NOTE = ("paired seeds per claim; a later look runs only the arms of claims still undecided, and a spec "
              "with many claims is first judged at a later look (its Holm family needs more seeds)")


def duration(seconds: float) -> str:
    """'45 s', '12 min', '2.3 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths,
                                                                                                strict=True)))
            for r in rows]


def _seconds(jobs: list[Job], estimates: Mapping[str, Estimate]) -> float:
    return sum(estimates[j.name].seconds for j in jobs)


def spec_rows(columns: Sequence[Column], estimates: Mapping[str, Estimate],
              spec_looks: Mapping[str, Sequence[int]] | None) -> list[list[str]]:
    """The table: head, then per spec [its judged looks], jobs per column, expected job-minutes."""
    specs = list(dict.fromkeys(j.spec_id for _, jobs in columns for j in jobs))
    looked = ["judged at looks"] if spec_looks else []
    rows = [["spec", *looked, *(name for name, _ in columns), "est. job-min"]]
    for sid in specs:
        mine = [[j for j in jobs if j.spec_id == sid] for _, jobs in columns]
        looks = [", ".join(map(str, spec_looks.get(sid, ())))] if spec_looks else []
        minutes = sum(_seconds(jobs, estimates) for jobs in mine) / 60
        rows.append([sid, *looks, *(str(len(jobs)) if jobs else "-" for jobs in mine), f"{minutes:.0f}"])
    return rows


def plan_text(columns: Sequence[Column], estimates: Mapping[str, Estimate], parallel: int,
              spec_looks: Mapping[str, Sequence[int]] | None = None,
              looks: Sequence[int] | None = None) -> str:
    """The plan: a row per spec, the total and its wall time with `parallel` jobs at once, and where the
    estimates come from. The first column runs now; later ones are upper bounds (decided claims drop out)."""
    total = sum(_seconds(jobs, estimates) for _, jobs in columns)
    wall = total / max(1, parallel)
    lines = [f"plan: looks {' -> '.join(map(str, looks))} ({LOOKS_NOTE})" if looks else "plan:"]
    lines += _table(spec_rows(columns, estimates, spec_looks))
    counts = (f"{len(columns[0][1])}" if len(columns) == 1 else
              ", ".join(f"{len(jobs)} at {name}" for name, jobs in columns))
    end = (datetime.now() + timedelta(seconds=wall)).strftime("%a %H:%M")
    every = " if every look runs" if len(columns) > 1 else ""
    lines.append(f"  total: {counts} jobs; about {total / 60:.0f} job-minutes: {duration(wall)} of wall time "
                 f"with {parallel} job(s) at once (done around {end}{every})")
    shown = {j.name: estimates[j.name] for _, jobs in columns for j in jobs}
    lines.append(f"  estimates: {sources_text(shown)}")
    return "\n".join(lines)
