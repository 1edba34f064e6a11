"""Task name (a spec's `task:`) -> the plugin function that builds its TaskSetup, from the one declaration
of every task (repro/spec/task_catalog.py). A plugin is imported when its task is first built."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping

from repro.spec.task_catalog import TASK_CATALOG, resolve_ref
from repro.tasks.base import TaskSetup


class _TaskBuilders(Mapping):
    """TASK_CATALOG's builders, each resolved on first use (the text task, e.g., imports transformers)."""

    def __getitem__(self, name: str) -> Callable[..., TaskSetup]:
        return _builder(TASK_CATALOG[name].builder)

    def __iter__(self) -> Iterator[str]:
        return iter(TASK_CATALOG)

    def __len__(self) -> int:
        return len(TASK_CATALOG)


@functools.cache
def _builder(ref: str) -> Callable[..., TaskSetup]:
    return resolve_ref(ref)


TASKS: Mapping[str, Callable[..., TaskSetup]] = _TaskBuilders()
