"""Plan a run: spec files -> (specs by id, the jobs of a profile), seed-major."""

from __future__ import annotations

from pathlib import Path

from repro.errors import UserError
from repro.jobs.job import Job
from repro.spec import Spec, load_spec, resolve


def plan(paths: list[Path], profile: str, arms: list[str] | None,
         seeds: list[int] | None) -> tuple[dict[str, Spec], list[Job]]:
    specs, jobs = {}, []
    for path in paths:
        spec = load_spec(path)
        specs[spec.id] = spec
        configs = resolve(spec, profile)
        unknown = sorted(set(arms or []) - set(configs))
        if unknown:
            raise UserError(f"{path}: --arms {','.join(unknown)}: no such arm; arms are "
                            f"{', '.join(configs)}")
        # seed-major: the arms of one seed run next to each other, so drift of a noisy machine
        # hits every arm alike and wall-clock comparisons stay paired
        for seed in seeds if seeds is not None else range(spec.seeds(profile)):
            jobs.extend(Job(spec.id, profile, arm, seed, cfg) for arm, cfg in configs.items()
                        if not arms or arm in arms)
    return specs, jobs
