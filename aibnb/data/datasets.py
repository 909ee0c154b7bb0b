"""The dataset registry: ``available()``, ``load_tensors(...)`` and ``load(...)``.

Two ways to get a dataset, from the same images:

* :func:`load_tensors` returns :class:`TensorData`: every image of the split as one
  ``uint8`` tensor (at the resolution the models see), the labels, the class names, the
  normalisation and, for cluttered scenes, the object masks. It feeds
  :class:`aibnb.data.DeviceLoader`, which keeps it on the training device.
* :func:`load` returns a ``torch.utils.data.Dataset`` that applies the official per-sample
  torchvision transforms to PIL images (the reference pipeline, for a ``DataLoader``).

Splits: ``"train"`` (the training set minus the validation part), ``"val"`` (carved from
the training set, deterministic and stratified, see :mod:`aibnb.data.splits`), ``"test"``
and ``"train_full"`` (the whole official training set). Model selection in this book uses
``"val"``, never ``"test"``. STL-10 has only ``"train"`` (5,000) and ``"test"`` (8,000),
both used as cross-domain test sets for CIFAR-10 models.

Resolution: everything is 32 x 32 except CUB-200 (crop to the ground-truth box, resize to
256 x 256, then a 224 crop). Fashion-MNIST is zero-padded from 28 x 28; digits are
upsampled from 8 x 8 to 24 x 24 (bilinear) and zero-padded; STL-10 is shrunk from 96 x 96
with antialiased bilinear interpolation.

STL-10 labels: by default (``label_space="cifar10"``) they are mapped to CIFAR-10's class
indices (:data:`STL10_TO_CIFAR10`): car -> automobile, and the order differs otherwise. STL's
*monkey* has no CIFAR-10 class, so its images are **excluded** (4,500 train / 7,200 test
remain), and CIFAR-10's *frog* never occurs. ``label_space="stl10"`` keeps STL's own labels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from aibnb.data import cluttered, formats
from aibnb.data.fetching import LAYOUT, fetch_fashion_mnist, missing_error
from aibnb.data.fetching import download as _download
from aibnb.data.paths import data_root
from aibnb.data.splits import stratified_choice, train_val_indices
from aibnb.data.transforms import (
    JointTransform,
    normalization,
    official_transform,
    resize_uint8,
)

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

DIGITS_TEST_SIZE = 360  # scikit-learn's digits have no test split; we carve a fixed one
DIGITS_TEST_SEED = 2021
CUB_RESIZE, CUB_CROP = 256, 224

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
    _check_name(name)
    return ("train", "test") if name == "stl10" else SPLITS


def _check_name(name: str) -> None:
    if name not in DESCRIPTIONS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DESCRIPTIONS)}")


def _check_split(name: str, split: str) -> None:
    if split not in splits_of(name):
        hint = (
            " (STL-10 is a test domain: both of its splits evaluate CIFAR-10 models)"
            if name == "stl10"
            else ""
        )
        raise ValueError(f"split must be one of {splits_of(name)} for {name!r}, got {split!r}{hint}")


@dataclass
class TensorData:
    """A whole split in memory, as the device-resident loader wants it.

    ``images`` are ``uint8 N x C x H x W`` at the stored resolution; training takes a random
    ``crop x crop`` window of the image reflect-padded by ``pad`` (32 and 4 for the 32 x 32
    datasets; 224 and 0 for CUB's 256 x 256 images), evaluation the centre ``crop``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    name: str
    split: str
    masks: torch.Tensor | None = None
    crop: int = 32
    pad: int = 4

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(
                f"images must be uint8 N x C x H x W, got {self.images.dtype} {tuple(self.images.shape)}"
            )
        n, c, h, w = self.images.shape
        if self.labels.shape != (n,) or self.labels.dtype != torch.int64:
            raise ValueError(
                f"labels must be int64 of shape ({n},), got {self.labels.dtype} {tuple(self.labels.shape)}"
            )
        if self.masks is not None and (self.masks.dtype != torch.bool or self.masks.shape != (n, 1, h, w)):
            raise ValueError(f"masks must be bool of shape ({n}, 1, {h}, {w})")
        if len(self.mean) != c or len(self.std) != c:
            raise ValueError(f"mean and std need {c} values (one per channel)")
        if self.crop > min(h, w) + 2 * self.pad:
            raise ValueError(f"crop {self.crop} does not fit a {h}x{w} image padded by {self.pad}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def select(self, index: torch.Tensor) -> TensorData:
        """The samples at ``index`` (a copy), keeping everything else."""
        index = torch.as_tensor(index, dtype=torch.long)
        masks = None if self.masks is None else self.masks[index]
        return replace(self, images=self.images[index], labels=self.labels[index], masks=masks)

    def subset(self, n: int, seed: int = 0) -> TensorData:
        """A stratified random subset of ``n`` samples (for the CPU profiles); same seed, same subset."""
        if not 0 < n <= len(self):
            raise ValueError(
                f"n must be between 1 and {len(self)} (the size of {self.name}/{self.split}), got {n}"
            )
        return self.select(stratified_choice(self.labels, n, seed))


# ---------------------------------------------------------------------------------------
# Raw readers: images at their stored resolution, for the two official parts


def _require(name: str, root, files: list[Path], download: bool) -> None:
    missing = [f for f in files if not f.exists()]
    if missing and download:
        if name == "fashion_mnist":
            fetch_fashion_mnist(root)
        else:
            _download(name, root)
        missing = [f for f in files if not f.exists()]
    if missing:
        raise missing_error(name, missing[0], root)


def _read_raw(name: str, train: bool, root, download: bool):
    """``(images, labels, classes)`` of an official part, at the stored resolution."""
    folder = data_root(root) / LAYOUT.get(name, "")
    if name == "fashion_mnist":
        prefix = "train" if train else "t10k"
        _require(
            name,
            root,
            [folder / f"{prefix}-images-idx3-ubyte", folder / f"{prefix}-labels-idx1-ubyte"],
            download,
        )
        return (*formats.read_fashion_mnist(folder, train), FASHION_MNIST_CLASSES)
    if name == "cifar10":
        files = [folder / f"data_batch_{i}" for i in range(1, 6)] if train else [folder / "test_batch"]
        _require(name, root, [*files, folder / "batches.meta"], download)
        return formats.read_cifar10(folder, train)
    if name == "cifar100":
        _require(name, root, [folder / ("train" if train else "test"), folder / "meta"], download)
        return formats.read_cifar100(folder, train)
    if name == "svhn":
        _require(name, root, [folder / ("train_32x32.mat" if train else "test_32x32.mat")], download)
        return (*formats.read_svhn(folder, train), SVHN_CLASSES)
    if name == "stl10":
        split = "train" if train else "test"
        _require(name, root, [folder / f"{split}_X.bin", folder / f"{split}_y.bin"], download)
        return (*formats.read_stl10(folder, train), list(formats.STL10_CLASSES))
    if name == "digits":
        images, labels = formats.read_digits()
        test = stratified_choice(labels, DIGITS_TEST_SIZE, DIGITS_TEST_SEED)
        keep = torch.ones(len(labels), dtype=torch.bool)
        keep[test] = False
        index = torch.nonzero(keep).flatten() if train else test
        return images[index], labels[index], DIGITS_CLASSES
    raise AssertionError(name)  # every other name is dispatched before


def _carve(split: str, images: torch.Tensor, labels: torch.Tensor):
    """Select ``split`` (train / val / train_full) from a full training part."""
    if split == "train_full":
        return images, labels
    train, val = train_val_indices(labels)
    index = train if split == "train" else val
    return images[index], labels[index]


def _raw_split(name: str, split: str, root, download: bool):
    images, labels, classes = _read_raw(name, split != "test", root, download)
    if split != "test":
        images, labels = _carve(split, images, labels)
    return images, labels, classes


def _to_model_resolution(name: str, images: torch.Tensor) -> torch.Tensor:
    if name == "fashion_mnist":
        return F.pad(images, (2, 2, 2, 2))
    if name == "digits":
        return F.pad(resize_uint8(images, 24), (4, 4, 4, 4))
    if name == "stl10":
        return torch.cat([resize_uint8(images[i : i + 1000], 32) for i in range(0, len(images), 1000)])
    return images


# ---------------------------------------------------------------------------------------
# CUB-200-2011


def cub_records(
    split: str, root: str | os.PathLike[str] | None = None, download: bool = False
) -> tuple[list[formats.CUBRecord], list[str]]:
    """The CUB-200-2011 images of ``split`` (file, label, box) and the class names."""
    folder = data_root(root) / LAYOUT["cub200"]
    if download and not (folder / "images.txt").exists():
        _download("cub200", root)  # raises with instructions: there is no downloader
    _require(
        "cub200",
        root,
        [
            folder / n
            for n in ("images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt")
        ],
        False,
    )
    records, classes = formats.read_cub200_index(folder, split != "test")
    if split in ("train", "val"):
        labels = torch.tensor([r.label for r in records])
        train, val = train_val_indices(labels)
        records = [records[i] for i in (train if split == "train" else val).tolist()]
    return records, classes


def _cub_image(record: formats.CUBRecord):
    """The bird: the JPEG cropped to its ground-truth box, resized to 256 x 256 (bilinear)."""
    from PIL import Image

    x, y, w, h = record.box
    with Image.open(record.path) as image:
        bird = image.convert("RGB").crop((x, y, x + w, y + h))
    return bird.resize((CUB_RESIZE, CUB_RESIZE), Image.BILINEAR)


class CUBDataset(Dataset):
    """CUB-200-2011 read lazily from JPEGs with the official transforms (``CUB-experiments/datasets.py``)."""

    def __init__(self, records, classes, transform):
        self.records, self.classes, self.transform = records, classes, transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int):
        record = self.records[index]
        return self.transform(_cub_image(record)), record.label


# ---------------------------------------------------------------------------------------
# Public API


def load_tensors(
    name: str,
    split: str,
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    backbone: str = "vgg",
    label_space: str | None = None,
) -> TensorData:
    """Every image of ``name``/``split`` as one uint8 tensor, with labels, classes, normalisation.

    ``backbone`` (``"vgg"`` or ``"wrn"``) picks the normalisation where the official code
    differs (CIFAR). ``label_space`` applies to STL-10 only (``"cifar10"`` default, or
    ``"stl10"``). Cluttered scenes come with ``masks``; they are generated on first use and
    cached under the data root. ``download=True`` fetches a missing dataset first.
    """
    _check_name(name)
    _check_split(name, split)
    if label_space is not None and name != "stl10":
        raise ValueError(f"label_space applies to stl10 only, not {name!r}; leave it None")
    mean, std = normalization(name, backbone)
    if name in cluttered.CLUTTERED:
        return _load_cluttered(name, split, root, download, mean, std)
    if name == "cub200":
        records, classes = cub_records(split, root, download)
        from torchvision.transforms.functional import pil_to_tensor

        images = (
            torch.stack([pil_to_tensor(_cub_image(r)) for r in records])
            if records
            else torch.zeros(0, 3, CUB_RESIZE, CUB_RESIZE, dtype=torch.uint8)
        )
        labels = torch.tensor([r.label for r in records], dtype=torch.long)
        return TensorData(images, labels, classes, mean, std, name, split, crop=CUB_CROP, pad=0)
    images, labels, classes = _raw_split(name, split, root, download)
    images = _to_model_resolution(name, images)
    if name == "stl10":
        images, labels, classes = _stl10_labels(images, labels, classes, label_space or "cifar10")
    return TensorData(images, labels, classes, mean, std, name, split)


def _stl10_labels(images, labels, classes, label_space: str):
    if label_space == "stl10":
        return images, labels, classes
    if label_space != "cifar10":
        raise ValueError(f"label_space must be 'cifar10' or 'stl10', got {label_space!r}")
    mapped = STL10_TO_CIFAR10[labels]
    keep = mapped >= 0  # drops monkey
    return images[keep], mapped[keep], list(CIFAR10_CLASSES)


def _load_cluttered(name: str, split: str, root, download: bool, mean, std) -> TensorData:
    spec = cluttered.CLUTTERED[name]
    classes = FASHION_MNIST_CLASSES if spec.source == "fashion_mnist" else DIGITS_CLASSES
    parts = ("train", "val") if split == "train_full" else (split,)
    scenes = []
    for part in parts:

        def source(part: str = part):
            return source_objects(name, part, root, download=download)

        scenes.append(cluttered.load_or_generate(data_root(root), name, part, source))
    return TensorData(
        images=torch.cat([s.images for s in scenes]),
        labels=torch.cat([s.labels for s in scenes]),
        classes=list(classes),
        mean=mean,
        std=std,
        name=name,
        split=split,
        masks=torch.cat([s.masks for s in scenes]),
    )


class TensorImageDataset(Dataset):
    """Per-sample PIL pipeline over a :class:`TensorData` (what :func:`load` returns).

    Item ``i`` is ``(x, y)`` or, with ``return_masks``, ``(x, y, mask)``: ``x`` float
    ``C x crop x crop`` after the official transforms, ``mask`` bool ``1 x crop x crop``.
    """

    def __init__(self, data: TensorData, *, augment: bool, return_masks: bool = False):
        if return_masks and data.masks is None:
            raise ValueError(f"{data.name} has no object masks; use return_masks=False")
        self.data, self.return_masks = data, return_masks
        options = {"train": augment, "mean": data.mean, "std": data.std, "crop": data.crop, "pad": data.pad}
        self.transform = JointTransform(**options) if return_masks else official_transform(**options)
        self.classes = data.classes

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        from PIL import Image

        array = self.data.images[index].permute(1, 2, 0).numpy()
        image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        label = int(self.data.labels[index])
        if not self.return_masks:
            return self.transform(image), label
        mask = Image.fromarray(self.data.masks[index, 0].numpy().astype("uint8") * 255)
        x, m = self.transform(image, mask)
        return x, label, m


def load(
    name: str,
    split: str,
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    backbone: str = "vgg",
    augment: bool | None = None,
    return_masks: bool = False,
    label_space: str | None = None,
) -> Dataset:
    """A ``Dataset`` of ``name``/``split`` with the official per-sample transforms.

    ``augment`` defaults to True for ``"train"`` and ``"train_full"``: reflect-pad-4 random
    crop and horizontal flip (CUB: random 224 crop and flip); otherwise only ``ToTensor`` +
    ``Normalize`` (CUB: centre 224 crop). ``return_masks`` (cluttered scenes only) adds the
    object mask, cropped and flipped with the image. Other arguments as in :func:`load_tensors`.
    """
    _check_name(name)
    _check_split(name, split)
    if augment is None:
        augment = split in ("train", "train_full")
    if name == "cub200":
        if return_masks:
            raise ValueError("cub200 has no object masks; use return_masks=False")
        if label_space is not None:
            raise ValueError("label_space applies to stl10 only; leave it None")
        mean, std = normalization(name, backbone)
        records, classes = cub_records(split, root, download)
        return CUBDataset(
            records, classes, official_transform(train=augment, mean=mean, std=std, crop=CUB_CROP, pad=0)
        )
    data = load_tensors(name, split, root, download=download, backbone=backbone, label_space=label_space)
    return TensorImageDataset(data, augment=augment, return_masks=return_masks)


def source_objects(
    name: str, split: str, root: str | os.PathLike[str] | None = None, *, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The objects a registered cluttered dataset places in ``split``: ``(images, labels)``.

    Images are at the source's stored resolution (28 x 28 for Fashion-MNIST, 8 x 8 for digits).
    """
    if name not in cluttered.CLUTTERED:
        raise ValueError(f"{name!r} is not a cluttered dataset; those are: {', '.join(cluttered.CLUTTERED)}")
    _check_split(name, split)
    if split == "train_full":
        raise ValueError("source_objects: use split 'train' or 'val' (train_full scenes come from both)")
    images, labels, _ = _raw_split(cluttered.CLUTTERED[name].source, split, root, download)
    return images, labels
