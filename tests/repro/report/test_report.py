"""The report on a fake results tree (tests/helpers/fake_results.py): 2 arms x 10 seeds (one diverged),
claims of every kind, one spec never run."""

import math
import re

import matplotlib.image
import pandas as pd
import pytest
from fake_results import JITTER, SPECS, build_records, claim, record, write
from fake_results import spec as make_spec

from repro.judge.records import load_records
from repro.judge.sequential import Design
from repro.judge.spec import judge_spec
from repro.report.render import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXPECTED = {
    "ls/lower-ece": "reproduced",      # ~0.032 lower on every pair
    "ls/no-loss": "reproduced",        # +0.1..0.2 within margin 1.0
    "ls/lower-nll": "contradicted",    # ~0.1 higher on every seed
    "ls/ema-helps": "reproduced",      # ema ~0.5 below its own arm
    "ls/throughput": "reproduced",     # ratio ~0.95 > 0.5
    "ls/mixup-helps": "no data",       # arm never run
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    build_records(root)
    write(root, record("ls", "cpu", "ls01", 19, 0.0, 0.0), name="seed19.json.tmp")   # half-written: ignored
    return root, write_report(root, "cpu", SPECS)


def table_verdicts(report) -> dict[str, str]:
    """spec/claim -> verdict, from the compact Markdown verdict table."""
    out = {}
    for line in report.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if len(cells) == 5 and cells[0].startswith("[ls/"):
            out[cells[0][1:].split("]")[0]] = cells[1].split(" ", 1)[1]
    return out


def test_load_records_skips_temp_files(results):
    df = load_records(results[0], "cpu")
    assert len(df) == 20 and (df["status"] == "diverged").sum() == 1
    assert load_records(results[0], "paper").empty


def test_report_files_exist(results):
    root, report = results
    assert report == root / "cpu" / "report.md"
    html = (root / "cpu" / "report.html").read_text()
    assert html.startswith("<!doctype html>") and 'id="verdict-table"' in html and "contradicted" in html
    for name in ("verdicts.json", "runs.csv", "forest.png"):
        assert (root / "cpu" / name).is_file(), name
    for name in ("lower-ece.csv", "lower-ece.md", "curves.png", "lr.png", "lower-ece.png"):
        assert (root / "cpu" / "ls" / name).is_file(), name
    assert [p.name for p in root.rglob("*.tmp")] == ["seed19.json.tmp"]  # only the planted one
    assert not list(root.glob(".build-*"))


def test_verdict_table(results):
    assert table_verdicts(results[1]) == EXPECTED
    text = results[1].read_text()
    assert "**Summary: 4 reproduced · 1 contradicted · 1 no data (6 claims of 1 specs)**" in text
    assert "Not run at profile cpu yet (no records of the spec as it is now" in text and "): nothing." in text
    assert "| [ls/lower-ece](#spec-ls) | 🟢 reproduced |" in text and '<a id="spec-ls"></a>' in text


def test_markdown_main_table_is_narrow(results):
    table = [line for line in results[1].read_text().splitlines() if line.startswith("| [ls/")]
    assert max(len(line) for line in table) < 110


def test_report_top_and_sections(results):
    text = results[1].read_text()
    # the first screen: scale and regime, counts, error rates, the grouped verdict table, then the forest
    order = ["# tricks-repro report: profile cpu", "**Judged at cpu scale, not the papers': 1 of 1 specs ",
             "**Summary: ", "Error rates: ", "## Verdicts", "| **[ls](#spec-ls)**", "## Forest plot",
             "## Records"]
    at = [text.index(marker) for marker in order]
    assert at == sorted(at)
    records = text[at[-1]:]
    assert "profile: cpu" in records and "\n- records: 20 (19 ok, 1 diverged)" in records
    assert "hardware: fake-cpu-2t-0000 (specs ls)" in records
    assert "base 0.061, ls01 0.024 (Müller 2019, Table 3)" in text
    assert "scale: cpu: fashion_mnist[1000], cifar_resnet(depth=8), 3 ep" in text
    assert "provenance: hardware fake-cpu-2t-0000 (2 threads); commit deadbeef" in text
    assert re.search(r"regime: (at plateau|pre-plateau|not measured)", text)
    assert "ls01 seed 7: diverged: loss is nan at step 17" in text
    assert "](ls/curves.png)" in text and "](ls/lr.png)" in text and "](forest.png)" in text


def test_claim_csv_has_per_seed_values_only(results):
    df = pd.read_csv(results[0] / "cpu" / "ls" / "lower-ece.csv")
    assert list(df["seed"]) == list(range(10))
    row = df.set_index("seed").loc[1]
    assert row["treatment"] == pytest.approx(0.022 + 0.004 + 0.001)
    assert row["difference"] == pytest.approx(row["treatment"] - row["baseline"])
    assert df.set_index("seed").loc[7, "treatment_status"] == "diverged"


def test_pngs_are_small_valid_images(results):
    pngs = sorted((results[0] / "cpu").rglob("*.png"))
    assert len(pngs) == 1 + 2 + 5   # forest, curves, lr, one per claim with data
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size < 150_000
        assert matplotlib.image.imread(png).shape[0] > 100


def test_report_is_rewritten_idempotently(results):
    root, report = results
    before = table_verdicts(report)
    assert table_verdicts(write_report(root, "cpu", SPECS)) == before


def test_smoke_is_not_judged(tmp_path):
    build_records(tmp_path, profile="smoke")
    text = write_report(tmp_path, "smoke", SPECS).read_text()
    assert "smoke: not judged" in text and "⚪ not judged" in text and "reproduced" not in text


def test_nan_metric_is_dropped_and_missing_metric_is_not_data(tmp_path):
    for seed in range(8):
        write(tmp_path, record("ls", "cpu", "base", seed, 8.0 + seed / 10, 0.05))
        err = math.nan if seed == 1 else 7.0 + seed / 10 + JITTER[seed] / 10     # differences with spread
        write(tmp_path, record("ls", "cpu", "ls01", seed, err, 0.02))
    df = load_records(tmp_path, "cpu")
    claims = [claim("c", "test_error", "ls01", "base"), claim("d", "test_error", "ls01/swa", "base")]
    spec = make_spec("ls", claims)
    c, d = judge_spec(df, spec, "cpu")
    assert c.verdict.verdict == "reproduced" and c.verdict.n == 7 and "non-finite" in c.verdict.note
    assert list(c.table["treatment_status"]) == ["ok"] * 8 and c.table["difference"].isna().sum() == 1
    assert d.verdict.verdict == "no data" and set(d.table["treatment_status"]) == {"missing metric"}


def test_a_sequential_claim_shows_the_seeds_of_its_look_only(tmp_path):
    for seed in range(14):   # looks 8 and 12 complete, 2 seeds of look 20 already there
        write(tmp_path, record("ls", "cpu", "base", seed, 8.0 + seed / 10, 0.05))
        write(tmp_path, record("ls", "cpu", "ls01", seed, 6.0 + seed / 10 + JITTER[seed % 10] / 10, 0.05))
    spec = make_spec("ls", [claim("c", "test_error", "ls01", "base")])
    design = Design(looks=(8, 12, 20), alpha=0.05, nominal_alpha=0.024)
    (c,) = judge_spec(load_records(tmp_path, "cpu"), spec, "cpu", design)
    assert c.verdict.verdict == "reproduced" and c.verdict.look == 8 and c.verdict.n == 8
    assert list(c.table["seed"]) == list(range(8))
