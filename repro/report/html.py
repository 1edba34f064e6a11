"""report.html: the report's blocks rendered with the Jinja2 template templates/report.html.j2 into one
self-contained file: every image is inlined as a base64 data URI, so the page can be shared alone.

The verdict marks of the Markdown (coloured-circle emoji, repro/report/claims.py BADGES) become inline SVG
circles in the verdict's colour: they show without an emoji font."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from repro.report.claims import BADGES
from repro.report.forest import VERDICT_COLOURS
from repro.report.format import GROUP_HEAD, VERDICT_HEAD

TEMPLATES = Path(__file__).parent / "templates"
VERDICT_CLASSES = {"reproduced": "ok", "contradicted": "bad", "inconclusive": "open",
                   "out of regime": "regime"}
MARK = ('<svg class="mark" width="10" height="10" viewBox="0 0 10 10" role="img" aria-label="{verdict}">'
        '<circle cx="5" cy="5" r="5" fill="{colour}"/></svg>')


def marks(text) -> Markup:
    """`text` escaped, with each verdict emoji replaced by an SVG circle of the verdict's colour."""
    out = str(escape(text))
    for verdict, emoji in BADGES.items():
        out = out.replace(emoji, MARK.format(verdict=verdict, colour=VERDICT_COLOURS.get(verdict, "#6e7781")))
    return Markup(out)


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["verdict_class"] = lambda v: VERDICT_CLASSES.get(v, "none")
    env.filters["marks"] = marks
    return env


def data_uri(path: Path) -> str | None:
    """The PNG at `path` as a data: URI (None when it is not there)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _item(kind: str, a: list, root: Path) -> dict:
    """One block as the template sees it."""
    if kind == "h":
        return {"kind": kind, "level": a[0], "text": a[1], "anchor": a[2] if len(a) > 2 else None}
    if kind in ("p", "list", "scale"):
        return {"kind": kind, "value": a[0]}
    if kind == "summary":
        return {"kind": kind, "text": a[0], "counts": a[1]}
    if kind == "table":
        return {"kind": kind, "head": a[0], "rows": a[1]}
    if kind == "verdicts":
        return {"kind": kind, "head": VERDICT_HEAD, "rows": a[0]}
    if kind == "verdict_groups":
        return {"kind": kind, "head": GROUP_HEAD, "groups": a[0]}
    if kind == "img":
        return {"kind": kind, "alt": a[0], "src": data_uri(root / a[1]), "path": a[1],
                "caption": a[2] if len(a) > 2 else None}
    if kind == "links":
        return {"kind": kind, "links": a[0]}
    raise ValueError(f"unknown block kind {kind!r}")


def to_html(blocks: list[tuple], title: str, root: Path) -> str:
    """The blocks as one HTML page; image paths are relative to `root`, links stay relative."""
    items = [_item(kind, a, Path(root)) for kind, *a in blocks]
    return _environment().get_template("report.html.j2").render(title=title, items=items)
