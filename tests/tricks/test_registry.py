"""Every registered trick: explicit keyword arguments, and a tiny model trains with it switched on."""

import inspect

import pytest
from trick_harness import Run

from tricks.registry import TRICKS, build_trick, trick_kwargs
from tricks.schedules import SCHEDULES


@pytest.mark.parametrize("name", TRICKS)
def test_explicit_keyword_arguments(name):
    params = inspect.signature(TRICKS[name]).parameters.values()
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty for p in params)
    assert TRICKS[name].name == name and isinstance(trick_kwargs(name), dict)


def test_schedule_factories_have_explicit_kwargs():
    for name, f in SCHEDULES.items():
        params = list(inspect.signature(f).parameters.values())
        assert [p.name for p in params[:3]] == ["lr", "total_steps", "steps_per_epoch"], name
        assert all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty for p in params[3:]), name


@pytest.mark.parametrize("name", TRICKS)
def test_training_with_each_trick_lowers_the_loss(name):
    schedule = {"name": "snapshot_cosine", "cycles": 4} if name == "snapshot_ensemble" else None
    run = Run([build_trick({"name": name})], total_steps=48, schedule=schedule)
    before = run.clean_loss()
    run.train(48)
    assert run.clean_loss() < 0.6 * before
    for fn in run.tricks[0].predictors().values():
        assert run.clean_loss(fn) < 0.6 * before


def test_unknown_trick():
    with pytest.raises(ValueError, match="unknown trick"):
        build_trick({"name": "nope"})


DESIGN_SIGNATURES = {  # the public formula functions of docs/design.md: names and arguments are API
    "tricks.schedules.noam": "(step, model_dim, warmup_steps, scale=1.0)",
    "tricks.schedules.opennmt_noam": "(step, model_dim, warmup_steps, scale=1.0, step_start=0, "
    "step_duration=1, minimum_learning_rate=0.0)",
    "tricks.schedules.snapshot_cosine": "(step, total_steps, cycles, lr0)",
    "tricks.schedules.sgdr": "(step, lr_max, lr_min, t0, t_mult=1)",
    "tricks.schedules.cyclic": "(step, base_lr, max_lr, step_size, mode='triangular', gamma=1.0)",
    "tricks.schedules.one_cycle": "(step, total_steps, max_lr, pct_start=0.3, div_factor=25.0, "
    "final_div_factor=10000.0)",
    "tricks.schedules.stlr": "(step, total_steps, lr_max, cut_frac=0.1, ratio=32)",
    "tricks.schedules.linear_scaling_warmup": "(step, base_lr, batch_size, warmup_steps, "
    "reference_batch=256)",
    "tricks.averaging.opennmt_ema_decay": "(step, decay=0.9999)",
    "tricks.freezeout.freeze_points": "(num_groups, t0, mode='cubic')",
    "tricks.freezeout.layer_lr": "(step, total_steps, t_i, lr, scale_lr=True)",
    "tricks.finetune.discriminative_lrs": "(num_groups, lr_top, factor=2.6)",
}


@pytest.mark.parametrize("path", DESIGN_SIGNATURES)
def test_public_formula_signatures(path):
    import importlib

    module, name = path.rsplit(".", 1)
    sig = inspect.signature(getattr(importlib.import_module(module), name))
    plain = "(" + ", ".join(p.replace(annotation=p.empty).__str__() for p in sig.parameters.values()) + ")"
    assert plain == DESIGN_SIGNATURES[path]
