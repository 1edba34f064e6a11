"""View: specs that share a `paper_table` (same arXiv id) side by side with the published values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from repro.judge.intervals import mean_interval
from repro.spec import PaperTable, Spec


def paper_table_blocks(records: pd.DataFrame, specs: list[Spec]) -> list[tuple]:
    """Specs that share a `paper_table` (same arXiv id) side by side: per arm, the metric's mean with
    its 95% t interval over seeds in each spec, then the paper's published values."""
    with_table = [s for s in specs if s.paper_table]
    blocks = []
    for arxiv in dict.fromkeys(s.paper.arxiv for s in with_table):
        group = [s for s in specs if s.paper.arxiv == arxiv and (records["spec"] == s.id).any()]
        table = next(s.paper_table for s in with_table if s.paper.arxiv == arxiv)
        if group:
            blocks += _table_blocks(records, group, table)
    return blocks


def _table_blocks(records: pd.DataFrame, group: list[Spec], table: PaperTable) -> list[tuple]:
    metric = table.metric
    arms = list(dict.fromkeys(a for s in group for a in s.arms))
    head = ["arm", *(f"{s.id} (n)" for s in group), *(f"published {c}" for c in table.columns)]
    rows = []
    for arm in arms:
        row = [arm]
        for s in group:
            ok = records[(records["spec"] == s.id) & (records["arm"] == arm) & (records["status"] == "ok")]
            vals = [f.get(metric) for f in ok["final"] if f.get(metric) is not None]
            lo, hi = mean_interval(vals)
            ci = f" [{lo:.4g}, {hi:.4g}]" if math.isfinite(lo) else ""
            row.append(f"{np.mean(vals):.4g}{ci} ({len(vals)})" if vals else "–")
        row += [f"{v:g}" for v in table.published.get(arm, [])] or ["–"] * len(table.columns)
        rows.append(row)
    return [("h", 2, table.title),
            ("p", f"{metric}: mean [95% bootstrap interval] (seeds) per spec; published: {table.source}."),
            ("table", head, rows)]
