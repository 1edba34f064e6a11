"""Tests of repro.tasks.image.data: file formats, the fixed subsets, batching and on-device augmentation."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
import urllib.error

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from repro.errors import UserError
from repro.tasks.image import data as D

DEBIAN_FILES = [D.DEBIAN_FASHION_MNIST / f"{s}-{k}-ubyte.gz"
                for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")]
needs_debian = pytest.mark.skipif(not all(f.exists() for f in DEBIAN_FILES),
                                  reason="apt-get install dataset-fashion-mnist for the real files")


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding written from the format description (independent of read_idx)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def small_data(n=40, k=4, size=8, channels=2) -> D.ImageData:
    x = torch.arange(n * channels * size * size, dtype=torch.float32).reshape(n, channels, size, size)
    y = torch.arange(n) % k
    return D.ImageData(x, y, x[:8], y[:8], k, channels, size, "small")


# ----------------------------------------------------------------------------- IDX and Fashion-MNIST


def test_read_idx_gz_and_raw(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, size=(5, 3, 4), dtype=np.uint8)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    (tmp_path / "a").write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(D.read_idx(tmp_path / "a.gz"), array)
    np.testing.assert_array_equal(D.read_idx(tmp_path / "a"), array)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    (tmp_path / "l").write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(D.read_idx(tmp_path / "l"), labels)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "magic").write_bytes(b"\x00\x00\x0b\x01" + struct.pack(">I", 2) + b"\x00" * 8)
    with pytest.raises(UserError, match="bad magic"):
        D.read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((4, 4), np.uint8))[:-3])
    with pytest.raises(UserError, match=r"\(4, 4\) but holds 13"):
        D.read_idx(tmp_path / "short")


@needs_debian
def test_debian_files_match_torchvision_reader(tmp_path):
    raw = tmp_path / "t10k-images-idx3-ubyte"
    raw.write_bytes(gzip.decompress(DEBIAN_FILES[2].read_bytes()))
    reference = torchvision.datasets.mnist.read_image_file(str(raw))
    images = D.read_idx(DEBIAN_FILES[2])
    assert images.shape == (10000, 28, 28)
    np.testing.assert_array_equal(images, reference.numpy())


@needs_debian
def test_fashion_mnist_loader(tmp_path):
    data = D.fashion_mnist(tmp_path, "cpu", test_subset=500)
    assert data.train_x.shape == (60000, 1, 28, 28) and data.train_x.dtype == torch.float32
    assert data.test_x.shape == (500, 1, 28, 28) and (data.num_classes, data.in_channels) == (10, 1)
    assert torch.bincount(data.train_y).tolist() == [6000] * 10  # Fashion-MNIST is balanced
    assert torch.bincount(data.test_y).tolist() == [50] * 10
    assert abs(data.train_x.mean().item()) < 1e-4 and abs(data.train_x.std().item() - 1) < 1e-4
    assert data.image_size == 28 and D.dataset_shape({"name": "fashion_mnist"}) == (10, 1, 28)
    assert not any(tmp_path.iterdir()), "the Debian path must not download into data_root"


def fashion_fixture(root, n_train=30, n_test=10):
    """torchvision's on-disk layout: ROOT/FashionMNIST/raw/<name> (gunzipped IDX files)."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        arrays[split] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n, dtype=np.uint8) % 10
        (raw / f"{split}-images-idx3-ubyte").write_bytes(idx_bytes(arrays[split][0]))
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(idx_bytes(arrays[split][1]))
    return arrays


def test_fashion_mnist_torchvision_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
    arrays = fashion_fixture(tmp_path)
    data = D.fashion_mnist(tmp_path, "cpu")
    assert data.train_x.shape == (30, 1, 28, 28) and data.test_x.shape == (10, 1, 28, 28)
    assert data.test_y.tolist() == arrays["t10k"][1].tolist()
    raw = torch.from_numpy(arrays["train"][0]).float()[:, None] / 255
    expected = (raw - raw.mean()) / raw.std(correction=0)
    torch.testing.assert_close(data.train_x, expected, rtol=1e-5, atol=1e-5)


