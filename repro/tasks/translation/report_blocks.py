"""The translation task's own report blocks: example translations of each arm's final weights.

Read by the report through repro/tasks/report_blocks.py.
"""

from __future__ import annotations

import pandas as pd


def example_blocks(ok: pd.DataFrame, arms: list[str]) -> list[tuple]:
    """The task's example outputs (translations) of every arm's lowest seed, one table per example."""
    first = {a: ok[ok["arm"] == a].sort_values("seed").iloc[0] for a in arms if (ok["arm"] == a).any()}
    shown = {a: r["examples"] for a, r in first.items() if isinstance(r["examples"], list) and r["examples"]}
    if not shown:
        return []
    seed = min(int(r["seed"]) for r in first.values())
    blocks: list[tuple] = [("h", 3, "Example outputs"), ("p", f"Final weights of each arm, seed {seed}.")]
    for i, ex in enumerate(next(iter(shown.values()))):
        rows = [["source", ex["source"]], ["reference", ex["reference"]]]
        rows += [[arm, exs[i]["hypothesis"]] for arm, exs in shown.items() if i < len(exs)]
        blocks.append(("table", ["", f"example {i + 1}"], rows))
    return blocks
