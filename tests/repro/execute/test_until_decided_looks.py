"""The look loop of `--until-decided` with a scripted judge: which jobs each look runs, what it logs."""

import pytest
from tiny_spec import write_tiny_spec

from repro.errors import UserError
from repro.execute import until_decided
from repro.execute.until_decided import design_for
from repro.judge.regime import AT_PLATEAU, PRE_PLATEAU, Plateau
from repro.judge.spec import read_design, write_design

ARMS = {"plain": {}, "other": {"optimizer": {"lr": 0.01}}}


def test_a_spec_decided_at_the_first_look_gets_no_jobs_and_the_others_go_on(tmp_path, monkeypatch):
    paths = [write_tiny_spec(tmp_path / f"{sid}.yaml", ARMS, "other", "plain") for sid in ("early", "late")]
    # judged after each look: "early" decides its claim at n = 8, "late" never does
    monkeypatch.setattr(until_decided, "undecided_claims",
                        lambda results_dir, specs, profile, design, *hardware: {"early": [], "late": ["c"]})
    looks = []
    def execute(jobs):
        looks.append(sorted({j.spec_id for j in jobs}))
    logs = until_decided.run_until_decided(paths, "cpu", None, None, 12, tmp_path / "results", execute)
    assert looks == [["early", "late"], ["late"]]
    assert [(log.n, log.jobs) for log in logs] == [(8, 32), (12, 24)]     # 2 arms x n seeds per open spec
    assert logs[0].decided == {"early": ["c"], "late": []}
    assert logs[1].decided == {"late": []} and logs[1].undecided == {"early": [], "late": ["c"]}


def test_a_spec_whose_plateau_check_failed_runs_no_seeds_for_its_claims(tmp_path, monkeypatch):
    paths = [write_tiny_spec(tmp_path / f"{sid}.yaml", ARMS, "other", "plain") for sid in ("short", "long")]
    # "short" failed its budget-doubling check (records of it already there); "long" is at its plateau
    def plateau_for(results_dir, spec, profile, records, hardware=None):
        status = PRE_PLATEAU if spec.id == "short" else AT_PLATEAU
        return Plateau(status, spec.id, profile, "plain", "test_error")
    monkeypatch.setattr(until_decided, "plateau_for", plateau_for)
    looks = []
    def execute(jobs):
        looks.append(sorted({j.spec_id for j in jobs}))
    logs = until_decided.run_until_decided(paths, "cpu", None, None, 12, tmp_path / "results", execute)
    assert looks == [["long"]]         # no seed of "short" trains: it can only be out of regime
    assert [(log.n, log.jobs) for log in logs] == [(8, 16)]


def test_each_spec_keeps_the_design_it_was_started_with_and_an_explicit_other_one_is_refused(tmp_path,
                                                                                          monkeypatch):
    paths = [write_tiny_spec(tmp_path / f"{sid}.yaml", ARMS, "other", "plain") for sid in ("old", "new")]
    results = tmp_path / "results"
    write_design(results, "old", "cpu", design_for(12))          # "old" ran with --max-seeds 12 before
    monkeypatch.setattr(until_decided, "undecided_claims",
                        lambda results_dir, specs, profile, designs, *hardware: {"old": ["c"], "new": ["c"]})
    looks = []
    logs = until_decided.run_until_decided(paths, "cpu", None, None, None, results, lambda jobs: looks.append(
        sorted({(j.spec_id, max(k.seed for k in jobs if k.spec_id == j.spec_id) + 1) for j in jobs})))
    assert [log.n for log in logs] == [8, 12, 20]
    assert looks == [[("new", 8), ("old", 8)], [("new", 12), ("old", 12)], [("new", 20)]]   # old stops at 12
    assert read_design(results, "old", "cpu").looks == (8, 12)
    assert read_design(results, "new", "cpu").looks == design_for(None).looks == (8, 12, 20)
    with pytest.raises(UserError, match=r"old ran with looks \[8, 12\] before; rerun with --max-seeds 12"):
        until_decided.run_until_decided(paths, "cpu", None, None, 20, results, lambda jobs: None)
