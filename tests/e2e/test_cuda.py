"""Real CUDA checks (marked `gpu`: skipped without CUDA; benchmarks/gpu_check.sh runs them on a GPU).

fp16 autocast with GradScaler (the scale halves on overflow and the step is skipped), TF32 matmuls
(the flag and its precision), a channels_last convnet step, and a data-parallel run under torchrun
with NCCL and one rank.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_spec import write_tiny_spec
from torch import nn

from tricks.precision import Precision

pytestmark = pytest.mark.gpu
ROOT = Path(__file__).resolve().parents[2]
CUDA = torch.device("cuda")


def _regression(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 32, generator=gen)
    y = x @ torch.randn(32, 1, generator=gen)
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 1)).to(CUDA), x.to(CUDA), y.to(CUDA)


def test_fp16_autocast_with_gradscaler_trains_and_halves_the_scale_on_overflow():
    model, x, y = _regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    # 2^40 times the loss overflows fp16 gradients (max 65504): the step is skipped, the scale halves
    prec = Precision.create("fp16", CUDA, init_scale=2.0**40, growth_interval=1000)
    before = [p.detach().clone() for p in model.parameters()]
    with prec.autocast():
        out = model(x)
        assert out.dtype == torch.float16
        loss = nn.functional.mse_loss(out.float(), y)
    assert prec.backward_and_step(loss, opt) is False
    assert prec.scaler.get_scale() == 2.0**39
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    losses = []
    for _ in range(200):
        with prec.autocast():
            loss = nn.functional.mse_loss(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        prec.backward_and_step(loss, opt)
        losses.append(loss.item())
    assert prec.scaler.get_scale() < 2.0**39              # it kept backing off until gradients were finite
    assert all(p.dtype == torch.float32 for p in model.parameters())   # fp32 master weights
    assert losses[-1] < 0.1 * losses[0]


def test_tf32_matmul_flag_trades_precision_for_speed():
    a, b = (torch.randn(1024, 1024, device=CUDA, generator=torch.Generator(CUDA).manual_seed(s))
            for s in (0, 1))
    exact = (a.double() @ b.double())
    old = torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = False
        fp32_err = ((a @ b).double() - exact).abs().max().item() / exact.abs().max().item()
        torch.backends.cuda.matmul.allow_tf32 = True
        assert torch.backends.cuda.matmul.allow_tf32 and torch.get_float32_matmul_precision() == "high"
        tf32_err = ((a @ b).double() - exact).abs().max().item() / exact.abs().max().item()
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
    assert fp32_err < 1e-5
    if torch.cuda.get_device_capability() >= (8, 0):     # tensor cores with TF32: 10-bit mantissa
        assert 1e-5 < tf32_err < 1e-2


def test_channels_last_convnet_step():
    from repro.tasks.image.models import build_model

    torch.manual_seed(0)
    model = build_model({"name": "cifar_resnet", "depth": 8}, 10, 3)
    model = model.to(CUDA, memory_format=torch.channels_last)
    x = torch.randn(32, 3, 32, 32, device=CUDA).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (32,), device=CUDA)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    prec = Precision.create("bf16" if torch.cuda.is_bf16_supported() else "fp16", CUDA)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    for _ in range(3):
        with prec.autocast():
            loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        prec.backward_and_step(loss, opt)
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def _dirs(tmp_path: Path) -> list[str]:
    return ["--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache"), "--no-report"]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def test_a_smoke_run_on_cuda_in_fp16(tmp_path):
    arms = {"plain": {}, "half": {"precision": "fp16"}}
    spec = write_tiny_spec(tmp_path / "tiny.yaml", arms, "half", "plain")
    cmd = [sys.executable, "-m", "repro", "run", str(spec), "--profile", "smoke", "--device", "cuda",
           *_dirs(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = json.loads((tmp_path / "res/runs/tiny/smoke/half/seed0.json").read_text())
    assert rec["status"] == "ok" and rec["config"]["precision"] == "fp16"
    assert "cuda" in json.dumps(rec["hardware"]).lower()


def test_one_rank_under_torchrun_with_nccl(tmp_path):
    spec = write_tiny_spec(tmp_path / "tiny.yaml", {"plain": {}, "other": {"optimizer": {"lr": 0.1}}},
                           "other", "plain")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1",
           "-m", "repro", "run", str(spec), "--profile", "smoke", "--device", "cuda", *_dirs(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for arm in ("plain", "other"):
        rec = json.loads((tmp_path / f"res/runs/tiny/smoke/{arm}/seed0.json").read_text())
        assert rec["status"] == "ok" and rec["world_size"] == 1
