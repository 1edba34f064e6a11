"""hf/<dataset> image data (repro/tasks/hf.py, repro/tasks/image/hf.py) on fixtures saved with `datasets`
itself: a save_to_disk folder, and the Hub path (datasets.load_dataset) answered by the same fixture."""

import datasets
import numpy as np
import pytest
import torch
from PIL import Image
from tiny_spec import write_tiny_spec

from repro.cli import main
from repro.errors import UserError
from repro.tasks.image.data import load_dataset

CLASS_PIXEL = {0: 50, 1: 150}   # every pixel of a class-0 image is 50, of a class-1 image 150


def _images(labels, size=(28, 28), mode="L", pixel=None):
    return [Image.fromarray(np.full((size[1], size[0], *(() if mode == "L" else (3,))),
                                    CLASS_PIXEL[y] if pixel is None else pixel, dtype=np.uint8), mode)
            for y in labels]


def save_fixture(folder, train_labels, test_labels, mode="L", test_pixel=100, label_feature=None):
    features = datasets.Features({"img": datasets.Image(),
                                  "label": label_feature or datasets.ClassLabel(names=["cat", "dog"])})
    splits = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"img": _images(train_labels, mode=mode), "label": train_labels},
                                            features=features),
        "test": datasets.Dataset.from_dict({"img": _images(test_labels, mode=mode, pixel=test_pixel),
                                            "label": test_labels}, features=features)})
    splits.save_to_disk(str(folder))
    return splits


def test_a_saved_dataset_loads_as_normalised_tensors(tmp_path):
    save_fixture(tmp_path / "tiny", [0, 1, 0, 1], [1, 0])
    data = load_dataset({"name": f"hf/{tmp_path / 'tiny'}", "image_column": "img"}, tmp_path / "data", "cpu")
    assert (data.num_classes, data.in_channels, data.image_size) == (2, 1, 28)
    assert data.train_x.shape == (4, 1, 28, 28) and data.train_x.dtype == torch.float32
    # train pixels 50 and 150 in equal numbers: mean 100, std 50 -> -1 and +1; the test pixel 100 -> 0
    assert torch.allclose(data.train_x[:, 0, 0, 0], torch.tensor([-1.0, 1.0, -1.0, 1.0]))
    assert torch.allclose(data.test_x, torch.zeros_like(data.test_x), atol=1e-6)
    assert data.train_y.tolist() == [0, 1, 0, 1] and data.test_y.tolist() == [1, 0]


def test_the_hub_path_calls_load_dataset_with_the_cache_under_data_root(tmp_path, monkeypatch):
    splits = save_fixture(tmp_path / "saved", [0, 1, 1, 0], [0, 1], mode="RGB")
    calls = []

    def fake_load_dataset(name, **kwargs):   # the Hub, answered by the fixture
        calls.append((name, kwargs))
        return splits

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    cfg = {"name": "hf/someone/tiny", "image_column": "img", "subset": 2}
    data = load_dataset(cfg, tmp_path / "data", "cpu")
    assert calls == [("someone/tiny", {"cache_dir": str(tmp_path / "data" / "hf")})]
    assert data.train_x.shape == (2, 3, 28, 28) and sorted(data.train_y.tolist()) == [0, 1]
    assert data.name == "hf/someone/tiny"


def test_string_labels_are_numbered_in_sorted_order(tmp_path):
    folder = tmp_path / "strings"
    features = datasets.Features({"img": datasets.Image(), "label": datasets.Value("string")})
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"img": _images([0, 1]), "label": ["dog", "cat"]},
                                            features=features),
        "test": datasets.Dataset.from_dict({"img": _images([1]), "label": ["cat"]}, features=features),
    }).save_to_disk(str(folder))
    data = load_dataset({"name": f"hf/{folder}", "image_column": "img"}, tmp_path, "cpu")
    assert data.train_y.tolist() == [1, 0] and data.test_y.tolist() == [0] and data.num_classes == 2


@pytest.mark.parametrize(("cfg", "words"), [
    ({"image_column": "image"}, ["data.image_column", "'image'", "img, label"]),
    ({"image_column": "img", "test_split": "validation"}, ["data.test_split", "train, test"]),
    ({"image_column": "img", "label_column": "target"}, ["data.label_column", "img, label"]),
])
def test_wrong_columns_and_splits_are_one_line_naming_what_is_there(tmp_path, cfg, words):
    save_fixture(tmp_path / "tiny", [0, 1], [0, 1])
    with pytest.raises(UserError) as err:
        load_dataset({"name": f"hf/{tmp_path / 'tiny'}", **cfg}, tmp_path, "cpu")
    assert "\n" not in str(err.value) and all(w in str(err.value) for w in words), str(err.value)


def test_images_of_different_sizes_need_image_size(tmp_path):
    folder = tmp_path / "sizes"
    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=["a", "b"])})
    mixed = _images([0], size=(28, 28)) + _images([1], size=(20, 24))
    datasets.DatasetDict({s: datasets.Dataset.from_dict({"img": mixed, "label": [0, 1]}, features=features)
                          for s in ("train", "test")}).save_to_disk(str(folder))
    with pytest.raises(UserError, match="set data.image_size"):
        load_dataset({"name": f"hf/{folder}", "image_column": "img"}, tmp_path, "cpu")
    data = load_dataset({"name": f"hf/{folder}", "image_column": "img", "image_size": 16}, tmp_path, "cpu")
    assert data.train_x.shape == (2, 1, 16, 16)


def test_unreachable_hub_is_one_line(tmp_path, monkeypatch):
    def offline(name, **kwargs):
        raise ConnectionError(f"Couldn't reach '{name}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UserError, match=r"hf/someone/tiny: cannot load it .*Couldn't reach") as err:
        load_dataset({"name": "hf/someone/tiny"}, tmp_path, "cpu")
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_a_spec_runs_on_a_saved_hf_dataset(tmp_path, one_thread):
    save_fixture(tmp_path / "tiny", [0, 1] * 32, [0, 1] * 8)
    spec = write_tiny_spec(tmp_path / "tiny_hf.yaml", {"plain": {}, "other": {"optimizer": {"lr": 0.1}}},
                           "other", "plain")
    data = f"data={{name: hf/{tmp_path / 'tiny'}, image_column: img, label_column: label}}"
    dirs = ["--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data")]
    argv = ["run", str(spec), "--profile", "smoke", "--device", "cpu", "--set", data, "--set", "epochs=1",
            *dirs]
    assert main(argv) == 0
    assert len(list((tmp_path / "res" / "runs" / "tiny_hf" / "smoke").glob("*/seed0.json"))) == 2
