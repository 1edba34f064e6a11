"""Hugging Face `datasets` by name for the classification tasks: `data: {name: hf/<dataset>, ...}`.

`<dataset>` is a Hub id, loaded through `datasets.load_dataset(<dataset>, cache_dir=<data_root>/hf)` (the
download happens once; offline, the cache answers), or the path of a folder written by
`DatasetDict.save_to_disk`, loaded with `datasets.load_from_disk`. The spec names the columns and splits.
`datasets` is imported when such a dataset is loaded, not before: most runs never need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repro.errors import UserError

PREFIX = "hf/"
CACHE_SUBDIR = "hf"   # under --data-root


def dataset_id(name: object) -> str | None:
    """The `<dataset>` of `hf/<dataset>`; None for another name; LookupError for an empty one."""
    if not isinstance(name, str) or not name.startswith(PREFIX):
        return None
    if not name.removeprefix(PREFIX).strip():
        raise LookupError("name a Hugging Face dataset after hf/, e.g. hf/uoft-cs/cifar10 "
                          "(https://huggingface.co/datasets) or a folder written by save_to_disk")
    return name.removeprefix(PREFIX)


def load_splits(dataset: str, data_root: Path, train_split: str, test_split: str) -> tuple[Any, Any]:
    """The train and test `datasets.Dataset` of `dataset` (a Hub id or a save_to_disk folder)."""
    import datasets

    folder = Path(dataset).expanduser()
    try:
        if (folder / "dataset_dict.json").is_file():   # written by DatasetDict.save_to_disk
            splits = datasets.load_from_disk(str(folder))
        else:
            splits = datasets.load_dataset(dataset, cache_dir=str(Path(data_root) / CACHE_SUBDIR))
    except (ConnectionError, OSError, ValueError) as err:
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise UserError(f"data.name: hf/{dataset}: cannot load it through Hugging Face datasets ({reason}); "
                        f"run once with internet (it is cached under {Path(data_root) / CACHE_SUBDIR}) or "
                        "name a folder written by DatasetDict.save_to_disk") from None
    for split in (train_split, test_split):
        if split not in splits:
            field = "train_split" if split == train_split else "test_split"
            raise UserError(f"data.{field}: {split!r}: hf/{dataset} has the splits {', '.join(splits)}")
    return splits[train_split], splits[test_split]


def column(split: Any, name: str, field: str, dataset: str) -> list:
    """The values of a column, or a one-line error naming the columns there are."""
    if name not in split.column_names:
        columns = ", ".join(split.column_names)
        raise UserError(f"data.{field}: {name!r}: hf/{dataset} has the columns {columns}")
    return split[name]


def class_ids(train: Any, test: Any, label_column: str,
              dataset: str) -> tuple[list[str], list[int], list[int]]:
    """(class names, train labels, test labels) as ids 0..K-1: a ClassLabel column keeps its names and ids;
    other labels (integers or strings) are numbered in sorted order of the values both splits hold."""
    train_values = column(train, label_column, "label_column", dataset)
    test_values = column(test, label_column, "label_column", dataset)
    names = getattr(train.features[label_column], "names", None)
    if names:
        return list(names), [int(v) for v in train_values], [int(v) for v in test_values]
    values = sorted(set(train_values) | set(test_values))
    index = {v: i for i, v in enumerate(values)}
    return [str(v) for v in values], [index[v] for v in train_values], [index[v] for v in test_values]
