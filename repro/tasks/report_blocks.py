"""Task name -> the task plugin's own report blocks: fn(ok records, arms) -> blocks.

E.g. the translation task's example translations; most tasks add none.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from repro.tasks.translation.report_blocks import example_blocks

TaskBlocks = Callable[[pd.DataFrame, list[str]], list[tuple]]

TASK_REPORT_BLOCKS: dict[str, tuple[TaskBlocks, ...]] = {"translation": (example_blocks,)}
