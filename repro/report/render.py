"""The report: result records -> verdict table, per-claim tables, plots, as Markdown and HTML.

Reads the run records (repro/report/records.py) and writes, under results/<profile>/:
report.md, report.html, and per spec <spec>/<claim>.csv|.md|.png, <spec>/curves.png, <spec>/lr.png.
Both documents are rendered from one list of blocks, so they always say the same thing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from repro.files import write_text_atomic
from repro.report import plots
from repro.report.derived import with_derived
from repro.report.format import fmt, mean_std, model_label, pm, to_html, to_markdown
from repro.report.records import METRICS, judge_claim, load_records
from repro.report.views.paper_table import paper_table_blocks
from repro.report.views.registry import SECTION_VIEWS, task_blocks
from repro.stats import NO_DATA, Verdict, get_field


def _published(v: Verdict) -> str:
    pub = dict(v.published)
    source = pub.pop("source", None)
    text = ", ".join(f"{k} {fmt(val)}" for k, val in pub.items())
    return f"{text} ({source})" if source else text or "–"


def _estimate(v: Verdict) -> str:
    if not math.isfinite(v.estimate):
        return "–"
    pre = "×" if v.kind == "ratio" else ""
    pairing = f"n={v.n}" if v.paired else f"unpaired {v.n_treatment} vs {v.n_baseline}"
    return f"{pre}{fmt(v.estimate)} [{fmt(v.lo)}, {fmt(v.hi)}] ({pairing})"


def _rule(v: Verdict) -> str:
    extra = {"noninferiority": f", margin {fmt(abs(v.bound))}", "ratio": f", threshold {fmt(v.bound)}"}
    return f"{v.kind}{extra.get(v.kind, '')}, {v.better} is better"


def scale(records: pd.DataFrame, profile: str) -> str:
    """What was run: profile + dataset (subset), model and epochs from the records' configs; where arms
    differ, every distinct value in record order, joined by ' / '."""
    if records.empty:
        return profile
    parts = [(_data_text, ""), (model_label, ""), (lambda cfg: str(cfg.get("epochs", "?")), " ep")]
    texts = [" / ".join(dict.fromkeys(fn(c) for c in records["config"])) + unit for fn, unit in parts]
    sets = dict.fromkeys(s for o in records["overrides"] if isinstance(o, list) for s in o)   # --set
    return f"{profile}: " + ", ".join(texts) + "".join(f", --set {s}" for s in sets)


def _data_text(cfg: dict) -> str:
    data = cfg.get("data") or {}
    return data.get("name", "?") + (f"[{data['subset']}]" if data.get("subset") else "")



# ---------------------------------------------------------------- the report


def _claim_files(out: Path, spec_id: str, v: Verdict, table: pd.DataFrame, colours: dict) -> list[tuple]:
    """Write <claim>.csv, .md and .png; return the blocks that link them."""
    base = out / spec_id / v.claim_id
    col = table.columns[3]
    summary = pd.DataFrame({"seed": ["mean", "std"],
                            **{c: [table[c].astype(float).mean(), table[c].astype(float).std(ddof=1)]
                               for c in ("treatment", "baseline", col)}})
    interval = pd.DataFrame({"seed": ["estimate", "ci95_lo", "ci95_hi"], col: [v.estimate, v.lo, v.hi]})
    csv = pd.concat([table, summary, interval], ignore_index=True)
    write_text_atomic(base.with_suffix(".csv"), csv.to_csv(index=False, float_format="%.10g"))
    head = ["seed", f"treatment ({v.treatment})", f"baseline ({v.baseline})", col, "treatment status",
            "baseline status"]
    rows = [[fmt(x) if isinstance(x, float) else x for x in r] for r in table.itertuples(index=False)]
    md = [("h", 1, f"{spec_id} / {v.claim_id}"), ("p", v.text), ("p", f"Metric {v.metric}; {_rule(v)}."),
          ("table", head, rows), *_claim_summary(v)]
    write_text_atomic(base.with_suffix(".md"), to_markdown(md))
    values = {s: {k: x for k, x in zip(table["seed"], table[s].astype(float), strict=True)
                  if math.isfinite(x)} for s in ("treatment", "baseline")}
    png = None if v.verdict == NO_DATA else plots.claim_plot(
        v, values["treatment"], values["baseline"], colours, base.with_suffix(".png"))
    links = [("csv", f"{spec_id}/{v.claim_id}.csv"), ("table", f"{spec_id}/{v.claim_id}.md")]
    return [("links", links)] + ([("img", v.claim_id, f"{spec_id}/{png.name}")] if png else [])


def _claim_summary(v: Verdict) -> list[tuple]:
    items = [f"verdict: {v.verdict}", f"published: {_published(v)}",
             f"measured: {v.treatment} {mean_std_of(v, 'treatment')}"
             f" vs {v.baseline} {mean_std_of(v, 'baseline')}",
             f"estimate [95% CI]: {_estimate(v)}"]
    return [("list", items + ([f"note: {v.note}"] if v.note else []))]


def mean_std_of(v: Verdict, side: str) -> str:
    return pm(getattr(v, f"{side}_mean"), getattr(v, f"{side}_std"))


def final_metrics(records: pd.DataFrame) -> list[str]:
    """The task's own final metrics (test_error.. or bleu..), in record order, without predictor ones."""
    keys = dict.fromkeys(k for f in records["final"] for k in f if "/" not in k)
    return list(keys) or list(METRICS)


