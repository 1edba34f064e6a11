"""View (a spec's `plots: [speedup]`): each arm against its baseline, speed and accuracy (Pareto).

Each arm against its baseline as the spec declares it (claims' treatment -> baseline, then the spec's
`baselines:`), on the same seed: measured training speedup r = throughput_arm / throughput_baseline
(geometric mean over seeds, 95% paired bootstrap interval, repro/judge/intervals.py), the speedup its FLOPs
predict, 1 / (1 - s) with s any `*estimated_saving_flops` extra (FreezeOut, arXiv 1706.04983), and
the change in test error (mean paired difference with interval).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repro.files import write_text_atomic
from repro.judge.intervals import bootstrap_interval
from repro.report import plots
from repro.report.format import fmt, model_label

SAVING_SUFFIX = "estimated_saving_flops"


def baselines(spec: Any, arms: list[str]) -> dict[str, str]:
    """arm -> the arm it is compared with, from the spec: each claim's treatment -> baseline, then the
    spec's `baselines:` (which wins); a baseline is its own reference. Arms named nowhere get no row."""
    pairs = {c.treatment_ref.arm: c.baseline_ref.arm for c in spec.claims}
    declared = spec.baselines
    pairs.update(declared)
    pairs.update({b: b for b in declared.values()})          # a declared baseline is its own reference
    for b in set(pairs.values()):
        pairs.setdefault(b, b)
    return {a: pairs[a] for a in arms if a in pairs and pairs[a] in arms}


def _by_seed(ok: pd.DataFrame, arm: str, column: str, key: str | None = None) -> dict[int, float]:
    rows = ok[ok["arm"] == arm]
    values = rows[column] if key is None else rows[column].map(lambda d: (d or {}).get(key))
    return {int(s): float(v) for s, v in zip(rows["seed"], values, strict=True)
            if v is not None and math.isfinite(float(v))}


def _paired(t: dict[int, float], b: dict[int, float], log: bool) -> tuple[float, float, float]:
    seeds = sorted(set(t) & set(b))
    if not seeds:
        return math.nan, math.nan, math.nan
    tv, bv = np.array([t[s] for s in seeds]), np.array([b[s] for s in seeds])
    if len(seeds) < 2:
        est = float(np.exp(np.mean(np.log(tv / bv)))) if log else float(np.mean(tv - bv))
        return est, math.nan, math.nan
    return bootstrap_interval(tv, bv, paired=True, log=log)


def _estimated_speedup(ok: pd.DataFrame, arm: str) -> float:
    savings = [float(v) for extra in ok.loc[ok["arm"] == arm, "extra"] for k, v in (extra or {}).items()
               if k.endswith(SAVING_SUFFIX) and v is not None and math.isfinite(float(v))]
    return 1.0 / (1.0 - float(np.mean(savings))) if savings else 1.0


def speedup_table(ok: pd.DataFrame, pairs: dict[str, str], metric: str = "test_error") -> pd.DataFrame:
    """One row per arm that has a baseline: model, baseline, measured speedup [CI], FLOP-estimated
    speedup, metric mean and its paired change vs the baseline [CI], seeds paired."""
    rows = []
    present = set(ok["arm"])
    for arm, base in pairs.items():
        if arm not in present or base not in present:
            continue
        t_thr, b_thr = _by_seed(ok, arm, "throughput"), _by_seed(ok, base, "throughput")
        t_m, b_m = _by_seed(ok, arm, "final", metric), _by_seed(ok, base, "final", metric)
        speed = (1.0, 1.0, 1.0) if arm == base else _paired(t_thr, b_thr, log=True)
        delta = (0.0, 0.0, 0.0) if arm == base else _paired(t_m, b_m, log=False)
        config = ok.loc[ok["arm"] == arm, "config"].iloc[0]
        rows.append({"model": model_label(config), "arm": arm, "baseline": base,
                     "speedup": speed[0], "speedup_lo": speed[1], "speedup_hi": speed[2],
                     "flop_speedup": _estimated_speedup(ok, arm),
                     metric: float(np.mean(list(t_m.values()))) if t_m else math.nan,
                     "delta": delta[0], "delta_lo": delta[1], "delta_hi": delta[2],
                     "n": len(set(t_thr) & set(b_thr))})
    return pd.DataFrame(rows)


def speedup_blocks(out: Path, sid: str, spec: Any, ok: pd.DataFrame, arms: list[str],
                   wanted: list[str]) -> list[tuple]:
    """The speed-accuracy view (a spec's `plots: [speedup]`): table + Pareto plot, repro/extras.py."""

    wanted_here = "speedup" in wanted and not ok.empty
    table = speedup_table(ok, baselines(spec, arms)) if wanted_here else pd.DataFrame()
    if table.empty:
        return []
    write_text_atomic(out / sid / "speedup.csv", table.to_csv(index=False, float_format="%.10g"))
    head = ["model", "arm", "measured speedup [95% CI]", "FLOP-estimated speedup", "test_error",
            "change vs baseline [95% CI]", "seeds"]
    rows = [[r.model, r.arm, "×" + _interval(fmt, r.speedup, r.speedup_lo, r.speedup_hi),
             f"×{fmt(r.flop_speedup)}", fmt(r.test_error), _interval(fmt, r.delta, r.delta_lo, r.delta_hi),
             r.n] for r in table.itertuples()]
    png = plots.speedup_pareto(table, "test_error", out / sid / "speedup.png")
    blocks = [("h", 3, "Speed and accuracy against each model's baseline"), ("table", head, rows),
              ("links", [("csv", f"{sid}/speedup.csv")])]
    lo, hi = int(table["n"].min()), int(table["n"].max())
    seeds = lo if lo == hi else f"{lo}-{hi}"
    caption = (f"Test error against the measured training speedup over each model's baseline (geometric "
               f"mean over {seeds} paired seeds, 95% paired bootstrap interval), one line per model; hollow "
               f"markers on a dotted line: the speedup the arms' FLOPs predict.")
    return blocks + ([("img", "speed vs accuracy", f"{sid}/{png.name}", caption)] if png else [])


def _interval(fmt, estimate: float, lo: float, hi: float) -> str:
    return f"{fmt(estimate)} [{fmt(lo)}, {fmt(hi)}]"
