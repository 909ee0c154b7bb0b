"""aibnb.data readers: tiny files in each dataset's real on-disk format, read through the public API.

Each writer below follows the official format independently of the readers (struct, pickle,
scipy.io, raw column-major bytes, JPEG + text tables), so a reader bug cannot cancel out.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aibnb import data
from aibnb.data import DatasetNotFoundError

RNG = np.random.default_rng(0)


def write_idx(path: Path, array: np.ndarray) -> None:
    """idx: magic 0x00 0x00 0x08 ndim, big-endian uint32 dims, then the uint8 values."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_fashion(root: Path, per_class_train: int = 6, per_class_test: int = 2) -> None:
    raw = root / "FashionMNIST" / "raw"
    for prefix, per_class in (("train", per_class_train), ("t10k", per_class_test)):
        labels = np.repeat(np.arange(10), per_class)
        images = np.zeros((len(labels), 28, 28), np.uint8)
        images[:, :14, :] = labels[:, None, None] * 20 + 5  # top half encodes the label
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)


def pickle_to(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def cifar_rows(labels: np.ndarray) -> np.ndarray:
    """Rows of 3072 bytes (R plane, G plane, B plane, each row-major 32 x 32)."""
    images = np.zeros((len(labels), 3, 32, 32), np.uint8)
    images[:, 0, :16, :] = 200  # red top half
    images[:, 2] = labels[:, None, None]  # blue plane encodes the label
    return images.reshape(len(labels), 3072)


def test_fashion_mnist_idx_padded_to_32(tmp_path):
    write_fashion(tmp_path)
    train = data.load_tensors("fashion_mnist", "train_full", tmp_path)
    test = data.load_tensors("fashion_mnist", "test", tmp_path)
    assert train.images.shape == (60, 1, 32, 32) and test.images.shape == (20, 1, 32, 32)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    # zero padding of 2 on each side, content where the 28 x 28 image was
    assert train.images[:, :, :2].max() == 0 and train.images[:, :, :, -2:].max() == 0
    assert torch.equal(train.images[:, 0, 2, 2].long(), train.labels * 20 + 5)
    assert train.images[:, 0, 16:].max() == 0  # bottom half stays empty: orientation kept
    assert train.classes[0] == "T-shirt/top" and train.mean == data.normalization("fashion_mnist")[0]


def test_cifar10_pickles_and_backbone_normalisation(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for i in range(1, 6):
        labels = np.arange(10) if i != 3 else np.arange(10)[::-1]
        pickle_to(folder / f"data_batch_{i}", {"data": cifar_rows(labels), "labels": list(labels)})
    pickle_to(folder / "test_batch", {"data": cifar_rows(np.arange(4)), "labels": [0, 1, 2, 3]})
    pickle_to(folder / "batches.meta", {"label_names": names})
    full = data.load_tensors("cifar10", "train_full", tmp_path)
    assert full.images.shape == (50, 3, 32, 32) and full.classes == names
    assert torch.equal(full.labels[20:30], torch.arange(9, -1, -1))  # batch order kept
    assert torch.equal(full.images[:, 2, 5, 5].long(), full.labels)
    assert (full.images[:, 0, :16] == 200).all() and (full.images[:, 0, 16:] == 0).all()
    # the official VGG code normalises CIFAR-10 with CIFAR-100's statistics, WRN with its own
    assert full.mean == (0.5071, 0.4867, 0.4408)
    wrn = data.load_tensors("cifar10", "test", tmp_path, backbone="wrn")
    assert wrn.std == (0.2023, 0.1994, 0.2010) and len(wrn) == 4


def test_cifar100_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    labels = np.arange(100)
    pickle_to(
        folder / "train",
        {"data": cifar_rows(labels), "fine_labels": list(labels), "coarse_labels": [0] * 100},
    )
    pickle_to(folder / "test", {"data": cifar_rows(labels[:7]), "fine_labels": list(labels[:7])})
    pickle_to(folder / "meta", {"fine_label_names": [f"c{i}" for i in range(100)]})
    test = data.load_tensors("cifar100", "test", tmp_path)
    assert test.images.shape == (7, 3, 32, 32) and test.num_classes == 100
    assert torch.equal(test.labels, torch.arange(7)) and torch.equal(
        test.images[:, 2, 0, 0].long(), test.labels
    )
    assert data.load_tensors("cifar100", "train", tmp_path, backbone="wrn").mean == (0.4914, 0.4822, 0.4465)


def test_svhn_mat_layout_and_digit_zero(tmp_path):
    from scipy.io import savemat

    images = np.zeros((12, 32, 32, 3), np.uint8)
    images[:, :8, :, 1] = 255  # green top rows
    digits = np.arange(12) % 10
    images[:, 20, 20, 0] = digits * 10
    stored = np.where(digits == 0, 10, digits)  # SVHN stores the digit 0 as 10
    (tmp_path / "svhn").mkdir()
    savemat(tmp_path / "svhn" / "test_32x32.mat", {"X": images.transpose(1, 2, 3, 0), "y": stored[:, None]})
    test = data.load_tensors("svhn", "test", tmp_path)
    assert test.images.shape == (12, 3, 32, 32)
    assert torch.equal(test.labels, torch.from_numpy(digits))
    assert (test.images[:, 1, :8] == 255).all() and (test.images[:, 1, 8:] == 0).all()
    assert torch.equal(test.images[:, 0, 20, 20].long(), test.labels * 10)
    assert test.mean == (0.5, 0.5, 0.5)


def write_stl(root: Path, split: str, images: np.ndarray, labels_1based: np.ndarray) -> None:
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    # STL-10 stores every channel column-major: write the transpose of each 96 x 96 plane
    np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tofile(folder / f"{split}_X.bin")
    labels_1based.astype(np.uint8).tofile(folder / f"{split}_y.bin")


def test_stl10_resize_orientation_and_cifar10_mapping(tmp_path):
    labels = np.arange(1, 11).repeat(2)  # every STL class twice, 1-based on disk
    images = np.zeros((20, 3, 96, 96), np.uint8)
    images[:, 0, :48, :] = 240  # red top half (rows): a transpose bug would make it the left half
    images[:, 1, ::2, ::2] = 255  # 1-pixel checkerboard quarter: aliasing test
    images[:, 2] = (labels * 20)[:, None, None]
    write_stl(tmp_path, "test", images, labels)
    native = data.load_tensors("stl10", "test", tmp_path, label_space="stl10")
    assert native.images.shape == (20, 3, 32, 32) and torch.equal(native.labels, torch.from_numpy(labels - 1))
    assert native.classes[7] == "monkey"
    red = native.images[:, 0].float()
    assert (red[:, :15] > 235).all() and (red[:, 17:] < 5).all()  # top half, not left half
    # antialiased: the 1-px pattern (a quarter of the pixels lit) averages to a near-flat grey
    # of 255/4; plain bilinear would sample only unlit pixels here and return black
    green = native.images[:, 1].float()
    assert abs(green.mean().item() - 255 / 4) < 3 and green.std() < 15

    mapped = data.load_tensors("stl10", "test", tmp_path)  # default: CIFAR-10 label space
    assert len(mapped) == 18 and mapped.classes[1] == "automobile"
    stl_of = {int(b) // 20 - 1: int(c) for b, c in zip(mapped.images[:, 2, 0, 0], mapped.labels, strict=True)}
    expected = {0: 0, 1: 2, 2: 1, 3: 3, 4: 4, 5: 5, 6: 7, 8: 8, 9: 9}  # monkey (7) excluded
    assert stl_of == expected
    assert 6 not in mapped.labels.tolist()  # frog never occurs
    assert mapped.mean == data.normalization("cifar10")[0]
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_tensors("stl10", "val", tmp_path)


def write_cub(root: Path) -> list[tuple[int, int, int, int]]:
    """Four 60 x 40 JPEGs, two classes, a red box (the bird) on blue; returns the boxes."""
    folder = root / "CUB_200_2011"
    boxes = [(5, 4, 30, 20), (20, 10, 36, 24), (0, 0, 60, 40), (10, 5, 20, 30)]
    lines = {"images": [], "labels": [], "split": [], "boxes": []}
    for i, (x, y, w, h) in enumerate(boxes, start=1):
        cls = 1 + (i - 1) % 2
        rel = f"{cls:03d}.Bird_{cls}/img_{i}.jpg"
        picture = np.zeros((40, 60, 3), np.uint8)
        picture[..., 2] = 255
        picture[y : y + h, x : x + w] = (255, 0, 0)
        (folder / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(picture).save(folder / "images" / rel, quality=95, subsampling=0)
        lines["images"].append(f"{i} {rel}")
        lines["labels"].append(f"{i} {cls}")
        lines["split"].append(f"{i} {1 if i <= 2 else 0}")
        lines["boxes"].append(f"{i} {x}.0 {y}.0 {w}.0 {h}.0")
    for name, key in [
        ("images.txt", "images"),
        ("image_class_labels.txt", "labels"),
        ("train_test_split.txt", "split"),
        ("bounding_boxes.txt", "boxes"),
    ]:
        (folder / name).write_text("\n".join(lines[key]) + "\n")
    (folder / "classes.txt").write_text("1 001.Bird_1\n2 002.Bird_2\n")
    return boxes


def test_cub200_crop_to_box_and_transforms(tmp_path):
    write_cub(tmp_path)
    train = data.load_tensors("cub200", "train_full", tmp_path)
    assert train.images.shape == (2, 3, 256, 256) and train.classes == ["Bird_1", "Bird_2"]
    assert torch.equal(train.labels, torch.tensor([0, 1]))
    assert (train.crop, train.pad) == (224, 0) and train.mean == (0.485, 0.456, 0.406)
    # cropped to the ground-truth box: red everywhere, no blue background left (JPEG tolerance)
    inner = train.images[:, :, 32:-32, 32:-32].float()
    assert (inner[:, 0] > 200).all() and (inner[:, 2] < 60).all()
    edges = train.images.float().mean(dim=(2, 3))
    assert (edges[:, 0] > 200).all() and (edges[:, 2] < 60).all()
    test = data.load("cub200", "test", tmp_path)
    x, y = test[0]
    assert x.shape == (3, 224, 224) and y == 0 and len(test) == 2
    augmented = data.load("cub200", "train_full", tmp_path)
    assert augmented[1][0].shape == (3, 224, 224)


def test_digits_bundled_splits():
    full = data.load_tensors("digits", "train_full")
    test = data.load_tensors("digits", "test")
    assert len(full) + len(test) == 1797 and len(test) == 360
    assert full.images.shape[1:] == (1, 32, 32)
    assert full.images[:, :, :4].max() == 0 and full.images[:, :, :, -4:].max() == 0  # padding
    assert full.images[:, :, 4:-4, 4:-4].float().mean() > 30  # the digit fills the middle 24 x 24


def test_missing_dataset_error_says_where_and_how(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        data.load_tensors("cifar10", "train", tmp_path)
    message = str(err.value)
    assert str(tmp_path / "cifar-10-batches-py") in message and "download=True" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in message
    with pytest.raises(DatasetNotFoundError, match="make data"):
        data.load("fashion_mnist", "test", tmp_path)
    with pytest.raises(DatasetNotFoundError, match="no downloader for CUB"):
        data.load("cub200", "train", tmp_path, download=True)


def test_bad_names_and_options_are_clear(tmp_path):
    with pytest.raises(ValueError, match="valid names: fashion_mnist, cifar10"):
        data.load_tensors("mnist", "train", tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        data.load("digits", "validation")
    with pytest.raises(ValueError, match="backbone must be one of"):
        data.load_tensors("digits", "train", backbone="resnet")
    with pytest.raises(ValueError, match="label_space applies to stl10 only"):
        data.load_tensors("digits", "train", label_space="cifar10")


def test_available_lists_every_name_with_a_description():
    names = data.available()
    assert {"fashion_mnist", "cifar10", "cifar100", "svhn", "stl10", "cub200", "digits"} <= set(names)
    assert {"cluttered_fashion", "cluttered_digits", "cluttered_fashion_shift"} <= set(names)
    assert all(isinstance(d, str) and len(d) > 10 for d in names.values())
