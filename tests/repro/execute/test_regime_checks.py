"""The budget-doubling jobs a full run adds before its claims' jobs (repro/execute/regime_checks.py):
the regime arm, the first regime.seeds of the run's seeds (default 0, 1, ...), at the profile and at the
doubled profile with twice the epochs; none for a spec or profile without a doubling."""

from repro.execute.regime_checks import doubling_jobs
from repro.spec import SPEC_DIR, load_spec


def _specs(*names):
    paths = {n: SPEC_DIR / f"{n}.yaml" for n in names}
    return {n: load_spec(p) for n, p in paths.items()}, paths


def test_the_doubling_check_trains_the_baseline_three_seeds_at_the_profile_and_at_twice_the_epochs():
    # both sides before the first look: a spec found pre-plateau then trains none of its other arms
    specs, paths = _specs("label_smoothing", "mixup")
    jobs = doubling_jobs(specs, paths, "cpu", None)
    assert sorted((j.spec_id, j.arm, j.seed, j.profile) for j in jobs) == sorted(
        [("label_smoothing", "hard", s, p) for s in range(3) for p in ("cpu", "cpu_x2")]
        + [("mixup", "erm", s, p) for s in range(3) for p in ("cpu", "cpu_x2")])
    epochs = {(j.arm, j.profile): j.config.epochs for j in jobs}
    assert epochs == {("hard", "cpu"): 80, ("hard", "cpu_x2"): 160,
                      ("erm", "cpu"): 80, ("erm", "cpu_x2"): 160}


def test_no_doubling_jobs_at_a_profile_without_one():
    specs, paths = _specs("label_smoothing")
    assert doubling_jobs(specs, paths, "smoke", None) == []
    assert doubling_jobs(specs, paths, "paper", None) == []


def test_a_held_out_run_checks_its_plateau_on_its_own_first_seeds():
    # a held-out folder (--seeds 100-107) is judged on its own records: its check must be on seeds it has
    specs, paths = _specs("label_smoothing")
    jobs = doubling_jobs(specs, paths, "cpu", None, [107, 100, 101, 102, 103])
    assert sorted((j.seed, j.profile) for j in jobs) == [
        (s, p) for s in (100, 101, 102) for p in ("cpu", "cpu_x2")]
    assert {j.arm for j in jobs} == {"hard"}
