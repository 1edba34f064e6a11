"""How a spec problem is told: a `Problem` (where, bad value, allowed) becomes a one-line SpecError."""

from __future__ import annotations

import re
from typing import Any

from repro.errors import UserError
from repro.spec.checks import MISSING, Problem


class SpecError(UserError):
    """A spec that cannot run; the message is one line: `<file>: <field.path>: <bad value>: <allowed>`."""


def one_of(what: str, options) -> str:
    return f"{what}: {', '.join(options) or '(none)'}"


def field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = str(part)
            out += ("." if out else "") + (part if re.fullmatch(r"[\w-]+", part) else repr(part))
    return out or "(top level)"


def show(value: Any, limit: int = 80) -> str:
    text = "(missing)" if value is MISSING else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_problem(file: str, p: Problem) -> str:
    where = p.loc if isinstance(p.loc, str) else field_path(p.loc)
    line = f"{file}: {where}: {show(p.value)}: {p.allowed}"
    return " ".join(line.splitlines())
