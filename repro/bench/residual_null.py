"""The verdict rule's false-verdict rate on the suite's own noise: a null built by resampling each
committed claim's centred paired differences, run through the sequential design that claim's family
uses (repro/judge/sequential.py: family_design), with the outlier rule of repro/judge/claim.py.

For each claim tested with the paired rule (time-to-event claims use the sign test, which needs no
shape assumption), x = its shifted differences, r = x - mean(x): under the null the effect sits exactly
on the bound and the seeds' scatter is r's. Each simulated claim draws max(looks) values from r with
replacement; it is a false verdict when some look of the design has p < the design's nominal level and
no outlier seed at that look. Per claim, per metric type, and overall, with Monte Carlo standard errors.

    python -m repro.bench.residual_null [--results-dir results] [--profile cpu] [--reps 2000]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

from repro.judge.records import load_records
from repro.judge.rule import decision_p
from repro.judge.sequential import SIMULATION_PATTERNS, family_design, make_design
from repro.judge.spec import judge_spec
from repro.judge.verdict import PAIRED_T
from repro.spec import load_spec, spec_paths

TYPES = {"test_error": "error", "test_nll": "nll", "test_ece": "calibration", "bleu": "bleu",
         "perplexity": "nll", "throughput": "throughput", "final_train_loss": "final loss"}


def metric_type(metric: str) -> str:
    name = metric.split("@")[0].split("/")[-1]
    return TYPES.get(name, "other")


def false_rate(residuals: np.ndarray, looks: tuple[int, ...], level: float, reps: int,
               rng: np.random.Generator) -> float:
    """Share of resampled null claims some look of the design decides."""
    x = rng.choice(residuals, size=(reps, max(looks)), replace=True)
    decided = np.zeros(reps, dtype=bool)
    for n in looks:
        decided |= decision_p(x[:, :n], rng, SIMULATION_PATTERNS) < level
    return float(decided.mean())


def claim_residuals(results_dir: Path, profile: str) -> list[dict]:
    """Every paired-rule claim with >= 6 pairs: spec, claim, metric type, family size, centred residuals."""
    records = load_records(results_dir, profile)
    out = []
    for path in spec_paths([], all_specs=True):
        spec = load_spec(path)
        mine = records[records["spec"] == spec.id]
        if mine.empty:
            continue
        for result in judge_spec(mine, spec, profile):
            v = result.verdict
            x = np.asarray(v.differences)
            if v.test == PAIRED_T and x.size >= 6 and np.ptp(x) > 0:
                out.append({"spec": spec.id, "claim": v.claim_id, "type": metric_type(v.metric),
                            "family": len(spec.claims), "r": x - x.mean()})
    return out


def simulate(results_dir: Path, profile: str, reps: int, seed: int = 2026) -> pd.DataFrame:
    run = make_design()
    rng = np.random.default_rng(seed)
    rows = []
    for c in claim_residuals(results_dir, profile):
        design = family_design(run, c["family"])
        rate = false_rate(c["r"], design.looks, design.nominal_alpha, reps, rng)
        skew = float(np.mean(c["r"] ** 3) / np.std(c["r"]) ** 3)
        rows.append({**{k: c[k] for k in ("spec", "claim", "type")}, "looks": list(design.looks),
                     "skew": skew, "false_rate": rate})
    return pd.DataFrame(rows)


def summary(frame: pd.DataFrame, reps: int) -> str:
    def se(rate: float, n: int) -> float:
        return math.sqrt(max(rate * (1 - rate), 1e-12) / n)

    overall = frame["false_rate"].mean()
    lines = [f"Resampled-residual null through each family's design ({len(frame)} claims x {reps:,} "
             f"simulated claims): overall {overall:.2%} (MC SE {se(overall, len(frame) * reps):.2%})", "",
             "| claim type | claims | false verdicts | worst claim |", "|---|---|---|---|"]
    for kind, group in frame.groupby("type"):
        worst = group.loc[group["false_rate"].idxmax()]
        lines.append(f"| {kind} | {len(group)} | {group['false_rate'].mean():.2%} | "
                     f"{worst['spec']}/{worst['claim']} {worst['false_rate']:.1%} "
                     f"(skew {worst['skew']:.1f}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--reps", type=int, default=2_000)
    parser.add_argument("--csv", type=Path, help="also write the per-claim rates here")
    args = parser.parse_args()
    frame = simulate(args.results_dir, args.profile, args.reps)
    if args.csv:
        frame.to_csv(args.csv, index=False)
    print(summary(frame, args.reps))


if __name__ == "__main__":
    main()
