"""Figure captions: what a figure plots, over how many seeds, and which arms it leaves out because they have
no data ("not run: why"), so that an arm without records is named rather than drawn as a line at 0."""

from __future__ import annotations

import textwrap

import pandas as pd


def seeds_text(ok: pd.DataFrame, arms: list[str]) -> str:
    """'8 seeds per arm' or '8-12 seeds per arm' over the arms that have ok records."""
    counts = [int(ok.loc[ok["arm"] == a, "seed"].nunique()) for a in arms if (ok["arm"] == a).any()]
    if not counts:
        return "no seeds"
    lo, hi = min(counts), max(counts)
    return f"{lo} seed{'s' if hi != 1 else ''} per arm" if lo == hi else f"{lo}-{hi} seeds per arm"


def not_run(records: pd.DataFrame, arms: list[str], profile: str) -> dict[str, str]:
    """arm -> why it has no data: the reason of its records (failed, diverged), or that it has none."""
    out = {}
    for arm in arms:
        recs = records[records["arm"] == arm]
        if (recs["status"] == "ok").any():
            continue
        if recs.empty:
            out[arm] = f"no records at profile {profile}"
            continue
        reasons = [str(r) for r in recs["reason"] if isinstance(r, str) and r]
        status = ", ".join(f"{n} {s}" for s, n in recs["status"].value_counts().items())
        why = textwrap.shorten(reasons[0], 110, placeholder=" ...") if reasons else "no reason recorded"
        out[arm] = f"{status}: {why}"
    return out


def not_run_text(missing: dict[str, str]) -> str:
    """' Not run: velo (8 failed: PyLO is not installed ...); a, b (no records at profile cpu).'"""
    if not missing:
        return ""
    by_why: dict[str, list[str]] = {}
    for arm, why in missing.items():
        by_why.setdefault(why, []).append(arm)
    return " Not run: " + "; ".join(f"{', '.join(arms)} ({why})" for why, arms in by_why.items()) + "."


def curves_caption(ok: pd.DataFrame, plotted: list[str], missing: dict[str, str]) -> str:
    return (f"Learning curves of {len(plotted)} arm(s) over {seeds_text(ok, plotted)}: the mean over seeds "
            f"(line) and the min-max over seeds (band); n per arm in the legend.{not_run_text(missing)}")


def lr_caption(plotted: list[str], missing: dict[str, str]) -> str:
    return (f"Learning rate per optimizer step of {len(plotted)} arm(s), from one seed's record each (a "
            f"schedule does not depend on the seed; one line per parameter group).{not_run_text(missing)}")
