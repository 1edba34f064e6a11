"""View: specs that share a `paper_table` (same arXiv id) side by side with the published values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from repro.stats import get_field, mean_interval


def paper_table_blocks(records: pd.DataFrame, specs: list) -> list[tuple]:
    """Specs that share a `paper_table` (same arXiv id) side by side: per arm, the metric's mean with
    its 95% bootstrap interval over seeds in each spec, then the paper's published values."""

    with_table = [s for s in specs if get_field(s, "paper_table")]
    blocks = []
    for arxiv in dict.fromkeys(get_field(get_field(s, "paper"), "arxiv") for s in with_table):
        group = [s for s in specs if get_field(get_field(s, "paper"), "arxiv") == arxiv
                 and (records["spec"] == get_field(s, "id")).any()]
        table = get_field(next(s for s in with_table if get_field(get_field(s, "paper"), "arxiv") == arxiv),
                          "paper_table")
        if not group:
            continue
        metric = get_field(table, "metric")
        arms = list(dict.fromkeys(a for s in group for a in get_field(s, "arms")))
        head = ["arm", *(f"{get_field(s, 'id')} (n)" for s in group),
                *(f"published {c}" for c in get_field(table, "columns"))]
        rows = []
        for arm in arms:
            row = [arm]
            for s in group:
                ok = records[(records["spec"] == get_field(s, "id")) & (records["arm"] == arm)
                             & (records["status"] == "ok")]
                vals = [f.get(metric) for f in ok["final"] if f.get(metric) is not None]
                lo, hi = mean_interval(vals)
                ci = f" [{lo:.4g}, {hi:.4g}]" if math.isfinite(lo) else ""
                row.append(f"{np.mean(vals):.4g}{ci} ({len(vals)})" if vals else "–")
            row += [f"{v:g}" for v in get_field(table, "published").get(arm, [])] or \
                ["–"] * len(get_field(table, "columns"))
            rows.append(row)
        blocks += [("h", 2, get_field(table, "title")),
                   ("p", f"{metric}: mean [95% bootstrap interval] (seeds) per spec; published: "
                         f"{get_field(table, 'source')}."),
                   ("table", head, rows)]
    return blocks
