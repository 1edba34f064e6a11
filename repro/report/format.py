"""How the report writes numbers, labels and its documents: one list of blocks -> Markdown and HTML."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def pm(mean: float, std: float) -> str:
    """mean ± std, with float round-off in the std (all seeds equal) shown as 0."""
    if not math.isfinite(std):
        return fmt(mean)
    return f"{fmt(mean)} ± {fmt(0.0 if std < 1e-9 * max(1.0, abs(mean)) else std, 2)}"


def mean_std(values) -> str:
    s = pd.Series(list(values), dtype=float).dropna()
    return "–" if s.empty else pm(s.mean(), s.std(ddof=1) if len(s) > 1 else math.nan)


def model_label(config: dict) -> str:
    """'densenet_bc(depth=22,growth_rate=12)' from a record's config."""
    model = dict(config.get("model") or {})
    name = model.pop("name", "?")
    return f"{name}({','.join(f'{k}={v}' for k, v in model.items())})" if model else name


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


VERDICT_HEAD = ["claim", "verdict", "estimate [95% CI]", "n", "published"]
GROUP_HEAD = ["claim", "verdict", "estimate [95% CI]", "bound", "n"]


def verdict_cells(row: dict, badge) -> list[str]:
    """A compact verdict-table row as Markdown cells: the claim links to its spec's section."""
    return [f"[{row['spec']}/{row['claim']}](#{row['anchor']})", badge(row["verdict"]), row["estimate"],
            str(row["n"]), row["published"]]


def group_cells(groups: list[dict], badge) -> list[list[str]]:
    """The compact verdict table grouped by spec, as Markdown rows: a row naming the spec (its section, its
    .md, its counts and regime), then its claims with the estimate, the bound it must clear and n."""
    rows = []
    for g in groups:
        md = f" · [why this scale]({g['md']})" if g["md"] else ""
        rows.append([f"**[{g['spec']}](#{g['anchor']})**{md}", g["counts"], f"regime: {g['regime']}", "", ""])
        rows += [[f"[{g['spec']}/{r['claim']}](#{g['anchor']})", badge(r["verdict"]), r["estimate"],
                  r["bound"], str(r["n"])] for r in g["rows"]]
    return rows


def _md_block(kind: str, a: list) -> str:
    if kind == "h":
        anchor = f'<a id="{a[2]}"></a>\n\n' if len(a) > 2 and a[2] else ""
        return f"{anchor}{'#' * a[0]} {a[1]}"
    if kind in ("p", "summary", "scale"):
        return a[0] if kind == "p" else f"**{a[0]}**"
    if kind == "list":
        return "\n".join(f"- {item}" for item in a[0])
    if kind == "table":
        head, rows = a
        lines = [head, ["---"] * len(head), *rows]
        return "\n".join("| " + " | ".join(_cell(c) for c in r) + " |" for r in lines)
    if kind == "verdicts":
        return _md_block("table", [VERDICT_HEAD, [verdict_cells(r, a[1]) for r in a[0]]])
    if kind == "verdict_groups":
        return _md_block("table", [GROUP_HEAD, group_cells(a[0], a[1])])
    if kind == "img":            # ("img", alt, path[, caption])
        return f"![{a[0]}]({a[1]})" + (f"\n\n*{a[2]}*" if len(a) > 2 and a[2] else "")
    if kind == "links":
        return " · ".join(f"[{t}]({href})" for t, href in a[0])
    raise ValueError(f"unknown block kind {kind!r}")


def to_markdown(blocks: list[tuple]) -> str:
    """The blocks as Markdown (readable on a code host: the wide details live in per-spec tables)."""
    return "\n\n".join(_md_block(kind, a) for kind, *a in blocks) + "\n"
