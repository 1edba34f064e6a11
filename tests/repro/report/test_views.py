"""repro/report/views/ (extra.py, speedup.py): the extra-metrics table and the speed-accuracy view, on
hand-made records."""

import math

import pandas as pd
import pytest
from fake_results import claim
from fake_results import spec as make_spec

from repro.report.views.extra import extra_values, is_detail
from repro.report.views.speedup import baselines, speedup_table

RESNET = {"name": "cifar_resnet", "depth": 8}
VGG = {"name": "vgg16", "width": 4}
FREEZE = [{"name": "freezeout", "t0": 0.8}]


def rec(arm, seed, model, tricks=(), throughput=100.0, err=10.0, extra=None):
    config = {"model": model, "data": {"name": "d"}, "tricks": list(tricks)}
    return {"arm": arm, "seed": seed, "config": config, "extra": extra or {}, "final": {"test_error": err},
            "throughput": throughput, "steps": 30, "train_time_s": 3.0}


def test_extra_values_strip_the_source_and_put_cost_first():
    ok = pd.DataFrame([
        rec("snap", 0, RESNET, extra={"snapshot_ensemble/member2/test_error": 9.0,
                                      "snapshot_ensemble/member10/test_error": 8.0,
                                      "snapshot_ensemble/mean_kl": 0.1, "snapshot_ensemble/pair1-2/kl": 0.2}),
        rec("indep", 0, RESNET, extra={"ensemble/member2/test_error": 7.0, "ensemble/mean_kl": 0.3}),
        rec("indep", 1, RESNET, extra={"ensemble/member2/test_error": 5.0, "ensemble/mean_kl": math.nan}),
        rec("two", 0, RESNET, extra={"ema/x": 1.0, "swa/x": 2.0}),
    ])
    values = extra_values(ok, ["snap", "indep", "two"])
    assert list(values)[:2] == ["steps", "train_time_s"]
    assert values["member2/test_error"] == {"snap": [9.0], "indep": [7.0, 5.0], "two": []}
    assert values["mean_kl"]["indep"] == [0.3]                                   # NaN dropped
    assert values["ema/x"]["two"] == [1.0] and values["swa/x"]["two"] == [2.0]   # a collision keeps full keys
    keys = list(values)
    assert keys.index("mean_kl") < keys.index("member2/test_error") < keys.index("member10/test_error")
    assert is_detail("pair1-2/kl") and not is_detail("mean_kl")
    assert extra_values(ok.assign(extra=[{}] * 4), ["snap"]) == {}


def test_speedup_table_pairs_each_arm_with_its_models_plain_arm():
    ok = pd.DataFrame([
        rec("r_base", 0, RESNET, throughput=100.0, err=10.0),
        rec("r_base", 1, RESNET, throughput=110.0, err=11.0),
        rec("r_fo", 0, RESNET, FREEZE, 125.0, 12.0, {"freezeout/estimated_saving_flops": 0.2}),
        rec("r_fo", 1, RESNET, FREEZE, 132.0, 11.5, {"freezeout/estimated_saving_flops": 0.2}),
        rec("v_base", 0, VGG, throughput=50.0), rec("v_fo", 0, VGG, FREEZE, 40.0, 10.0),
        rec("lonely", 0, {"name": "densenet_bc"}, FREEZE),
    ])
    arms = ["r_base", "r_fo", "v_base", "v_fo", "lonely"]
    # r_fo's baseline comes from its claim, v_fo's from the spec's `baselines:`; "lonely" is named nowhere
    spec = make_spec("fo", [claim("c", "test_error", "r_fo/ema", "r_base")], arms=arms,
                     baselines={"v_fo": "v_base"})
    pairs = baselines(spec, arms)
    assert pairs == {"r_base": "r_base", "r_fo": "r_base", "v_base": "v_base", "v_fo": "v_base"}
    table = speedup_table(ok, pairs).set_index("arm")
    fo = table.loc["r_fo"]
    assert fo["speedup"] == pytest.approx(math.sqrt(1.25 * 1.2))     # geometric mean of 125/100, 132/110
    assert fo["speedup_lo"] == pytest.approx(1.2) and fo["speedup_hi"] == pytest.approx(1.25)
    assert fo["flop_speedup"] == pytest.approx(1 / 0.8) and fo["delta"] == pytest.approx(1.25)
    assert fo["model"] == "cifar_resnet(depth=8)" and fo["n"] == 2
    assert table.loc["v_fo", "speedup"] == pytest.approx(0.8) and math.isnan(table.loc["v_fo", "speedup_lo"])
    assert table.loc["r_base", "speedup"] == 1.0 and "lonely" not in table.index


