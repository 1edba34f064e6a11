"""Text classification data from Hugging Face `datasets` by name (repro/tasks/hf.py):
`data: {name: hf/<dataset>, text_column: text, label_column: label}` in a text-classification spec."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from repro.errors import UserError
from repro.tasks.hf import class_ids, column, dataset_id, load_splits
from repro.tasks.text.corpus import TextCorpus


def hf_text(dataset: str, data_root: Path, device=None, subset: int | None = None,
            test_subset: int | None = None, max_len: int = 128, text_column: str = "text",
            label_column: str = "label", train_split: str = "train", test_split: str = "test") -> TextCorpus:
    """The texts and labels of `hf/<dataset>` (max_len is applied by the task, which tokenizes; subset /
    test_subset take the first n of a fixed hash order, as for the other corpora)."""
    train, test = load_splits(dataset, Path(data_root), train_split, test_split)
    classes, train_y, test_y = class_ids(train, test, label_column, dataset)
    train_x, test_x = (list(column(s, text_column, "text_column", dataset)) for s in (train, test))
    bad = next((t for t in train_x + test_x if not isinstance(t, str)), None)
    if bad is not None:
        raise UserError(f"data.text_column: {text_column!r}: hf/{dataset} holds {type(bad).__name__} values "
                        "there, not text")
    return TextCorpus(f"hf/{dataset}", classes, train_x, train_y, test_x, test_y).first(subset, test_subset)


def hf_dataset(name: object) -> Callable[..., TextCorpus] | None:
    """The loader of `hf/<dataset>` (None for another name; LookupError for a bare `hf/`)."""
    dataset = dataset_id(name)
    return None if dataset is None else functools.partial(hf_text, dataset)
