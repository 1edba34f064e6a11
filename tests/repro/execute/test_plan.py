"""What `repro run` says before and while it trains: the plan (looks, jobs per spec, expected time), a
progress bar whose ETA weighs each job by its expected cost, and looks that train nothing judge nothing
again."""

from __future__ import annotations

import pytest
from tiny_spec import write_tiny_spec

from repro.execute import until_decided
from repro.execute.plan_text import duration, plan_text
from repro.execute.progress import JobsBar
from repro.jobs.estimate import Estimate
from repro.jobs.plan import plan

ARMS = {"plain": {}, "other": {"optimizer": {"lr": 0.01}}}


@pytest.fixture
def two_specs(tmp_path):
    return [write_tiny_spec(tmp_path / f"{sid}.yaml", ARMS, "other", "plain") for sid in ("alpha", "beta")]


def test_the_plan_counts_jobs_per_spec_and_look_and_their_expected_time(two_specs):
    now = plan(two_specs, "cpu", None, list(range(8, 12)))[1]            # 2 specs x 2 arms x 4 seeds
    later = plan(two_specs[1:], "cpu", None, list(range(12, 20)))[1]     # beta only: 2 arms x 8 seeds
    estimates = {j.name: Estimate(60.0 if j.spec_id == "alpha" else 30.0, "here", "cpu-1t")
                 for j in now + later}
    text = plan_text([("look 12", now), ("look 20 (at most)", later)], estimates, parallel=2,
                     spec_looks={"alpha": (8, 12, 20), "beta": (12, 20)}, looks=(8, 12, 20))
    lines = text.splitlines()
    assert lines[0].startswith("plan: looks 8 -> 12 -> 20")
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    assert rows["alpha"][-3:] == ["8", "-", "8"]              # 8 jobs x 60 s = 8 job-minutes
    assert rows["beta"][-3:] == ["8", "16", "12"]             # 24 jobs x 30 s
    assert "12, 20" in lines[3]
    # 8 + 12 = 20 job-minutes; two at once: 10 minutes of wall time
    assert "total: 16 at look 12, 16 at look 20 (at most) jobs; about 20 job-minutes: 10 min" in text
    assert "32 job(s) from records made on this hardware (cpu-1t)" in text


def test_durations_read_in_the_unit_a_person_would_use():
    assert [duration(s) for s in (45, 600, 3 * 3600)] == ["45 s", "10 min", "3.0 h"]


def test_the_bar_moves_by_expected_cost_and_names_the_running_jobs(two_specs):
    jobs = plan(two_specs[:1], "cpu", None, [0])[1]        # alpha/plain/seed0, alpha/other/seed0
    first, second = (j.name for j in jobs)
    bar = JobsBar(jobs, {first: 90.0, second: 10.0}, parallel=1)
    assert bar.bar.total == 100.0 and "running alpha/plain/seed0" in bar.bar.postfix
    bar.finished(first)
    assert bar.bar.n == 90.0                              # 90% done after the long job, not 50%
    assert "1/2 jobs, running alpha/other/seed0" in bar.bar.postfix
    bar.finished(second)
    assert bar.bar.n == 100.0 and "all done" in bar.bar.postfix
    bar.close()


def test_a_look_that_trains_nothing_is_not_judged_again_and_the_plan_sees_later_looks(two_specs, tmp_path,
                                                                                       monkeypatch):
    judged = []

    def undecided(results_dir, specs, profile, design, *hardware):
        judged.append(len(judged))
        return {"alpha": [], "beta": ["c"]}      # alpha decided, beta open throughout

    monkeypatch.setattr(until_decided, "undecided_claims", undecided)
    trained, told = [], []
    done_before = 12        # seeds 0..11 are already here: looks 8 and 12 have nothing to train
    logs = until_decided.run_until_decided(
        two_specs, "cpu", None, None, 20, tmp_path / "results",
        execute=lambda jobs: trained.append(len(jobs)),
        todo=lambda jobs: [j for j in jobs if j.seed >= done_before],
        on_look=lambda n, run, later: told.append((n, len(run), [(m, len(js)) for m, js in later])))
    assert [log.n for log in logs] == [8, 12, 20]
    assert trained == [16] and told == [(20, 16, [])]     # beta: 2 arms x seeds 12..19
    assert judged == [0, 1]          # after look 8 (first sight of the records) and after look 20 only
