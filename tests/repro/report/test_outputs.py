"""verdicts.json, runs.csv, and a rebuild that destroys nothing (repro/report/outputs.py, publish.py)."""

import json

import pandas as pd
import pytest
from fake_results import SPECS, build_records, record, write

from repro.errors import UserError
from repro.report.render import write_report

CLAIM_KEYS = {"spec", "claim", "text", "kind", "metric", "verdict", "reason", "n", "estimate", "interval",
              "p_t", "p_signflip", "p", "p_holm", "q_bh", "alpha", "look", "d_z", "power", "seeds_needed",
              "paper_effect", "paper_seeds_needed", "below_noise", "published", "scale", "hardware",
              "threads", "commits", "mixed_threads", "hardware_class"}


@pytest.fixture()
def root(tmp_path):
    build_records(tmp_path)
    return tmp_path


def test_verdicts_json_is_complete(root):
    write_report(root, "cpu", SPECS)
    data = json.loads((root / "cpu" / "verdicts.json").read_text())
    assert data["profile"] == "cpu" and data["records"] == 20 and len(data["claims"]) == 6
    for entry in data["claims"]:
        assert CLAIM_KEYS <= set(entry), CLAIM_KEYS - set(entry)
    ece = next(e for e in data["claims"] if e["claim"] == "lower-ece")
    assert ece["verdict"] == "reproduced" and ece["n"] == 9 and ece["interval"]["type"] == "95% paired t"
    assert ece["interval"]["lo"] < ece["estimate"] < ece["interval"]["hi"] < 0
    assert ece["published"]["base"] == 0.061 and ece["hardware"] == ["fake-cpu-2t-0000"]
    assert ece["threads"] == [2] and ece["commits"] == ["deadbeef"] and not ece["mixed_threads"]


def test_mixed_thread_counts_are_two_hardware_classes_never_pooled(root):
    write(root, record("ls", "cpu", "base", 10, 8.0, 0.05, threads=8))   # the thread count is in the class
    with pytest.raises(UserError, match="cpu-unknown-2t: 20, cpu-unknown-8t: 1"):
        write_report(root, "cpu", SPECS)
    write_report(root, "cpu", SPECS, hardware="cpu-unknown-2t")
    data = json.loads((root / "cpu" / "verdicts.json").read_text())
    assert not data["claims"][0]["mixed_threads"] and data["claims"][0]["threads"] == [2]
    assert data["records"] == 20 and data["claims"][0]["hardware_class"] == ["cpu-unknown-2t"]


def test_runs_csv_is_tidy(root):
    write_report(root, "cpu", SPECS)
    df = pd.read_csv(root / "cpu" / "runs.csv")
    assert list(df.columns) == ["spec", "profile", "arm", "seed", "metric", "value", "status", "hardware",
                                "threads", "commit"]
    row = df[(df["arm"] == "base") & (df["seed"] == 1) & (df["metric"] == "test_error")]
    assert row["value"].item() == pytest.approx(8.4) and row["threads"].item() == 2
    assert {"throughput", "ema/test_error", "wall_time_s"} <= set(df["metric"])
    assert df.groupby(["spec", "arm", "seed", "metric"]).size().max() == 1


@pytest.mark.parametrize("profile", ["paper", "smok"])
def test_no_records_or_unknown_profile_change_nothing(root, profile):
    write_report(root, "cpu", SPECS)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(UserError, match="nothing written"):
        write_report(root, profile, SPECS)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    assert not (root / profile).exists()


def test_stale_outputs_go_and_caches_stay(root):
    out = root / "cpu"
    (out / "gone-spec").mkdir(parents=True)
    for name in ("gone-spec/old.png", "gone-spec/old.csv", "old.md"):
        (out / name).write_text("stale")
    (out / "ls").mkdir()
    (out / "ls" / "lr_finder.png").write_text("range-test plot")   # lr_search's, not the report's
    (out / "ls" / "notes.txt").write_text("mine")
    (out / "expected.json").write_text("{}")
    write_report(root, "cpu", SPECS)
    assert not (out / "gone-spec" / "old.png").exists() and not (out / "old.md").exists()
    assert (out / "ls" / "lr_finder.png").read_text() == "range-test plot"
    assert (out / "ls" / "notes.txt").exists() and (out / "expected.json").exists()


def test_fewer_records_need_force(root, capsys):
    write_report(root, "cpu", SPECS)
    (root / "runs" / "ls" / "cpu" / "base" / "seed9.json").unlink()
    before = (root / "cpu" / "report.md").read_text()
    with pytest.raises(UserError, match="built from 20 records, this one would have 19"):
        write_report(root, "cpu", SPECS)
    assert (root / "cpu" / "report.md").read_text() == before
    write_report(root, "cpu", SPECS, force=True)
    assert "replacing it (--force)" in capsys.readouterr().err
    assert json.loads((root / "cpu" / "verdicts.json").read_text())["records"] == 19


def test_html_is_self_contained(root):
    write_report(root, "cpu", SPECS)
    html = (root / "cpu" / "report.html").read_text()
    assert html.count("<img") == 8 and html.count('src="data:image/png;base64,') == 8
    assert 'href="#spec-ls"' in html and 'id="spec-ls"' in html


def test_a_report_that_would_leave_out_a_judged_spec_needs_force(root, capsys):
    write_report(root, "cpu", SPECS)             # judges "ls"; then "ls" has no current records (re-sized)
    before = (root / "cpu" / "report.md").read_text()
    with pytest.raises(UserError, match="judged ls, which this one would leave out"):
        write_report(root, "cpu", {"nothing": SPECS["nothing"]})
    assert (root / "cpu" / "report.md").read_text() == before
    write_report(root, "cpu", {"nothing": SPECS["nothing"]}, force=True)
    assert "dropping it (--force)" in capsys.readouterr().err
