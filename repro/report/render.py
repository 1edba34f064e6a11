"""The report: run records -> summary, forest plot, verdict tables, per-spec sections, as Markdown and
one self-contained HTML file, plus verdicts.json and runs.csv for machines.

Writes, under results/<profile>/ (rebuilt in a temporary folder and swapped in, repro/report/publish.py):
report.md, report.html, verdicts.json, runs.csv, forest.png and per spec <spec>/<claim>.csv|.md|.png,
<spec>/curves.png, <spec>/lr.png. Both documents are rendered from one list of blocks, so they always
say the same thing. No records, an unknown profile, or fewer records than the report there: exit 2.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from repro.errors import UserError
from repro.files import write_text_atomic
from repro.judge.current import current_records
from repro.judge.records import METRICS
from repro.judge.regime import NOT_MEASURED, Plateau, plateau_for, regime_settings
from repro.judge.rule import ALPHA
from repro.judge.spec import UNJUDGED_PROFILES, ClaimResult, add_bh_q, judge_spec, judged_records, read_design
from repro.judge.verdict import OUT_OF_REGIME
from repro.report import captions, plots
from repro.report.claims import DETAIL_HEAD, badge, claim_files, claim_summary, detail_row, summary_row
from repro.report.conditions import annotate, condition_blocks, is_unrunnable, select_records
from repro.report.forest import VERDICT_COLOURS, forest_plot
from repro.report.format import mean_std, to_markdown
from repro.report.html import to_html
from repro.report.outputs import verdict_entry, write_runs_csv, write_verdicts_json
from repro.report.overview import forest_caption, regime_line, spec_md, verdict_group
from repro.report.provenance import hardware_id, provenance, provenance_text, scale
from repro.report.publish import build_and_swap, check_no_spec_dropped, check_not_fewer
from repro.report.views.paper_table import paper_table_blocks
from repro.report.views.registry import SECTION_VIEWS, task_blocks
from repro.spec import Spec


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


def _plot_blocks(out: Path, sid: str, ok: pd.DataFrame, series: dict, colours: dict,
                 missing: dict[str, str]) -> list[tuple]:
    """Learning curves and LR schedules of the arms with data; the caption names the others (`missing`)."""
    traces = {a: next(iter(ok.loc[ok["arm"] == a, "lr_trace"]), None) for a in series if "/" not in a}
    curved = [a for a, cs in series.items() if "/" not in a and cs]
    traced = [a for a, t in traces.items() if t and len(t.get("step", []))]
    pngs = (("learning curves (mean, band = min..max over seeds)",
             plots.learning_curves(series, colours, out / sid / "curves.png"),
             captions.curves_caption(ok, curved, missing)),
            ("learning-rate schedules", plots.lr_schedules(traces, colours, out / sid / "lr.png"),
             captions.lr_caption(traced, missing)))
    return [("img", name, f"{sid}/{png.name}", caption) for name, png, caption in pngs if png]






def _in_arm_order(records: pd.DataFrame, arms: list[str]) -> pd.DataFrame:
    return records.sort_values(["arm", "seed"], key=lambda c: c.map(arms.index) if c.name == "arm" else c)


def _spec_section(out: Path, spec: Spec, records: pd.DataFrame, profile: str,
                  results: list[ClaimResult]) -> tuple[list, list, list[tuple]]:
    """Write the spec's files; return (verdict-table rows, verdicts.json entries, section blocks)."""
    sid, paper = spec.id, spec.paper
    arms = list(spec.arms)
    arms += sorted(set(records["arm"]) - set(arms))
    ok = records[records["status"] == "ok"]
    series = _curve_series(ok, arms)
    colours = plots.arm_colours(list(series))
    run_scale = scale(_in_arm_order(ok if not ok.empty else records, arms), profile)
    where = ", ".join(str(x) for x in (paper.venue, paper.arxiv and f"arXiv:{paper.arxiv}") if x)
    facts = [f"scale: {run_scale}", f"provenance: {provenance_text(provenance(records))}",
             regime_of(spec, results).line()]
    if profile in UNJUDGED_PROFILES:
        facts.append(f"{profile}: not judged (a plumbing check on tiny data)")
    md = spec_md(spec, out)
    why = [("links", [(f"why this scale, and every deviation from the paper: {Path(md).name}", md)])] \
        if md else []
    blocks = [("h", 2, f"{sid}: {paper.title}", f"spec-{sid}"), ("p", f"{where}."), *why,
              ("list", facts), ("table", DETAIL_HEAD, [detail_row(r.verdict) for r in results])]
    rows, entries = [], []
    for result in results:
        v = result.verdict
        rows.append(summary_row(sid, v))
        prov = provenance(records[records["arm"].isin(v.arms)])
        entries.append(verdict_entry(sid, v, run_scale, prov))
        blocks += [("h", 3, f"Claim {v.claim_id}: {badge(v.verdict)}"), ("p", v.text), *claim_summary(v),
                   *claim_files(out, sid, v, result.table, colours)]
    blocks += [("h", 3, "Arms"), _arms_table(records, arms),
               *(b for view in SECTION_VIEWS for b in view.render(out, sid, spec, ok, arms)),
               *_plot_blocks(out, sid, ok, series, colours, captions.not_run(records, arms, profile)),
               *task_blocks(spec, ok, arms)]
    return rows, entries, blocks + _bad_jobs(records)


