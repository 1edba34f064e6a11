"""The report's first screen and its figures (repro/report/overview.py, captions.py, html.py): the scale and
regime line, the bound beside each interval, the spec .md links, verdict marks without an emoji font, and
figures that leave out (and name) the arms without data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from repro.cli import main
from repro.judge.regime import Plateau
from repro.judge.verdict import Verdict
from repro.report import captions, overview
from repro.report.html import marks
from repro.report.views import optimizer_suite
from repro.spec import SPEC_DIR, load_spec

# the records of the current configs
SUITE_RUNS = Path(__file__).resolve().parents[3] / "results" / "hardware" / "cpu-amx-1t" / "runs"


def verdict(kind, better, bound):
    return Verdict("c", "text", "test_error", kind, better, "t", "b", bound=bound)


@pytest.mark.parametrize("kind, better, bound, text", [
    ("superiority", "lower", 0.0, "< 0"),
    ("superiority", "higher", 0.0, "> 0"),
    ("noninferiority", "lower", 0.5, "< 0.5 (margin)"),          # T - B may be up to +0.5
    ("noninferiority", "higher", -1.0, "> -1 (margin)"),         # BLEU may drop by at most 1
    ("ratio", "higher", 1.15, "> ×1.15 (threshold)"),
    ("ratio", "lower", 0.25, "< ×0.25 (threshold)"),
])
def test_the_bound_says_which_side_of_it_the_claim_puts_the_estimate(kind, better, bound, text):
    assert overview.bound_text(verdict(kind, better, bound)) == text


def test_the_regime_line_counts_and_names_specs_by_regime():
    regimes = {s: Plateau(status, s, "cpu", "a", "m") for s, status in
               (("a", "pre-plateau"), ("b", "at plateau"), ("c", "pre-plateau"), ("d", "not measured"))}
    line = overview.regime_line("cpu", regimes)
    assert line.startswith("Judged at cpu scale, not the papers': 1 of 4 specs at plateau (b), 2 pre-plateau "
                           "(a, c), 1 not measured (d) (")


def test_the_spec_md_link_is_relative_to_wherever_the_report_is_written(tmp_path):
    spec = load_spec(SPEC_DIR / "mixup.yaml", check_registries=False)
    for out in (tmp_path / "results" / "cpu", tmp_path / "results" / "cpu" / "some-hardware-id"):
        out.mkdir(parents=True)
        link = overview.spec_md(spec, out)
        assert not os.path.isabs(link) and (out / link).resolve() == SPEC_DIR / "mixup.md"


def test_the_committed_report_folder_links_the_spec_md_two_levels_up():
    spec = load_spec(SPEC_DIR / "mixup.yaml", check_registries=False)
    assert overview.spec_md(spec, SPEC_DIR.parents[1] / "results" / "cpu") == "../../repro/specs/mixup.md"


def test_a_spec_without_its_own_md_links_its_familys_and_one_without_either_links_none(tmp_path):
    spec = load_spec(SPEC_DIR / "ulmfit_wordnet.yaml", check_registries=False)
    assert overview.spec_md(spec, SPEC_DIR.parents[1] / "results" / "cpu") == "../../repro/specs/ulmfit.md"
    lone = tmp_path / "specs" / "solo_run.yaml"
    lone.parent.mkdir()
    lone.write_text((SPEC_DIR / "mixup.yaml").read_text().replace("id: mixup", "id: solo_run"))
    assert overview.spec_md(load_spec(lone, check_registries=False), tmp_path) is None


def test_html_marks_are_coloured_svg_circles_and_text_stays_escaped():
    html = str(marks("Claim a<b: 🟢 reproduced, 🔴 contradicted"))
    assert "🟢" not in html and "🔴" not in html and "a&lt;b" in html
    assert 'fill="#1a7f37"' in html and 'fill="#cf222e"' in html and html.count("<svg") == 2


def records(rows):
    return pd.DataFrame(rows, columns=["arm", "seed", "status", "reason"])


def test_arms_without_an_ok_record_are_named_with_why():
    recs = records([("a", 0, "ok", None), ("a", 1, "ok", None), ("v", 0, "failed", "PyLO is not installed"),
                    ("v", 1, "failed", "PyLO is not installed"), ("d", 0, "diverged", "loss is nan")])
    missing = captions.not_run(recs, ["a", "v", "d", "x", "y"], "cpu")
    assert missing == {"v": "2 failed: PyLO is not installed", "d": "1 diverged: loss is nan",
                       "x": "no records at profile cpu", "y": "no records at profile cpu"}
    assert captions.not_run_text(missing) == (" Not run: v (2 failed: PyLO is not installed); d (1 diverged: "
                                              "loss is nan); x, y (no records at profile cpu).")
    assert captions.seeds_text(recs[recs["status"] == "ok"], ["a"]) == "2 seeds per arm"


@pytest.mark.skipif(not (SUITE_RUNS / "optimizers_fmnist_mlp" / "cpu").is_dir(), reason="committed records")
def test_the_performance_profile_draws_only_arms_with_data(tmp_path, monkeypatch):
    """optimizers_fmnist_mlp has no record of adam_default and only failed ones of velo: neither may be a
    line at 0 ("solved no task"); the caption names them instead."""
    drawn = []
    monkeypatch.setattr(optimizer_suite, "_plot_profile", lambda profiles, path: drawn.append(list(profiles)))
    suite = Path("optimizers_fmnist_mlp") / "cpu"
    shutil.copytree(SUITE_RUNS / suite, tmp_path / "runs" / suite)
    assert main(["report", "--profile", "cpu", "--results-dir", str(tmp_path)]) == 0
    assert drawn and all("velo" not in arms and "adam_default" not in arms for arms in drawn)
    assert "adamw_tuned" in drawn[0]
    report = (tmp_path / "cpu" / "report.md").read_text()
    assert "arms with records only. Not run: adam_default, velo (no finished records" in report
