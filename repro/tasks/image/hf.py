"""Image classification data from Hugging Face `datasets` (repro/tasks/hf.py): the image column decoded to
uint8 NCHW tensors, the label column to class ids; repro.tasks.image.data.hf_images puts them on the device
like the built-in datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from repro.errors import UserError
from repro.tasks.hf import class_ids, column, load_splits

GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")   # PIL modes read as one channel; the others as RGB


def hf_arrays(dataset: str, data_root: Path, image_column: str, label_column: str, train_split: str,
              test_split: str, image_size: int | None) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
    """(train images, train labels, test images, test labels, number of classes) of `hf/<dataset>`:
    images uint8 [N, C, H, W], labels int64."""
    if image_size is not None and image_size < 1:
        raise UserError(f"data.image_size: {image_size}: must be a positive number of pixels")
    train, test = load_splits(dataset, Path(data_root), train_split, test_split)
    classes, train_y, test_y = class_ids(train, test, label_column, dataset)
    train_images = column(train, image_column, "image_column", dataset)
    mode = _mode(train_images[0] if len(train_images) else None, dataset)
    test_images = column(test, image_column, "image_column", dataset)
    out = []
    for images, labels in ((train_images, train_y), (test_images, test_y)):
        out += [_pixels(images, mode, image_size, dataset), torch.tensor(labels, dtype=torch.int64)]
    if out[0].shape[1:] != out[2].shape[1:]:
        raise UserError(f"data.image_size: hf/{dataset}: train images are {_shape(out[0])}, test images "
                        f"{_shape(out[2])}; set data.image_size to resize both to a square")
    return *out, len(classes)


def _mode(first, dataset: str) -> str:
    if first is None:
        raise UserError(f"data.train_split: hf/{dataset}: the training split is empty")
    if not hasattr(first, "convert"):
        raise UserError(f"data.image_column: hf/{dataset}: holds {type(first).__name__} values, not images "
                        "(a datasets Image feature)")
    return "L" if first.mode in GREY_MODES else "RGB"


def _pixels(images: list, mode: str, image_size: int | None, dataset: str) -> Tensor:
    """PIL images -> uint8 [N, C, H, W] in `mode`, resized to image_size x image_size when given."""
    arrays = []
    for img in images:
        img = img.convert(mode)
        if image_size is not None and img.size != (image_size, image_size):
            img = img.resize((image_size, image_size), resample=2)   # 2 = PIL.Image.BILINEAR
        arrays.append(np.asarray(img, dtype=np.uint8))
    sizes = {a.shape for a in arrays}
    if len(sizes) > 1:
        a, b = sorted(sizes)[:2]
        raise UserError(f"data.image_size: hf/{dataset}: images of different sizes ({a[1]}x{a[0]}, "
                        f"{b[1]}x{b[0]}, ...); set data.image_size to resize them to a square")
    x = torch.from_numpy(np.stack(arrays)) if arrays else torch.zeros(0, 1, 1, dtype=torch.uint8)
    return x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()


def _shape(x: Tensor) -> str:
    return "x".join(str(d) for d in x.shape[1:])