def offline(*_, **__):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_fashion_mnist_offline_message(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "DEBIAN_FASHION_MNIST", tmp_path / "absent")
    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", offline)
    with pytest.raises(UserError) as err:
        D.load_dataset({"name": "fashion_mnist", "subset": 100}, tmp_path, "cpu")
    message = str(err.value)
    assert "\n" not in message and "apt-get install dataset-fashion-mnist" in message
    assert "Name or service not known" in message


# ----------------------------------------------------------------------------- CIFAR


def cifar_fixture(root, cls, monkeypatch, n_per_file=20):
    """Tiny CIFAR in its python-pickle layout; torchvision's md5 list is pointed at the fixture's files."""
    hundred = cls is torchvision.datasets.CIFAR100
    folder = root / cls.base_folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    label_key = "fine_labels" if hundred else "labels"
    k = 100 if hundred else 10
    names = {"train": [f[0] for f in cls.train_list], "test": [f[0] for f in cls.test_list]}
    rows = {}
    for split, files in names.items():
        for name in files:
            n = n_per_file * (5 if hundred and split == "train" else 1)
            entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                     label_key: [int(v) for v in rng.integers(0, k, n)]}
            (folder / name).write_bytes(pickle.dumps(entry))
            rows.setdefault(split, []).append(entry)
    meta = {cls.meta["key"]: [f"class{i}" for i in range(k)]}
    (folder / cls.meta["filename"]).write_bytes(pickle.dumps(meta))

    def md5(name):
        return hashlib.md5((folder / name).read_bytes()).hexdigest()

    monkeypatch.setattr(cls, "train_list", [[n, md5(n)] for n in names["train"]])
    monkeypatch.setattr(cls, "test_list", [[n, md5(n)] for n in names["test"]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5(cls.meta["filename"])})
    return rows, label_key


@pytest.mark.parametrize("name, cls, k", [("cifar10", torchvision.datasets.CIFAR10, 10),
                                          ("cifar100", torchvision.datasets.CIFAR100, 100)])
def test_cifar_fixture_through_torchvision(tmp_path, monkeypatch, name, cls, k):
    rows, label_key = cifar_fixture(tmp_path, cls, monkeypatch)
    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", offline)
    data = D.load_dataset({"name": name, "augment": ["pad_crop", "hflip"]}, tmp_path, "cpu")
    # a pickle row is 1024 red, 1024 green, then 1024 blue values, each a 32x32 image in row order
    raw = torch.from_numpy(np.concatenate([r["data"] for r in rows["train"]])).float().reshape(-1, 3, 32, 32)
    raw = raw / 255
    expected = (raw - raw.mean((0, 2, 3), keepdim=True)) / raw.std((0, 2, 3), correction=0, keepdim=True)
    torch.testing.assert_close(data.train_x, expected, rtol=1e-5, atol=1e-5)
    assert data.train_y.tolist() == sum((r[label_key] for r in rows["train"]), [])
    assert data.test_x.shape == (20, 3, 32, 32) and data.num_classes == k
    assert (data.num_classes, data.in_channels, data.image_size) == D.dataset_shape({"name": name})


