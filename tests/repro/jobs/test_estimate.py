"""Expected job seconds before a run (repro/jobs/estimate.py): from the records of the same spec, arm and
config on this hardware first, then other hardware, then the spec's other arms of the same model and data
scaled by epochs, then a probe, then records of other configs; read from record files like the ones
`repro run` writes."""

from __future__ import annotations

import json
import math

import pytest
from tiny_spec import write_tiny_spec

from repro.jobs import estimate as E
from repro.jobs.plan import plan
from repro.spec import config_hash

ARMS = {"plain": {}, "long": {"epochs": 4}, "big_batch": {"batch_size": 64}}


@pytest.fixture
def jobs(tmp_path):
    path = write_tiny_spec(tmp_path / "tiny.yaml", ARMS, "long", "plain")
    return {(j.arm, j.seed): j for j in plan([path], "cpu", None, [0, 1])[1]}


def timed(job, hardware, seconds, epochs=2):
    config = job.config.model_dump(mode="json")
    return E.Timed(job.spec_id, job.arm, config_hash(config), hardware, seconds, float(epochs),
                   E.family(config))


def test_records_of_this_hardware_come_first_then_other_hardware(jobs):
    plain = jobs["plain", 0]
    records = [timed(plain, "here-1t", 10.0), timed(plain, "here-1t", 30.0), timed(plain, "here-1t", 11.0),
               timed(plain, "big-8t", 1.0)]
    assert E.Estimator(records, "here-1t")(plain) == E.Estimate(11.0, "here", "here-1t")
    assert E.Estimator(records, "other-2t")(plain) == E.Estimate(11.0, "other hardware", "here-1t")


def test_an_arm_without_records_is_scaled_from_the_spec_s_other_arms_by_epochs(jobs):
    records = [timed(jobs["plain", 0], "h", 10.0, epochs=2), timed(jobs["plain", 1], "h", 14.0, epochs=2)]
    # "long" trains 4 epochs: twice the median 12 s of the 2-epoch records
    assert E.Estimator(records, "h")(jobs["long", 0]) == E.Estimate(24.0, "other arms")


def test_a_record_of_another_config_does_not_count_as_the_same_job(jobs):
    same_family = E.family(jobs["plain", 0].config.model_dump(mode="json"))
    other = E.Timed("tiny", "plain", "not-this-config", "h", 99.0, 2.0, same_family)
    assert E.Estimator([other], "h")(jobs["plain", 0]).source == "other arms"


def test_other_arms_prefer_this_hardware_s_records(jobs):
    # the slow machine's 80 s would make "long" cost 160 s; this machine's own 10 s says 20 s
    records = [timed(jobs["plain", 0], "slow-avx2", 80.0), timed(jobs["plain", 1], "slow-avx2", 80.0),
               timed(jobs["plain", 0], "h", 10.0)]
    assert E.Estimator(records, "h")(jobs["long", 0]) == E.Estimate(20.0, "other arms")


def test_another_batch_size_is_probed_rather_than_scaled_from_the_other_arms(jobs):
    # the batch-32 arms' records do not time the batch-64 arm: a probe does; without one, they do
    records = [timed(jobs["plain", 0], "h", 100.0)]
    assert E.Estimator(records, "h", lambda job: 3.0)(jobs["big_batch", 0]) == E.Estimate(3.0, "probe")
    assert E.Estimator(records, "h", None)(jobs["big_batch", 0]) == E.Estimate(100.0, "other configs")


def test_a_spec_without_records_is_probed_once_and_scaled_per_arm(jobs):
    calls = []

    def probe(job):
        calls.append(job.name)
        return 5.0          # the probed job: 2 epochs

    est = E.Estimator([], "h", probe)
    assert est(jobs["plain", 0]) == E.Estimate(5.0, "probe")
    assert est(jobs["long", 1]) == E.Estimate(10.0, "probe")
    assert calls == ["tiny/cpu/plain/seed0"]


def test_unknown_costs_count_at_the_mean_of_the_known(jobs):
    est = E.Estimator([timed(jobs["plain", 0], "h", 8.0)], "h", probe=None)
    names = [jobs["plain", 0], jobs["plain", 1]]
    known, unknown = E.Estimate(8.0, "here", "h"), E.Estimate(math.nan, "unknown")
    out = E.costs(names, lambda j: known if j.seed == 0 else unknown)
    assert out[names[1].name] == E.Estimate(8.0, "unknown")
    assert est(jobs["plain", 1]).seconds == 8.0     # same config: a seed's record times the other seeds
    assert "1 job(s) from records made on this hardware (h), 1 job(s) unknown" in E.sources_text(out)


def test_read_timed_keeps_finished_records_with_a_wall_time(tmp_path):
    runs = tmp_path / "runs" / "tiny" / "cpu" / "plain"
    runs.mkdir(parents=True)
    base = {"spec": "tiny", "arm": "plain", "config_hash": "x", "hardware": {"id": "h"},
            "config": {"epochs": 3, "ensemble": {"members": 2}}}
    (runs / "seed0.json").write_text(json.dumps({**base, "status": "ok", "wall_time_s": 12.5}))
    (runs / "seed1.json").write_text(json.dumps({**base, "status": "failed", "wall_time_s": 0.9}))
    (runs / "seed2.json").write_text(json.dumps({**base, "status": "diverged", "wall_time_s": 4.0}))
    (runs / "seed3.json").write_text("{half a record")
    (runs / "seed4.json").write_text(json.dumps({**base, "status": "ok"}))
    (tmp_path / "runs" / "tiny" / "smoke" / "plain").mkdir(parents=True)
    (tmp_path / "runs" / "tiny" / "smoke" / "plain" / "seed0.json").write_text(
        json.dumps({**base, "status": "ok", "wall_time_s": 1.0}))
    got = E.read_timed(tmp_path, "cpu")
    assert [(t.seconds, t.work) for t in got] == [(12.5, 6.0), (4.0, 6.0)]
