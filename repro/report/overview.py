"""The report's first screen: the scale and regime the verdicts were judged at (one line), then, after the
counts and the error-rate line, a compact verdict table grouped by spec (each claim's interval with the bound
it must clear and its n), and the forest plot grouped by spec.

Each spec's group and section link its .md (repro/specs/<spec>.md: why it runs at this scale), by a path
relative to the folder the report is written in, so the link works wherever that folder is.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

from repro.judge.regime import AT_PLATEAU, BELOW_LINEAR, NOT_MEASURED, PAPER_RECIPE, PRE_PLATEAU, Plateau
from repro.judge.verdict import Verdict
from repro.report.claims import short_estimate
from repro.report.format import fmt
from repro.spec import Spec

REGIME_ORDER = (AT_PLATEAU, PAPER_RECIPE, PRE_PLATEAU, BELOW_LINEAR, NOT_MEASURED)


def regime_line(profile: str, regimes: dict[str, Plateau]) -> str:
    """'Judged at cpu scale, not the papers': 2 of 13 specs at plateau (amp, mixup), 10 pre-plateau
    (...), ...':
    each status names its specs, so a decisive verdict is read against its own spec's regime."""
    by_status = {s: sorted(sid for sid, r in regimes.items() if r.status == s) for s in REGIME_ORDER}
    parts = [f"{len(ids)} {s} ({', '.join(ids)})" for s, ids in by_status.items() if ids]
    if parts:
        parts[0] = f"{parts[0].split(' ', 1)[0]} of {len(regimes)} specs {parts[0].split(' ', 1)[1]}"
    return (f"Judged at {profile} scale, not the papers': {', '.join(parts) or 'no spec'} (plateau: the "
            f"baseline trained at twice the budget improves by less than the spec's threshold, and an image "
            f"baseline beats a logistic regression on its images). A claim of a spec not at its plateau, "
            f"or whose pre-registered condition failed, is out of regime: neither reproduced nor "
            f"contradicted. A verdict says what a trick does at this scale and budget; each spec's section "
            f"gives its scale and "
            f"links its .md for why.")


def bound_text(v: Verdict) -> str:
    """The side of its bound the claim puts the estimate on: '< 0', '< 1 (margin)', '> ×0.5 (threshold)'."""
    side = "<" if v.better == "lower" else ">"
    pre = "×" if v.kind == "ratio" else ""
    label = {"noninferiority": " (margin)", "ratio": " (threshold)"}.get(v.kind, "")
    return f"{side} {pre}{fmt(float(v.bound))}{label}"


def spec_md(spec: Spec, out: Path) -> str | None:
    """The spec's .md relative to the report folder `out`: <stem>.md beside the spec, else the .md of its
    family, named by the stem before its last "_" (ulmfit_amazon.yaml -> ulmfit.md); None when neither is."""
    where = getattr(spec, "_path", None)
    if not where:
        return None
    path = Path(where).resolve()
    family = path.stem.rpartition("_")[0]
    for md in (path.with_suffix(".md"), *([path.with_name(f"{family}.md")] if family else [])):
        if md.is_file():
            return Path(os.path.relpath(md, Path(out).resolve())).as_posix()
    return None


def verdict_group(sid: str, verdicts: list[Verdict], regime: Plateau, md: str | None) -> dict:
    """One spec's rows of the compact verdict table, with its counts, regime and .md link."""
    counts = Counter(v.verdict for v in verdicts)
    return {"spec": sid, "anchor": f"spec-{sid}", "md": md, "regime": regime.status,
            "counts": ", ".join(f"{n} {verdict}" for verdict, n in counts.items()),
            "rows": [{"claim": v.claim_id, "verdict": v.verdict, "estimate": short_estimate(v),
                      "bound": bound_text(v), "n": v.n} for v in verdicts]}


def group_caption(group: dict) -> str:
    """The words of a spec's group row (Markdown and HTML put the links around them)."""
    return f"{group['counts']}; regime: {group['regime']}"


def forest_caption(verdicts: list[Verdict]) -> str:
    ns = [v.n for v in verdicts if v.n >= 2 and math.isfinite(v.estimate)]
    seeds = f"{min(ns)}-{max(ns)}" if ns and min(ns) != max(ns) else str(ns[0]) if ns else "no"
    return (f"Forest plot, one panel per spec: each claim's estimate with its 95% paired t interval over its "
            f"paired seeds ({seeds} per claim; n in the verdict table), minus its decision bound and divided "
            f"by the sd of its paired differences, so that right of the dashed line is the claim's side; "
            f"colour: verdict; hollow diamond: the paper's effect on the same scale.")
