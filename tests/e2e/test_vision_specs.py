"""The vision specs (snapshot ensembles, FreezeOut, mixup): their paper profiles say what the papers say,
every profile resolves, and the smoke profile runs end to end through the `repro` command, ending with
ok records and a report that gives every claim a verdict."""

import json
import re
from pathlib import Path

import pytest

from repro.cli import SPEC_DIR, main
from repro.judge.records import load_records
from repro.spec import load_spec, resolve

SPECS = ("snapshot_ensembles", "freezeout", "mixup")
VERDICTS = {"not judged"}          # the smoke profile is a plumbing check: never judged


pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]


@pytest.mark.parametrize("name", SPECS)
def test_every_profile_resolves_and_cpu_is_fashion_mnist_with_3_seeds(name):
    spec = load_spec(SPEC_DIR / f"{name}.yaml")
    assert {"smoke", "cpu", "paper"} <= set(spec.profiles)
    for profile in spec.profiles:
        assert set(resolve(spec, profile)) == set(spec.arms)
    assert spec.seeds("cpu") >= 3
    assert {c.data.name for c in resolve(spec, "cpu").values()} == {"fashion_mnist"}
    assert (SPEC_DIR / f"{name}.md").is_file()


def test_snapshot_paper_profile_is_huang_et_al():
    cfg = resolve(load_spec(SPEC_DIR / "snapshot_ensembles.yaml"), "paper")
    single, snap = cfg["single"], cfg["snap02"]
    assert (single.model.name, single.model.depth, single.data.name) == ("cifar_resnet", 110, "cifar10")
    assert (single.epochs, single.batch_size, single.optimizer.lr, snap.optimizer.lr) == (200, 64, 0.1, 0.2)
    assert snap.schedule.model_dump() == {"name": "snapshot_cosine", "cycles": 5}
    assert cfg["snap01"].optimizer.lr == 0.1
    budget = cfg["indep_budget"]
    assert budget.ensemble.members * budget.epochs == single.epochs   # M runs of B/M epochs
    assert cfg["indep_full"].ensemble.members == 5 and cfg["indep_full"].epochs == 200


def test_freezeout_paper_profile_is_the_official_code():
    cfg = resolve(load_spec(SPEC_DIR / "freezeout.yaml"), "paper")
    dense = cfg["densenet_cubic_t80"]
    assert dense.model.model_dump() == {"name": "densenet_bc", "depth": 76, "growth_rate": 12}
    assert (dense.data.name, dense.batch_size, dense.epochs) == ("cifar100", 50, 100)
    assert (dense.optimizer.lr, dense.optimizer.nesterov, dense.optimizer.weight_decay) == (0.1, True, 1e-4)
    assert dense.tricks[0].model_dump() == {"name": "freezeout", "t0": 0.8, "mode": "cubic", "scale_lr": True}
    assert cfg["densenet_baseline"].schedule.name == "cosine" and not cfg["densenet_baseline"].tricks


def test_mixup_paper_profile_is_zhang_et_al():
    cfg = resolve(load_spec(SPEC_DIR / "mixup.yaml"), "paper")
    mix = cfg["mixup"]
    assert (mix.model.name, mix.data.name, mix.epochs, mix.batch_size) == ("preact_resnet18", "cifar10", 200,
                                                                            128)
    assert (mix.optimizer.lr, mix.optimizer.weight_decay) == (0.1, 1e-4)
    assert mix.tricks[0].model_dump() == {"name": "mixup", "alpha": 1.0} and not cfg["erm"].tricks


def _verdicts(report: Path, spec_id: str) -> dict[str, str]:
    """claim id -> verdict for one spec, from the verdicts.json beside the report."""
    entries = json.loads((report.parent / "verdicts.json").read_text())["claims"]
    return {e["claim"]: e["verdict"] for e in entries if e["spec"] == spec_id}


def _run_smoke(name: str, tmp_path: Path):
    args = ["run", name, "--profile", "smoke", "--results-dir", str(tmp_path / "results"),
            "--cache-dir", str(tmp_path / "cache"), "--data-root", str(tmp_path / "data")]
    assert main(args) == 0
    spec = load_spec(SPEC_DIR / f"{name}.yaml")
    records = load_records(tmp_path / "results", "smoke")
    records = records[records["spec"] == spec.id]
    assert len(records) == len(spec.arms) * spec.seeds("smoke")
    assert set(records["status"]) == {"ok"}, records[["arm", "status", "reason"]]
    report = tmp_path / "results" / "smoke" / "report.md"
    verdicts = _verdicts(report, spec.id)
    assert set(verdicts) == {c.id for c in spec.claims} and set(verdicts.values()) <= VERDICTS
    assert not list((tmp_path / "cache").rglob("*.pt")), "finished jobs leave no checkpoints"
    return spec, records.set_index("arm"), report.read_text()


def test_snapshot_ensembles_smoke(tmp_path):
    spec, rec, report = _run_smoke("snapshot_ensembles", tmp_path)
    assert rec.loc["indep_budget", "steps"] == rec.loc["single", "steps"]        # equal budget
    assert rec.loc["indep_full", "steps"] == 5 * rec.loc["single", "steps"]
    for arm, key in (("snap02", "snapshot_ensemble"), ("indep_full", "ensemble")):
        extra = rec.loc[arm, "extra"]
        assert extra[f"{key}/forward_passes"] == 5
        assert {f"{key}/member{i}/test_error" for i in range(1, 6)} <= extra.keys()
        assert 0 <= extra[f"{key}/mean_disagreement"] <= 1
    full = rec.loc["indep_full"]
    assert full["final"]["test_error"] == full["extra"]["ensemble/last5/test_error"]
    assert "### Extra metrics" in report and "| mean_disagreement |" in report


def test_freezeout_smoke(tmp_path):
    spec, rec, report = _run_smoke("freezeout", tmp_path)
    for arm in spec.arms:
        if "baseline" not in arm:
            saving = rec.loc[arm, "extra"]["freezeout/estimated_saving_flops"]
            assert 0 < saving < 0.5 and rec.loc[arm, "extra"]["freezeout/frozen_groups"] >= 1
    table = (tmp_path / "results/smoke/freezeout/speedup.csv").read_text()
    assert len(table.strip().splitlines()) == 1 + len(spec.arms)
    assert (tmp_path / "results/smoke/freezeout/speedup.png").is_file()
    assert re.search(r"\| vgg16\(width=4\) \| vgg_cubic_t50 \| ×[0-9.]+ ", report)


def test_mixup_smoke(tmp_path):
    spec, rec, report = _run_smoke("mixup", tmp_path)
    cfg = json.loads(json.dumps(rec.loc["mixup", "config"].iloc[0]))
    assert cfg["tricks"] == [{"name": "mixup", "alpha": 1.0}]
    assert "test_ece" in rec.loc["erm", "final"].iloc[0]
