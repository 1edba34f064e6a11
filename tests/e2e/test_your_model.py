"""The acceptance run of issue #15: label_smoothing's smoke profile on timm's resnet18 trains and reports."""

import json

import pytest

from repro.cli import main


@pytest.mark.slow
def test_label_smoothing_smoke_on_timm_resnet18(tmp_path, one_thread):
    res = tmp_path / "res"
    argv = ["run", "label_smoothing", "--profile", "smoke", "--set", "model={name: timm/resnet18}",
            "--results-dir", str(res), "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"]
    assert main(argv) == 0
    records = sorted((res / "runs" / "label_smoothing" / "smoke").glob("*/seed*.json"))
    assert len(records) == 4   # 2 arms x 2 seeds
    for path in records:
        rec = json.loads(path.read_text())
        assert rec["status"] == "ok" and rec["config"]["model"] == {"name": "timm/resnet18"}
    assert "timm/resnet18" in (res / "smoke" / "report.md").read_text()
