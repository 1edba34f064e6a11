"""The regime check on curves whose answer is known by hand."""

import pandas as pd
from fake_results import claim
from fake_results import spec as make_spec

from repro.report.regime import check_regime


def spec(metric="test_error", better="lower", **regime):
    c = claim("c", metric, "other", "base", better=better)
    settings = {k: v for k, v in regime.items() if v is not None}
    return make_spec("s", [c], arms=("base", "other"), regime=settings)


def records(*curves):
    return pd.DataFrame({"status": "ok", "arm": "base", "curves": list(curves)})


def curve(values):
    return {"epoch": list(range(1, len(values) + 1)), "test_error": values}


def test_flat_last_quarter_is_at_plateau():
    # 8 epochs: epoch 6 (<= 0.75 * 8) -> epoch 8: 10.1 -> 10.0 and 10.3 -> 10.1, mean gain 0.15
    r = check_regime(spec(threshold=0.5), records(curve([30, 20, 15, 12, 11, 10.1, 10.05, 10.0]),
                                                  curve([31, 21, 16, 13, 11, 10.3, 10.2, 10.1])))
    assert r.status == "at plateau" and abs(r.improvement - 0.15) < 1e-9
    assert (r.from_epoch, r.to_epoch) == (6, 8)


def test_still_falling_is_pre_plateau_with_default_threshold():
    # gain 16 -> 12 = 4 points; default threshold 2% of 12 = 0.24
    r = check_regime(spec(), records(curve([40, 30, 22, 20, 18, 16, 14, 12])))
    assert r.status == "pre-plateau" and abs(r.threshold - 0.24) < 1e-9 and "pre-plateau" in r.line()


def test_one_evaluation_is_not_measured():
    r = check_regime(spec(), records({"epoch": [12], "test_error": [15.0]}))
    assert r.status == "not measured" and "eval_every" in r.line()


def test_higher_is_better_metric():
    s = spec(metric="bleu", better="higher")
    r = check_regime(s, pd.DataFrame({"status": "ok", "arm": "base",
                                      "curves": [{"epoch": [1, 2, 3, 4], "bleu": [5.0, 9.0, 10.0, 13.0]}]}))
    assert r.status == "pre-plateau" and r.improvement == 3.0     # epoch 3 -> 4: 10 -> 13, higher is better
