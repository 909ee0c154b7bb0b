"""The dataset registry: the names, their descriptions and splits, and the class names.

Splits: ``"train"`` (the training set minus the validation part), ``"val"`` (carved from the
training set, deterministic and stratified, see :mod:`aibnb.data.splits`), ``"test"`` and
``"train_full"`` (the whole official training set). Model selection in this book uses ``"val"``,
never ``"test"``. STL-10 has only ``"train"`` (5,000) and ``"test"`` (8,000), both used as
cross-domain test sets for CIFAR-10 models; its labels map to CIFAR-10's by
:data:`STL10_TO_CIFAR10` (STL's *monkey* has no CIFAR-10 class).
"""

from __future__ import annotations

import torch

from aibnb.data import cluttered

__all__ = [
    "CIFAR10_CLASSES",
    "DESCRIPTIONS",
    "DIGITS_CLASSES",
    "FASHION_MNIST_CLASSES",
    "SPLITS",
    "STL10_TO_CIFAR10",
    "SVHN_CLASSES",
    "available",
    "check_name",
    "check_split",
    "splits_of",
]

SPLITS = ("train", "val", "test", "train_full")
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
CIFAR10_CLASSES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
SVHN_CLASSES = [str(d) for d in range(10)]
DIGITS_CLASSES = [str(d) for d in range(10)]

# STL-10 class index -> CIFAR-10 class index; -1 = no CIFAR-10 class (monkey, excluded)
STL10_TO_CIFAR10 = torch.tensor([0, 2, 1, 3, 4, 5, 7, -1, 8, 9])


DESCRIPTIONS = {
    "fashion_mnist": "Fashion-MNIST: 10 clothing classes, 28x28 grey zero-padded to 32x32, 60k/10k",
    "cifar10": "CIFAR-10: 10 classes, 32x32 colour, 50k/10k",
    "cifar100": "CIFAR-100: 100 fine classes, 32x32 colour, 50k/10k",
    "svhn": "SVHN cropped digits: 32x32 colour, 73k/26k (no 'extra')",
    "stl10": "STL-10 labelled images resized 96->32 to test CIFAR-10 models, 5k/8k",
    "cub200": "CUB-200-2011 birds: 200 classes, cropped to the box, 224x224, 6k/5.8k",
    "digits": "scikit-learn's 8x8 digits upsampled and padded to 32x32 grey, 1.4k/360 (bundled)",
    **{name: spec.description for name, spec in cluttered.CLUTTERED.items()},
}


def available() -> dict[str, str]:
    """Names accepted by :func:`load` and :func:`load_tensors`, with a short description."""
    return dict(DESCRIPTIONS)


def splits_of(name: str) -> tuple[str, ...]:
    """The splits ``name`` has."""
    check_name(name)
    return ("train", "test") if name == "stl10" else SPLITS


def check_name(name: str) -> None:
    if name not in DESCRIPTIONS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DESCRIPTIONS)}")


def check_split(name: str, split: str) -> None:
    if split not in splits_of(name):
        hint = (
            " (STL-10 is a test domain: both of its splits evaluate CIFAR-10 models)"
            if name == "stl10"
            else ""
        )
        raise ValueError(f"split must be one of {splits_of(name)} for {name!r}, got {split!r}{hint}")
