"""One claim in the report: its files (<claim>.csv with the per-seed values, .md, .png), the lines that
explain its verdict, and its row in the verdict tables."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from repro.files import write_text_atomic
from repro.judge.censored import SIGN_TEST, describe
from repro.judge.verdict import CONTRADICTED, NO_DATA, REPRODUCED, Verdict
from repro.report import plots
from repro.report.format import fmt, pm, to_markdown

BADGES = {"reproduced": "🟢", "contradicted": "🔴", "inconclusive": "🟡", "out of regime": "🟣",
          "no data": "⚪", "not judged": "⚪"}


def badge(verdict: str) -> str:
    return f"{BADGES.get(verdict, '⚪')} {verdict}"


def short_published(v: Verdict) -> str:
    """The published values without their source (the source is in the spec's section)."""
    pub = {k: x for k, x in dict(v.published).items() if k != "source"}
    return ", ".join(f"{k} {fmt(x)}" for k, x in pub.items()) or "–"


def short_estimate(v: Verdict) -> str:
    """'-0.03 [-0.05, -0.01]' (× for ratios), no pairing text; a time-to-event claim's median ratio with
    the seeds that reached the target."""
    if math.isnan(v.estimate):
        return "–"
    pre = "×" if v.kind == "ratio" else ""
    text = f"{pre}{fmt(v.estimate, 3)} [{fmt(v.lo, 3)}, {fmt(v.hi, 3)}]"
    return text + (f" ({v.reached}/{v.n} reached)" if v.test == SIGN_TEST else "")


def decision_interval(v: Verdict) -> str:
    """The interval at the level the claim is decided at (Holm), labelled with that level."""
    if not math.isfinite(v.decision_level):
        return "–"
    pre = "×" if v.kind == "ratio" else ""
    level = f"{100 * (1 - v.decision_level):.1f}%"
    return f"{pre}[{fmt(v.decision_lo, 3)}, {fmt(v.decision_hi, 3)}] at {level}"


def summary_row(sid: str, v: Verdict) -> dict:
    """A row of the report's compact verdict table."""
    return {"spec": sid, "claim": v.claim_id, "anchor": f"spec-{sid}", "verdict": v.verdict,
            "estimate": short_estimate(v), "n": v.n, "published": short_published(v)}


def detail_row(v: Verdict) -> list:
    """A row of the spec's own table: the tests and the seed power behind the verdict."""
    return [v.claim_id, badge(v.verdict), short_estimate(v), decision_interval(v), v.n, fmt(v.p, 2),
            fmt(v.p_holm, 2), fmt(v.q_bh, 2), fmt(v.power, 2),
            f"{fmt(v.seeds_needed)} / {fmt(v.paper_seeds_needed)}"]


DETAIL_HEAD = ["claim", "verdict", "estimate [95% CI]", "decision interval (Holm level)", "n", "p", "Holm p",
               "BH q", "power", "seeds for 80% (obs. / paper)"]


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


def claim_files(out: Path, spec_id: str, v: Verdict, table: pd.DataFrame, colours: dict) -> list[tuple]:
    """Write <claim>.csv, .md and .png; return the blocks that link them."""
    base = out / spec_id / v.claim_id
    col = table.columns[3]
    # per seed only (tidy): the estimate and its interval are in verdicts.json and the .md
    write_text_atomic(base.with_suffix(".csv"), table.to_csv(index=False, float_format="%.10g"))
    head = ["seed", f"treatment ({v.treatment})", f"baseline ({v.baseline})", col, "treatment status",
            "baseline status", *(c.replace("_", " ") + " (not reached)" for c in table.columns[6:])]
    rows = [[fmt(x) if isinstance(x, float) else x for x in r] for r in table.itertuples(index=False)]
    md = [("h", 1, f"{spec_id} / {v.claim_id}"), ("p", v.text), ("p", f"Metric {v.metric}; {_rule(v)}."),
          ("table", head, rows), *claim_summary(v)]
    write_text_atomic(base.with_suffix(".md"), to_markdown(md))
    values = {s: {k: x for k, x in zip(table["seed"], table[s].astype(float), strict=True)
                  if math.isfinite(x)} for s in ("treatment", "baseline")}
    png = None if v.verdict == NO_DATA else plots.claim_plot(
        v, values["treatment"], values["baseline"], colours, base.with_suffix(".png"))
    links = [("csv", f"{spec_id}/{v.claim_id}.csv"), ("table", f"{spec_id}/{v.claim_id}.md")]
    caption = (f"Left: {v.metric} per seed of {v.baseline} and {v.treatment} ({v.n} paired seeds, same seed "
               f"joined; diamond: mean with 95% bootstrap CI). Right: the estimate with its 95% paired t "
               f"interval against the claim's bound {fmt(v.bound)} (dashed).")
    return [("links", links)] + ([("img", v.claim_id, f"{spec_id}/{png.name}", caption)] if png else [])


def claim_summary(v: Verdict) -> list[tuple]:
    settled = v.verdict in (REPRODUCED, CONTRADICTED)
    look = "" if v.look is None else f" ({'decided at' if settled else 'last'} look n = {v.look})"
    regime = [f"regime: {v.regime}"] if v.regime else []
    statistical = ([f"the statistics alone: {v.statistical} (not a verdict: the run is out of the claim's "
                    f"regime)"] if v.statistical else [])
    items = [f"verdict: {v.verdict}{look}: {v.reason}", *regime, *statistical, f"rule: {_rule(v)}",
             f"published: {_published(v)}",
             f"measured: {v.treatment} {mean_std_of(v, 'treatment')}"
             f" vs {v.baseline} {mean_std_of(v, 'baseline')}",
             *_estimate_lines(v),
             f"tests: {_tests(v)}, Holm-adjusted p = "
             f"{fmt(v.p_holm, 2)} over {v.family_size} claims (alpha {fmt(v.alpha, 3)}), "
             f"BH q = {fmt(v.q_bh, 2)}",
             f"seed power: d_z = {fmt(v.d_z, 3)}, power at n = {v.n}: {fmt(v.power, 2)}, seeds for 80%: "
             f"{fmt(v.seeds_needed)} (observed effect), {fmt(v.paper_seeds_needed)} (paper's effect "
             f"{fmt(v.paper_effect)})"]
    return [("list", items + ([f"note: {v.note}"] if v.note else []))]


def _tests(v: Verdict) -> str:
    if v.test == SIGN_TEST:
        return f"exact sign test p = {fmt(v.p, 2)} ({v.wins} seeds on the claimed side, {v.losses} not)"
    return (f"t p = {fmt(v.p_t, 2)}, skew-corrected t p = {fmt(v.p_skew, 2)}, "
            f"sign-flip p = {fmt(v.p_signflip, 2)}")


def _estimate_lines(v: Verdict) -> list[str]:
    """The estimate with its 95% interval, and the interval at the decision level, labelled so that an
    undecided claim never shows an interval that looks decisive without saying why."""
    if v.test == SIGN_TEST:
        first = f"time to target: {describe(v)} (95%, order statistics; a censored seed counts as inf)"
    else:
        first = f"estimate [95% paired t CI]: {_estimate(v)}"
    if not math.isfinite(v.decision_level):
        return [first]
    return [first, f"decision interval: {decision_interval(v)} (the Holm-adjusted level this claim is "
                   f"decided at; it excludes the bound {fmt(v.bound)} only where the test passes Holm)"]


def mean_std_of(v: Verdict, side: str) -> str:
    return pm(getattr(v, f"{side}_mean"), getattr(v, f"{side}_std"))
