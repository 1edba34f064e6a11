"""The report on a fake results tree: 2 arms x 3 seeds (one diverged), claims of every kind."""

import json
import math
from pathlib import Path
from types import SimpleNamespace as NS

import matplotlib.image
import pandas as pd
import pytest

from repro.report.records import judge_claim, load_records
from repro.report.render import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# seed -> test_error / test_ece per arm; ls01 seed 2 diverges.
BASE = {0: (8.0, 0.050), 1: (8.4, 0.060), 2: (8.2, 0.055)}
LS = {0: (8.1, 0.020), 1: (8.6, 0.025)}
EMA = {0: 7.6, 1: 8.0}


def record(arm, seed, err, ece, status="ok", **extra):
    epochs = [1, 2, 3]
    return {
        "spec": "ls", "profile": "cpu", "arm": arm, "seed": seed, "status": status,
        "reason": None if status == "ok" else "loss is nan at step 17",
        "config": {"data": {"name": "fashion_mnist", "subset": 1000},
                   "model": {"name": "cifar_resnet", "depth": 8}, "epochs": 3},
        "config_hash": "abc", "git_commit": "deadbeef", "hardware": {"device": "cpu", "threads": 2},
        "curves": {"epoch": epochs, "step": [10, 20, 30], "train_loss": [2.0, 1.0, 0.5],
                   "test_error": [err + 4, err + 2, err], "test_nll": [1.0, 0.6, 0.4],
                   "test_ece": [0.1, 0.08, ece]},
        "lr_trace": {"step": [0, 10, 20, 29], "lr": [0.1, 0.1, 0.01, 0.01]},
        "final": {"test_error": err, "test_nll": 0.4 if arm == "base" else 0.5, "test_ece": ece, **extra},
        "extra": {}, "wall_time_s": 10.0 + seed, "train_time_s": 9.0, "steps": 30,
        "throughput": 100.0 if arm == "base" else 95.0,
    }


