"""Plan a run: spec files -> (specs by id, the jobs of a profile), seed-major."""

from __future__ import annotations

from pathlib import Path

from repro.errors import UserError
from repro.jobs.job import FINISHED, Job, read_record, record_path
from repro.spec import Spec, config_hash, load_spec, resolve
from repro.spec.overrides import parse_overrides, resolve_overridden, seeds_count


def plan(paths: list[Path], profile: str, arms: list[str] | None, seeds: list[int] | None,
         sets: list[str] | None = None) -> tuple[dict[str, Spec], list[Job]]:
    """The jobs of `profile` for every spec; `sets` are --set KEY=VALUE texts (repro/spec/overrides.py)."""
    overrides = parse_overrides(sets)
    texts = tuple(o.text for o in overrides)
    specs, jobs = {}, []
    for path in paths:
        spec = load_spec(path)
        specs[spec.id] = spec
        configs = resolve_overridden(spec, profile, overrides) if overrides else resolve(spec, profile)
        unknown = sorted(set(arms or []) - set(configs))
        if unknown:
            raise UserError(f"{path}: --arms {','.join(unknown)}: no such arm; arms are "
                            f"{', '.join(configs)}")
        # seed-major: the arms of one seed run next to each other, so drift of a noisy machine
        # hits every arm alike and wall-clock comparisons stay paired
        n_seeds = seeds_count(overrides) or spec.seeds(profile)
        for seed in seeds if seeds is not None else range(n_seeds):
            jobs.extend(Job(spec.id, profile, arm, seed, cfg, texts) for arm, cfg in configs.items()
                        if not arms or arm in arms)
    return specs, jobs


def records_overrides_would_replace(results_dir: Path, specs: dict[str, Spec], jobs: list[Job]) -> list[Path]:
    """The finished records of a spec's own config that jobs run with --set would write over: an experiment
    must not replace the records a report is built from (they share one path per arm and seed)."""
    own: dict[tuple[str, str, str], str] = {}
    out = []
    for job in (j for j in jobs if j.overrides):
        key = (job.spec_id, job.profile, job.arm)
        if key not in own:
            own[key] = config_hash(resolve(specs[job.spec_id], job.profile)[job.arm])
        path = record_path(results_dir, job)
        record = read_record(path) or {}
        finished = record.get("status") in FINISHED
        if finished and record.get("config_hash") == own[key] != config_hash(job.config):
            out.append(path)
    return out
