"""An arm's `tune:` (repro.spec.schema.TuneConfig): set one hyperparameter of a run config by its dotted
path, and the load-time checks of the section (the tuning itself is repro/jobs/tune.py)."""

from __future__ import annotations

from repro.spec.checks import Problem, validate
from repro.spec.schema import RunConfig
from repro.spec.task_catalog import TASK_CATALOG

# tasks whose plugin can hold out a validation split from its training set (RunConfig.holdout)
HOLDOUT_TASKS = tuple(name for name, task in TASK_CATALOG.items() if task.holdout)


def with_value(cfg: RunConfig, path: str, value: float) -> RunConfig:
    """A copy of `cfg` with the number at dotted `path` (e.g. optimizer.lr) set to `value`, re-validated."""
    data = cfg.model_dump(mode="json")
    *parents, last = path.split(".")
    node = data
    for key in parents:
        if not isinstance(node.get(key), dict):
            raise Problem(("tune", "param"), path, f"{key!r} is not a section of the run config")
        node = node[key]
    old = node.get(last)
    if not isinstance(old, (int, float)) or isinstance(old, bool):
        raise Problem(("tune", "param"), path, "must name a number of the run config (e.g. optimizer.lr)")
    node[last] = type(old)(value) if isinstance(old, float) else value
    return validate(RunConfig, data)


def check_tune(cfg: RunConfig) -> None:
    """The tuned parameter exists and takes every grid value; the task can hold out a validation split."""
    tune = cfg.tune
    if tune is None:
        return
    if cfg.task not in HOLDOUT_TASKS:
        raise Problem(("tune",), cfg.task, f"the task cannot hold out a validation split; tasks that can: "
                                           f"{', '.join(HOLDOUT_TASKS)}")
    if cfg.holdout is not None:
        raise Problem(("holdout",), cfg.holdout, "set by the tuner only; leave it out of specs")
    for i, value in enumerate(tune.grid):
        try:
            with_value(cfg, tune.param, value)
        except Problem as p:
            where = p.loc if p.loc == ("tune", "param") else ("tune", "grid", i)
            raise Problem(where, p.value if where == p.loc else value, p.allowed) from None