def test_cifar_offline_message(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", offline)
    with pytest.raises(UserError) as err:
        D.cifar10(tmp_path, "cpu")
    message = str(err.value)
    assert "\n" not in message and "cifar-10-python.tar.gz" in message
    assert str(tmp_path / "cifar-10-batches-py") in message


# ----------------------------------------------------------------------------- subsets, synthetic data


def test_balanced_subset_counts_and_determinism():
    labels = torch.arange(1000) % 10
    torch.manual_seed(1)
    a = D.balanced_subset(labels, 105)
    torch.manual_seed(2)
    b = D.balanced_subset(labels, 105)
    assert torch.equal(a, b), "the subset must not depend on the global RNG"
    assert sorted(torch.bincount(labels[a]).tolist()) == [10] * 5 + [11] * 5
    assert len(set(a.tolist())) == 105
    assert set(D.balanced_subset(labels, 50).tolist()) <= set(a.tolist())


def test_balanced_subset_with_a_rare_class():
    labels = torch.tensor([0] * 3 + [1] * 50 + [2] * 50)
    counts = torch.bincount(labels[D.balanced_subset(labels, 30)]).tolist()
    assert counts[0] == 3 and sorted(counts[1:]) == [13, 14]
    with pytest.raises(UserError, match="data.subset: 104"):
        D.balanced_subset(labels, 104)
    with pytest.raises(UserError, match="data.test_subset: 300: must be between 1 and the 256"):
        D.synthetic_images("x", "cpu", test_subset=300)


def test_synthetic_images_are_fixed_and_shaped():
    cfg = {"name": "synthetic_images", "subset": 100, "num_classes": 5, "channels": 1}
    a = D.load_dataset(cfg, "x", "cpu")
    torch.manual_seed(123)
    b = D.synthetic_images("x", "cpu", subset=100, num_classes=5, channels=1)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert a.train_x.shape == (100, 1, 16, 16) and torch.bincount(a.train_y).tolist() == [20] * 5
    assert D.dataset_shape({"name": "synthetic_images", "num_classes": 5, "channels": 1}) == (5, 1, 16)


def test_synthetic_images_are_learnable():
    """Nearest class mean on the training set classifies the test set well above chance."""
    data = D.synthetic_images("x", "cpu")
    means = torch.stack([data.train_x[data.train_y == c].mean(0) for c in range(10)]).flatten(1)
    predicted = torch.cdist(data.test_x.flatten(1), means).argmin(1)
    assert (predicted == data.test_y).float().mean() > 0.9


def test_load_dataset_user_errors():
    with pytest.raises(UserError, match="data.name: 'mnist'"):
        D.load_dataset({"name": "mnist"}, "x", "cpu")
    with pytest.raises(UserError, match="data.augment: 'cutout'"):
        D.load_dataset({"name": "synthetic_images", "augment": ["cutout"]}, "x", "cpu")
    with pytest.raises(UserError, match="colour"):
        D.load_dataset({"name": "synthetic_images", "colour": 3}, "x", "cpu")
    with pytest.raises(UserError, match="image_size"):
        D.load_dataset({"name": "synthetic_images", "image_size": 0}, "x", "cpu")


# ----------------------------------------------------------------------------- batches and augmentation


def test_train_batches_are_a_seeded_permutation():
    data = small_data()
    epoch = list(D.train_batches(data, 8, [], torch.Generator().manual_seed(0)))
    again = list(D.train_batches(data, 8, [], torch.Generator().manual_seed(0)))
    other = list(D.train_batches(data, 8, [], torch.Generator().manual_seed(1)))
    assert len(epoch) == D.steps_per_epoch(data, 8) == 5
    x = torch.cat([b[0] for b in epoch])
    assert torch.equal(torch.sort(x.flatten(1)[:, 0]).values, data.train_x.flatten(1)[:, 0])
    order = (x.flatten(1)[:, 0] / (2 * 8 * 8)).long()  # the first pixel value encodes the example index
    assert torch.equal(torch.cat([b[1] for b in epoch]), data.train_y[order])
    assert all(torch.equal(a[0], b[0]) for a, b in zip(epoch, again, strict=True))
    assert not torch.equal(x, torch.cat([b[0] for b in other]))


def test_train_batches_drop_last_and_too_large_batch():
    data = small_data(n=42)
    assert sum(len(y) for _, y in D.train_batches(data, 8, [], torch.Generator())) == 40
    with pytest.raises(UserError, match="batch_size: 64"):
        D.steps_per_epoch(data, 64)


def test_train_batches_draw_order_and_start():
    """Documented draw order: the permutation, then per batch each augmentation's numbers in list order."""
    data = small_data(n=24, size=6)
    augment = ["hflip", "pad_crop"]
    batches = list(D.train_batches(data, 8, augment, torch.Generator().manual_seed(3)))
    g = torch.Generator().manual_seed(3)
    order = torch.randperm(24, generator=g)
    for i, (x, y) in enumerate(batches):
        flips = torch.rand(8, generator=g) < 0.5
        offsets = torch.randint(0, 9, (8, 2), generator=g)
        idx = order[8 * i:8 * (i + 1)]
        expected = D.pad_crop(D.hflip(data.train_x[idx], flips), offsets)
        assert torch.equal(x, expected) and torch.equal(y, data.train_y[idx])
    resumed = list(D.train_batches(data, 8, augment, torch.Generator().manual_seed(3), start=2))
    assert len(resumed) == 1 and torch.equal(resumed[0][0], batches[2][0])


@pytest.mark.gpu
def test_batches_same_on_cuda_as_on_cpu():
    cpu, cuda = (D.train_batches(D.synthetic_images("x", device, subset=64), 16, list(D.AUGMENTATIONS),
                                 torch.Generator().manual_seed(0)) for device in ("cpu", "cuda"))
    for (a, ya), (b, yb) in zip(cpu, cuda, strict=True):
        torch.testing.assert_close(b.cpu(), a)
        assert torch.equal(yb.cpu(), ya)


def test_pad_crop_equals_manual_slices():
    x = torch.randn(6, 3, 5, 7)
    offsets = torch.tensor([[0, 0], [8, 8], [4, 4], [0, 8], [8, 0], [3, 6]])
    out = D.pad_crop(x, offsets)
    for b, (i, j) in enumerate(offsets.tolist()):
        padded = torch.zeros(3, 5 + 8, 7 + 8)
        padded[:, 4:9, 4:11] = x[b]
        assert torch.equal(out[b], padded[:, i:i + 5, j:j + 7])
    assert torch.equal(out[2], x[2]) and out[1, :, -4:, :].abs().sum() == 0


def test_hflip_equals_torch_flip():
    x = torch.randn(4, 2, 3, 5)
    flips = torch.tensor([True, False, False, True])
    out = D.hflip(x, flips)
    for b in range(4):
        assert torch.equal(out[b], torch.flip(x[b], dims=[2]) if flips[b] else x[b])


def test_augmentation_is_roughly_fair():
    """About half the samples flipped; crop offsets cover 0..8 evenly (He et al.: pad 4, crop)."""
    data = small_data(n=4000, k=2, size=4, channels=1)
    g = torch.Generator().manual_seed(0)
    flipped = 0
    for x, _ in D.train_batches(data, 1000, ["hflip"], g):
        flipped += (x[:, 0, 0, 0] > x[:, 0, 0, -1]).sum()  # pixel values grow left to right
    assert 1800 < flipped < 2200
    offsets = D._draw("pad_crop", 9000, g)
    counts = torch.bincount(offsets.flatten(), minlength=9)
    assert len(counts) == 9 and counts.min() > 1700


def test_eval_batches_cover_in_order():
    x, y = torch.arange(10.0), torch.arange(10)
    batches = list(D.eval_batches(x, y, 4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([b[0] for b in batches]), x)


def test_synthetic_images_train_a_convnet():
    """A smoke run's loss falls: a few SGD steps of a ResNet-8 on augmented synthetic images."""
    from repro.tasks.image.models import cifar_resnet

    data = D.synthetic_images("x", "cpu", subset=256)
    torch.manual_seed(0)
    model = cifar_resnet(data.num_classes, data.in_channels, depth=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(3):
        for x, y in D.train_batches(data, 32, list(D.AUGMENTATIONS), g):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert np.mean(losses[-4:]) < 0.6 * np.mean(losses[:4])
