"""The task catalog (repro/spec/task_catalog.py), the one declaration of every task: each of its
"module:attribute" strings names what it says, and what is derived from it agrees with it."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml

from repro.spec import SpecError, load_spec
from repro.spec.schema import Task
from repro.spec.task_catalog import TARGET_CHANGING_TRICKS, TASK_CATALOG, resolve_ref
from repro.spec.tuning import HOLDOUT_TASKS
from repro.tasks.registry import TASKS
from repro.tasks.report_blocks import TASK_REPORT_BLOCKS


@pytest.mark.parametrize("task", TASK_CATALOG.values(), ids=lambda t: t.name)
def test_every_reference_of_a_task_resolves(task):
    assert callable(resolve_ref(task.builder))
    for registry in (task.models, task.datasets):
        entries = resolve_ref(registry.ref)
        assert isinstance(entries, dict) and entries and all(callable(fn) for fn in entries.values())
    for external in (task.external_models, task.external_datasets):
        if external is not None:
            assert callable(resolve_ref(external.resolver)) and external.forms
    if task.augmentations is not None:
        assert all(isinstance(name, str) for name in resolve_ref(task.augmentations))
    assert all(callable(resolve_ref(ref)) for ref in task.report_blocks)
    assert set(task.target_tricks) <= set(TARGET_CHANGING_TRICKS)


def test_what_is_derived_from_the_catalog_agrees_with_it():
    assert typing.get_args(Task) == tuple(TASK_CATALOG)
    assert set(TASKS) == set(TASK_CATALOG)
    assert all(TASKS[name] is resolve_ref(task.builder) for name, task in TASK_CATALOG.items())
    assert set(HOLDOUT_TASKS) == {name for name, task in TASK_CATALOG.items() if task.holdout}
    assert set(TASK_REPORT_BLOCKS) == {name for name, task in TASK_CATALOG.items() if task.report_blocks}


def test_an_augmentation_on_a_task_without_any_is_refused_at_validation(tmp_path: Path):
    base = {"model": {"name": "causal_transformer"}, "data": {"name": "synthetic_lm", "augment": ["hflip"]},
            "optimizer": {"name": "adam", "lr": 0.001}, "batch_size": 8, "epochs": 1}
    spec = {"id": "aug", "paper": {"title": "T", "venue": "test", "arxiv": "0000.00000"},
            "task": "language-model", "base": base, "arms": {"a": {}, "b": {}},
            "claims": [{"id": "c", "text": "t", "metric": "valid_loss", "treatment": "a", "baseline": "b",
                        "better": "lower"}],
            "profiles": {"paper": {"seeds": 1}, "cpu": {"seeds": 1}, "smoke": {"seeds": 1}}}
    path = tmp_path / "aug.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match=r"base\.data\.augment\[0\]: 'hflip': the language-model task has "
                                        r"no augmentations"):
        load_spec(path)
