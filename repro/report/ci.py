"""What CI systems read from a report: a JUnit file (one test case per claim), a GitHub job summary, and
the `repro run --fail-on VERDICT` check (`flip`: a verdict flipped against the reference the run ends
with, repro/report/machines.py).

A claim's test case fails when its verdict differs from the one the user expects (an expectation file,
by default results/<profile>/expected.json: {"spec/claim": "reproduced", ...}; claims it does not name
pass), or when it is a speed claim (kind ratio) that was contradicted: a speed regression.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

from repro.errors import UserError
from repro.judge.verdict import CONTRADICTED
from repro.report.claims import badge
from repro.report.outputs import claim_key, read_verdicts

EXPECTED_NAME = "expected.json"


def read_expected(path: Path | None) -> dict[str, str]:
    """spec/claim -> expected verdict; {} when `path` is None or absent."""
    if path is None or not Path(path).exists():
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except ValueError as e:
        raise UserError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise UserError(f"{path}: expected a mapping 'spec/claim' -> verdict")
    return data


def failure(entry: dict, expected: dict[str, str]) -> str | None:
    """Why the claim's test case fails, or None."""
    want = expected.get(claim_key(entry))
    if want is not None and want != entry["verdict"]:
        return f"expected {want}, got {entry['verdict']}: {entry.get('reason', '')}"
    if entry.get("kind") == "ratio" and entry["verdict"] == CONTRADICTED:
        return f"speed regressed: {entry['metric']} ratio {entry.get('estimate')} ({entry.get('reason', '')})"
    return None


def junit_xml(verdicts: dict, expected: dict[str, str]) -> str:
    """One <testcase> per claim (classname = spec, name = claim), failed per `failure`."""
    claims = verdicts["claims"]
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", name=f"repro {verdicts['profile']}", tests=str(len(claims)))
    failures = 0
    for entry in claims:
        case = ET.SubElement(suite, "testcase", classname=str(entry["spec"]), name=str(entry["claim"]))
        why = failure(entry, expected)
        if why:
            failures += 1
            ET.SubElement(case, "failure", message=why).text = entry.get("text", "")
        ET.SubElement(case, "system-out").text = f"{entry['verdict']}: {entry.get('reason', '')}"
    suite.set("failures", str(failures))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(out: Path, path: Path, expect: Path | None = None) -> int:
    """Write the JUnit file of the report in `out`; return the number of failed cases."""
    verdicts = read_verdicts(out / "verdicts.json")
    expected = read_expected(expect if expect is not None else out / EXPECTED_NAME)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(junit_xml(verdicts, expected))
    return sum(failure(e, expected) is not None for e in verdicts["claims"])


def summary_markdown(verdicts: dict) -> str:
    """The job summary: counts per verdict and the compact verdict table."""
    claims = verdicts["claims"]
    counts: dict[str, int] = {}
    for e in claims:
        counts[e["verdict"]] = counts.get(e["verdict"], 0) + 1
    lines = [f"### repro report: profile {verdicts['profile']}", "",
             "**" + " · ".join(f"{n} {v}" for v, n in counts.items()) + f"** ({len(claims)} claims)", "",
             "| claim | verdict | estimate [95% CI] | n |", "| --- | --- | --- | --- |"]
    for e in claims:
        est, iv = e.get("estimate"), e.get("interval", {})
        text = "–" if est is None else f"{est:.4g} [{_num(iv.get('lo'))}, {_num(iv.get('hi'))}]"
        lines.append(f"| {e['spec']}/{e['claim']} | {badge(e['verdict'])} | {text} | {e.get('n', 0)} |")
    return "\n".join(lines) + "\n"


def _num(x) -> str:
    return f"{x:.4g}" if isinstance(x, (int, float)) else "–"


def github_summary(out: Path) -> str:
    """Append the summary to $GITHUB_STEP_SUMMARY when set; return where it went."""
    text = summary_markdown(read_verdicts(out / "verdicts.json"))
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        print(text, end="")
        return "stdout ($GITHUB_STEP_SUMMARY is not set)"
    with open(target, "a", encoding="utf-8") as f:
        f.write(text)
    return target


def claims_with(out: Path, verdicts: list[str], specs: list[str] | None = None) -> list[str]:
    """'spec/claim' of the claims (of `specs`, default all) whose verdict is one of `verdicts`."""
    entries = read_verdicts(out / "verdicts.json")["claims"]
    return [claim_key(e) for e in entries
            if e["verdict"] in verdicts and (specs is None or e["spec"] in specs)]


def fail_on(out: Path, wanted: list[str], specs: list[str], flips: int) -> None:
    """Exit 1 with one line when a claim of `specs` in the report `out` ended with a verdict in `wanted`,
    or, with "flip" in `wanted`, when `flips` verdicts flipped against the reference."""
    if "flip" in wanted and flips:
        print(f"error: {flips} verdict(s) flipped against the reference", file=sys.stderr)
        raise SystemExit(1)
    bad = claims_with(out, [w for w in wanted if w != "flip"], specs)
    if bad:
        print(f"error: {len(bad)} claim(s) ended {','.join(wanted)}: {', '.join(bad)}", file=sys.stderr)
        raise SystemExit(1)
