"""Sequential seeding: seeds added in looks fixed in advance, judged after each look with a
Pocock-type group-sequential boundary calibrated by simulation of the whole rule.

Testing at alpha = 5% after each of three looks gives about 12% false verdicts under the null, so
every look instead compares the Holm-adjusted p (repro/judge/claim.py) with one nominal level a < alpha,
the same at every look (Pocock-type: every look can decide). a is the alpha-quantile, under a true
null with normal noise, of the smallest p = max(p_t, p_signflip) over the looks: simulated with the
one rule of repro/judge/rule.py itself (exact sign-flip test up to n = 16, Monte Carlo beyond), so the
cross-check's conservatism is counted. For looks (8, 12, 20) it is close to the textbook Pocock value 0.022.

Each spec's claims are one Holm family, and a family of k claims cannot pass Holm before the exact
sign-flip test's smallest p, 2 / 2^n, is below nominal / k: its design (`family_design`) drops the run's
looks before that n and re-calibrates the level for the looks it keeps (e.g. 9 claims: looks 12, 20).
A claim is decided at the first look where it is decisive; the seeds of later looks go only to the
arms of claims still undecided. The report replays the same procedure from the records
(`replay`), so a committed report is rebuilt exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from repro.judge.rule import ALPHA, MIN_PAIRS, decision_p
from repro.judge.verdict import INCONCLUSIVE, Verdict

DEFAULT_LOOKS = (8, 12, 20)
CALIBRATION_REPS = 40_000
SIMULATION_PATTERNS = 4_096      # Monte Carlo sign patterns per simulated data set beyond the exact range


@dataclass(frozen=True)
class Design:
    """Looks (cumulative paired seeds), the overall alpha and the nominal level used at every look."""

    looks: tuple[int, ...]
    alpha: float
    nominal_alpha: float

    def to_dict(self) -> dict:
        return {"looks": list(self.looks), "alpha": self.alpha, "nominal_alpha": self.nominal_alpha}

    @classmethod
    def from_dict(cls, d: dict) -> Design:
        return cls(tuple(int(n) for n in d["looks"]), float(d["alpha"]), float(d["nominal_alpha"]))


def looks_up_to(max_seeds: int, looks: Sequence[int] = DEFAULT_LOOKS) -> tuple[int, ...]:
    """The default looks capped at max_seeds, which is always the last look."""
    kept = tuple(n for n in looks if n < max_seeds)
    return (*kept, max_seeds)


def family_design(run: Design, family_size: int) -> Design:
    """The looks of `run` at which a family of `family_size` claims can pass Holm's first step (the exact
    sign-flip test's smallest p times the family size below the level), with the level calibrated for
    those looks by the current rule (a pinned design.json keeps the looks that were run; its level is
    what the rule of its day gave them); the last look is always kept."""
    looks = run.looks
    while len(looks) > 1:
        nominal = calibrate(looks, run.alpha)
        if 2.0 / 2 ** looks[0] * max(family_size, 1) < nominal:
            return Design(looks, run.alpha, nominal)
        looks = looks[1:]
    return Design(looks, run.alpha, calibrate(looks, run.alpha))


def make_design(looks: Sequence[int] = DEFAULT_LOOKS, alpha: float = ALPHA) -> Design:
    """Validate the looks and calibrate the nominal level; ValueError with one line when unusable."""
    looks = tuple(int(n) for n in looks)
    if list(looks) != sorted(set(looks)) or looks[0] < MIN_PAIRS:
        raise ValueError(f"looks {list(looks)}: give increasing seed counts, the first >= {MIN_PAIRS}")
    nominal = calibrate(looks, alpha)
    smallest_p = 2.0 / 2 ** looks[0]
    if smallest_p >= nominal:
        need = next(n for n in range(MIN_PAIRS, 64) if 2.0 / 2 ** n < nominal)
        raise ValueError(f"looks {list(looks)}: the first look cannot decide at the nominal level "
                         f"{nominal:.3g} (smallest sign-flip p 2/2^{looks[0]}); start at >= {need} seeds")
    return Design(looks, alpha, nominal)


# ---------------------------------------------------------------- calibration by simulation


def rule_p_at_looks(x: np.ndarray, looks: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """The rule's p (repro/judge/rule.py: decision_p, NaN where no verdict may rest on it) on the first
    n seeds at each look, per row: (reps, len(looks))."""
    return np.stack([decision_p(x[:, :n], rng, SIMULATION_PATTERNS) for n in looks], axis=1)


def simulate_min_p(looks: Sequence[int], reps: int, noise: Callable[[np.random.Generator, tuple], np.ndarray],
                   seed: int = 0, chunk: int = 1_000) -> np.ndarray:
    """The smallest rule p over the looks, for `reps` null data sets drawn by `noise(rng, shape)`."""
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, reps, chunk):
        x = noise(rng, (min(chunk, reps - start), max(looks)))
        out.append(np.nanmin(np.nan_to_num(rule_p_at_looks(x, looks, rng), nan=1.0), axis=1))
    return np.concatenate(out)


def normal_noise(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.standard_normal(shape)


@lru_cache(maxsize=32)
def calibrate(looks: tuple[int, ...], alpha: float = ALPHA, reps: int = CALIBRATION_REPS) -> float:
    """The nominal level a with P(some look has p < a) = alpha under a true null (normal noise)."""
    if len(looks) == 1:
        return alpha
    min_p = simulate_min_p(looks, reps, normal_noise, seed=12345)
    return float(np.quantile(min_p, alpha, method="lower"))


# ---------------------------------------------------------------- replaying the looks


@dataclass
class LookResult:
    """The verdicts after replaying the looks, and the arms that still need seeds."""

    verdicts: list[Verdict]
    undecided: list[str] = field(default_factory=list)     # claim ids still undecided
    complete: bool = True                                  # every look the data allows was taken


def replay(design: Design, claim_ids: Sequence[str],
           judge_at: Callable[[int, float, set[str]], list[Verdict]],
           available: Callable[[set[str]], int]) -> LookResult:
    """Walk the looks the records allow; `judge_at(n, level, ids)` judges the claims `ids` (one Holm
    family: those still undecided) on seeds < n at `level`; `available(ids)` is how many consecutive
    paired seeds those claims' arms have. A claim keeps the verdict of the first look that decides it;
    the others keep the verdict of the last look taken."""
    final: dict[str, Verdict] = {}
    undecided = set(claim_ids)
    taken: list[int] = []
    for n in design.looks:
        if not undecided or n > available(undecided):
            break
        taken.append(n)
        for v in judge_at(n, design.nominal_alpha, set(undecided)):
            v.look = n
            final[v.claim_id] = v
            if v.verdict != INCONCLUSIVE:
                undecided.discard(v.claim_id)
    open_ids = sorted(undecided)
    complete = bool(taken) and (taken[-1] == design.looks[-1] or not open_ids)
    for v in final.values():
        if v.claim_id in open_ids and taken and taken[-1] < design.looks[-1]:
            v.reason += f"; undecided at look n = {taken[-1]}, next look n = {_next(design, taken[-1])}"
    return LookResult(list(final.values()), open_ids, complete=complete)


def _next(design: Design, n: int) -> int:
    return next(k for k in design.looks if k > n)
