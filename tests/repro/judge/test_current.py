"""Stale records (repro/judge/current.py): a record of an earlier config of its arm is left out; the values
a run sets itself (the range test's lr, a tuned parameter) do not make it stale; --set overrides compare
against the overridden config."""

import pandas as pd

from repro.judge.current import current_records
from repro.spec import SPEC_DIR, load_spec, resolve


def _row(arm, config, overrides=()):
    return {"arm": arm, "config": config, "overrides": list(overrides)}


def test_a_record_of_an_earlier_config_is_stale_and_the_current_one_is_kept():
    spec = load_spec(SPEC_DIR / "label_smoothing.yaml", check_registries=False)
    now = resolve(spec, "cpu")["hard"].model_dump(mode="json")
    old = {**now, "epochs": 5, "data": {**now["data"], "subset": 10000}}      # the profile before issue #29
    kept, stale = current_records(pd.DataFrame([_row("hard", now), _row("hard", old)]), spec, "cpu")
    assert stale == 1 and kept.iloc[0]["config"]["epochs"] == 80


def test_the_lr_a_range_test_chose_and_a_tuned_value_do_not_make_a_record_stale():
    spec = load_spec(SPEC_DIR / "schedules.yaml", check_registries=False)
    configs = {a: c.model_dump(mode="json") for a, c in resolve(spec, "cpu").items()}
    found = {**configs["lr_range_test"], "optimizer": {**configs["lr_range_test"]["optimizer"], "lr": 0.37}}
    tuned = {**configs["grid_best"], "optimizer": {**configs["grid_best"]["optimizer"], "lr": 0.03}}
    changed = {**configs["step"], "optimizer": {**configs["step"]["optimizer"], "lr": 0.37}}   # no finder
    rows = [_row("lr_range_test", found), _row("grid_best", tuned), _row("step", changed)]
    kept, stale = current_records(pd.DataFrame(rows), spec, "cpu")
    assert stale == 1 and list(kept["arm"]) == ["lr_range_test", "grid_best"]


def test_a_record_run_with_overrides_is_compared_with_the_overridden_config():
    spec = load_spec(SPEC_DIR / "label_smoothing.yaml", check_registries=False)
    now = resolve(spec, "cpu")["hard"].model_dump(mode="json")
    short = {**now, "epochs": 1}
    rows = [_row("hard", short, ["epochs=1"]), _row("hard", short), _row("hard", now, ["epochs=1"])]
    kept, stale = current_records(pd.DataFrame(rows), spec, "cpu")
    assert stale == 2 and kept.iloc[0]["overrides"] == ["epochs=1"]
