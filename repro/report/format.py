"""How the report writes numbers, labels and its documents: one list of blocks -> Markdown and HTML."""

from __future__ import annotations

import html
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


def to_markdown(blocks: list[tuple]) -> str:
    out = []
    for kind, *a in blocks:
        if kind == "h":
            out.append(f"{'#' * a[0]} {a[1]}")
        elif kind == "p":
            out.append(a[0])
        elif kind == "list":
            out.append("\n".join(f"- {item}" for item in a[0]))
        elif kind == "table":
            head, rows = a
            lines = [head, ["---"] * len(head), *rows]
            out.append("\n".join("| " + " | ".join(_cell(c) for c in r) + " |" for r in lines))
        elif kind == "img":
            out.append(f"![{a[0]}]({a[1]})")
        elif kind == "links":
            out.append(" · ".join(f"[{t}]({href})" for t, href in a[0]))
    return "\n\n".join(out) + "\n"


def to_html(blocks: list[tuple], title: str) -> str:
    e = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>"
           "body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}</style></head><body>"]
    for kind, *a in blocks:
        if kind == "h":
            out.append(f"<h{a[0]}>{e(a[1])}</h{a[0]}>")
        elif kind == "p":
            out.append(f"<p>{e(a[0])}</p>")
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{e(str(i))}</li>" for i in a[0]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{e(str(c))}</th>" for c in a[0])
            body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in a[1])
            out.append(f"<table><tr>{head}</tr>{body}</table>")
        elif kind == "img":
            out.append(f"<p><img src='{e(a[1])}' alt='{e(a[0])}'></p>")
        elif kind == "links":
            out.append("<p>" + " · ".join(f"<a href='{e(h)}'>{e(t)}</a>" for t, h in a[0]) + "</p>")
    return "\n".join(out) + "\n</body></html>\n"
