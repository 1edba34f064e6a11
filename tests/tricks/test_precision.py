import pytest
import torch
from torch import nn

from tricks.precision import Precision, resolve_precision

CPU = torch.device("cpu")


def test_auto_is_bf16_on_cpu_with_native_bf16_and_fp16_refused_without_cuda():
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert resolve_precision("auto", CPU) == ("bf16" if native else "fp32")
    assert resolve_precision("fp32", CPU) == "fp32"
    with pytest.raises(ValueError, match="needs CUDA"):
        resolve_precision("fp16", CPU)
    with pytest.raises(ValueError, match="not one of"):
        resolve_precision("fp8", CPU)


def test_bf16_autocast_runs_matmul_in_bf16_and_keeps_fp32_weights():
    layer = nn.Linear(8, 4)
    with Precision.create("bf16", CPU).autocast():
        out = layer(torch.randn(2, 8))
    assert out.dtype == torch.bfloat16
    assert layer.weight.dtype == torch.float32          # master weights stay fp32


def test_fp32_has_no_autocast():
    with Precision.create("fp32", CPU).autocast():
        assert nn.Linear(8, 4)(torch.randn(2, 8)).dtype == torch.float32


def _scaled(init_scale=2.0**16, growth_interval=2000):
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=growth_interval)
    return Precision("fp16", CPU, scaler)


def test_grad_scaler_skips_the_step_and_halves_the_scale_on_an_injected_inf():
    layer = nn.Linear(3, 1)
    before = layer.weight.detach().clone()
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    prec = _scaled()
    loss = layer(torch.ones(1, 3)).sum() * torch.tensor(float("inf"))
    assert prec.backward_and_step(loss, opt) is False
    assert torch.equal(layer.weight, before)                 # step skipped
    assert prec.scaler.get_scale() == 2.0**15                # backoff 0.5 (ANCHORS: GradScaler defaults)


def test_grad_scaler_unscales_before_the_step_so_the_update_equals_plain_sgd():
    torch.manual_seed(0)
    a, b = nn.Linear(3, 1), nn.Linear(3, 1)
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 3)
    opt_a, opt_b = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.SGD(b.parameters(), lr=0.1)
    assert _scaled(init_scale=1024.0).backward_and_step(a(x).pow(2).mean(), opt_a) is True
    Precision.create("fp32", CPU).backward_and_step(b(x).pow(2).mean(), opt_b)
    torch.testing.assert_close(a.weight, b.weight)


def test_scale_grows_after_growth_interval_clean_steps_and_survives_state_dict():
    layer = nn.Linear(3, 1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.0)
    prec = _scaled(init_scale=8.0, growth_interval=2)
    for _ in range(2):
        prec.backward_and_step(layer(torch.ones(1, 3)).sum(), opt)
    assert prec.scaler.get_scale() == 16.0
    other = _scaled(init_scale=1.0, growth_interval=2)
    other.load_state_dict(prec.state_dict())
    assert other.scaler.get_scale() == 16.0
