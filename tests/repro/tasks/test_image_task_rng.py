"""A job's dropout masks depend on its seed only, not on what its worker process ran before (the job's
build seeds torch's global RNG: repro.jobs.build.seed_global_rng)."""

from __future__ import annotations

import torch

from repro.jobs.build import build_training
from repro.jobs.job import Job
from repro.spec import RunConfig


def test_dropout_masks_do_not_depend_on_earlier_use_of_the_global_rng(tmp_path):
    cfg = RunConfig.model_validate(dict(
        task="image-classification", model=dict(name="vgg16", width=8),     # dropout 0.5 in its head
        data=dict(name="synthetic_images", train_size=64, test_size=32, image_size=28),
        optimizer=dict(name="sgd", lr=0.05), batch_size=32, epochs=1))
    x = torch.randn(4, 3, 28, 28, generator=torch.Generator().manual_seed(1))

    def train_mode_output(earlier_draws: int):
        torch.rand(earlier_draws)   # a previous job in the same worker drew from the global RNG
        setup = build_training(Job("s", "smoke", "a", 3, cfg), torch.device("cpu"), tmp_path).task
        return setup.model.train()(x)

    torch.manual_seed(0)
    first = train_mode_output(1)
    assert torch.equal(first, train_mode_output(1000))
