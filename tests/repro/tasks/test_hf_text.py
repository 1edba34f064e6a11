"""hf/<dataset> text data for the text-classification task (repro/tasks/text/hf.py), on a fixture saved
with `datasets` itself."""

import json

import datasets
import pytest

from repro.cli import SPEC_DIR, main
from repro.errors import UserError
from repro.spec import load_spec
from repro.spec.overrides import OverrideError, parse_overrides, resolve_overridden
from repro.tasks.text.hf import hf_dataset

WORDS = {0: "awful bad", 1: "great good"}


def save_texts(folder, train_labels, test_labels):
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["neg", "pos"])})
    datasets.DatasetDict({
        split: datasets.Dataset.from_dict({"sentence": [f"{WORDS[y]} film {i}" for i, y in enumerate(labels)],
                                           "label": labels}, features=features)
        for split, labels in (("train", train_labels), ("test", test_labels))}).save_to_disk(str(folder))


def test_a_saved_text_dataset_gives_texts_labels_and_class_names(tmp_path):
    save_texts(tmp_path / "reviews", [0, 1, 1, 0, 1, 0], [1, 0])
    corpus = hf_dataset(f"hf/{tmp_path / 'reviews'}")(tmp_path, text_column="sentence", subset=4)
    assert corpus.classes == ["neg", "pos"] and corpus.name == f"hf/{tmp_path / 'reviews'}"
    assert len(corpus.train_texts) == 4 and len(corpus.test_texts) == 2
    for text, label in zip(corpus.train_texts + corpus.test_texts, corpus.train_labels + corpus.test_labels,
                           strict=True):
        assert text.startswith(WORDS[label])


def test_a_missing_text_column_is_one_line(tmp_path):
    save_texts(tmp_path / "reviews", [0, 1], [1, 0])
    with pytest.raises(UserError, match=r"data.text_column: 'text': .* sentence, label"):
        hf_dataset(f"hf/{tmp_path / 'reviews'}")(tmp_path)


def _resolve(*texts):
    spec = load_spec(SPEC_DIR / "ulmfit_amazon.yaml")
    return resolve_overridden(spec, "smoke", parse_overrides(list(texts)))


def test_text_specs_accept_hf_data_with_its_columns_and_reject_unknown_keys():
    configs = _resolve("data={name: hf/stanfordnlp/imdb, text_column: text, max_len: 32}")
    assert {c.data.name for c in configs.values()} == {"hf/stanfordnlp/imdb"}
    with pytest.raises(OverrideError, match="unknown argument; allowed arguments of dataset"):
        _resolve("data={name: hf/stanfordnlp/imdb, image_column: img}")


@pytest.mark.slow
def test_a_text_spec_runs_on_a_saved_hf_dataset(tmp_path, one_thread):
    save_texts(tmp_path / "reviews", [0, 1] * 48, [0, 1] * 16)
    data = f"data={{name: hf/{tmp_path / 'reviews'}, text_column: sentence, max_len: 16}}"
    args = ["--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data"), "--device", "cpu", "--no-report"]
    assert main(["run", "ulmfit_amazon", "--profile", "smoke", "--arms", "full", "--set", data, *args]) == 0
    runs = tmp_path / "res" / "runs" / "ulmfit_amazon" / "smoke"
    rec = json.loads((runs / "full" / "seed0.json").read_text())
    assert rec["status"] == "ok" and rec["config"]["data"]["name"] == f"hf/{tmp_path / 'reviews'}"
