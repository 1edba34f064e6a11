"""mixup / CutMix: properties (hypothesis), the two-term loss identity, Beta(alpha, alpha) by a KS test."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from trick_harness import Run, resume_equivalence

from tricks.mixup import CutMix, Mixup, cutmix, mixup, permutation, sample_lam

FAST = settings(max_examples=40, deadline=None)


def _batch(seed, b=6, k=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, 5, 5, generator=g), torch.randint(k, (b,), generator=g), g


@FAST
@given(seed=st.integers(0, 10**6), alpha=st.floats(0.05, 4.0))
def test_mixed_inputs_lie_between_the_pair_and_targets_sum_to_one(seed, alpha):
    x, y, g = _batch(seed)
    lam, perm = sample_lam(alpha, g), permutation(len(x), g)
    xm, q = mixup(x, y, lam, perm, 4)
    lo, hi = torch.minimum(x, x[perm]), torch.maximum(x, x[perm])
    assert 0.0 <= lam <= 1.0
    assert bool(((xm >= lo - 1e-6) & (xm <= hi + 1e-6)).all())
    assert torch.allclose(q.sum(-1), torch.ones(len(x)))
    assert sorted(perm.tolist()) == list(range(len(x)))


@FAST
@given(seed=st.integers(0, 10**6), alpha=st.floats(0.05, 4.0))
def test_cutmix_pixels_come_from_the_pair_and_lam_is_the_area(seed, alpha):
    x, y, g = _batch(seed)
    perm = permutation(len(x), g)
    xm, q = cutmix(x, y, sample_lam(alpha, g), perm, 4, g)
    from_pair = (xm == x) | (xm == x[perm])
    assert bool(from_pair.all())
    assert torch.allclose(q.sum(-1), torch.ones(len(x)))
    kept = (xm == x).all(1).double().mean((-1, -2))  # share of x_i's pixels kept (x_i, x_j differ everywhere)
    rows = torch.arange(len(x))
    differ = (perm != rows) & (y != y[perm])  # there q[i, y_i] is exactly the adjusted lam
    assert torch.allclose(kept[differ], q[rows, y][differ].double(), atol=1e-6)


@FAST
@given(seed=st.integers(0, 10**6))
def test_alpha_zero_is_identity(seed):
    x, y, g = _batch(seed)
    xm, q = mixup(x, y, sample_lam(0.0, g), permutation(len(x), g), 4)
    assert torch.equal(xm, x) and torch.equal(q, F.one_hot(y, 4).float())


def test_alpha_to_zero_gives_clean_samples():
    g = torch.Generator().manual_seed(0)
    lams = torch.tensor([sample_lam(1e-3, g) for _ in range(200)])
    assert ((lams < 1e-6) | (lams > 1 - 1e-6)).float().mean() > 0.97


@pytest.mark.parametrize("alpha", [0.2, 1.0, 2.0])
def test_lam_is_beta_distributed(alpha):
    g = torch.Generator().manual_seed(0)
    lams = [sample_lam(alpha, g) for _ in range(2000)]
    assert stats.kstest(lams, stats.beta(alpha, alpha).cdf).pvalue > 1e-3


def test_soft_target_loss_equals_two_term_loss():
    x, y, g = _batch(5, b=8)
    logits = torch.randn(8, 4, generator=g, dtype=torch.float64)
    lam, perm = 0.3, permutation(8, g)
    _, q = mixup(x, y, lam, perm, 4)
    two_term = lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, y[perm])
    assert torch.allclose(F.cross_entropy(logits, q.double()), two_term, rtol=1e-12)


def test_same_generator_same_batch():
    a, b = Mixup(alpha=1.0), Mixup(alpha=1.0)
    x, y, _ = _batch(1)
    for t, seed in ((a, 7), (b, 7)):
        t.ctx = type("C", (), {"generator": torch.Generator().manual_seed(seed), "num_classes": 4})()
    assert all(torch.equal(u, v) for u, v in zip(a.batch(x, y), b.batch(x, y), strict=True))


@pytest.mark.parametrize("make", [lambda: Mixup(alpha=1.0), lambda: CutMix(alpha=1.0, prob=0.5)])
def test_trains_and_resumes(make):
    run = Run([make()], total_steps=40)
    before = run.clean_loss()
    run.train(40)
    assert run.clean_loss() < 0.5 * before
    a, c = resume_equivalence(lambda: [make()], k=6)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), c.model.parameters(), strict=True))