def regime_of(spec: Spec, results: list[ClaimResult]) -> Plateau:
    """The spec's plateau check its verdicts were judged with (not measured when there was none)."""
    found = next((r.plateau for r in results if r.plateau is not None), None)
    return found or Plateau(NOT_MEASURED, spec.id, "", *regime_settings(spec)[:2], detail="no check applied")


def _bad_jobs(records: pd.DataFrame) -> list[tuple]:
    bad = records[records["status"] != "ok"].sort_values(["arm", "seed"])
    if bad.empty:
        return []
    return [("h", 3, "Diverged or failed jobs"),
            ("list", [f"{r.arm} seed {r.seed}: {r.status}: {r.reason or 'no reason recorded'}"
                      for r in bad.itertuples()])]


def _provenance(records: pd.DataFrame, profile: str) -> list[tuple]:
    """Where and when the records were made (after the first screen)."""
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    counts = ", ".join(f"{n} {s}" for s, n in records["status"].value_counts().items()) or "none"
    where: dict[str, set] = {}
    for hw, sid in zip(records["hardware"], records["spec"], strict=True):
        where.setdefault(hardware_id(hw), set()).add(sid)
    commits = {c for c in records["git_commit"] if c}
    return [("h", 2, "Records"),
            ("list", [f"profile: {profile}", f"date: {date}", f"records: {len(records)} ({counts})",
                      *(f"hardware: {h} (specs {', '.join(sorted(s))})" for h, s in sorted(where.items())),
                      f"commits: {len(commits)} distinct; each spec's section names its own"])]


def summary_counts(verdicts: list[str]) -> dict[str, int]:
    """Counts per verdict, in the order of VERDICT_COLOURS."""
    counts = Counter(verdicts)
    return {v: counts[v] for v in VERDICT_COLOURS if counts[v]}


def false_verdicts_line(verdicts: list, n_specs: int) -> str:
    """How many decisive verdicts are expected to be false, from the rule's calibrated error rate
    (docs/statistics.md): at most ALPHA per claim that is a true null, and Holm keeps each spec's chance
    of holding any false verdict at most ALPHA."""
    tested = [v for v in verdicts if math.isfinite(v.p) and v.verdict != OUT_OF_REGIME]
    apart = sum(v.verdict == OUT_OF_REGIME for v in verdicts)
    decisive = sum(v.verdict in ("reproduced", "contradicted") for v in tested)
    outside = f" ({apart} more out of regime: not decided on, not counted)" if apart else ""
    return (f"Error rates: {decisive} of {len(tested)} tested claims are decisive{outside}. Each claim's "
            f"rule is "
            f"calibrated to at most {ALPHA:.0%} false verdicts when its effect sits exactly on its bound, so "
            f"even if every tested claim were such a null, about {ALPHA * len(tested):.1f} decisive verdicts "
            f"would be expected false; Holm within each spec bounds the chance that a spec holds any false "
            f"verdict by {ALPHA:.0%} (at most {ALPHA * n_specs:.1f} of these {n_specs} specs expected to "
            f"hold one). Calibration and its limits: docs/statistics.md.")


def check_profile(profile: str, specs: Mapping[str, Spec]) -> None:
    """UserError for a profile no spec has."""
    known = {p for s in specs.values() for p in s.profiles}
    if known and profile not in known:
        raise UserError(f"unknown profile {profile!r}: the specs' profiles are {', '.join(sorted(known))}; "
                        "nothing written")


def judge_all(results_dir: Path, profile: str, specs: Mapping[str, Spec], records: pd.DataFrame) -> dict:
    """spec id -> (spec, its records, its ClaimResults) for every spec with records; BH q report-wide."""
    judged = {}
    for spec in specs.values():
        sid = spec.id
        spec_records, stale = current_records(records[records["spec"] == sid], spec, profile)
        if stale:
            print(f"{sid}: {stale} record(s) of an earlier config of the spec left out (rerun the spec at "
                  f"{profile} to replace them)", file=sys.stderr)
        if len(spec_records):
            classes = set(spec_records["hardware_class"])
            plateau = plateau_for(results_dir, spec, profile, spec_records,
                                  next(iter(classes)) if len(classes) == 1 else None)
            judged[sid] = (spec, spec_records, judge_spec(spec_records, spec, profile,
                                                          read_design(results_dir, sid, profile),
                                                          plateau=plateau))
            annotate(spec_records, judged[sid][2])
    add_bh_q([r for _, _, results in judged.values() for r in results])
    return judged


