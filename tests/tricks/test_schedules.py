"""Schedules against hand-computed golden values (mpmath, 30 digits) and torch's own schedulers."""

import math

import pytest
import torch

from tricks import schedules as S

TOL = dict(rel=1e-12, abs=1e-15)


def _torch_lrs(make, n, momentum=False):
    """lr (and momentum) of a torch scheduler at 0-based steps 0..n-1."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    sched = make(opt)
    out = []
    for _ in range(n):
        g = opt.param_groups[0]
        out.append((g["lr"], g["momentum"]) if momentum else g["lr"])
        opt.step()
        sched.step()
    return out


def test_noam_golden():
    assert S.noam(1, 512, 4000) == pytest.approx(1.7469281074217107e-07, **TOL)
    assert S.noam(4000, 512, 4000) == pytest.approx(6.98771242968684280e-04, **TOL)
    assert S.noam(100000, 512, 4000) == pytest.approx(1.39754248593736856e-04, **TOL)
    assert S.noam(4000, 512, 4000, scale=2.0) == pytest.approx(2 * 6.98771242968684280e-04, **TOL)


def test_opennmt_worked_example():
    # docs/anchors.md: model_dim 4, warmup 8000, scale 2, minimum 1e-4, step 1 -> 2.795e-6 -> 1e-4
    assert S.opennmt_noam(1, 4, 8000, scale=2.0) == pytest.approx(2.7950849718747371e-06, **TOL)
    assert S.opennmt_noam(1, 4, 8000, scale=2.0, minimum_learning_rate=1e-4) == 1e-4


def test_opennmt_wrapper_start_and_duration():
    kw = dict(model_dim=768, warmup_steps=8000, scale=2.0, step_start=10000, step_duration=2)
    first = S.opennmt_noam(0, **kw)
    assert S.opennmt_noam(10001, **kw) == first  # flat until step_start, then //2
    # step 10005 -> (5 // 2) + 1 = noam step 3
    assert S.opennmt_noam(10005, **kw) == pytest.approx(3.02576823922454444e-07, **TOL)
    assert S.opennmt_noam(10004, **kw) == S.opennmt_noam(10005, **kw)
    assert S.opennmt_noam(10006, **kw) > S.opennmt_noam(10005, **kw)


def test_snapshot_cosine_edges():
    T, M, a0 = 100, 5, 0.2
    assert S.snapshot_cosine(1, T, M, a0) == a0
    assert S.snapshot_cosine(2, T, M, a0) == pytest.approx(0.198768834059513784, **TOL)
    assert S.snapshot_cosine(20, T, M, a0) == pytest.approx(1.23116594048622745e-03, **TOL)
    assert S.snapshot_cosine(T, T, M, a0) == pytest.approx(1.23116594048622745e-03, **TOL)
    restarts = [t for t in range(1, T + 1) if S.snapshot_cosine(t, T, M, a0) == a0]
    assert restarts == [1, 21, 41, 61, 81]


def test_snapshot_cosine_uneven_total():
    T, M = 10, 4  # ceil(10/4) = 3: cycles start at t = 1, 4, 7, 10
    restarts = [t for t in range(1, T + 1) if S.snapshot_cosine(t, T, M, 1.0) == 1.0]
    assert restarts == [1, 4, 7, 10]
    with pytest.raises(ValueError):
        S.snapshot_cosine(1, 10, 6, 1.0)  # ceil(10/6) = 2 gives only 5 cycles


def test_snapshot_factory_is_one_based():
    f = S.build_schedule({"name": "snapshot_cosine", "cycles": 5}, 0.2, 100, 10)
    assert f(0) == 0.2 and f(20) == 0.2 and f(19) == S.snapshot_cosine(20, 100, 5, 0.2)


@pytest.mark.parametrize("t_mult", [1, 2, 3])
def test_sgdr_matches_torch(t_mult):
    t0, n = 3, 3 + 9 + 27 + 5
    ref = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            o, T_0=t0, T_mult=t_mult, eta_min=0.01
        ),
        n,
    )
    ours = [S.sgdr(s, 1.0, 0.01, t0, t_mult) for s in range(n)]
    assert ours == pytest.approx(ref, rel=1e-12)


def test_sgdr_t_mult3_boundaries_exact():
    assert [s for s in range(60) if S.sgdr(s, 1.0, 0.0, 3, 3) == 1.0] == [0, 3, 12, 39]
    assert S.sgdr(11, 1.0, 0.0, 3, 3) == pytest.approx(0.5 * (1 + math.cos(math.pi * 8 / 9)), **TOL)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_matches_torch(mode):
    ref = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.CyclicLR(
            o, base_lr=0.01, max_lr=0.1, step_size_up=5, mode=mode, gamma=0.97, cycle_momentum=False
        ),
        47,
    )
    ours = [S.cyclic(s, 0.01, 0.1, 5, mode, gamma=0.97) for s in range(47)]
    assert ours == pytest.approx(ref, rel=1e-12)


def test_cyclic_golden():
    assert S.cyclic(0, 0.01, 0.1, 5) == pytest.approx(0.01, **TOL)
    assert S.cyclic(5, 0.01, 0.1, 5) == pytest.approx(0.1, **TOL)
    assert S.cyclic(15, 0.01, 0.1, 5, "triangular2") == pytest.approx(0.055, **TOL)


@pytest.mark.parametrize("total,pct", [(100, 0.3), (37, 0.25)])
def test_one_cycle_matches_torch(total, pct):
    ref = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.4, total_steps=total, pct_start=pct),
        total,
        momentum=True,
    )
    lrs = [S.one_cycle(s, total, 0.4, pct) for s in range(total)]
    moms = [S.one_cycle_momentum(s, total, pct) for s in range(total)]
    assert lrs == pytest.approx([r[0] for r in ref], rel=1e-12)
    assert moms == pytest.approx([r[1] for r in ref], rel=1e-12)


def test_one_cycle_golden_edges():
    assert S.one_cycle(0, 100, 0.4) == pytest.approx(0.016, **TOL)
    assert S.one_cycle(29, 100, 0.4) == pytest.approx(0.4, **TOL)
    assert S.one_cycle(99, 100, 0.4) == pytest.approx(1.6e-6, **TOL)
    assert S.one_cycle_momentum(29, 100) == pytest.approx(0.85, **TOL)


def test_stlr_golden():
    T, lr = 1000, 0.01  # cut = 100
    assert S.stlr(0, T, lr) == pytest.approx(3.125e-4, **TOL)
    assert S.stlr(99, T, lr) == pytest.approx(0.009903125, **TOL)
    assert S.stlr(100, T, lr) == pytest.approx(0.01, **TOL)
    assert S.stlr(999, T, lr) == pytest.approx(3.23263888888888889e-04, **TOL)


def test_linear_scaling_warmup_golden():
    assert S.linear_scaling_warmup(0, 0.1, 8192, 100) == pytest.approx(0.1, **TOL)
    assert S.linear_scaling_warmup(50, 0.1, 8192, 100) == pytest.approx(1.65, **TOL)
    assert S.linear_scaling_warmup(100, 0.1, 8192, 100) == pytest.approx(3.2, **TOL)
    assert S.linear_scaling_warmup(10**6, 0.1, 8192, 100) == pytest.approx(3.2, **TOL)
    f = S.build_schedule(
        {"name": "linear_scaling_warmup", "batch_size": 512, "warmup_epochs": 1, "milestones": [3]},
        0.1,
        50,
        10,
    )
    assert [f(0), f(5), f(10), f(29), f(30)] == pytest.approx([0.1, 0.15, 0.2, 0.2, 0.02], **TOL)
    # the run's batch size fills in when the spec leaves it out; an explicit one wins
    g = S.build_schedule({"name": "linear_scaling_warmup", "warmup_epochs": 0}, 0.1, 50, 10, batch_size=2048)
    assert g(0) == pytest.approx(0.8, **TOL)
    explicit = {"name": "linear_scaling_warmup", "batch_size": 512, "warmup_epochs": 0}
    h = S.build_schedule(explicit, 0.1, 50, 10, batch_size=2048)
    assert h(0) == pytest.approx(0.2, **TOL)


def test_step_and_multistep_factories():
    f = S.build_schedule({"name": "step", "milestones": [0.5, 0.75], "gamma": 0.1}, 0.1, 200, 10)
    assert [f(0), f(99), f(100), f(149), f(150), f(199)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], **TOL
    )
    g = S.build_schedule({"name": "multistep", "milestones": [2, 3]}, 0.1, 50, 10)
    assert [g(19), g(20), g(30)] == pytest.approx([0.1, 0.01, 0.001], **TOL)


def test_cosine_golden():
    assert S.cosine(0, 100, 0.1) == 0.1
    assert S.cosine(50, 100, 0.1, 0.02) == pytest.approx(0.06, **TOL)
    assert S.cosine(100, 100, 0.1) == pytest.approx(0.0, abs=1e-15)


def test_noam_factories_translate_step():
    f = S.build_schedule({"name": "noam", "model_dim": 512, "warmup_steps": 4000}, 1.0, 10, 1)
    assert f(0) == S.noam(1, 512, 4000) and f(3999) == S.noam(4000, 512, 4000)
    g = S.build_schedule({"name": "opennmt_noam", "model_dim": 4, "warmup_steps": 8000}, 2.0, 10, 1)
    assert g(1) == S.opennmt_noam(1, 4, 8000, 2.0)


def test_every_factory_builds_and_is_positive():
    for name in S.SCHEDULES:
        f = S.build_schedule({"name": name}, 0.1, 1000, 50)
        lrs = [f(s) for s in range(1000)]
        assert all(math.isfinite(v) and v > 0 for v in lrs), name


def test_unknown_schedule():
    with pytest.raises(ValueError, match="unknown schedule"):
        S.build_schedule({"name": "nope"}, 0.1, 10, 1)
    assert S.schedule_kwargs("snapshot_cosine") == ["cycles"]
