"""The registered report views, in the order a spec's section shows them (after its claims and arms table).

SECTION_VIEWS come before the learning curves; the task plugin's own blocks (repro/tasks/report_blocks.py,
e.g. example translations) come after them. A new view is one file in this folder plus one line here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from repro.report.views import optimizer_suite
from repro.report.views.base import View, ViewInput
from repro.report.views.extra import extra_blocks
from repro.report.views.lr_finder import lr_finder_blocks
from repro.report.views.optimizer_suite import optimizer_suite_blocks
from repro.report.views.speedup import speedup_blocks
from repro.report.views.time_to_target import time_to_target_blocks
from repro.tasks.report_blocks import TASK_REPORT_BLOCKS


def _asks_for(plot: str):
    return lambda spec: plot in spec.plots


SECTION_VIEWS: tuple[View, ...] = (
    View("lr_finder", ("config",), lr_finder_blocks),
    View("extra", ("extra", "steps", "train_time_s"),
         lambda v: extra_blocks(v.out, v.sid, v.records, v.arms)),
    View("optimizer_suite", ("profile", "curves", "steps", "extra", "status"), optimizer_suite_blocks,
         wanted=lambda spec: optimizer_suite.reference_arm(spec) is not None),
    View("speedup", ("config", "throughput", "final", "extra"),
         lambda v: speedup_blocks(v.out, v.sid, v.spec, v.records, v.arms, ["speedup"]),
         wanted=_asks_for("speedup")),
    View("time_to_target", ("curves", "lr_trace", "status"), time_to_target_blocks,
         wanted=_asks_for("time_to_target")),
)


def task_blocks(spec: Any, ok: pd.DataFrame, arms: list[str]) -> list[tuple]:
    """The blocks the spec's task plugin adds (none for most tasks)."""
    fns = TASK_REPORT_BLOCKS.get(spec.task, ())
    return [b for fn in fns for b in fn(ok, arms)]


__all__ = ["SECTION_VIEWS", "View", "ViewInput", "task_blocks"]
