"""Simulated error rates and power of the verdict rule (repro/judge/rule.py), for docs/statistics.md.

    python benchmarks/stats_calibration.py [--reps 20000]

Under the null the shifted paired differences x have mean exactly 0 (the effect sits on the claim's
bound), so one table serves superiority, non-inferiority and ratio claims
(tests/repro/judge/test_calibration.py runs all three through repro.judge.claim.judge). The rule's
p = max(t p, skew-corrected t p, exact sign-flip p) is the one vectorised rule of repro/judge/rule.py that
the judge itself applies.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import stats as sps

from repro.judge import sequential as sq
from repro.judge.rule import ALPHA, MIN_PAIRS, decision_p

NOISES = {
    "normal": lambda rng, s: rng.standard_normal(s),
    "heavy-tailed (t3)": lambda rng, s: rng.standard_t(3, s) / math.sqrt(3),
    "skewed (exponential)": lambda rng, s: rng.exponential(1.0, s) - 1.0,
    "very skewed (lognormal s=1)": lambda rng, s: (rng.lognormal(0, 1, s) - math.exp(0.5))
    / math.sqrt((math.e - 1) * math.e),
}
NS = (3, 6, 10, 20)


def rule_rate(x: np.ndarray, rng: np.random.Generator) -> float:
    """Share of data sets the rule decides (p < alpha and at least MIN_PAIRS pairs)."""
    if x.shape[1] < MIN_PAIRS:
        return 0.0
    return float(np.mean(decision_p(x, rng, sq.SIMULATION_PATTERNS) < ALPHA))


def bootstrap_rate(x: np.ndarray, rng: np.random.Generator, resamples: int = 2_000) -> float:
    """The rule this suite used before: decisive when the 95% percentile bootstrap interval of the mean
    excludes 0 (kept here to show why it was replaced)."""
    n = x.shape[1]
    idx = rng.integers(0, n, size=(resamples, n))
    decided = 0
    for row in x[:2_000]:
        means = row[idx].mean(axis=1)
        lo, hi = np.quantile(means, [0.025, 0.975])
        decided += lo > 0 or hi < 0
    return decided / min(len(x), 2_000)


def table(reps: int) -> str:
    rng = np.random.default_rng(2026)
    se = math.sqrt(ALPHA * (1 - ALPHA) / reps)
    lines = [f"False verdicts under the null ({reps:,} simulated claims each; nominal {ALPHA:.0%}, "
             f"MC SE {se:.2%}):", "", "| noise | " + " | ".join(f"n = {n}" for n in NS)
             + " | old bootstrap rule, n = 3 / 10 |", "|---" * (len(NS) + 2) + "|"]
    for name, noise in NOISES.items():
        rates = [rule_rate(noise(rng, (reps, n)), rng) for n in NS]
        old = [bootstrap_rate(noise(rng, (reps, n)), rng) for n in (3, 10)]
        lines.append(f"| {name} | " + " | ".join(f"{r:.2%}" for r in rates)
                     + f" | {old[0]:.1%} / {old[1]:.1%} |")
    lines += ["", "Power (share of claims decided on the right side) at a true effect of d_z SDs:", "",
              "| d_z | " + " | ".join(f"n = {n}" for n in (6, 8, 10, 12, 20)) + " | t test alone, n = 10 |",
              "|---" * 7 + "|"]
    for d in (0.5, 1.0, 1.5):
        rates = [rule_rate(rng.standard_normal((reps, n)) + d, rng) for n in (6, 8, 10, 12, 20)]
        t_alone = sps.nct.sf(sps.t.ppf(0.975, 9), 9, d * math.sqrt(10))
        lines.append(f"| {d} | " + " | ".join(f"{r:.1%}" for r in rates) + f" | {t_alone:.1%} |")
    return "\n".join(lines)


def sequential_table(reps: int) -> str:
    design = sq.make_design(sq.DEFAULT_LOOKS)
    lines = [f"Sequential design, looks {list(design.looks)}, nominal level per look "
             f"{design.nominal_alpha:.4f} ({reps:,} simulated claims):", "",
             "| noise | overall false verdicts | testing at 5% at every look |", "|---|---|---|"]
    for name, noise in NOISES.items():
        min_p = sq.simulate_min_p(design.looks, reps, noise, seed=7)
        rates = np.mean(min_p < design.nominal_alpha), np.mean(min_p < ALPHA)
        lines.append(f"| {name} | {rates[0]:.2%} | {rates[1]:.2%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20_000)
    args = parser.parse_args()
    print(table(args.reps))
    print()
    print(sequential_table(args.reps))


if __name__ == "__main__":
    main()
