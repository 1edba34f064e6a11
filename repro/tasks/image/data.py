"""Image datasets as tensors on the device, and batched on-device augmentation.

Every loader returns an `ImageData`: float32 NCHW images normalised per channel with the mean and std of
the training set it returns, integer labels, all on the device. Augmentation follows the CIFAR recipe
of He et al. 2016 (arXiv 1512.03385, Sec. 4.2): pad 4 pixels with zeros, crop at a random offset back to
the original size, flip horizontally with p = 0.5. It is done on whole batches with random numbers drawn
on the CPU from an explicit torch.Generator, so a seed gives the same batches on every device.
"""

from __future__ import annotations

import functools
import gzip
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor

from repro.errors import UserError
from repro.tasks.hf import dataset_id
from repro.tasks.image.hf import hf_arrays

AUGMENTATIONS = ("pad_crop", "hflip")
PAD = 4  # pixels of zero padding before the random crop (He et al. 2016)
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist
SUBSET_SEED = 0  # the fixed subsets are the same for every run seed


@dataclass
class ImageData:
    """A classification set held on the device: float32 NCHW, normalised per channel."""

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    num_classes: int
    in_channels: int
    image_size: int
    name: str


# ----------------------------------------------------------------------------- reading files


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file of uint8 data (LeCun's MNIST format), gzipped or not.

    Layout: two zero bytes, a type byte (0x08 = uint8), the number of dimensions, one big-endian uint32
    per dimension, then the data in C order.
    """
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise UserError(f"{path}: not an IDX file of uint8 data (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(dims)):
        raise UserError(f"{path}: IDX header says {dims} but holds {data.size} bytes of data")
    return data.reshape(dims)


def _torchvision(cls: type, root: Path, train: bool, hint: str):
    """A torchvision dataset from `root`, downloading it there if it is not there yet."""
    try:
        return cls(root, train=train, download=False)
    except RuntimeError:  # torchvision's "Dataset not found or corrupted"
        pass
    try:
        return cls(root, train=train, download=True)
    except (OSError, RuntimeError) as e:
        reason = " ".join(str(e).split())[:300] or type(e).__name__
        raise UserError(f"{cls.__name__} is not in {root} and the download failed ({reason}); {hint}") from e


def _idx_split(prefix: str) -> tuple[Tensor, Tensor]:
    """Images [N, 1, H, W] uint8 and labels int64 of one split of the Debian Fashion-MNIST files."""
    images = read_idx(DEBIAN_FASHION_MNIST / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(DEBIAN_FASHION_MNIST / f"{prefix}-labels-idx1-ubyte.gz")
    return torch.from_numpy(images.copy())[:, None], torch.from_numpy(labels.astype(np.int64))


def _fashion_mnist_arrays(data_root: Path) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    names = [f"{s}-{k}-ubyte.gz" for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")]
    if all((DEBIAN_FASHION_MNIST / n).exists() for n in names):
        return (*_idx_split("train"), *_idx_split("t10k"))
    hint = "install the Debian package (apt-get install dataset-fashion-mnist) or run once with internet"
    splits = [_torchvision(torchvision.datasets.FashionMNIST, data_root, t, hint) for t in (True, False)]
    return splits[0].data[:, None], splits[0].targets, splits[1].data[:, None], splits[1].targets


def _cifar_arrays(cls: type, data_root: Path) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
    hint = (f"run once with internet, or extract {cls.filename} from {cls.url} "
            f"so that {Path(data_root) / cls.base_folder} exists")
    out = []
    for train in (True, False):
        ds = _torchvision(cls, data_root, train, hint)
        out += [torch.from_numpy(ds.data).permute(0, 3, 1, 2), torch.as_tensor(ds.targets, dtype=torch.int64)]
    return *out, len(ds.classes)


# ----------------------------------------------------------------------------- subsets and assembly


def balanced_subset(labels: Tensor, n: int, seed: int = SUBSET_SEED, field: str = "data.subset") -> Tensor:
    """Sorted indices of a fixed subset of `n` examples with the classes as balanced as the data allows.

    Labels are class ids 0..K-1. Each class gets n // K examples, the remainder going one each to the larger
    classes; a class with too few gives all it has and the others make up the difference. Within a class
    the examples are the first ones of a permutation drawn from a generator seeded with `seed`, so the
    subset depends only on the labels, and a smaller subset is contained in a larger one.
    """
    if not 0 < n <= len(labels):
        raise UserError(f"{field}: {n}: must be between 1 and the {len(labels)} examples of the split")
    counts = torch.bincount(labels)
    quota, left = {}, n
    for i, c in enumerate(torch.argsort(counts, stable=True).tolist()):
        quota[c] = min(int(counts[c]), left // (len(counts) - i))
        left -= quota[c]
    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in range(len(counts)):
        members = torch.nonzero(labels == c).squeeze(1)
        picked.append(members[torch.randperm(len(members), generator=g)[: quota[c]]])
    return torch.sort(torch.cat(picked)).values


def _assemble(name: str, arrays: tuple[Tensor, Tensor, Tensor, Tensor], num_classes: int, device,
              subset: int | None, test_subset: int | None) -> ImageData:
    """Subset, move to the device, scale uint8 to [0, 1], normalise with the training set's statistics."""
    train_x, train_y, test_x, test_y = arrays
    if subset is not None:
        keep = balanced_subset(train_y, subset)
        train_x, train_y = train_x[keep], train_y[keep]
    if test_subset is not None:
        keep = balanced_subset(test_y, test_subset, field="data.test_subset")
        test_x, test_y = test_x[keep], test_y[keep]
    device = torch.device(device)
    train_x, test_x = (_to_float(x.to(device)) for x in (train_x, test_x))
    std, mean = torch.std_mean(train_x, dim=(0, 2, 3), correction=0, keepdim=True)
    return ImageData(
        train_x=train_x.sub_(mean).div_(std), train_y=train_y.to(device),
        test_x=test_x.sub_(mean).div_(std), test_y=test_y.to(device),
        num_classes=num_classes, in_channels=train_x.shape[1], image_size=train_x.shape[-1], name=name,
    )


def _to_float(x: Tensor) -> Tensor:
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


# ----------------------------------------------------------------------------- the datasets


def fashion_mnist(data_root: Path, device, subset: int | None = None,
                  test_subset: int | None = None) -> ImageData:
    """Fashion-MNIST (Xiao et al. 2017, arXiv 1708.07747): 10 classes, 60k/10k 28x28 grey images.

    Read from the Debian package's IDX files when present, else through torchvision into data_root.
    """
    return _assemble("fashion_mnist", _fashion_mnist_arrays(Path(data_root)), 10, device, subset, test_subset)


def cifar10(data_root: Path, device, subset: int | None = None, test_subset: int | None = None) -> ImageData:
    """CIFAR-10 (Krizhevsky 2009): 10 classes, 50k/10k 32x32 colour images, via torchvision."""
    *arrays, k = _cifar_arrays(torchvision.datasets.CIFAR10, Path(data_root))
    return _assemble("cifar10", tuple(arrays), k, device, subset, test_subset)


def cifar100(data_root: Path, device, subset: int | None = None, test_subset: int | None = None) -> ImageData:
    """CIFAR-100 (Krizhevsky 2009): 100 fine classes, 50k/10k 32x32 colour images, via torchvision."""
    *arrays, k = _cifar_arrays(torchvision.datasets.CIFAR100, Path(data_root))
    return _assemble("cifar100", tuple(arrays), k, device, subset, test_subset)


def synthetic_images(data_root: Path, device, subset: int | None = None, test_subset: int | None = None,
                     num_classes: int = 10, image_size: int = 16, channels: int = 3,
                     train_size: int = 512, test_size: int = 256, noise: float = 1.0) -> ImageData:
    """Learnable random images for smoke tests: x = prototype[y] + noise * N(0, 1).

    Each class's prototype is a smooth pattern (a 4x4 grid of N(0, 1) values upsampled bilinearly), so it
    survives a few pixels of shift from pad_crop. Fixed seed: the same images for every run seed.
    """
    for key, v in dict(num_classes=num_classes, image_size=image_size, channels=channels,
                       train_size=train_size, test_size=test_size).items():
        if not (isinstance(v, int) and v >= 1):
            raise UserError(f"data.{key}: {v!r}: synthetic_images needs a positive integer")
    g = torch.Generator().manual_seed(0)
    coarse = torch.randn(num_classes, channels, 4, 4, generator=g)
    prototypes = F.interpolate(coarse, size=(image_size, image_size), mode="bilinear", align_corners=False)

    def draw(n: int) -> tuple[Tensor, Tensor]:
        y = torch.randperm(n, generator=g) % num_classes
        return prototypes[y] + noise * torch.randn(n, channels, image_size, image_size, generator=g), y

    arrays = (*draw(train_size), *draw(test_size))
    return _assemble("synthetic_images", arrays, num_classes, device, subset, test_subset)


def hf_images(dataset: str, data_root: Path, device, subset: int | None = None,
              test_subset: int | None = None, image_column: str = "image", label_column: str = "label",
              train_split: str = "train", test_split: str = "test",
              image_size: int | None = None) -> ImageData:
    """An image classification dataset of Hugging Face `datasets`, `data: {name: hf/<dataset>, ...}`
    (repro/tasks/hf.py): the image and label columns and the splits named in the spec; images of different
    sizes are resized to image_size x image_size."""
    *arrays, k = hf_arrays(dataset, Path(data_root), image_column, label_column, train_split, test_split,
                           image_size)
    return _assemble(f"hf/{dataset}", tuple(arrays), k, device, subset, test_subset)


def hf_dataset(name: object) -> Callable[..., ImageData] | None:
    """The loader of `hf/<dataset>` (None for another name; LookupError for a bare `hf/`)."""
    dataset = dataset_id(name)
    return None if dataset is None else functools.partial(hf_images, dataset)


DATASETS: dict[str, Callable[..., ImageData]] = {
    "fashion_mnist": fashion_mnist,
    "cifar10": cifar10,
    "cifar100": cifar100,
    "synthetic_images": synthetic_images,
}
_SHAPES = {"fashion_mnist": (10, 1, 28), "cifar10": (10, 3, 32), "cifar100": (100, 3, 32)}
_TRAIN_SIZES = {"fashion_mnist": 60_000, "cifar10": 50_000, "cifar100": 50_000}


def _loader_kwargs(cfg: dict) -> tuple[Callable[..., ImageData], dict, list[str]]:
    """Split a data config into its loader, the loader's keyword args and the augmentation list."""
    cfg = dict(cfg)
    name, augment = cfg.pop("name", None), list(cfg.pop("augment", None) or [])
    try:
        loader = hf_dataset(name) or DATASETS.get(name)
    except LookupError as e:
        raise UserError(f"data.name: {name!r}: {e}") from None
    if loader is None:
        known = ", ".join([*sorted(DATASETS), "hf/<dataset>"])
        raise UserError(f"data.name: {name!r}: not a dataset; one of {known}")
    check_augment(augment)
    try:
        inspect.signature(loader).bind(None, None, **cfg)
    except TypeError as e:
        raise UserError(f"data: {name}: {e}") from None
    return loader, cfg, augment


def load_dataset(cfg: dict, data_root: Path, device) -> ImageData:
    """Load the dataset a spec's `data:` section names: {"name", "subset", "augment", **loader kwargs}."""
    loader, kwargs, _ = _loader_kwargs(cfg)
    return loader(Path(data_root), device, **kwargs)


def dataset_shape(cfg: dict) -> tuple[int, int, int]:
    """(num_classes, in_channels, image_size) of a data config without loading it (for dry runs)."""
    loader, kwargs, _ = _loader_kwargs(cfg)
    if loader is synthetic_images:
        bound = inspect.signature(loader).bind(None, None, **kwargs)
        bound.apply_defaults()
        return bound.arguments["num_classes"], bound.arguments["channels"], bound.arguments["image_size"]
    _known_size(cfg["name"])
    return _SHAPES[cfg["name"]]


def train_size(cfg: dict) -> int:
    """Training examples a data config gives, without loading it (for dry runs)."""
    loader, kwargs, _ = _loader_kwargs(cfg)
    if loader is synthetic_images:
        full = kwargs.get("train_size", inspect.signature(loader).parameters["train_size"].default)
    else:
        full = _TRAIN_SIZES[_known_size(cfg["name"])]
    return min(full, kwargs.get("subset") or full)


def _known_size(name: str) -> str:
    if name not in _SHAPES:
        raise UserError(f"data.name: {name}: its shapes are known once it is loaded; have it in --data-root "
                        "(run once with internet)")
    return name


# ----------------------------------------------------------------------------- batches and augmentation


def check_augment(augment: list[str]) -> None:
    """Raise UserError for an augmentation name that is not in AUGMENTATIONS."""
    for a in augment:
        if a not in AUGMENTATIONS:
            raise UserError(f"data.augment: {a!r}: not an augmentation; one of {', '.join(AUGMENTATIONS)}")


def pad_crop(x: Tensor, offsets: Tensor, pad: int = PAD) -> Tensor:
    """Random-crop augmentation: out[b] = zero_pad(x[b], pad)[:, i:i+H, j:j+W] with (i, j) = offsets[b].

    x: [B, C, H, W]; offsets: int64 [B, 2] in [0, 2 * pad]. One gather for the whole batch.
    """
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # [B, H]
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)  # [B, W]
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # [B,H,W,C] -> NCHW