def _build(out: Path, profile: str, specs: Mapping[str, Spec], records: pd.DataFrame, judged: dict) -> None:
    rows, entries, sections, groups, regimes = [], [], [], [], {}
    for spec, spec_records, results in judged.values():
        spec_records = judged_records(spec_records, results)
        r, e, blocks = _spec_section(out, spec, spec_records, profile, results)
        rows, entries, sections = rows + r, entries + e, sections + blocks
        regimes[spec.id] = regime_of(spec, results)
        groups.append(verdict_group(spec.id, [r.verdict for r in results if not is_unrunnable(r.verdict)],
                                    regimes[spec.id],
                                    spec_md(spec, out)))
    verdicts = [res.verdict for _, _, results in judged.values() for res in results]
    blocks = [("h", 1, f"tricks-repro report: profile {profile}"),
              *_first_screen(profile, rows, verdicts, regimes), *condition_blocks(records, judged),
              ("h", 2, "Verdicts"), ("verdict_groups", groups, badge),
              *_forest_blocks(out, judged), *_not_run(profile, specs, judged), *_provenance(records, profile),
              *paper_table_blocks(records, list(specs.values())), *sections]
    judged_rows = [r for _, r, _ in judged.values()]           # the current records, not stale ones
    write_runs_csv(out, pd.concat(judged_rows) if judged_rows else records)
    write_verdicts_json(out, profile, len(records), entries)
    write_text_atomic(out / "report.html", to_html(blocks, f"tricks-repro report: {profile}", out))
    write_text_atomic(out / "report.md", to_markdown(blocks))


def _first_screen(profile: str, rows: list[dict], verdicts: list, regimes: dict) -> list[tuple]:
    """The scale and regime line, the counts, the error-rate line."""
    counts = summary_counts([row["verdict"] for row in rows])
    text = " · ".join(f"{n} {v}" for v, n in counts.items())
    summary = ("summary", f"Summary: {text} ({len(rows)} claims of {len(regimes)} specs)", counts)
    if profile in UNJUDGED_PROFILES:
        return [("scale", f"{profile}: not judged (a plumbing check on tiny data, no verdicts)."), summary]
    errors = ("p", false_verdicts_line(verdicts, len(regimes)))
    return [("scale", regime_line(profile, regimes)), summary, errors]


def _forest_blocks(out: Path, judged: dict) -> list[tuple]:
    groups = [(sid, [(f"{sid}/{r.verdict.claim_id}", r.verdict) for r in results])
              for sid, (_, _, results) in judged.items()]
    forest = forest_plot(groups, out / "forest.png")
    if forest is None:
        return []
    verdicts = [v for _, items in groups for _, v in items]
    return [("h", 2, "Forest plot"), ("img", "forest plot of every claim, by spec", forest.name,
                                      forest_caption(verdicts))]


def _not_run(profile: str, specs: Mapping[str, Spec], judged: dict) -> list[tuple]:
    not_run = [s.id for s in specs.values() if s.id not in judged]
    return [("p", f"Not run at profile {profile} yet (no records of the spec as it is now: a re-sized spec's "
                  f"earlier records are left out): {', '.join(not_run)}.")] if not_run else []


def write_report(results_dir: Path, profile: str, specs: Mapping[str, Spec], force: bool = False,
                 hardware: str | None = None) -> Path:
    """Write results/<profile>/report.md, report.html, verdicts.json, runs.csv (+ per-claim tables and
    plots); return the .md. UserError (nothing written) for an unknown profile, no records, or fewer
    records than the report there was built from (unless `force`, which prints a warning). The records are
    those of one hardware class: `hardware`, else the folder's (repro/report/conditions.py).
    """
    results_dir = Path(results_dir)
    out = results_dir / profile
    check_profile(profile, specs)
    records = select_records(results_dir, profile, hardware)
    if records.empty:
        raise UserError(f"no run records for profile {profile!r} under {results_dir / 'runs'}; "
                        "nothing written")
    warning = check_not_fewer(out, len(records), force)
    if warning:
        print(warning, file=sys.stderr)
    judged = judge_all(results_dir, profile, specs, records)
    warning = check_no_spec_dropped(out, set(judged), force)
    if warning:
        print(warning, file=sys.stderr)
    build_and_swap(out, lambda tmp: _build(tmp, profile, specs, records, judged))
    return out / "report.md"
