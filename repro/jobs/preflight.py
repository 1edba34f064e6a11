"""The preflight of `repro run`: before anything trains, every job's data, Python extras and model weights
are checked (in a second: files, importable modules, programs on PATH; no torch), and everything missing is
listed at once, each with the one command that installs it.

What each dataset, model and optimizer needs is declared, not coded here: per task in the task catalog
(repro/spec/task_catalog.py, `needs`), and for the optimizers in repro/spec/needs.py (OPTIMIZER_NEEDS).
A need that cannot be installed offline (`unavailable`: VeLO's PyLO and its hub weights) makes its arms
"not runnable here": one line says so, their jobs are not trained but recorded as not run (the record a job
stopped by a missing package gets, so the report says why), and the run goes on.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from repro.errors import UserError
from repro.jobs.job import Job
from repro.spec import load_spec, resolve
from repro.spec.needs import OPTIMIZER_NEEDS, Need
from repro.spec.overrides import parse_overrides, resolve_overridden
from repro.spec.task_catalog import TASK_CATALOG


def needs_of(cfg) -> list[tuple[str, Need]]:
    """(the name it is needed for, the need) for one resolved RunConfig: its data, model and optimizer."""
    declared = TASK_CATALOG[cfg.task].needs
    out = [(cfg.data.name, n) for n in declared.get(f"data.{cfg.data.name}", ())]
    out += [(cfg.model.name, n) for n in declared.get(f"model.{cfg.model.name}", ())]
    return out + [(cfg.optimizer.name, n) for n in OPTIMIZER_NEEDS.get(cfg.optimizer.name, ())]


def _expand(pattern: str, data_root: Path) -> str:
    return os.path.expanduser(pattern.replace("{data_root}", str(data_root)))


def _found(pattern: str, data_root: Path) -> bool:
    """Whether any of the " | "-separated globs matches an existing path."""
    return any(glob.glob(_expand(p.strip(), data_root)) for p in pattern.split(" | "))


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):   # a parent package missing, or a module set to None in sys.modules
        return False


def is_met(need: Need, data_root: Path) -> bool:
    if need.cached and _found(need.cached, data_root):
        return True
    return (all(_found(p, data_root) for p in need.paths) and all(_importable(m) for m in need.modules)
            and all(shutil.which(c) for c in need.commands))


@dataclass
class Finding:
    need: Need
    name: str                                      # the dataset, model or optimizer that needs it
    users: dict[str, list[str]] = field(default_factory=dict)     # spec id -> its arms that need it


@dataclass
class Preflight:
    """What the run lacks: `missing` (stops the run), `unrunnable` (arms skipped); data_root for the text."""

    data_root: Path
    missing: list[Finding] = field(default_factory=list)
    unrunnable: list[Finding] = field(default_factory=list)

    def skipped(self) -> set[tuple[str, str]]:
        """(spec id, arm) of every arm that cannot run here."""
        return {(sid, arm) for f in self.unrunnable for sid, arms in f.users.items() for arm in arms}

    def keep(self, jobs: Iterable[Job]) -> list[Job]:
        skip = self.skipped()
        return [j for j in jobs if (j.spec_id, j.arm) not in skip]

    def not_runnable(self, job: Job) -> tuple[str, str] | None:
        """(why, the missing module) when `job`'s arm cannot run here, else None."""
        for f in self.unrunnable:
            if job.arm in f.users.get(job.spec_id, ()):
                return (f"{f.name}: not runnable here: {f.need.unavailable}; to run it: "
                        f"{self._say(f.need.install)}", f.need.modules[0] if f.need.modules else f.name)
        return None

    def missing_text(self) -> str:
        """The error: one line per install command, then what it provides and which specs need it."""
        by_command: dict[str, list[Finding]] = {}
        for f in self.missing:
            by_command.setdefault(self._say(f.need.install), []).append(f)
        lines = [f"preflight: this run needs what is missing below; nothing was trained. Run these "
                 f"{len(by_command)} command(s) (apt-get as root), then the same command again:"]
        for command, findings in by_command.items():
            specs = sorted({s for f in findings for s in f.users})
            what = "; ".join(dict.fromkeys(self._say(f.need.what) for f in findings))
            lines.append(f"  {command}\n      {what} (for {', '.join(specs)})")
        return "\n".join(lines)

    def unrunnable_lines(self) -> list[str]:
        return [f"{f.name}: not runnable here: {f.need.unavailable}; to run it: {self._say(f.need.install)} "
                f"(its arms are skipped: {_arms(f.users)})" for f in self.unrunnable]

    def _say(self, text: str) -> str:
        return text.replace("{data_root}", str(self.data_root))


def _arms(users: dict[str, list[str]]) -> str:
    return ", ".join(f"{sid}/{arm}" for sid, arms in sorted(users.items()) for arm in arms)


def preflight(jobs: Iterable[Job], data_root: Path) -> Preflight:
    """Check what every job needs (each need once); nothing is raised here (see `check`)."""
    result = Preflight(Path(data_root))
    findings: dict[tuple[Need, str], Finding] = {}
    met: dict[Need, bool] = {}
    for job in jobs:
        for name, need in needs_of(job.config):
            if need not in met:
                met[need] = is_met(need, data_root)
            if met[need]:
                continue
            if (need, name) not in findings:
                findings[need, name] = Finding(need, name)
                (result.unrunnable if need.unavailable else result.missing).append(findings[need, name])
            arms = findings[need, name].users.setdefault(job.spec_id, [])
            if job.arm not in arms:
                arms.append(job.arm)
    return result


def first_seed_jobs(paths: list[Path], profile: str, arms: list[str] | None,
                    sets: list[str] | None = None) -> list[Job]:
    """One job per arm (seed 0: the seeds need the same things), resolved without the registry checks, which
    import torch (with --set overrides they are made: the overridden configs are validated whole)."""
    overrides = parse_overrides(sets)
    jobs = []
    for path in paths:
        spec = load_spec(path, check_registries=False)
        configs = resolve_overridden(spec, profile, overrides) if overrides else resolve(spec, profile)
        jobs += [Job(spec.id, profile, arm, 0, c) for arm, c in configs.items() if not arms or arm in arms]
    return jobs


def check(jobs: list[Job], data_root: Path) -> Preflight:
    """The preflight before training: UserError listing everything missing; else the arms not runnable here
    are printed, one line per cause, and the result says which to skip (`keep`)."""
    result = preflight(jobs, data_root)
    if result.missing:
        raise UserError(result.missing_text())
    for line in result.unrunnable_lines():
        print(line, flush=True)
    return result


def check_run(paths: list[Path], profile: str, arms: list[str] | None, sets: list[str] | None,
              data_root: Path, dry_run: bool = False) -> Preflight:
    """The preflight of `repro run` (before torch is imported): all that is missing in one error; a dry run
    only says it (it trains on synthetic data where the data is not here)."""
    jobs = first_seed_jobs(paths, profile, arms, sets)
    if not dry_run:
        return check(jobs, data_root)
    found = preflight(jobs, data_root)
    if found.missing:
        print(f"note: the real run would stop here. {found.missing_text()}")
    for line in found.unrunnable_lines():
        print(line)
    return found
