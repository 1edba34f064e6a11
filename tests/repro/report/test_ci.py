"""CI outputs: JUnit, job summary, `repro run --fail-on`, `repro compare` with a planted flip."""

import json
from types import SimpleNamespace as NS
from xml.etree import ElementTree as ET

import pytest
from fake_results import SPECS, build_records

from repro import cli
from repro.report import ci
from repro.report.compare import compare, compare_markdown, load_side
from repro.report.render import judge_all, write_report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("a")
    build_records(root)
    write_report(root, "cpu", SPECS)
    return root


def test_junit_one_case_per_claim_failing_on_expectation(report, tmp_path):
    expect = tmp_path / "expected.json"
    expect.write_text(json.dumps({"ls/lower-ece": "reproduced", "ls/lower-nll": "reproduced"}))
    assert ci.write_junit(report / "cpu", tmp_path / "junit.xml", expect) == 1
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert len(cases) == 6 and suite.get("failures") == "1"
    assert "expected reproduced, got contradicted" in cases["lower-nll"].find("failure").get("message")
    assert cases["lower-ece"].find("failure") is None


def test_speed_regression_fails():
    entry = {"spec": "s", "claim": "c", "kind": "ratio", "verdict": "contradicted", "metric": "throughput"}
    assert "speed regressed" in ci.failure(entry, {})


def test_github_summary(report, tmp_path, monkeypatch):
    target = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert ci.github_summary(report / "cpu") == str(target)
    text = target.read_text()
    assert "4 reproduced · 1 contradicted · 1 no data" in text
    assert "| ls/lower-nll | 🔴 contradicted |" in text


def test_fail_on(report, capsys):
    args = NS(fail_on="contradicted", results_dir=report, profile="cpu")
    with pytest.raises(SystemExit) as exit_:
        cli._check_fail_on(args, {"ls": None})
    assert exit_.value.code == 1 and "ls/lower-nll" in capsys.readouterr().err
    cli._check_fail_on(NS(fail_on="inconclusive", results_dir=report, profile="cpu"), {"ls": None})


def test_compare_flags_a_planted_flip(report, tmp_path, monkeypatch, capsys):
    build_records(tmp_path, shift=0.05)       # ls01's ECE now above base: lower-ece contradicted
    b = load_side(tmp_path, "cpu", judge_all, SPECS)     # no verdicts.json: judged from the records
    rows = {r["claim"]: r for r in compare(load_side(report, "cpu"), b)}
    assert rows["ls/lower-ece"]["flip"] and rows["ls/lower-ece"]["changed"]
    assert not rows["ls/lower-nll"]["flip"] and not rows["ls/mixup-helps"]["flip"]
    monkeypatch.setattr(cli, "_all_specs", lambda ran=None: SPECS)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["compare", str(report), str(tmp_path)])
    assert exit_.value.code == 1
    assert "VERDICT FLIP" in capsys.readouterr().out


def test_compare_exit_codes(report, monkeypatch):
    monkeypatch.setattr(cli, "_all_specs", lambda ran=None: SPECS)
    same = report / "cpu" / "verdicts.json"
    assert cli.main(["compare", str(same), str(report)]) == 0


def test_compare_footer_counts_the_claims_both_sides_hold(report):
    a = load_side(report, "cpu")
    kept = sorted(a)[:2]
    text = compare_markdown(compare(a, {k: a[k] for k in kept}), "A", "B")
    assert f"over the 2 claims in both ({len(a) - 2} only in A)." in text
