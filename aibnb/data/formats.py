"""Small readers for the on-disk formats of the datasets the book uses.

We read the files ourselves instead of through torchvision's dataset classes: those check
MD5 sums of the official archives, so they reject the tiny files our tests write in the
same formats (and any re-packaged copy, such as Debian's Fashion-MNIST). torchvision is
used only to *download* (see :mod:`aibnb.data.download`).

Every reader returns images as a ``uint8`` tensor ``N x C x H x W`` and labels as ``int64``
(0-based), so the rest of the package never sees a format's quirks:

========== ============================================= ==================================
dataset    files (under the data root)                   quirk handled here
========== ============================================= ==================================
idx        ``FashionMNIST/raw/*-ubyte``                  big-endian header, magic 0x08 0x0D
CIFAR-10   ``cifar-10-batches-py/data_batch_{1..5}``     pickled dict, rows of 3072 bytes
CIFAR-100  ``cifar-100-python/{train,test,meta}``        ``fine_labels``
SVHN       ``svhn/{train,test}_32x32.mat``               ``X`` is H x W x C x N, digit 0 is 10
STL-10     ``stl10_binary/{train,test}_{X,y}.bin``        column-major images, labels 1..10
CUB-200    ``CUB_200_2011/*.txt``, ``images/...jpg``     1-based ids and classes, boxes
digits     bundled with scikit-learn                     8 x 8, values 0..16
========== ============================================= ==================================
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.io import loadmat

# idx type codes (third byte of the magic number) -> numpy dtype (big-endian)
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def idx_header(path: str | Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Read an idx file's header: ``(dtype, shape, header_bytes)``; checks the magic number."""
    path = Path(path)
    with _open(path) as f:
        magic = f.read(4)
        if len(magic) != 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
            raise ValueError(f"{path} is not an idx file (magic bytes {magic.hex()!r})")
        ndim = magic[3]
        dims = f.read(4 * ndim)
        if len(dims) != 4 * ndim:
            raise ValueError(f"{path}: truncated idx header")
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
    return _IDX_DTYPES[magic[2]], shape, 4 + 4 * ndim


def read_idx(path: str | Path) -> np.ndarray:
    """Read an idx file (plain or ``.gz``) into a numpy array of its declared shape."""
    path = Path(path)
    dtype, shape, offset = idx_header(path)
    with _open(path) as f:
        raw = f.read()
    count = int(np.prod(shape))
    if len(raw) != offset + count * dtype.itemsize:
        raise ValueError(
            f"{path}: expected {count} values of shape {shape} after the header, "
            f"found {len(raw) - offset} bytes; the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def _images_labels(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return (
        torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8)),
        torch.from_numpy(np.asarray(labels, dtype=np.int64).copy()),
    )


def read_fashion_mnist(folder: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST from ``folder`` = ``<root>/FashionMNIST/raw``: ``N x 1 x 28 x 28`` images."""
    prefix = "train" if train else "t10k"
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte")
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte")
    return _images_labels(images[:, None], labels)


def _unpickle(path: Path) -> dict:
    # The CIFAR archives are Python 2 pickles (hence latin1); they come from the dataset's
    # home page or torchvision's downloader, never from the network at load time.
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def read_cifar10(folder: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """CIFAR-10 from ``folder`` = ``<root>/cifar-10-batches-py``: ``N x 3 x 32 x 32`` images."""
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    batches = [_unpickle(folder / name) for name in names]
    images = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([b["labels"] for b in batches])
    classes = list(_unpickle(folder / "batches.meta")["label_names"])
    return (*_images_labels(images, labels), classes)


def read_cifar100(folder: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """CIFAR-100 (fine labels) from ``folder`` = ``<root>/cifar-100-python``."""
    batch = _unpickle(folder / ("train" if train else "test"))
    images = np.asarray(batch["data"]).reshape(-1, 3, 32, 32)
    classes = list(_unpickle(folder / "meta")["fine_label_names"])
    return (*_images_labels(images, batch["fine_labels"]), classes)


def read_svhn(folder: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """SVHN (cropped digits, no ``extra``) from ``folder`` = ``<root>/svhn``.

    The ``.mat`` files store ``X`` as H x W x C x N and the digit 0 as label 10.
    """
    mat = loadmat(folder / ("train_32x32.mat" if train else "test_32x32.mat"))
    images = np.transpose(mat["X"], (3, 2, 0, 1))
    labels = np.asarray(mat["y"], dtype=np.int64).reshape(-1) % 10
    return _images_labels(images, labels)


STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def read_stl10(folder: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """STL-10 labelled images from ``folder`` = ``<root>/stl10_binary``: ``N x 3 x 96 x 96``.

    The binaries store each channel column-major (hence the transpose) and labels 1..10.
    """
    split = "train" if train else "test"
    raw = np.fromfile(folder / f"{split}_X.bin", dtype=np.uint8)
    if raw.size % (3 * 96 * 96):
        raise ValueError(f"{folder / f'{split}_X.bin'}: size is not a multiple of 3*96*96 bytes")
    images = raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
    labels = np.fromfile(folder / f"{split}_y.bin", dtype=np.uint8).astype(np.int64) - 1
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{folder / f'{split}_y.bin'}: labels must be 1..10")
    return _images_labels(images, labels)


@dataclass(frozen=True)
class CUBRecord:
    """One CUB-200-2011 image: its file, 0-based class, and ground-truth box (x, y, w, h)."""

    path: Path
    label: int
    box: tuple[float, float, float, float]


def _table(path: Path) -> dict[int, list[str]]:
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            key, *rest = line.split()
            rows[int(key)] = rest
    return rows


def read_cub200_index(folder: Path, train: bool) -> tuple[list[CUBRecord], list[str]]:
    """Index of CUB-200-2011 (``folder`` = ``<root>/CUB_200_2011``) for the standard split.

    Reads ``images.txt``, ``image_class_labels.txt``, ``train_test_split.txt``,
    ``bounding_boxes.txt`` and ``classes.txt``; ids and classes are 1-based on disk.
    """
    paths = _table(folder / "images.txt")
    labels = _table(folder / "image_class_labels.txt")
    is_train = _table(folder / "train_test_split.txt")
    boxes = _table(folder / "bounding_boxes.txt")
    classes_file = folder / "classes.txt"
    records = [
        CUBRecord(
            path=folder / "images" / paths[i][0],
            label=int(labels[i][0]) - 1,
            box=tuple(float(v) for v in boxes[i][:4]),
        )
        for i in sorted(paths)
        if (is_train[i][0] == "1") == train
    ]
    if classes_file.exists():
        table = _table(classes_file)
        classes = [table[k][0].split(".", 1)[-1] for k in sorted(table)]
    else:
        classes = [str(c) for c in range(1 + max((r.label for r in records), default=-1))]
    return records, classes


def read_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8 x 8 digits (1797 images), scaled from 0..16 to 0..255."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255)[:, None]
    return _images_labels(images, bunch.target)
