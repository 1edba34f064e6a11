"""View: the LR range test of a spec's `lr_finder:` and the learning rate each arm trained with."""

from __future__ import annotations

import json

from repro.report.views.base import ViewInput


def lr_finder_blocks(view: ViewInput) -> list[tuple]:
    """The LR range test of a spec's `lr_finder:` (repro/jobs/lr_search.py), when its cache file is there."""
    out, sid, ok, arms = view.out, view.sid, view.records, view.arms
    path = out / sid / "lr_finder.json"
    if not path.exists():
        return []
    found = json.loads(path.read_text())
    lrs = {a: ok.loc[ok["arm"] == a, "config"].iloc[0]["optimizer"]["lr"]
           for a in arms if (ok["arm"] == a).any()}
    text = (f"LR range test on arm {found['arm']} (seed 0, {len(found['lrs'])} steps, "
            f"{found['settings']['start_lr']:g} to {found['settings']['end_lr']:g}): "
            f"{found['suggestion']} suggestion {found['lr']:.3g}. Learning rate of each arm: "
            + ", ".join(f"{a} {lr:.3g}" for a, lr in lrs.items()) + ".")
    png = path.with_suffix(".png")
    caption = (f"LR range test of arm {found['arm']} (one run, seed 0, {len(found['lrs'])} steps): the "
               f"training loss as the learning rate rises from {found['settings']['start_lr']:g} to "
               f"{found['settings']['end_lr']:g}, and the suggested learning rate.")
    return [("h", 3, "Learning rate (LR range test)"), ("p", text)] + (
        [("img", "LR range test", f"{sid}/{png.name}", caption)] if png.exists() else [])
