"""Task name -> the task plugin's own report blocks: fn(ok records, arms) -> blocks.

E.g. the translation task's example translations; most tasks add none. Declared with each task in
repro/spec/task_catalog.py (TaskDescriptor.report_blocks).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from repro.spec.task_catalog import TASK_CATALOG, resolve_ref

TaskBlocks = Callable[[pd.DataFrame, list[str]], list[tuple]]

TASK_REPORT_BLOCKS: dict[str, tuple[TaskBlocks, ...]] = {
    name: tuple(resolve_ref(ref) for ref in task.report_blocks)
    for name, task in TASK_CATALOG.items() if task.report_blocks}
