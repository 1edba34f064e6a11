"""Writing a report without destroying anything: results/<profile>/ is rebuilt in a temporary folder
beside it, then swapped in, so an earlier build's stale PNG/CSV/MD files disappear and a failed build
leaves the old report as it was.

Only report outputs are rebuilt. Everything else under results/<profile>/ (lr_finder.json and its PNG,
the range-test cache of repro/jobs/lr_search.py; a user's expected.json; anything unknown) is carried
into the new build unchanged (hard-linked, or copied where links are not possible).

A report is never silently replaced by one built from fewer records: the record count of the report
there (verdicts.json, or the "records:" line of an older report.md) is compared with the new one, and a
smaller count stops the build with exit 2 unless --force is given. Nor by one that leaves out a spec the
report there judged (its records all of an earlier config of the spec, after a re-size, or its spec gone):
the count alone would not see it, since stale records still count.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from repro.errors import UserError
from repro.report.outputs import read_verdicts

TOP_OUTPUTS = ("report.md", "report.html", "runs.csv", "verdicts.json")
OUTPUT_SUFFIXES = (".png", ".csv", ".md", ".html")
KEEP_PREFIXES = ("lr_finder",)            # range-test cache and its plot: written by `repro run`
RECORDS_LINE = re.compile(r"^- records: (\d+)", re.MULTILINE)


def is_output(path: Path, out: Path) -> bool:
    """Whether `path` (under `out`) is something a report build writes."""
    rel = path.relative_to(out)
    if rel.name.startswith(KEEP_PREFIXES):
        return False
    return rel.name in TOP_OUTPUTS or rel.suffix in OUTPUT_SUFFIXES


def previous_records(out: Path) -> int | None:
    """How many records the report in `out` was built from (None when there is none or it does not say)."""
    try:
        return int(read_verdicts(out / "verdicts.json")["records"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        match = RECORDS_LINE.search((out / "report.md").read_text())
    except OSError:
        return None
    return int(match.group(1)) if match else None


def previous_specs(out: Path) -> set[str]:
    """The specs the report in `out` judged (empty when there is none or it does not say)."""
    try:
        return {str(entry["spec"]) for entry in read_verdicts(out / "verdicts.json")["claims"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def check_no_spec_dropped(out: Path, judged: set[str], force: bool) -> str | None:
    """Refuse (UserError) to replace a report that judged a spec this one leaves out; warn under --force."""
    dropped = sorted(previous_specs(out) - judged)
    if not dropped:
        return None
    text = (f"{out}: the report there judged {', '.join(dropped)}, which this one would leave out (no "
            "records of the spec's current config: rerun it at this profile)")
    return _refuse_unless_forced(text, force, "drop it", "dropping it")


def check_not_fewer(out: Path, n_records: int, force: bool) -> str | None:
    """Refuse (UserError) to replace a report built from more records; return a warning under --force."""
    before = previous_records(out)
    if before is None or n_records >= before:
        return None
    return _refuse_unless_forced(f"{out}: the report there was built from {before} records, this one would "
                                 f"have {n_records}", force, "replace it", "replacing it")


def _refuse_unless_forced(text: str, force: bool, action: str, doing: str) -> str:
    """UserError (nothing written) without `force`; with it, the warning to print."""
    if not force:
        raise UserError(f"{text}; nothing written (pass --force to {action})")
    return f"warning: {text}; {doing} (--force)"


def _carry(out: Path, build: Path) -> None:
    """Link every file of `out` that is not a report output into `build`, same relative path."""
    for path in out.rglob("*"):
        if path.is_file() and not is_output(path, out):
            target = build / path.relative_to(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)


def build_and_swap(out: Path, build: Callable[[Path], None]) -> None:
    """Run `build(tmp)` in a fresh folder beside `out` (the non-output files of `out` already in it), then
    put it in place of `out`. On an exception `out` is left as it was."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{out.name}-", dir=out.parent))
    try:
        if out.exists():
            _carry(out, tmp)
        build(tmp)
        old = out.with_name(f"{tmp.name}-old")
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
