"""Report views beyond the claims: every `extra` number per arm, and the speed-accuracy (Pareto) view.

- `extra_values`: one row per `extra` key of the records, one column per arm, the per-seed values.
  Keys lose their first component (the trick, or "ensemble" for `ensemble: {members: M}` runs), so
  snapshot and independent ensembles line up: `snapshot_ensemble/member1/test_error` and
  `ensemble/member1/test_error` are both row `member1/test_error`. The training cost of each arm
  (optimizer steps, training seconds) comes first.
- `speedup_table` (a spec's `plots: [speedup]`): each arm against the baseline of its model, the arm
  with the same model and data and no tricks, on the same seed: measured training speedup
  r = throughput_arm / throughput_baseline (geometric mean over seeds, 95% paired bootstrap interval,
  repro.stats), the speedup its FLOPs predict, 1 / (1 - s) with s any `*estimated_saving_flops` extra
  (FreezeOut, arXiv 1706.04983), and the change in test error (mean paired difference with interval).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from repro import plots
from repro.stats import bootstrap_interval

COST_ROWS = ("steps", "train_time_s")
DETAIL = re.compile(r"(^|/)pair\d+-\d+/")  # pairwise diversity: in the CSV only, the table shows means
SAVING_SUFFIX = "estimated_saving_flops"
METRIC_ORDER = ("test_error", "test_nll", "test_ece")


def _natural(key: str) -> list:
    """Sort key that puts member2 before member10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def _row_order(key: str) -> tuple:
    """Plain keys first, then grouped by metric (test_error, test_nll, test_ece, others), naturally."""
    metric = key.rsplit("/", 1)[-1]
    rank = METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER)
    return ("/" in key, rank, metric, _natural(key))


def _stripped(extra: dict) -> dict[str, float]:
    """extra with each key's first component dropped, unless two keys would then collide."""
    short = {k: k.split("/", 1)[1] if "/" in k else k for k in extra}
    counts = pd.Series(list(short.values())).value_counts()
    return {(s if counts[s] == 1 else k): float(extra[k]) for k, s in short.items()
            if isinstance(extra[k], (int, float)) and math.isfinite(extra[k])}


def extra_values(ok: pd.DataFrame, arms: list[str]) -> dict[str, dict[str, list[float]]]:
    """key -> arm -> per-seed values over the ok records (cost rows first); {} when no record has extras."""
    per_arm: dict[str, dict[str, list[float]]] = {}
    for row in ok.itertuples():
        for key, value in _stripped(row.extra or {}).items():
            per_arm.setdefault(key, {}).setdefault(row.arm, []).append(value)
    if not per_arm:
        return {}
    for key in COST_ROWS:
        per_arm[key] = {a: [float(x) for x in ok.loc[ok["arm"] == a, key].dropna()] for a in arms}
    order = list(COST_ROWS) + sorted(set(per_arm) - set(COST_ROWS), key=_row_order)
    return {k: {a: per_arm[k].get(a, []) for a in arms} for k in order}


def is_detail(key: str) -> bool:
    return bool(DETAIL.search(key))


# ---------------------------------------------------------------- speed-accuracy view


def model_label(config: dict) -> str:
    """'densenet_bc(depth=22,growth_rate=12)' from a record's config."""
    model = dict(config.get("model") or {})
    name = model.pop("name", "?")
    return f"{name}({','.join(f'{k}={v}' for k, v in model.items())})" if model else name


def baselines(ok: pd.DataFrame, arms: list[str]) -> dict[str, str]:
    """arm -> its baseline: the first arm (spec order) with the same model and data config and no tricks."""
    configs = {a: ok.loc[ok["arm"] == a, "config"].iloc[0] for a in arms if (ok["arm"] == a).any()}

    def key(cfg: dict) -> str:
        return json.dumps([cfg.get("model"), cfg.get("data")], sort_keys=True)

    plain = {}
    for arm, cfg in configs.items():
        if not cfg.get("tricks") and not cfg.get("ensemble"):
            plain.setdefault(key(cfg), arm)
    return {arm: plain[key(cfg)] for arm, cfg in configs.items() if key(cfg) in plain}


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


