"""The raw readers: each dataset's official parts read from their on-disk formats, carved into the
book's splits and brought to the resolution the models see.

Resolution: everything is 32 x 32 except CUB-200 (:mod:`aibnb.data.cub`). Fashion-MNIST is
zero-padded from 28 x 28; digits are upsampled from 8 x 8 to 24 x 24 (bilinear) and zero-padded;
STL-10 is shrunk from 96 x 96 with antialiased bilinear interpolation. scikit-learn's digits have no
test split: a fixed stratified one is carved (:data:`DIGITS_TEST_SIZE`, :data:`DIGITS_TEST_SEED`).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from aibnb.data import formats
from aibnb.data.download import LAYOUT, fetch_fashion_mnist, missing_error
from aibnb.data.download import download as _download
from aibnb.data.paths import data_root
from aibnb.data.registry import (
    CIFAR10_CLASSES,
    DIGITS_CLASSES,
    FASHION_MNIST_CLASSES,
    STL10_TO_CIFAR10,
    SVHN_CLASSES,
)
from aibnb.data.splits import stratified_choice, train_val_indices
from aibnb.data.transforms import resize_uint8

__all__ = [
    "DIGITS_TEST_SEED",
    "DIGITS_TEST_SIZE",
    "carve",
    "raw_split",
    "read_raw",
    "require",
    "stl10_labels",
    "to_model_resolution",
]

DIGITS_TEST_SIZE = 360  # scikit-learn's digits have no test split; we carve a fixed one
DIGITS_TEST_SEED = 2021


def require(name: str, root, files: list[Path], download: bool) -> None:
    missing = [f for f in files if not f.exists()]
    if missing and download:
        if name == "fashion_mnist":
            fetch_fashion_mnist(root)
        else:
            _download(name, root)
        missing = [f for f in files if not f.exists()]
    if missing:
        raise missing_error(name, missing[0], root)


def read_raw(name: str, train: bool, root, download: bool):
    """``(images, labels, classes)`` of an official part, at the stored resolution."""
    folder = data_root(root) / LAYOUT.get(name, "")
    if name == "fashion_mnist":
        prefix = "train" if train else "t10k"
        require(
            name,
            root,
            [folder / f"{prefix}-images-idx3-ubyte", folder / f"{prefix}-labels-idx1-ubyte"],
            download,
        )
        return (*formats.read_fashion_mnist(folder, train), FASHION_MNIST_CLASSES)
    if name == "cifar10":
        files = [folder / f"data_batch_{i}" for i in range(1, 6)] if train else [folder / "test_batch"]
        require(name, root, [*files, folder / "batches.meta"], download)
        return formats.read_cifar10(folder, train)
    if name == "cifar100":
        require(name, root, [folder / ("train" if train else "test"), folder / "meta"], download)
        return formats.read_cifar100(folder, train)
    if name == "svhn":
        require(name, root, [folder / ("train_32x32.mat" if train else "test_32x32.mat")], download)
        return (*formats.read_svhn(folder, train), SVHN_CLASSES)
    if name == "stl10":
        split = "train" if train else "test"
        require(name, root, [folder / f"{split}_X.bin", folder / f"{split}_y.bin"], download)
        return (*formats.read_stl10(folder, train), list(formats.STL10_CLASSES))
    if name == "digits":
        images, labels = formats.read_digits()
        test = stratified_choice(labels, DIGITS_TEST_SIZE, DIGITS_TEST_SEED)
        keep = torch.ones(len(labels), dtype=torch.bool)
        keep[test] = False
        index = torch.nonzero(keep).flatten() if train else test
        return images[index], labels[index], DIGITS_CLASSES
    raise AssertionError(name)  # every other name is dispatched before


def carve(split: str, images: torch.Tensor, labels: torch.Tensor):
    """Select ``split`` (train / val / train_full) from a full training part."""
    if split == "train_full":
        return images, labels
    train, val = train_val_indices(labels)
    index = train if split == "train" else val
    return images[index], labels[index]


def raw_split(name: str, split: str, root, download: bool):
    images, labels, classes = read_raw(name, split != "test", root, download)
    if split != "test":
        images, labels = carve(split, images, labels)
    return images, labels, classes


def to_model_resolution(name: str, images: torch.Tensor) -> torch.Tensor:
    if name == "fashion_mnist":
        return F.pad(images, (2, 2, 2, 2))
    if name == "digits":
        return F.pad(resize_uint8(images, 24), (4, 4, 4, 4))
    if name == "stl10":
        return torch.cat([resize_uint8(images[i : i + 1000], 32) for i in range(0, len(images), 1000)])
    return images


def stl10_labels(images, labels, classes, label_space: str):
    """STL-10 under ``label_space``: its own labels, or CIFAR-10's (monkey dropped, car -> automobile)."""
    if label_space == "stl10":
        return images, labels, classes
    if label_space != "cifar10":
        raise ValueError(f"label_space must be 'cifar10' or 'stl10', got {label_space!r}")
    mapped = STL10_TO_CIFAR10[labels]
    keep = mapped >= 0  # drops monkey
    return images[keep], mapped[keep], list(CIFAR10_CLASSES)