def write(root: Path, rec: dict, name: str | None = None) -> None:
    path = root / "runs" / rec["spec"] / "cpu" / rec["arm"] / (name or f"seed{rec['seed']}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))


def claim(id, metric, treatment, baseline, kind="superiority", better="lower", **kw):
    return NS(id=id, text=f"{treatment} vs {baseline} on {metric}", metric=metric, treatment=treatment,
              baseline=baseline, better=better, kind=kind, margin=kw.get("margin"),
              threshold=kw.get("threshold"), published=kw.get("published", {}))


SPEC = NS(
    id="ls", paper=NS(title="Rethinking the Inception Architecture", venue="CVPR 2016", arxiv="1512.00567"),
    arms={"base": {}, "ls01": {}},
    claims=[
        claim("lower-ece", "test_ece", "ls01", "base",
              published={"base": 0.061, "ls01": 0.024, "source": "Müller 2019, Table 3"}),
        claim("no-loss", "test_error", "ls01", "base", kind="noninferiority", margin=1.0),
        claim("lower-nll", "test_nll", "ls01", "base"),
        claim("ema-helps", "test_error", "ls01/ema", "ls01"),
        claim("throughput", "throughput", "ls01", "base", kind="ratio", better="higher", threshold=0.5),
        claim("mixup-helps", "test_error", "mixup", "base"),
    ],
)
EMPTY_SPEC = NS(id="nothing", paper={"title": "Never run", "venue": "NeurIPS", "arxiv": None},
                arms={"a": {}, "b": {}}, claims=[claim("c", "test_error", "a", "b")])


def build_tree(root: Path) -> Path:
    for seed, (err, ece) in BASE.items():
        write(root, record("base", seed, err, ece))
    for seed, (err, ece) in LS.items():
        rec = record("ls01", seed, err, ece, **{"ema/test_error": EMA[seed], "ema/test_ece": 0.03})
        rec["curves"]["ema/test_error"] = [EMA[seed] + 3, EMA[seed] + 1, EMA[seed]]
        write(root, rec)
    write(root, record("ls01", 2, float("nan"), float("nan"), status="diverged"))
    write(root, record("ls01", 9, 0.0, 0.0), name="seed9.json.tmp")   # half-written temp file: ignored
    return write_report(root, "cpu", {"ls": SPEC, "nothing": EMPTY_SPEC})


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    return root, build_tree(root)


def verdicts(report: Path) -> dict[str, str]:
    """claim id -> verdict, from the Markdown verdict table."""
    out = {}
    for line in report.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if len(cells) == 8 and cells[0] in ("ls", "nothing"):
            out[f"{cells[0]}:{cells[1].split(':')[0]}"] = cells[6]
    return out


def test_load_records_skips_temp_files(results):
    df = load_records(results[0], "cpu")
    assert sorted(zip(df["arm"], df["seed"], strict=True)) == [("base", 0), ("base", 1), ("base", 2),
                                                               ("ls01", 0), ("ls01", 1), ("ls01", 2)]
    assert (df["status"] == "diverged").sum() == 1
    assert load_records(results[0], "paper").empty


def test_report_files_exist(results):
    root, report = results
    assert report == root / "cpu" / "report.md"
    html = (root / "cpu" / "report.html").read_text()
    assert html.startswith("<!doctype html>") and "<table>" in html and "contradicted" in html
    for name in ("lower-ece.csv", "lower-ece.md", "curves.png", "lr.png", "lower-ece.png"):
        assert (root / "cpu" / "ls" / name).is_file(), name
    assert [p.name for p in root.rglob("*.tmp")] == ["seed9.json.tmp"]  # only the planted one


def test_verdict_table(results):
    assert verdicts(results[1]) == {
        "ls:lower-ece": "reproduced",      # 0.030 and 0.035 lower on both pairs
        "ls:no-loss": "reproduced",        # +0.1, +0.2 within margin 1.0
        "ls:lower-nll": "contradicted",    # 0.5 vs 0.4 on every seed
        "ls:ema-helps": "reproduced",      # ema 0.5 and 0.6 below its own arm
        "ls:throughput": "reproduced",     # ratio 0.95 > 0.5
        "ls:mixup-helps": "no data",       # arm never run
    }
    assert "Not run at profile cpu yet (no records): nothing." in results[1].read_text()


def test_report_top_and_sections(results):
    text = results[1].read_text()
    head = text[:600]
    assert "profile: cpu" in head and "deadbeef" in head and "threads=2" in head
    assert "base 0.061, ls01 0.024 (Müller 2019, Table 3)" in text
    assert "cpu: fashion_mnist[1000], cifar_resnet(depth=8), 3 ep" in text
    assert "ls01 seed 2: diverged: loss is nan at step 17" in text
    assert "ls01: diverged seed(s) [2] excluded |" in text
    assert "| ls01/ema | 7.8 ± 0.28 |" in text   # predictor row of the arms table
    assert "](ls/curves.png)" in text and "](ls/lr.png)" in text


def test_claim_csv_has_per_seed_values(results):
    df = pd.read_csv(results[0] / "cpu" / "ls" / "lower-ece.csv")
    seeds = df[df["seed"].isin(["0", "1", "2"])].set_index("seed")
    assert seeds.loc["0", "treatment"] == pytest.approx(0.020)
    assert seeds.loc["1", "baseline"] == pytest.approx(0.060)
    assert seeds.loc["1", "difference"] == pytest.approx(-0.035)
    assert seeds.loc["2", "treatment_status"] == "diverged" and pd.isna(seeds.loc["2", "treatment"])
    summary = df.set_index("seed")
    assert float(summary.loc["mean", "baseline"]) == pytest.approx(0.055)
    assert float(summary.loc["estimate", "difference"]) == pytest.approx(-0.0325)
    md = (results[0] / "cpu" / "ls" / "lower-ece.md").read_text()
    assert "| 1 | 0.025 | 0.06 | -0.035 | ok | ok |" in md


def test_pngs_are_small_valid_images(results):
    pngs = sorted((results[0] / "cpu").rglob("*.png"))
    assert len(pngs) == 2 + 5   # curves, lr, one per claim with data
    for png in pngs:
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size < 100_000
        assert matplotlib.image.imread(png).shape[0] > 100


def test_report_is_rewritten_idempotently(results):
    root, report = results
    before = verdicts(report)
    assert verdicts(write_report(root, "cpu", {"ls": SPEC, "nothing": EMPTY_SPEC})) == before


def test_nan_metric_is_dropped_and_missing_metric_is_not_data(tmp_path):
    for seed in range(3):
        write(tmp_path, record("base", seed, 8.0 + seed / 10, 0.05))
        write(tmp_path, record("ls01", seed, math.nan if seed == 1 else 7.0 + seed / 10, 0.02))
    df = load_records(tmp_path, "cpu")
    v, table = judge_claim(df, claim("c", "test_error", "ls01", "base"))
    assert v.verdict == "reproduced" and v.n == 2 and "non-finite" in v.note
    assert list(table["treatment_status"]) == ["ok", "ok", "ok"] and table["difference"].isna().sum() == 1
    v, table = judge_claim(df, claim("c", "test_error", "ls01/swa", "base"))
    assert v.verdict == "no data" and set(table["treatment_status"]) == {"missing metric"}
