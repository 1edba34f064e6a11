"""The regime checks a full `repro run` of a profile does before its claims' jobs (issue #29): the
budget-doubling check (the regime arm at the spec's doubled profile, `regime.seeds` seeds: records of
that profile, kept like any other) and, for image specs, the logistic-regression reference on the same
images (repro/jobs/linear_reference.py). Both are resumable: finished jobs and references are kept."""

from __future__ import annotations

from pathlib import Path

from repro.jobs.job import Job
from repro.jobs.linear_reference import fit_linear_reference
from repro.jobs.plan import plan
from repro.judge.regime import is_paper_profile, regime_settings
from repro.spec import Spec


def doubling_jobs(specs: dict[str, Spec], paths: dict[str, Path], profile: str,
                  sets: list[str] | None, seeds: list[int] | None = None) -> list[Job]:
    """The first regime.seeds of `seeds` (default 0, 1, ...) of each spec's regime arm at `profile` and at the
    profile with twice its budget. Both sides run before the claims' first look, so that a spec found
    pre-plateau trains none of its other arms; the jobs at `profile` are the first look's own (run once). A
    held-out run (--seeds 100-107) checks its plateau on its own seeds."""
    jobs: list[Job] = []
    for sid, spec in specs.items():
        doubled = spec.regime.doubling.get(profile)
        if doubled is None or is_paper_profile(profile):
            continue
        arm = regime_settings(spec)[0]
        checked = sorted(seeds)[:spec.regime.seeds] if seeds else list(range(spec.regime.seeds))
        for side in (profile, doubled):
            jobs += plan([paths[sid]], side, [arm], checked, sets)[1]
    return jobs


def linear_references(specs: dict[str, Spec], profile: str, results_dir: Path, data_root: Path) -> None:
    """The logistic-regression reference of each image spec at `profile` (computed once, seconds)."""
    for spec in specs.values():
        if is_paper_profile(profile) or profile not in spec.regime.doubling:
            continue
        path = fit_linear_reference(spec, profile, results_dir, data_root)
        if path is not None:
            print(f"linear reference of {spec.id} at {profile}: {path}", flush=True)