def speedup_table(ok: pd.DataFrame, arms: list[str], metric: str = "test_error") -> pd.DataFrame:
    """One row per arm that has a baseline: model, baseline, measured speedup [CI], FLOP-estimated
    speedup, metric mean and its paired change vs the baseline [CI], seeds paired."""
    rows = []
    for arm, base in baselines(ok, arms).items():
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


# ---------------------------------------------------------------- report blocks


def extra_blocks(out: Path, sid: str, ok: pd.DataFrame, arms: list[str]) -> list[tuple]:
    """Every `extra` number and the training cost, mean ± std per arm (repro/extras.py); extra.csv has
    all keys, the table leaves out the pairwise ones (their means are in it)."""
    from repro.report import mean_std, write_text

    values = extra_values(ok, arms)
    if not values:
        return []
    csv = pd.DataFrame([{"key": k, "arm": a, "mean": np.mean(v), "std": np.std(v, ddof=1) if len(v) > 1
                         else math.nan, "n": len(v)} for k, by_arm in values.items()
                        for a, v in by_arm.items() if v])
    write_text(out / sid / "extra.csv", csv.to_csv(index=False, float_format="%.10g"))
    keys = [k for k in values if not is_detail(k)]
    if len(arms) <= len(keys):
        table = ("table", ["key", *arms], [[k, *(mean_std(values[k][a]) for a in arms)] for k in keys])
    else:
        table = ("table", ["arm", *keys], [[a, *(mean_std(values[k][a]) for k in keys)] for a in arms])
    note = ("Keys without their trick prefix (`ensemble` for independent ensembles); steps and "
            "train_time_s are the training cost, forward_passes the inference cost per test image.")
    return [("h", 3, "Extra metrics (mean ± std over seeds)"), ("p", note), table,
            ("links", [("all keys (csv)", f"{sid}/extra.csv")])]


def speedup_blocks(out: Path, sid: str, ok: pd.DataFrame, arms: list[str], wanted: list[str]) -> list[tuple]:
    """The speed-accuracy view (a spec's `plots: [speedup]`): table + Pareto plot, repro/extras.py."""
    from repro.report import fmt, write_text

    table = speedup_table(ok, arms) if "speedup" in wanted and not ok.empty else pd.DataFrame()
    if table.empty:
        return []
    write_text(out / sid / "speedup.csv", table.to_csv(index=False, float_format="%.10g"))
    head = ["model", "arm", "measured speedup [95% CI]", "FLOP-estimated speedup", "test_error",
            "change vs baseline [95% CI]", "seeds"]
    rows = [[r.model, r.arm, "×" + _interval(fmt, r.speedup, r.speedup_lo, r.speedup_hi),
             f"×{fmt(r.flop_speedup)}", fmt(r.test_error), _interval(fmt, r.delta, r.delta_lo, r.delta_hi),
             r.n] for r in table.itertuples()]
    png = plots.speedup_pareto(table, "test_error", out / sid / "speedup.png")
    blocks = [("h", 3, "Speed and accuracy against each model's baseline"), ("table", head, rows),
              ("links", [("csv", f"{sid}/speedup.csv")])]
    return blocks + ([("img", "speed vs accuracy", f"{sid}/{png.name}")] if png else [])


def paper_table_blocks(records: pd.DataFrame, specs: list) -> list[tuple]:
    """Specs that share a `paper_table` (same arXiv id) side by side: per arm, the metric's mean with
    its 95% bootstrap interval over seeds in each spec, then the paper's published values."""
    from repro.stats import get_field, mean_interval

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


def _interval(fmt, estimate: float, lo: float, hi: float) -> str:
    return f"{fmt(estimate)} [{fmt(lo)}, {fmt(hi)}]"
