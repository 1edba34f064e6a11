"""repro.jobs.build.channels_last_pays: NCHW for fp32 on CPUs without AVX-512, the same metrics either way."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from repro.jobs.build import channels_last_pays
from repro.tasks.image.models import build_model

CPU = torch.device("cpu")


def test_channels_last_default_follows_the_cpu_for_fp32_only():
    conv, text = SimpleNamespace(channels_last_default=True), SimpleNamespace(channels_last_default=False)
    avx512 = torch.backends.cpu.get_cpu_capability().startswith("AVX512")
    assert channels_last_pays(conv, CPU, "fp32") == avx512
    assert channels_last_pays(conv, CPU, "bf16") is True
    assert channels_last_pays(text, CPU, "fp32") is False and channels_last_pays(text, CPU, "bf16") is False


def _train(model, channels_last: bool, steps: int = 5) -> list[float]:
    gen = torch.Generator().manual_seed(0)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(steps):
        x = torch.randn(16, 1, 28, 28, generator=gen)
        x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        loss = F.cross_entropy(model(x), torch.randint(0, 10, (16,), generator=gen))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_memory_format_changes_results_only_by_float_noise():
    torch.manual_seed(0)
    model = build_model({"name": "cifar_resnet", "depth": 8, "width": 8}, 10, 1)
    nchw, nhwc = _train(copy.deepcopy(model), False), _train(copy.deepcopy(model), True)
    torch.testing.assert_close(nhwc, nchw, rtol=1e-4, atol=1e-5)
