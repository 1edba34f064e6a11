"""The report: result records -> verdict table, per-claim tables, plots, as Markdown and HTML.

Reads results/runs/<spec>/<profile>/<arm>/seed<k>.json and writes, under results/<profile>/:
report.md, report.html, and per spec <spec>/<claim>.csv|.md|.png, <spec>/curves.png, <spec>/lr.png.
Both documents are rendered from one list of blocks, so they always say the same thing.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from repro import extras, plots
from repro.legacy_ids import current_id
from repro.stats import NO_DATA, Verdict, get_field, judge

RECORD_NAME = re.compile(r"^seed(\d+)\.json$")
METRICS = ("test_error", "test_nll", "test_ece")
RECORD_FIELDS = ("throughput", "wall_time_s", "train_time_s", "steps")
COLUMNS = ["spec", "profile", "arm", "seed", "status", "reason", "git_commit", "hardware", "config",
           "curves", "lr_trace", "final", "extra", "examples", "overrides", *RECORD_FIELDS, "path"]


def load_records(results_dir: Path, profile: str) -> pd.DataFrame:
    """One row per record of `profile` (columns COLUMNS); temp and unreadable files are skipped."""
    rows = []
    for path in sorted(Path(results_dir, "runs").glob(f"*/{profile}/*/seed*.json")):
        match = RECORD_NAME.match(path.name)
        if not match:
            continue
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            warnings.warn(f"skipping unreadable record {path}: {e}", stacklevel=2)
            continue
        row = {c: rec.get(c) for c in COLUMNS}
        row.update(spec=current_id(rec.get("spec", path.parts[-4])), profile=profile,
                   arm=rec.get("arm", path.parts[-2]),
                   seed=int(rec.get("seed", match.group(1))), status=rec.get("status", "failed"), path=path)
        for key in ("final", "extra", "curves", "lr_trace", "config", "hardware"):
            row[key] = row[key] or {}
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    # a job rerun under the spec's new id (repro/legacy_ids.py) replaces its record under the old one
    return frame.drop_duplicates(["spec", "arm", "seed"], keep="last").reset_index(drop=True)


def _value(row: Mapping, key: str) -> float | None:
    """A metric from a record: `final` (NaN kept, the verdict notes it), then the top-level numbers
    (throughput, wall time, ...), then `extra`; `name@E` is the curve of `name` after epoch E."""
    name, _, epoch = key.partition("@")
    if epoch:
        curves = row["curves"]
        if int(epoch) not in curves.get("epoch", []) or name not in curves:
            return None
        x = curves[name][curves["epoch"].index(int(epoch))]
        return math.nan if x is None else float(x)
    if key in row["final"]:
        x = row["final"][key]
        return math.nan if x is None else float(x)
    for source in ({k: row[k] for k in RECORD_FIELDS}, row["extra"]):
        if source.get(key) is not None and pd.notna(source[key]):
            return float(source[key])
    return None


def side_table(records: pd.DataFrame, ref: str, metric: str) -> pd.DataFrame:
    """Per seed (status, value) of one side of a claim; `ref` is "arm" or "arm/predictor".

    An ok record without the metric gets status "missing metric"; a NaN metric stays ok (and NaN).
    """
    arm, _, predictor = ref.partition("/")
    key = f"{predictor}/{metric}" if predictor else metric
    rows = records[records["arm"] == arm]
    values = [_value(r, key) if r["status"] == "ok" else None for _, r in rows.iterrows()]
    out = pd.DataFrame({"seed": rows["seed"], "status": rows["status"], "value": values})
    absent = pd.Series([x is None for x in values], index=out.index, dtype=bool)
    out.loc[absent & (out["status"] == "ok"), "status"] = "missing metric"
    return out.sort_values("seed").reset_index(drop=True)


def judge_claim(records: pd.DataFrame, claim: Any) -> tuple[Verdict, pd.DataFrame]:
    """The verdict of one claim and its per-seed table (seed, both sides' values and statuses)."""
    metric = get_field(claim, "metric")
    sides = {s: side_table(records, get_field(claim, s), metric) for s in ("treatment", "baseline")}
    ok = {s: t[t["status"] == "ok"] for s, t in sides.items()}
    values = {s: dict(zip(t["seed"], t["value"].astype(float), strict=True)) for s, t in ok.items()}
    excluded = {s: dict(zip(t["seed"], t["status"], strict=True)) for s, t in sides.items()}
    excluded = {s: {k: st for k, st in d.items() if st != "ok"} for s, d in excluded.items()}
    v = judge(claim, values["treatment"], values["baseline"], excluded=excluded)
    cols = ["seed", "value", "status"]
    table = sides["treatment"][cols].merge(sides["baseline"][cols], on="seed", how="outer",
                                           suffixes=("_t", "_b"))
    table.columns = ["seed", "treatment", "treatment_status", "baseline", "baseline_status"]
    both = table["treatment_status"].eq("ok") & table["baseline_status"].eq("ok")
    t, b = table["treatment"].astype(float), table["baseline"].astype(float)
    col = "ratio" if v.kind == "ratio" else "difference"
    table[col] = (t / b if v.kind == "ratio" else t - b).where(both)
    return v, table[["seed", "treatment", "baseline", col, "treatment_status", "baseline_status"]]


# ---------------------------------------------------------------- formatting and rendering


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
    parts = [(_data_text, ""), (extras.model_label, ""), (lambda cfg: str(cfg.get("epochs", "?")), " ep")]
    texts = [" / ".join(dict.fromkeys(fn(c) for c in records["config"])) + unit for fn, unit in parts]
    sets = dict.fromkeys(s for o in records["overrides"] if isinstance(o, list) for s in o)   # --set
    return f"{profile}: " + ", ".join(texts) + "".join(f", --set {s}" for s in sets)


def _data_text(cfg: dict) -> str:
    data = cfg.get("data") or {}
    return data.get("name", "?") + (f"[{data['subset']}]" if data.get("subset") else "")


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


def write_text(path: Path, text: str) -> Path:
    """Write atomically: a temp file beside the target, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


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
    write_text(base.with_suffix(".csv"), csv.to_csv(index=False, float_format="%.10g"))
    head = ["seed", f"treatment ({v.treatment})", f"baseline ({v.baseline})", col, "treatment status",
            "baseline status"]
    rows = [[fmt(x) if isinstance(x, float) else x for x in r] for r in table.itertuples(index=False)]
    md = [("h", 1, f"{spec_id} / {v.claim_id}"), ("p", v.text), ("p", f"Metric {v.metric}; {_rule(v)}."),
          ("table", head, rows), *_claim_summary(v)]
    write_text(base.with_suffix(".md"), to_markdown(md))
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


def _lr_finder_blocks(out: Path, sid: str, ok: pd.DataFrame, arms: list[str]) -> list[tuple]:
    """The LR range test of a spec's `lr_finder:` (repro/lr_search.py), when its cache file is there."""
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
    return [("h", 3, "Learning rate (LR range test)"), ("p", text)] + (
        [("img", "LR range test", f"{sid}/{png.name}")] if png.exists() else [])


def _example_blocks(ok: pd.DataFrame, arms: list[str]) -> list[tuple]:
    """The task's example outputs (translations) of every arm's lowest seed, one table per example."""
    first = {a: ok[ok["arm"] == a].sort_values("seed").iloc[0] for a in arms if (ok["arm"] == a).any()}
    shown = {a: r["examples"] for a, r in first.items() if isinstance(r["examples"], list) and r["examples"]}
    if not shown:
        return []
    seed = min(int(r["seed"]) for r in first.values())
    blocks: list[tuple] = [("h", 3, "Example outputs"), ("p", f"Final weights of each arm, seed {seed}.")]
    for i, ex in enumerate(next(iter(shown.values()))):
        rows = [["source", ex["source"]], ["reference", ex["reference"]]]
        rows += [[arm, exs[i]["hypothesis"]] for arm, exs in shown.items() if i < len(exs)]
        blocks.append(("table", ["", f"example {i + 1}"], rows))
    return blocks


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
        v, table = judge_claim(records, claim)
        rows.append([sid, f"{v.claim_id}: {v.text} [{_rule(v)}]", _published(v),
                     f"{mean_std_of(v, 'treatment')} vs {mean_std_of(v, 'baseline')}",
                     _estimate(v), run_scale, v.verdict, v.note])
        blocks += [("h", 3, f"Claim {v.claim_id}: {v.verdict}"), ("p", v.text), *_claim_summary(v),
                   *_claim_files(out, sid, v, table, colours)]
    blocks += [("h", 3, "Arms"), _arms_table(records, arms), *_lr_finder_blocks(out, sid, ok, arms),
               *extras.extra_blocks(out, sid, ok, arms),
               *extras.speedup_blocks(out, sid, ok, arms, get_field(spec, "plots") or []),
               *_plot_blocks(out, sid, ok, series, colours), *_example_blocks(ok, arms)]
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
    paper_tables = extras.paper_table_blocks(records, list(specs.values())) if len(records) else []
    blocks = [*_header(records, profile), ("h", 2, "Verdicts"), *skipped, ("table", head, table),
              *paper_tables, *sections]
    write_text(out / "report.html", to_html(blocks, f"tricks-repro report: {profile}"))
    return write_text(out / "report.md", to_markdown(blocks))
