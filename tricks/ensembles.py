"""Snapshot Ensembles (Huang et al. 2017, arXiv 1704.00109): collection, prediction, diversity.

With T iterations and M cycles of ceil(T/M) iterations (Eq. 2), a snapshot is taken at the end of each
cycle; the ensemble of the last m snapshots predicts the mean of their softmax outputs.
Diversity between snapshots: pairwise disagreement of predicted labels, KL divergence between predictive
distributions, and the L2 distance between weights.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from tricks.averaging import frozen_copy, log_prob_predictor
from tricks.hooks import LoopContext, Predictor, Trick
from tricks.schedules import snapshot_cycle_length


def snapshot_steps(total_steps: int, cycles: int) -> list[int]:
    """0-based loop steps after which a snapshot is taken: Huang's t = s + 1 a multiple of ceil(T/M), or T."""
    c = snapshot_cycle_length(total_steps, cycles)
    return sorted({s for s in range(c - 1, total_steps, c)} | {total_steps - 1})


def ensemble_log_probs(log_probs: list[Tensor]) -> Tensor:
    """log((1/m) sum_i softmax_i): the mean of the members' probabilities, kept in log space."""
    return torch.logsumexp(torch.stack(log_probs), 0) - math.log(len(log_probs))


def ensemble_predictor(members: list[Predictor]) -> Predictor:
    """fn(x) -> log of the mean softmax of `members` (each returning log-probabilities)."""
    return lambda x: ensemble_log_probs([f(x) for f in members])


def disagreement(logp_a: Tensor, logp_b: Tensor) -> float:
    """Fraction of samples whose predicted labels differ."""
    return (logp_a.argmax(-1) != logp_b.argmax(-1)).float().mean().item()


def kl_divergence(logp_a: Tensor, logp_b: Tensor) -> float:
    """Mean over samples of KL(p_a || p_b) = sum_k p_a,k (log p_a,k - log p_b,k), in nats."""
    return (logp_a.exp() * (logp_a - logp_b)).sum(-1).mean().item()


def weight_distance(state_a: dict[str, Tensor], state_b: dict[str, Tensor]) -> float:
    """||w_a - w_b||_2 over all float tensors of two state dicts."""
    sq = sum(
        ((state_a[k].double() - state_b[k].double()) ** 2).sum()
        for k in state_a
        if state_a[k].is_floating_point()
    )
    return math.sqrt(float(sq))


def diversity(log_probs: list[Tensor], states: list[dict[str, Tensor]]) -> dict[str, float]:
    """Pairwise diversity of members i < j (1-based names) and the means over pairs."""
    out: dict[str, float] = {}
    for i, j in itertools.combinations(range(len(log_probs)), 2):
        pair = f"pair{i + 1}-{j + 1}"
        out[f"{pair}/disagreement"] = disagreement(log_probs[i], log_probs[j])
        out[f"{pair}/kl"] = kl_divergence(log_probs[i], log_probs[j])
        out[f"{pair}/weight_distance"] = weight_distance(states[i], states[j])
    for kind in ("disagreement", "kl", "weight_distance"):
        vals = [v for k, v in out.items() if k.endswith("/" + kind)]
        if vals:
            out[f"mean_{kind}"] = sum(vals) / len(vals)
    return out


def _recording(fn: Predictor, sink: list[Tensor]) -> Predictor:
    """Wrap a predictor so every output it gives is also kept (on CPU) for diversity metrics."""

    def rec(x: Tensor) -> Tensor:
        out = fn(x)
        sink.append(out.detach().float().cpu())
        return out

    return rec


class SnapshotEnsemble(Trick):
    """Spec: `{name: snapshot_ensemble, last: 5}` with `schedule: {name: snapshot_cosine, cycles: 5}`.

    Takes a snapshot at the end of every cycle (cycles from the schedule, or the `cycles` argument to space
    snapshots equally over any schedule, e.g. Huang's NoCycle baseline). Predictor "snapshot_ensemble":
    mean softmax of the last `last` snapshots. extra_metrics: each snapshot's metrics, the ensembles of the
    last m = 1..M snapshots, and pairwise diversity.
    """

    name = "snapshot_ensemble"

    def __init__(self, last: int = 5, cycles: int | None = None):
        self.last, self.cycles = last, cycles

    def setup(self, ctx: LoopContext) -> None:
        super().setup(ctx)
        cycles = self.cycles or ctx.schedule.get("cycles")
        if not cycles:
            raise ValueError("snapshot_ensemble needs `cycles` (from the snapshot_cosine schedule or given)")
        self.at = set(snapshot_steps(ctx.total_steps, cycles))
        self.snapshots: list[dict[str, Tensor]] = []
        self._members: list[nn.Module] = []

    def after_step(self, step: int) -> None:
        if step in self.at:
            self.snapshots.append(
                {k: v.detach().to("cpu", copy=True) for k, v in self.ctx.model.state_dict().items()}
            )

    def members(self) -> list[Predictor]:
        """One predictor per snapshot, oldest first (models are rebuilt only when snapshots were added)."""
        while len(self._members) < len(self.snapshots):
            m = frozen_copy(self.ctx.model)
            m.load_state_dict(self.snapshots[len(self._members)])
            self._members.append(m)
        return [log_prob_predictor(m) for m in self._members[: len(self.snapshots)]]

    def predictors(self) -> dict[str, Predictor]:
        members = self.members()
        return {self.name: ensemble_predictor(members[-self.last :])} if members else {}

    def extra_metrics(self, evaluate: Callable[[Predictor], dict]) -> dict:
        members, out = self.members(), {}
        outputs: list[list[Tensor]] = [[] for _ in members]
        for i, fn in enumerate(members):
            for k, v in evaluate(_recording(fn, outputs[i])).items():
                out[f"{self.name}/snapshot{i + 1}/{k}"] = v
        for m in range(1, len(members) + 1):
            for k, v in evaluate(ensemble_predictor(members[-m:])).items():
                out[f"{self.name}/last{m}/{k}"] = v
        logps = [torch.cat(o) for o in outputs]
        for k, v in diversity(logps, self.snapshots).items():
            out[f"{self.name}/{k}"] = v
        return out

    def state_dict(self) -> dict:
        return {"snapshots": list(self.snapshots)}

    def load_state_dict(self, state: dict) -> None:
        self.snapshots, self._members = list(state["snapshots"]), []
