"""Tests of repro.tasks.image.models: parameter counts against the papers, layer groups, shortcuts,
precision."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from repro.errors import UserError
from repro.tasks.image.models import MODELS, BasicBlock, PointwiseShortcut, build_model, cifar_resnet

SMALL = {  # fast configurations of every registered model
    "cifar_resnet": {"depth": 8},
    "preact_resnet18": {},
    "wide_resnet": {"depth": 10, "widen_factor": 2, "dropout": 0.3},
    "densenet_bc": {"depth": 16, "growth_rate": 6},
    "vgg16": {},
    "plain_convnet": {"width": 8},
}


def test_plain_convnet_parameters_by_hand():
    # convs 3->8->16->32 (3x3, with bias), linear 32->10
    convs = (3 * 8 * 9 + 8) + (8 * 16 * 9 + 16) + (16 * 32 * 9 + 32)
    assert millions({"name": "plain_convnet", "width": 8}) * 1e6 == pytest.approx(convs + 32 * 10 + 10)


def millions(cfg: dict, num_classes: int = 10) -> float:
    """Parameter count in millions, built on the meta device (no memory, no init cost)."""
    with torch.device("meta"):
        model = build_model(cfg, num_classes, 3)
    return sum(p.numel() for p in model.parameters()) / 1e6


@pytest.mark.parametrize("depth, paper", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_resnet_parameters_match_he_et_al_table_6(depth, paper):
    digits = 1 if paper >= 1 else 2  # the paper's rounding
    assert round(millions({"name": "cifar_resnet", "depth": depth}), digits) == paper


@pytest.mark.parametrize("cfg, paper, digits", [
    ({"name": "wide_resnet", "depth": 28, "widen_factor": 10}, 36.5, 1),  # Zagoruyko & Komodakis, Table 2
    ({"name": "wide_resnet", "depth": 40, "widen_factor": 4}, 8.9, 1),
    ({"name": "wide_resnet", "depth": 16, "widen_factor": 8}, 11.0, 1),
    ({"name": "densenet_bc", "depth": 100, "growth_rate": 12}, 0.8, 1),  # Huang et al., Table 2
    ({"name": "densenet_bc", "depth": 250, "growth_rate": 24}, 15.3, 1),
    ({"name": "densenet_bc", "depth": 190, "growth_rate": 40}, 25.6, 1),
    ({"name": "preact_resnet18"}, 11.17, 2),  # the mixup code's model (kuangliu/pytorch-cifar)
])
def test_parameters_match_papers(cfg, paper, digits):
    assert round(millions(cfg), digits) == paper


@pytest.mark.parametrize("width", [64, 16])
def test_vgg16_parameters_by_hand(width):
    """13 bias-free 3x3 convs with BN (2 params per channel), then h-h-h-10 with three BN1d, h = 8 width."""
    widths = [3] + [width * m for m in (1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 8, 8, 8)]
    convs = sum(9 * a * b + 2 * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    h = 8 * width
    classifier = (h * h + h) * 2 + 3 * 2 * h + h * 10 + 10
    assert millions({"name": "vgg16", "width": width}) * 1e6 == convs + classifier


@pytest.mark.parametrize("width", [64, 16])
def test_preact_resnet18_parameters_by_hand(width):
    """Stem conv; per block BN(c_in), conv3x3, BN(c_out), conv3x3 and a 1x1 projection where the shape
    changes; a linear classifier on 8 width channels."""
    total, c = 9 * 3 * width, width
    for c_out in (width, 2 * width, 4 * width, 8 * width):
        for _ in range(2):
            total += 2 * c + 9 * c * c_out + 2 * c_out + 9 * c_out * c_out + (c * c_out if c != c_out else 0)
            c = c_out
    total += 8 * width * 10 + 10
    assert millions({"name": "preact_resnet18", "width": width}) * 1e6 == total


def test_cifar_resnet_shortcut_has_no_parameters():
    """Option A: every parameter is in a conv, a BN or the classifier; none in the shortcuts."""
    model = cifar_resnet(10, 3, depth=20)
    kinds = {type(m) for m in model.modules() if any(True for _ in m.parameters(recurse=False))}
    assert kinds == {nn.Conv2d, nn.BatchNorm2d, nn.Linear}
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19 and all(m.kernel_size == (3, 3) for m in convs)


def test_option_a_shortcut_subsamples_and_pads_with_zeros():
    block = BasicBlock(4, 8, stride=2).eval()
    nn.init.zeros_(block.bn2.weight)  # residual branch -> 0, so the block is ReLU(shortcut(x))
    x = torch.rand(2, 4, 6, 6)
    out = block(x)
    assert torch.equal(out[:, :4], x[:, :, ::2, ::2])
    assert torch.equal(out[:, 4:], torch.zeros(2, 4, 3, 3))


@pytest.mark.parametrize("depth", [21, 18, 2, 0])
def test_cifar_resnet_bad_depth(depth):
    with pytest.raises(UserError, match=f"model.depth: {depth}: cifar_resnet needs depth = 6n\\+2"):
        build_model({"name": "cifar_resnet", "depth": depth}, 10, 3)


def test_build_model_user_errors():
    with pytest.raises(UserError, match="model.name: 'resnet50'"):
        build_model({"name": "resnet50"}, 10, 3)
    with pytest.raises(UserError, match="widen"):
        build_model({"name": "cifar_resnet", "widen": 2}, 10, 3)
    with pytest.raises(UserError, match="6n\\+4"):
        build_model({"name": "wide_resnet", "depth": 27}, 10, 3)
    with pytest.raises(UserError, match="model.dropout"):
        build_model({"name": "wide_resnet", "depth": 10, "dropout": 1.0}, 10, 3)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_layer_groups_run_in_sequence_equal_forward(name):
    model = build_model({"name": name, **SMALL[name]}, 7, 1, seed=0).eval()
    x = torch.randn(3, 1, 28, 28)
    groups = model.layer_groups()
    out = x
    for group in groups:
        out = group(out)
    torch.testing.assert_close(out, model(x), rtol=0, atol=0)
    assert out.shape == (3, 7)
    assert isinstance(list(groups[-1].modules())[-1], nn.Linear), "the classifier ends the head"
    assert not any(isinstance(m, nn.Linear) for g in groups[:-1] for m in g.modules())
    in_groups = [id(p) for g in groups for p in g.parameters()]
    assert sorted(in_groups) == sorted(id(p) for p in model.parameters()), "each parameter in one group"


def test_cifar_resnet_groups_are_stem_blocks_head():
    groups = cifar_resnet(10, 3, depth=20).layer_groups()
    assert len(groups) == 1 + 9 + 1 and all(isinstance(g, BasicBlock) for g in groups[1:-1])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_channels_last_bf16_autocast(name):
    """Same logits in channels_last as in NCHW; bf16 autocast close to fp32; gradients flow."""
    model = build_model({"name": name, **SMALL[name]}, 10, 3, seed=0).eval()
    x = torch.randn(2, 3, 16, 16)
    x_cl = x.to(memory_format=torch.channels_last)
    with torch.no_grad():
        reference = model(x)
        model = model.to(memory_format=torch.channels_last)
        torch.testing.assert_close(model(x_cl), reference, rtol=1e-4, atol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x_cl)
    assert low.dtype == torch.bfloat16
    assert (low.float() - reference).abs().max() < 0.1 * reference.abs().max() + 0.05
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model.train()(x_cl)
    logits.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_seeded_build_is_reproducible_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = build_model({"name": "cifar_resnet", "depth": 8}, 10, 3, seed=5)
    assert torch.equal(state, torch.random.get_rng_state())
    b = build_model({"name": "cifar_resnet", "depth": 8}, 10, 3, seed=5)
    c = build_model({"name": "cifar_resnet", "depth": 8}, 10, 3, seed=6)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


_STRIDED_1X1 = """
import torch
from repro.tasks.image.models import PointwiseShortcut
torch.set_num_threads(1)
torch.manual_seed(0)
for c_in in (2, 4, 6):
    shortcut = PointwiseShortcut(c_in, 8, 2)
    ref = torch.nn.Conv2d(c_in, 8, 1, stride=2, bias=False)
    ref.weight.data.copy_(shortcut.weight.data)
    x = torch.randn(32, c_in, 16, 16)
    ref(x).square().sum().backward()
    shortcut.to(memory_format=torch.channels_last)
    for _ in range(3):
        shortcut.weight.grad = None
        shortcut(x.contiguous(memory_format=torch.channels_last)).square().sum().backward()
    torch.testing.assert_close(shortcut.weight.grad, ref.weight.grad, rtol=1e-5, atol=1e-3)
"""


def test_strided_pointwise_shortcut_channels_last_one_thread_backward():
    """The width-4 smoke models' shortcut (1x1, stride 2, 4 -> 8 channels, channels_last, one thread) used to
    corrupt the heap in oneDNN's kernel on AVX2 CPUs (PointwiseShortcut); in a child process, so that a
    regression fails this test instead of aborting the suite."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
           "MALLOC_CHECK_": "3"}
    done = subprocess.run([sys.executable, "-c", _STRIDED_1X1], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_pointwise_shortcut_equals_the_strided_conv():
    shortcut = PointwiseShortcut(3, 5, 2)
    x = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(shortcut(x), nn.functional.conv2d(x, shortcut.weight, stride=2))
    assert set(shortcut.state_dict()) == {"weight"}