def _arms_table(records: pd.DataFrame, arms: list[str]) -> tuple:
    """Rows per arm and per arm/predictor: metrics mean ± std over ok seeds, time, throughput, statuses."""
    metrics = final_metrics(records[records["status"] == "ok"])
    head = ["arm", *metrics, "wall time (s)", "throughput (samples or tokens/s)", "runs"]
    rows = []
    for arm in arms:
        recs = records[records["arm"] == arm]
        ok = recs[recs["status"] == "ok"]
        finals = list(ok["final"])
        counts = ", ".join(f"{n} {s}" for s, n in recs["status"].value_counts().items()) or "no records"
        rows.append([arm, *(mean_std(f.get(m) for f in finals) for m in metrics),
                     mean_std(ok["wall_time_s"]), mean_std(ok["throughput"]), counts])
        predictors = sorted({k.split("/")[0] for f in finals for k in f if "/" in k})
        for p in predictors:
            rows.append([f"{arm}/{p}", *(mean_std(f.get(f"{p}/{m}") for f in finals) for m in metrics),
                         "", "", ""])
    return ("table", head, rows)


def _curve_series(ok: pd.DataFrame, arms: list[str]) -> dict[str, list[dict]]:
    """Curves per arm, plus one series per predictor ("arm/ema": its "ema/<metric>" curves)."""
    series, metrics = {}, final_metrics(ok)
    for arm in arms:
        curves = [c for c in ok.loc[ok["arm"] == arm, "curves"] if "epoch" in c]
        series[arm] = curves
        for p in sorted({k.split("/")[0] for c in curves for k in c if "/" in k}):
            series[f"{arm}/{p}"] = [{"epoch": c["epoch"], **{m: c[f"{p}/{m}"] for m in metrics
                                                              if f"{p}/{m}" in c}} for c in curves]
    return series


def _plot_blocks(out: Path, sid: str, ok: pd.DataFrame, series: dict, colours: dict) -> list[tuple]:
    traces = {a: next(iter(ok.loc[ok["arm"] == a, "lr_trace"]), None) for a in series if "/" not in a}
    pngs = (("learning curves (mean, band = min..max over seeds)",
             plots.learning_curves(series, colours, out / sid / "curves.png")),
            ("learning-rate schedules", plots.lr_schedules(traces, colours, out / sid / "lr.png")))
    return [("img", name, f"{sid}/{png.name}") for name, png in pngs if png]






def _in_arm_order(records: pd.DataFrame, arms: list[str]) -> pd.DataFrame:
    return records.sort_values(["arm", "seed"], key=lambda c: c.map(arms.index) if c.name == "arm" else c)


