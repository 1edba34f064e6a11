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

from tricks.averaging import frozen_copy
from tricks.hooks import LoopContext, Predictor, Trick
from tricks.schedules import snapshot_cycle_length


def snapshot_steps(total_steps: int, cycles: int) -> list[int]:
    """0-based loop steps after which a snapshot is taken: Huang's t = s + 1 a multiple of ceil(T/M), or T."""
    c = snapshot_cycle_length(total_steps, cycles)
    return sorted({s for s in range(c - 1, total_steps, c)} | {total_steps - 1})


def ensemble_log_probs(log_probs: list[Tensor]) -> Tensor:
    """log((1/m) sum_i softmax_i): the mean of the members' probabilities, kept in log space."""
    return torch.logsumexp(torch.stack(log_probs), 0) - math.log(len(log_probs))


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


class LogProbs(nn.Module):
    """A frozen, eval-mode member that returns log-probabilities: log_softmax(net(x)) in float32."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).float().log_softmax(-1)


class Ensemble(nn.Module):
    """log((1/m) sum_i softmax_i(x)) over `members`; a module, so the loop runs it in its precision."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: Tensor) -> Tensor:
        return ensemble_log_probs([m(x).float().log_softmax(-1) for m in self.members])


class _Recorder(nn.Module):
    """Runs `member` and keeps its log-probabilities batch by batch (on CPU) for `_replay`."""

    def __init__(self, member: nn.Module):
        super().__init__()
        self.member, self.outputs = member, []

    def forward(self, x: Tensor) -> Tensor:
        out = self.member(x)
        self.outputs.append(out.detach().float().log_softmax(-1).cpu())
        return out


def _replay(outputs: list[list[Tensor]]) -> Predictor:
    """At its j-th call, the ensemble of the members' j-th recorded batches: `evaluate` walks the test set
    in the same order every time, so the ensembles of the last m members cost no forward pass."""
    calls = [0]

    def predict(x: Tensor) -> Tensor:
        j = calls[0]
        calls[0] += 1
        if j >= len(outputs[0]) or len(outputs[0][j]) != len(x):
            raise RuntimeError("evaluate() did not present the batches it presented to the members")
        return ensemble_log_probs([o[j] for o in outputs]).to(x.device)

    return predict


def ensemble_metrics(members: list[nn.Module], states: list[dict[str, Tensor]],
                     evaluate: Callable[[Predictor], dict], prefix: str) -> dict[str, float]:
    """The numbers of an ensemble of `members` (oldest first; modules returning logits or log-probs):
    `<prefix>/member<i>/<metric>` for each alone, `<prefix>/last<m>/<metric>` for the mean softmax of the
    last m = 1..M, and `diversity` (its weight distances from `states`). Each member runs over the test
    set once; the last-m ensembles are formed from its recorded outputs."""
    out: dict[str, float] = {}
    recorders = [_Recorder(m) for m in members]
    for i, rec in enumerate(recorders, start=1):
        out.update({f"{prefix}/member{i}/{k}": v for k, v in evaluate(rec).items()})
    outputs = [r.outputs for r in recorders]
    for m in range(1, len(members) + 1):
        out.update({f"{prefix}/last{m}/{k}": v for k, v in evaluate(_replay(outputs[-m:])).items()})
    logps = [torch.cat(o) for o in outputs]
    out.update({f"{prefix}/{k}": v for k, v in diversity(logps, states).items()})
    return out


class SnapshotEnsemble(Trick):
    """Spec: `{name: snapshot_ensemble, last: 5}` with `schedule: {name: snapshot_cosine, cycles: 5}`.

    Takes a snapshot at the end of every cycle (cycles from the schedule, or the `cycles` argument to space
    snapshots equally over any schedule, e.g. Huang's NoCycle baseline). Predictor "snapshot_ensemble":
    mean softmax of the last `last` snapshots. extra_metrics (`ensemble_metrics`): each snapshot alone
    ("member<i>"), the ensembles of the last m = 1..M snapshots, pairwise diversity, and the forward passes
    the predictor costs per test image.
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

    def members(self) -> list[nn.Module]:
        """One log-prob module per snapshot, oldest first (rebuilt only when snapshots were added)."""
        while len(self._members) < len(self.snapshots):
            m = frozen_copy(self.ctx.model)
            m.load_state_dict(self.snapshots[len(self._members)])
            self._members.append(LogProbs(m))
        return self._members[: len(self.snapshots)]

    def predictors(self) -> dict[str, Predictor]:
        members = self.members()
        return {self.name: Ensemble(members[-self.last :])} if members else {}

    def extra_metrics(self, evaluate: Callable[[Predictor], dict]) -> dict:
        members = self.members()
        if not members:
            return {}
        out = ensemble_metrics(members, self.snapshots, evaluate, self.name)
        out[f"{self.name}/forward_passes"] = float(len(members[-self.last :]))
        return out

    def state_dict(self) -> dict:
        return {"snapshots": list(self.snapshots)}

    def load_state_dict(self, state: dict) -> None:
        self.snapshots, self._members = list(state["snapshots"]), []
