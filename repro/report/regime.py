"""Did the run reach the regime where the claim lives? The baseline's test metric over the last
quarter of training: an improvement below the spec's threshold is "at plateau", more is
"pre-plateau" (a trick that acts late in training cannot be judged against it).

The check reads the records' curves: for each seed of the arm, the metric at the last evaluation at or
before 75% of the epochs and at the end; the improvement is their difference in the better direction,
averaged over seeds. It needs at least two evaluations in the record, one of them in the first three
quarters; otherwise the regime is "not measured" and the line says how to get it (eval_every).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from repro.spec import Spec

DEFAULT_RELATIVE = 0.02       # 2% of the final value, when the spec states no threshold


@dataclass
class Regime:
    status: str               # "at plateau" | "pre-plateau" | "not measured"
    arm: str
    metric: str
    improvement: float = math.nan     # mean over seeds, in the better direction (> 0: still improving)
    threshold: float = math.nan
    seeds: int = 0
    from_epoch: int = 0
    to_epoch: int = 0

    def line(self) -> str:
        if self.status == "not measured":
            return (f"regime: not measured ({self.arm} {self.metric} has fewer than two evaluations, one in "
                    f"the first three quarters of training; set eval_every so there are)")
        return (f"regime: {self.status}: {self.arm} {self.metric} improved by {self.improvement:.3g} "
                f"from epoch {self.from_epoch} to {self.to_epoch} (mean of {self.seeds} seeds; threshold "
                f"{self.threshold:.3g})")


def check_regime(spec: Spec, records: pd.DataFrame) -> Regime:
    arm, metric, better, threshold = _settings(spec)
    ok = records[(records["status"] == "ok") & (records["arm"] == arm)]
    gains, finals, spans = [], [], []
    for curves in ok["curves"]:
        point = _last_quarter(curves, metric)
        if point is None:
            continue
        (e0, v0), (e1, v1) = point
        gains.append((v0 - v1) if better == "lower" else (v1 - v0))
        finals.append(v1)
        spans.append((e0, e1))
    if not gains:
        return Regime("not measured", arm, metric)
    limit = threshold if threshold is not None else DEFAULT_RELATIVE * abs(float(np.mean(finals)))
    gain = float(np.mean(gains))
    return Regime("at plateau" if gain < limit else "pre-plateau", arm, metric, gain, limit, len(gains),
                  *spans[0])


def _settings(spec: Spec) -> tuple[str, str, str, float | None]:
    first, regime = spec.claims[0], spec.regime
    arm = regime.arm or first.baseline_ref.arm
    metric = regime.metric or first.metric.split("@")[0]
    better = first.better if metric == first.metric else (
        "higher" if metric in ("bleu", "chrf", "accuracy") else "lower")
    return arm, metric, better, regime.threshold


def _last_quarter(curves: dict, metric: str) -> tuple[tuple[int, float], tuple[int, float]] | None:
    epochs, values = curves.get("epoch") or [], curves.get(metric) or []
    points = [(int(e), float(v)) for e, v in zip(epochs, values, strict=False)
              if v is not None and math.isfinite(float(v))]
    if len(points) < 2:
        return None
    last = points[-1]
    cut = 0.75 * last[0]
    earlier = [p for p in points[:-1] if p[0] <= cut]
    return (earlier[-1], last) if earlier else None
