"""`repro run --until-decided` end to end on the tiny spec: a claim decided at the first look gets no
more seeds, the design is pinned in design.json, and the report says at which look it was decided."""

import json

import pytest
import yaml
from tiny_spec import write_tiny_spec

from repro.cli import main
from repro.judge.records import load_records

pytestmark = pytest.mark.slow

# "frozen" barely moves from its initialisation: "plain" beats it on every seed
ARMS = {"plain": {}, "frozen": {"optimizer": {"lr": 1.0e-7}}}


def test_decided_claims_get_no_more_seeds(tmp_path, one_thread):
    spec = write_tiny_spec(tmp_path / "tiny.yaml", ARMS, "plain", "frozen")
    data = yaml.safe_load(spec.read_text())
    data["claims"][0]["needs_plateau"] = False      # the looks' mechanics; the regime: tests/repro/judge
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    args = ["run", str(spec), "--profile", "cpu", "--until-decided", "--max-seeds", "12",
            "--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data")]
    assert main(args) == 0
    design = json.loads((tmp_path / "results" / "runs" / "tiny" / "cpu" / "design.json").read_text())
    assert design["looks"] == [8, 12] and 0.02 < design["nominal_alpha"] < 0.05
    records = load_records(tmp_path / "results", "cpu")
    assert sorted(set(records["seed"])) == list(range(8))          # decided at 8: look 12 never ran
    report = (tmp_path / "results" / "cpu" / "report.md").read_text()
    assert "reproduced (decided at look n = 8)" in report
    assert main(args) == 0                                         # a rerun has nothing to do
    assert len(load_records(tmp_path / "results", "cpu")) == 16


def test_until_decided_refuses_explicit_seeds_and_unusable_looks(tmp_path, capsys):
    spec = write_tiny_spec(tmp_path / "tiny.yaml", ARMS, "plain", "frozen")
    base = ["run", str(spec), "--profile", "cpu", "--until-decided", "--results-dir", str(tmp_path)]
    assert main([*base, "--seeds", "0-3"]) == 2
    assert main([*base, "--max-seeds", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "drop --seeds" in err[0] and "--max-seeds 5" in err[1] and len(err) == 2