def test_views_are_registered_and_see_only_the_columns_they_declare(tmp_path):
    from repro.report.views.base import View
    from repro.report.views.registry import SECTION_VIEWS, task_blocks

    assert [v.name for v in SECTION_VIEWS] == ["lr_finder", "extra", "optimizer_suite", "speedup",
                                               "time_to_target"]
    seen = []
    view = View("probe", ("final",), lambda v: seen.append(sorted(v.records.columns)) or [("p", "x")])
    ok = pd.DataFrame([{"arm": "a", "seed": 0, "final": {}, "extra": {}, "config": {}}])
    s = make_spec("s", [claim("c", "test_error", "a", "b")], arms=("a", "b"))
    assert view.render(tmp_path, "s", s, ok, ["a"]) == [("p", "x")]
    assert seen == [["arm", "final", "seed"]]
    assert task_blocks(s, ok, ["a"]) == []   # only translation adds blocks


def _evals(arm, seed, errors, every=10.0):
    steps = [every * (k + 1) for k in range(len(errors))]
    return {"arm": arm, "seed": seed, "status": "ok", "curves": {"step": steps, "test_error": errors},
            "lr_trace": {"step": [0, steps[-1] - 1], "lr": [0.1, 0.001]}}


TTT = pd.DataFrame([_evals("step", 0, [40.0, 20.0, 12.0, 10.0]), _evals("step", 1, [40.0, 20.0, 9.5, 10.0]),
                    _evals("fast", 0, [30.0, 10.0]), _evals("fast", 1, [15.0, 12.0])])


def test_time_to_target_table_and_claim_marks_on_hand_made_curves(tmp_path):
    from repro.report.views.base import ViewInput
    from repro.report.views.time_to_target import (
        arrival_table,
        claim_marks,
        curve_bands,
        time_to_target_blocks,
    )

    arms = ["step", "fast"]
    ttt = claim("c", "steps_to_test_error", "fast", "step", kind="ratio", threshold=0.5)
    spec = make_spec("sched", [ttt], arms=arms, plots=["time_to_target"])
    table = arrival_table(TTT, arms, "step").set_index("arm")
    # targets 10 and 10; step: seed 0 at its end (40), seed 1 between 20 and 30: 20 + 10 / 10.5 * 10
    step_median = (40 + 20 + 10 / 10.5 * 10) / 2
    assert table.loc["step", "median"] == pytest.approx(step_median) and table.loc["step", "ratio"] == 1.0
    # fast: seed 0 at 20, seed 1 never (12 > 10): half the seeds never, so the median is never
    assert table.loc["fast", "reached"] == 1 and table.loc["fast", "median"] == math.inf
    assert table.loc["fast", "budget"] == 20.0 and table.loc["step", "budget"] == 40.0
    assert claim_marks(spec, table.reset_index()) == {"fast": pytest.approx(0.5 * step_median)}
    band = curve_bands(TTT, "step").set_index("step")
    assert band.loc[30.0].tolist() == [10.75, 9.5, 12.0]                        # mean, min, max over seeds
    blocks = time_to_target_blocks(ViewInput(tmp_path, "sched", spec, TTT, arms))
    rows = next(b for b in blocks if b[0] == "table")[2]
    assert rows[1][:3] == ["fast", "20", "1 of 2"] and blocks[-1][0] == "img"
    assert (tmp_path / "sched" / "time_to_target.png").stat().st_size > 0
    plain = make_spec("plain", [claim("c", "test_error", "fast", "step")], arms=arms)
    assert time_to_target_blocks(ViewInput(tmp_path, "plain", plain, TTT, arms)) == []   # no such claim
