"""What a report view is: a name, the record columns it reads, and a function from them to blocks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class ViewInput:
    """A spec's section as a view sees it: where files go, the spec, its ok records (arm, seed and the
    columns the view declared), the arms in spec order."""

    out: Path
    sid: str
    spec: Any
    records: pd.DataFrame
    arms: list[str]


@dataclass(frozen=True)
class View:
    name: str
    needs: tuple[str, ...]                            # record columns read, besides arm and seed
    blocks: Callable[[ViewInput], list[tuple]]
    wanted: Callable[[Any], bool] = lambda spec: True  # e.g. only for specs that ask for it

    def render(self, out: Path, sid: str, spec: Any, ok: pd.DataFrame, arms: list[str]) -> list[tuple]:
        if not self.wanted(spec):
            return []
        columns = ["arm", "seed", *self.needs]
        return self.blocks(ViewInput(out, sid, spec, ok[columns], arms))
