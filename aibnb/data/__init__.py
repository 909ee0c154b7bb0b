"""Datasets, transforms, cluttered scenes with ground-truth masks, and a device-resident loader.

Typical use::

    from aibnb import data

    train = data.load_tensors("cluttered_fashion", "train")     # uint8 images, labels, masks
    loader = data.DeviceLoader(train, 128, device="cuda", seed=0, return_masks=True)
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for x, y, mask in loader:
            ...

    reference = data.load("cifar10", "train")   # per-sample PIL transforms, for a DataLoader

``available()`` lists the names. The data root is ``root=``, else ``$AIBNB_DATA``, else
``./data``; ``python -m aibnb data fetch NAME`` (``make data`` for Fashion-MNIST) or
``download=True`` obtains a dataset. Nothing is downloaded or written at import time.

Modules: :mod:`~aibnb.data.formats` (readers of the on-disk formats), :mod:`~aibnb.data.obtain`
(``fetch``), :mod:`~aibnb.data.download` (downloading and checking files), :mod:`~aibnb.data.splits`
(validation split, subsets), :mod:`~aibnb.data.transforms` (normalisation, augmentation),
:mod:`~aibnb.data.cluttered` (scenes with masks), :mod:`~aibnb.data.registry` (the names and
splits), :mod:`~aibnb.data.raw` (the raw readers), :mod:`~aibnb.data.cub` (CUB-200-2011),
:mod:`~aibnb.data.tensors` (``TensorData``), :mod:`~aibnb.data.datasets` (``load_tensors``,
``load``), :mod:`~aibnb.data.reference` (the per-sample pipeline), :mod:`~aibnb.data.loader`
(``DeviceLoader``), :mod:`~aibnb.data.cli` (the command line).
"""

from __future__ import annotations

from aibnb.data.cluttered import SceneConfig, Scenes, make_cluttered
from aibnb.data.datasets import load, load_tensors, source_objects
from aibnb.data.loader import DeviceLoader, subset
from aibnb.data.obtain import fetch
from aibnb.data.paths import DatasetNotFoundError, data_root
from aibnb.data.registry import STL10_TO_CIFAR10, available, splits_of
from aibnb.data.splits import VAL_SEED, val_size
from aibnb.data.tensors import TensorData
from aibnb.data.transforms import compute_mean_std, denormalize, normalization

__all__ = [
    "STL10_TO_CIFAR10",
    "VAL_SEED",
    "DatasetNotFoundError",
    "DeviceLoader",
    "SceneConfig",
    "Scenes",
    "TensorData",
    "available",
    "compute_mean_std",
    "data_root",
    "denormalize",
    "fetch",
    "load",
    "load_tensors",
    "make_cluttered",
    "normalization",
    "source_objects",
    "splits_of",
    "subset",
    "val_size",
]