def _spec_section(out: Path, spec: Any, records: pd.DataFrame, profile: str) -> tuple[list, list[tuple]]:
    """Judge the spec's claims, write its files, return (verdict-table rows, section blocks)."""
    sid, paper = get_field(spec, "id"), get_field(spec, "paper") or {}
    arms = list(get_field(spec, "arms") or {})
    arms += sorted(set(records["arm"]) - set(arms))
    ok = records[records["status"] == "ok"]
    series = _curve_series(ok, arms)
    colours = plots.arm_colours(list(series))
    run_scale = scale(_in_arm_order(ok if not ok.empty else records, arms), profile)
    arxiv = get_field(paper, "arxiv")
    where = ", ".join(str(x) for x in (get_field(paper, "venue"), arxiv and f"arXiv:{arxiv}") if x)
    blocks = [("h", 2, f"{sid}: {get_field(paper, 'title', '')}"), ("p", f"{where}. Scale: {run_scale}.")]
    rows = []
    for claim in get_field(spec, "claims") or []:
        v, table = judge_claim(with_derived(records, claim), claim)   # derived: repro/report/derived.py
        rows.append([sid, f"{v.claim_id}: {v.text} [{_rule(v)}]", _published(v),
                     f"{mean_std_of(v, 'treatment')} vs {mean_std_of(v, 'baseline')}",
                     _estimate(v), run_scale, v.verdict, v.note])
        blocks += [("h", 3, f"Claim {v.claim_id}: {v.verdict}"), ("p", v.text), *_claim_summary(v),
                   *_claim_files(out, sid, v, table, colours)]
    blocks += [("h", 3, "Arms"), _arms_table(records, arms),
               *(b for view in SECTION_VIEWS for b in view.render(out, sid, spec, ok, arms)),
               *_plot_blocks(out, sid, ok, series, colours), *task_blocks(spec, ok, arms)]
    bad = records[records["status"] != "ok"].sort_values(["arm", "seed"])
    if not bad.empty:
        blocks += [("h", 3, "Diverged or failed jobs"),
                   ("list", [f"{r.arm} seed {r.seed}: {r.status}: {r.reason or 'no reason recorded'}"
                             for r in bad.itertuples()])]
    return rows, blocks


def _header(records: pd.DataFrame, profile: str) -> list[tuple]:
    commits = sorted({c for c in records["git_commit"] if c}) or ["unknown"]
    hardware = sorted({json.dumps(h, sort_keys=True) for h in records["hardware"] if h})
    hw = ["; ".join(f"{k}={v}" for k, v in json.loads(h).items()) for h in hardware] or ["unknown"]
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    counts = ", ".join(f"{n} {s}" for s, n in records["status"].value_counts().items()) or "none"
    return [("h", 1, f"tricks-repro report: profile {profile}"),
            ("list", [f"profile: {profile}", f"date: {date}", f"git commit: {', '.join(commits)}",
                      f"records: {len(records)} ({counts})", *(f"hardware: {h}" for h in hw)])]


def write_report(results_dir: Path, profile: str, specs: Mapping[str, Any]) -> Path:
    """Write results/<profile>/report.md and report.html (+ per-claim tables and plots); return the .md.

    `specs` maps id -> spec-like objects with id, paper (title, venue, arxiv), claims, arms.
    """
    results_dir = Path(results_dir)
    out = results_dir / profile
    records = load_records(results_dir, profile)
    table, sections, not_run = [], [], []
    for spec in specs.values():
        spec_records = records[records["spec"] == get_field(spec, "id")] if len(records) else records
        if not len(spec_records):
            not_run.append(get_field(spec, "id"))
            continue
        rows, blocks = _spec_section(out, spec, spec_records, profile)
        table += rows
        sections += blocks
    head = ["spec", "claim", "published", "measured (treatment vs baseline)", "estimate [95% CI]", "scale",
            "verdict", "note"]
    skipped = [("p", f"Not run at profile {profile} yet (no records): {', '.join(not_run)}.")
               ] if not_run else []
    paper_tables = paper_table_blocks(records, list(specs.values())) if len(records) else []
    blocks = [*_header(records, profile), ("h", 2, "Verdicts"), *skipped, ("table", head, table),
              *paper_tables, *sections]
    write_text_atomic(out / "report.html", to_html(blocks, f"tricks-repro report: {profile}"))
    return write_text_atomic(out / "report.md", to_markdown(blocks))
