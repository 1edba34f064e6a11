"""Re-judge a committed report whose run records are gone, from its per-claim CSVs.

    python scripts/rejudge_from_csv.py results/cpu

One-off migration for reports written before records were committed (the cpu report of
2026-11-22): reads every <spec>/<claim>.csv (the per-seed treatment and baseline values), judges the
claims of each spec as one family with repro.stats (docs/statistics.md), and rewrites report.md's
verdict table and each claim's verdict lines in place; report.html is rendered again from the
markdown. Reports with records are rebuilt by `repro report` instead.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pandas as pd
from markdown_it import MarkdownIt

from repro.spec import load_spec
from repro.stats import bh_q, judge_family

SPEC_DIR = Path(__file__).resolve().parents[1] / "repro" / "specs"


def seed_values(csv: Path) -> tuple[dict, dict]:
    table = pd.read_csv(csv)
    rows = table[pd.to_numeric(table["seed"], errors="coerce").notna()]
    ok = rows[(rows["treatment_status"] == "ok") & (rows["baseline_status"] == "ok")]
    seeds = ok["seed"].astype(int)
    return (dict(zip(seeds, ok["treatment"].astype(float), strict=True)),
            dict(zip(seeds, ok["baseline"].astype(float), strict=True)))


def judge_report(out: Path) -> list[tuple[str, object]]:
    judged = []
    for path in sorted(SPEC_DIR.glob("*.yaml")):
        spec = load_spec(path)
        folder = next((out / name for name in (spec.id, path.stem) if (out / name).is_dir()), None)
        if folder is None:
            continue
        items = [(c, *seed_values(folder / f"{c.id}.csv"), None) for c in spec.claims
                 if (folder / f"{c.id}.csv").exists()]
        judged += [(folder.name, v) for v in judge_family(items)]
    for (_, v), q in zip(judged, bh_q([v.p for _, v in judged]), strict=True):
        v.q_bh = q
    return judged


def g(x: float, digits: int = 2) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def estimate(v) -> str:
    pre = "×" if v.kind == "ratio" else ""
    return f"{pre}{g(v.estimate, 4)} [{g(v.lo, 4)}, {g(v.hi, 4)}]"


def table(judged) -> str:
    head = ["spec", "claim", "verdict", "estimate [95% t CI]", "n", "p", "Holm p", "BH q", "power",
            "seeds for 80% (observed / paper)", "why"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for sid, v in judged:
        seeds = f"{g(v.seeds_needed, 4)} / {g(v.paper_seeds_needed, 4)}"
        noise = " Effect below seed-to-seed noise." if v.below_noise else ""
        cells = [sid, v.claim_id, f"**{v.verdict}**", estimate(v), str(v.n), g(v.p), g(v.p_holm),
                 g(v.q_bh), g(v.power), seeds, v.reason.replace("|", "/") + noise]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def update_claim(text: str, v, heading: bool = True) -> str:
    """The claim's heading, verdict line and estimate line in one spec's section (or claim file)."""
    if heading:
        text = re.sub(rf"^### Claim {re.escape(v.claim_id)}: .*$", f"### Claim {v.claim_id}: {v.verdict}",
                      text, count=1, flags=re.M)
        at = text.index(f"### Claim {v.claim_id}: ")
    else:
        at = 0
    head, tail = text[:at], text[at:]
    tail = re.sub(r"^- verdict: .*$", f"- verdict: {v.verdict} ({v.reason})", tail, count=1, flags=re.M)
    tail = re.sub(r"^- estimate \[95% CI\]: .*$", f"- estimate [95% t CI]: {estimate(v)} (n={v.n}), "
                  f"p {g(v.p)}, Holm p {g(v.p_holm)}, power {g(v.power)}", tail, count=1, flags=re.M)
    return head + tail


def rewrite(out: Path, judged) -> None:
    md_path = out / "report.md"
    text = md_path.read_text()
    counts = pd.Series([v.verdict for _, v in judged]).value_counts().to_dict()
    banner = (f"Re-judged with the verdict protocol of docs/statistics.md (paired t + exact sign-flip, "
              f"at least 6 paired seeds, Holm within each spec) from the per-seed values in the per-claim "
              f"CSVs; the run records of this report were not kept. Every claim here rests on 3 seeds, so "
              f"none is decisive: {', '.join(f'{n} {k}' for k, n in counts.items())}. The seeds each "
              f"claim needs are in the table; the re-run at those seeds is the regime issue (#17).")
    start, end = text.index("## Verdicts"), text.index("\n## ", text.index("## Verdicts") + 5)
    text = text[:start] + "## Verdicts\n\n" + banner + "\n\n" + table(judged) + "\n" + text[end:]
    for sid, v in judged:
        start = text.index(f"\n## {sid}: ")
        end = text.find("\n## ", start + 4)
        end = len(text) if end < 0 else end
        text = text[:start] + update_claim(text[start:end], v) + text[end:]
        claim_md = out / sid / f"{v.claim_id}.md"
        if claim_md.exists():
            claim_md.write_text(update_claim(claim_md.read_text(), v, heading=False))
    md_path.write_text(text)
    html = MarkdownIt("commonmark").enable("table").render(text)
    (out / "report.html").write_text("<!doctype html><html><head><meta charset='utf-8'><title>tricks-repro "
                                     "report</title></head><body>\n" + html + "</body></html>\n")


if __name__ == "__main__":
    results = Path(sys.argv[1] if len(sys.argv) > 1 else "results/cpu")
    rewrite(results, judge_report(results))
