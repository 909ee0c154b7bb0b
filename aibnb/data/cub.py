"""CUB-200-2011: the index of its images (file, label, box), each bird cropped to its ground-truth
box and resized to 256 x 256, and the lazily read ``Dataset`` of the official CUB experiments."""

from __future__ import annotations

import os

import torch
from PIL import Image
from torch.utils.data import Dataset

from aibnb.data import formats
from aibnb.data.download import LAYOUT
from aibnb.data.download import download as _download
from aibnb.data.paths import data_root
from aibnb.data.raw import require
from aibnb.data.splits import train_val_indices

__all__ = ["CUB_CROP", "CUB_RESIZE", "CUBDataset", "cub_image", "cub_records"]

CUB_RESIZE, CUB_CROP = 256, 224


def cub_records(
    split: str, root: str | os.PathLike[str] | None = None, download: bool = False
) -> tuple[list[formats.CUBRecord], list[str]]:
    """The CUB-200-2011 images of ``split`` (file, label, box) and the class names."""
    folder = data_root(root) / LAYOUT["cub200"]
    if download and not (folder / "images.txt").exists():
        _download("cub200", root)  # raises with instructions: there is no downloader
    require(
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


def cub_image(record: formats.CUBRecord):
    """The bird: the JPEG cropped to its ground-truth box, resized to 256 x 256 (bilinear)."""
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
        return self.transform(cub_image(record)), record.label
