"""Rows of the curves figure: a row per group of arms of similar length, none for arms without curves."""

from repro.report.plots import epoch_groups


def test_arms_without_curves_get_no_row_and_long_arms_get_their_own():
    curves = {"short": [{"epoch": [1, 2, 3]}], "not_run": [], "no_eval": [{"epoch": []}],
              "similar": [{"epoch": [2, 4, 6]}], "long": [{"epoch": [5, 10, 15]}]}
    assert epoch_groups(curves) == [["short", "similar"], ["long"]]