def hflip(x: Tensor, flips: Tensor) -> Tensor:
    """Horizontal flip of the samples where the bool mask `flips` [B] is set."""
    return torch.where(flips[:, None, None, None], x.flip(3), x)


def _draw(name: str, batch_size: int, generator: torch.Generator) -> Tensor:
    """The CPU random numbers one augmentation needs for one batch."""
    if name == "pad_crop":
        return torch.randint(0, 2 * PAD + 1, (batch_size, 2), generator=generator)
    return torch.rand(batch_size, generator=generator) < 0.5


_APPLY = {"pad_crop": pad_crop, "hflip": hflip}


def steps_per_epoch(data: ImageData, batch_size: int) -> int:
    """Full batches per epoch (the last partial batch is dropped)."""
    steps = len(data.train_y) // batch_size
    if steps == 0:
        raise UserError(f"batch_size: {batch_size}: larger than the {len(data.train_y)} training examples")
    return steps


def train_batches(data: ImageData, batch_size: int, augment: list[str], generator: torch.Generator,
                  start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
    """One epoch of shuffled, augmented training batches; drop_last.

    The permutation and the augmentation's random numbers come from the CPU `generator`, in this order:
    the permutation, then for each batch the augmentations' draws in the order `augment` lists them.
    `start` skips the first batches while still making their draws, so with the generator state of the
    epoch's start it yields exactly batches start.. of the uninterrupted epoch.
    """
    check_augment(augment)
    device = data.train_x.device
    order = torch.randperm(len(data.train_y), generator=generator)
    for i in range(steps_per_epoch(data, batch_size)):
        draws = [_draw(a, batch_size, generator) for a in augment]
        if i < start:
            continue
        idx = order[i * batch_size:(i + 1) * batch_size].to(device)
        x = data.train_x[idx]
        for a, r in zip(augment, draws, strict=True):
            x = _APPLY[a](x, r.to(device))
        yield x, data.train_y[idx]


def eval_batches(x: Tensor, y: Tensor, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Consecutive batches of (x, y) in order, the last one possibly smaller."""
    for i in range(0, len(y), batch_size):
        yield x[i:i + batch_size], y[i:i + batch_size]
