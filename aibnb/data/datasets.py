"""The two ways to get a dataset: ``load_tensors(...)`` and ``load(...)``, from the same images.

Two ways to get a dataset, from the same images:

* :func:`load_tensors` returns :class:`TensorData`: every image of the split as one
  ``uint8`` tensor (at the resolution the models see), the labels, the class names, the
  normalisation and, for cluttered scenes, the object masks. It feeds
  :class:`aibnb.data.DeviceLoader`, which keeps it on the training device.
* :func:`load` returns a ``torch.utils.data.Dataset`` that applies the official per-sample
  torchvision transforms to PIL images (the reference pipeline, for a ``DataLoader``).

The names and splits are the registry's (:mod:`aibnb.data.registry`); the images come from the
raw readers (:mod:`aibnb.data.raw`), CUB-200-2011 from :mod:`aibnb.data.cub`, the cluttered scenes
from :mod:`aibnb.data.cluttered`.

STL-10 labels: by default (``label_space="cifar10"``) they are mapped to CIFAR-10's class
indices: car -> automobile, and the order differs otherwise. STL's *monkey* has no CIFAR-10
class, so its images are **excluded** (4,500 train / 7,200 test remain), and CIFAR-10's *frog*
never occurs. ``label_space="stl10"`` keeps STL's own labels.
"""

from __future__ import annotations

import os

import torch
from torch.utils.data import Dataset
from torchvision.transforms.functional import pil_to_tensor

from aibnb.data import cluttered
from aibnb.data.cub import CUB_CROP, CUB_RESIZE, CUBDataset, cub_image, cub_records
from aibnb.data.paths import data_root
from aibnb.data.raw import raw_split, stl10_labels, to_model_resolution
from aibnb.data.reference import TensorImageDataset
from aibnb.data.registry import DIGITS_CLASSES, FASHION_MNIST_CLASSES, check_name, check_split
from aibnb.data.tensors import TensorData
from aibnb.data.transforms import normalization, official_transform

__all__ = ["load", "load_tensors", "source_objects"]


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
    check_name(name)
    check_split(name, split)
    if label_space is not None and name != "stl10":
        raise ValueError(f"label_space applies to stl10 only, not {name!r}; leave it None")
    mean, std = normalization(name, backbone)
    if name in cluttered.CLUTTERED:
        return _load_cluttered(name, split, root, download, mean, std)
    if name == "cub200":
        records, classes = cub_records(split, root, download)
        images = (
            torch.stack([pil_to_tensor(cub_image(r)) for r in records])
            if records
            else torch.zeros(0, 3, CUB_RESIZE, CUB_RESIZE, dtype=torch.uint8)
        )
        labels = torch.tensor([r.label for r in records], dtype=torch.long)
        return TensorData(images, labels, classes, mean, std, name, split, crop=CUB_CROP, pad=0)
    images, labels, classes = raw_split(name, split, root, download)
    images = to_model_resolution(name, images)
    if name == "stl10":
        images, labels, classes = stl10_labels(images, labels, classes, label_space or "cifar10")
    return TensorData(images, labels, classes, mean, std, name, split)


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
    check_name(name)
    check_split(name, split)
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
    check_split(name, split)
    if split == "train_full":
        raise ValueError("source_objects: use split 'train' or 'val' (train_full scenes come from both)")
    images, labels, _ = raw_split(cluttered.CLUTTERED[name].source, split, root, download)
    return images, labels


