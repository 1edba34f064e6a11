"""The section's tables, curves and regime line use the seeds the verdicts used, not a look under way."""

import pandas as pd
from fake_results import claim

from repro.judge.spec import ClaimResult, judged_records
from repro.judge.verdict import new_verdict


def result(treatment, baseline, look):
    v = new_verdict(claim(f"{treatment.replace('/', '-')}-vs-{baseline}", "test_error", treatment, baseline))
    v.look = look
    return ClaimResult(v, pd.DataFrame())


def test_each_arm_keeps_the_seeds_of_its_latest_look_and_unjudged_arms_keep_all():
    seeds = {"a": 14, "b": 14, "c": 8, "ablation": 3}   # a and b: 2 seeds of look 20 already there
    records = pd.DataFrame([{"arm": arm, "seed": s} for arm, n in seeds.items() for s in range(n)])
    results = [result("a/ema", "b", 12), result("c", "a", 8), result("c", "b", None)]
    kept = judged_records(records, results).groupby("arm")["seed"].agg(["count", "max"])
    assert kept.loc["a"].tolist() == [12, 11] and kept.loc["b"].tolist() == [12, 11]
    assert kept.loc["c"].tolist() == [8, 7]
    assert kept.loc["ablation"].tolist() == [3, 2]
