"""Snapshot ensembles: collection points against Huang Eq. 2, prediction and diversity by hand / scipy."""

import math

import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from trick_harness import Run, assert_same_state, resume_equivalence

from tricks.ensembles import (
    SnapshotEnsemble,
    disagreement,
    ensemble_log_probs,
    kl_divergence,
    snapshot_steps,
    weight_distance,
)
from tricks.schedules import build_schedule

SCHED = {"name": "snapshot_cosine", "cycles": 4}


def test_snapshot_steps_are_cycle_ends():
    assert snapshot_steps(100, 5) == [19, 39, 59, 79, 99]
    assert snapshot_steps(10, 4) == [2, 5, 8, 9]  # ceil(10/4) = 3, last cycle one step long
    f = build_schedule({"name": "snapshot_cosine", "cycles": 5}, 0.2, 100, 10)
    assert [s for s in range(1, 100) if f(s) == 0.2] == [s + 1 for s in snapshot_steps(100, 5)[:-1]]


def test_ensemble_is_mean_softmax():
    a, b = torch.tensor([[0.2, 0.8]]).log(), torch.tensor([[0.6, 0.4]]).log()
    assert ensemble_log_probs([a, b]).exp().tolist()[0] == pytest.approx([0.4, 0.6], abs=1e-7)


def test_diversity_by_hand():
    p = torch.tensor([[0.7, 0.3], [0.4, 0.6], [0.9, 0.1]], dtype=torch.float64)
    q = torch.tensor([[0.2, 0.8], [0.3, 0.7], [0.6, 0.4]], dtype=torch.float64)
    assert disagreement(p.log(), q.log()) == pytest.approx(1 / 3)
    ref = sum(stats.entropy(p[i].numpy(), q[i].numpy()) for i in range(3)) / 3
    assert kl_divergence(p.log(), q.log()) == pytest.approx(ref, rel=1e-12)
    sa = {"w": torch.tensor([0.0, 0.0]), "b": torch.tensor([1.0]), "n": torch.tensor(3)}
    sb = {"w": torch.tensor([3.0, 4.0]), "b": torch.tensor([1.0]), "n": torch.tensor(9)}
    assert weight_distance(sa, sb) == 5.0


def _evaluate(run):
    def evaluate(fn):
        with torch.no_grad():
            logp = fn(run.x)
        return {
            "test_error": 100 * (logp.argmax(-1) != run.y).float().mean().item(),
            "test_nll": F.nll_loss(logp, run.y).item(),
        }

    return evaluate


def test_adapter_snapshots_predicts_and_reports():
    run = Run([SnapshotEnsemble(last=3)], total_steps=40, lr=0.2, schedule=SCHED)
    before = run.clean_loss()
    run.train(40)
    se = run.tricks[0]
    assert len(se.snapshots) == 4
    assert all(torch.equal(v, run.model.state_dict()[k]) for k, v in se.snapshots[-1].items())
    members = se.members()
    with torch.no_grad():
        manual = torch.stack([m(run.x).exp() for m in members[-3:]]).mean(0).log()
    ens = se.predictors()["snapshot_ensemble"]
    assert torch.allclose(ens(run.x), manual, atol=1e-6)
    assert run.clean_loss(ens) < 0.5 * before
    metrics = se.extra_metrics(_evaluate(run))
    assert metrics["snapshot_ensemble/last1/test_error"] == metrics["snapshot_ensemble/member4/test_error"]
    assert {f"snapshot_ensemble/last{m}/test_nll" for m in range(1, 5)} <= metrics.keys()
    assert len([k for k in metrics if k.endswith("/kl") and "pair" in k]) == 6
    assert metrics["snapshot_ensemble/mean_weight_distance"] > 0
    assert all(math.isfinite(v) for v in metrics.values())


def test_cycles_argument_spaces_snapshots_over_any_schedule():
    run = Run([SnapshotEnsemble(last=2, cycles=5)], total_steps=20, schedule={"name": "step"})
    run.train(20)
    assert len(run.tricks[0].snapshots) == 5
    with pytest.raises(ValueError):
        Run([SnapshotEnsemble()], total_steps=20)


def test_resume_is_bit_identical():
    a, c = resume_equivalence(lambda: [SnapshotEnsemble(last=2)], k=10, schedule=SCHED)
    assert len(a.tricks[0].snapshots) == 4
    assert_same_state(a, c)
