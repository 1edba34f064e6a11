"""A spec's sequential design (repro/judge/spec.py + sequential.py): each family starts at the first look
its exact test can pass Holm at, and an arm without runs never takes its family out of the design."""

from fake_results import JITTER, claim, record, write
from fake_results import spec as make_spec

from repro.judge.records import load_records
from repro.judge.sequential import Design, family_design, make_design
from repro.judge.spec import judge_spec
from repro.judge.verdict import NO_DATA


def test_a_family_starts_where_two_over_two_to_the_n_times_its_size_is_below_the_level():
    run = make_design((8, 12, 20))
    assert family_design(run, 3).looks == (8, 12, 20)     # 2 x 3 / 256 = 0.023 < ~0.03
    four = family_design(run, 4)                            # 2 x 4 / 256 = 0.031: not at 8
    assert four.looks == (12, 20) and 2 * 4 / 2**12 < four.nominal_alpha
    assert four.nominal_alpha > run.nominal_alpha            # fewer looks: a higher level per look


def test_an_arm_that_never_ran_is_no_data_and_the_others_keep_their_looks(tmp_path):
    for seed in range(12):
        write(tmp_path, record("s", "cpu", "base", seed, 8.0 + JITTER[seed % 10], 0.05))
        write(tmp_path, record("s", "cpu", "good", seed, 6.0 + JITTER[seed % 10] * 1.1, 0.05))
        write(tmp_path, record("s", "cpu", "velo", seed, 0.0, 0.0, status="failed"))
    claims = [claim("good-helps", "test_error", "good", "base"),
              claim("velo-helps", "test_error", "velo", "base")]
    spec = make_spec("s", claims, arms=("base", "good", "velo"))
    good, velo = judge_spec(load_records(tmp_path, "cpu"), spec, "cpu", Design((8, 12, 20), 0.05, 0.024))
    assert good.verdict.look == 8 and good.verdict.verdict == "reproduced"
    assert velo.verdict.verdict == NO_DATA and velo.verdict.look is None
