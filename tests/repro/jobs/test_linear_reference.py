"""The linear reference of an image spec (issue #29): the JSON the judge reads, the error it records
against an independent fit and a separable problem, the reuse on a second call, non-image specs skipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sklearn.linear_model import LogisticRegression
from tiny_spec import write_tiny_spec, write_tiny_translation_spec

from repro.jobs import linear_reference as lr
from repro.judge.linear_reference import linear_reference_path, read_linear_reference
from repro.spec import SPEC_DIR, load_spec, resolve
from repro.tasks.image.data import load_dataset

KEYS = {"test_error", "train_error", "train_images", "test_images", "arm", "data", "estimator", "sklearn",
        "seconds", "created_at"}


def _tiny(tmp_path: Path, **data) -> Path:
    path = write_tiny_spec(tmp_path / "tiny.yaml", {"plain": {}, "other": {}}, "other", "plain")
    spec = yaml.safe_load(path.read_text())
    spec["base"]["data"] = {"name": "synthetic_images", "train_size": 200, "test_size": 100,
                            "image_size": 6, "channels": 1, **data}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_writes_the_json_the_judge_reads_with_the_loaded_data_counts(tmp_path):
    spec = load_spec(SPEC_DIR / "label_smoothing.yaml")
    path = lr.fit_linear_reference(spec, "smoke", tmp_path, tmp_path / "data")
    assert path == linear_reference_path(tmp_path, "label_smoothing", "smoke") and path.exists()
    out = json.loads(path.read_text())
    assert KEYS <= set(out) and read_linear_reference(tmp_path, "label_smoothing", "smoke") == out
    cfg = resolve(spec, "smoke")["hard"]   # the regime arm
    data = load_dataset(cfg.data.model_dump(), tmp_path / "data", "cpu")
    assert out["arm"] == "hard" and out["data"] == cfg.data.model_dump()
    assert (out["train_images"], out["test_images"]) == (len(data.train_y), len(data.test_y)) == (256, 256)
    assert 0 <= out["train_error"] <= out["test_error"] < 90 and out["estimator"] == lr.ESTIMATOR


def test_error_matches_an_independent_fit_on_the_same_arrays(tmp_path):
    spec = load_spec(_tiny(tmp_path, noise=3.0))
    out = json.loads(lr.fit_linear_reference(spec, "smoke", tmp_path, tmp_path).read_text())
    assert out["arm"] == "plain"   # no regime arm: the first claim's baseline
    data = load_dataset(resolve(spec, "smoke")["plain"].data.model_dump(), tmp_path, "cpu")
    x, y = data.train_x.reshape(len(data.train_x), -1).numpy(), data.train_y.numpy()
    tx, ty = data.test_x.reshape(len(data.test_x), -1).numpy(), data.test_y.numpy()
    mine = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    assert out["test_error"] == pytest.approx(100 * np.mean(mine.predict(tx) != ty))
    assert out["train_error"] == pytest.approx(100 * np.mean(mine.predict(x) != y))
    assert 0 < out["test_error"] < 90    # noisy: neither trivial nor chance (10 classes)


def test_separable_problem_has_zero_error(tmp_path):
    # noise 0: every image is its class's prototype, ten distinct points, linearly separable
    spec = load_spec(_tiny(tmp_path, noise=0.0))
    out = json.loads(lr.fit_linear_reference(spec, "smoke", tmp_path, tmp_path).read_text())
    assert out["test_error"] == out["train_error"] == 0.0 and out["converged"]
    # a hand-made separable problem through the same fit: class = sign of the first feature
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=g)
    x[:, 0] += torch.where(x[:, 0] > 0, 1.0, -1.0)
    y = (x[:, 0] > 0).long()
    model, _ = lr.fit_logistic(x.numpy(), y.numpy())
    assert lr.error_percent(model, x.numpy(), y.numpy()) == 0.0


def test_second_call_reuses_the_file_and_a_new_data_config_refits(tmp_path, monkeypatch):
    spec_path = _tiny(tmp_path)
    path = lr.fit_linear_reference(load_spec(spec_path), "smoke", tmp_path, tmp_path)
    before, mtime = path.read_text(), path.stat().st_mtime_ns

    def no_fit(*a, **k):
        raise AssertionError("refitted")

    monkeypatch.setattr(lr, "fit_logistic", no_fit)
    assert lr.fit_linear_reference(load_spec(spec_path), "smoke", tmp_path, tmp_path) == path
    assert path.read_text() == before and path.stat().st_mtime_ns == mtime
    monkeypatch.undo()
    new = load_spec(_tiny(tmp_path, noise=0.5))    # same spec id and profile, other data: fitted again
    lr.fit_linear_reference(new, "smoke", tmp_path, tmp_path)
    assert json.loads(path.read_text())["data"]["noise"] == 0.5


def test_explicit_arm_and_non_image_specs(tmp_path):
    spec = load_spec(_tiny(tmp_path))
    out = json.loads(lr.fit_linear_reference(spec, "smoke", tmp_path, tmp_path, arm="other").read_text())
    assert out["arm"] == "other"
    mt = load_spec(write_tiny_translation_spec(tmp_path / "mt.yaml", {"a": {}, "b": {}}, "a", "b"),
                   check_registries=False)
    assert lr.fit_linear_reference(mt, "smoke", tmp_path, tmp_path) is None
    assert not linear_reference_path(tmp_path, "mt", "smoke").exists()
