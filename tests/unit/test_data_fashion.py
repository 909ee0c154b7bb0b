"""Integration with the real Fashion-MNIST files (skipped, with the reason, where they are absent)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from aibnb import data
from aibnb.data import cluttered, download


@pytest.fixture(scope="module")
def fashion_root(tmp_path_factory) -> Path:
    """A data root holding Fashion-MNIST: $AIBNB_DATA if it has it, else unpacked from Debian's files."""
    configured = os.environ.get("AIBNB_DATA")
    if configured and not download.fashion_mnist_problems(Path(configured) / "FashionMNIST" / "raw"):
        return Path(configured)
    if not all((download.DEBIAN_FASHION_MNIST / f"{n}.gz").exists() for n in download.FASHION_MNIST_FILES):
        pytest.skip(
            "Fashion-MNIST is not available: set AIBNB_DATA to a root filled by `make data`, or install "
            f"the Debian package {download.DEBIAN_PACKAGE} (files in {download.DEBIAN_FASHION_MNIST})"
        )
    root = tmp_path_factory.mktemp("fashion")
    download.fetch_fashion_mnist(root, use_apt=False, use_download=False, log=print)
    return root


def test_real_files_pass_the_header_checks(fashion_root):
    assert download.fashion_mnist_problems(fashion_root / "FashionMNIST" / "raw") == []


def test_splits_sizes_and_stratified_val(fashion_root):
    train = data.load_tensors("fashion_mnist", "train", fashion_root)
    val = data.load_tensors("fashion_mnist", "val", fashion_root)
    test = data.load_tensors("fashion_mnist", "test", fashion_root)
    assert (len(train), len(val), len(test)) == (55000, 5000, 10000)
    assert train.images.shape[1:] == (1, 32, 32) and train.num_classes == 10
    assert torch.equal(val.labels.bincount(), torch.full((10,), 500))  # balanced classes: exact
    assert torch.equal(train.labels.bincount(), torch.full((10,), 5500))


def test_normalisation_constant_is_the_training_statistics(fashion_root):
    full = data.load_tensors("fashion_mnist", "train_full", fashion_root)
    mean, std = data.compute_mean_std(full.images)
    expected = data.normalization("fashion_mnist")
    assert mean[0] == pytest.approx(expected[0][0], abs=1e-4) and std[0] == pytest.approx(
        expected[1][0], abs=1e-4
    )


def test_cluttered_fashion_statistics_match_the_constant(fashion_root):
    """Measured on the 22,000 train_full scenes; re-measured here on 1,500 fresh ones."""
    objects, labels = data.datasets.source_objects("cluttered_fashion", "train", fashion_root)
    config = dataclasses.asdict(cluttered.CLUTTERED["cluttered_fashion"].config)
    scenes = cluttered.make_cluttered(objects, labels, 1500, seed=3, **config)
    mean, std = data.compute_mean_std(scenes.images)
    expected = data.normalization("cluttered_fashion")
    assert mean[0] == pytest.approx(expected[0][0], abs=0.01) and std[0] == pytest.approx(
        expected[1][0], abs=0.01
    )


def test_reference_pipeline_and_device_loader_agree_on_test_images(fashion_root):
    reference = data.load("fashion_mnist", "test", fashion_root)
    batch = torch.utils.data.DataLoader(reference, batch_size=64, shuffle=False)
    x_ref, y_ref = next(iter(batch))
    x, y = next(
        iter(data.DeviceLoader(data.load_tensors("fashion_mnist", "test", fashion_root), 64, train=False))
    )
    assert torch.allclose(x, x_ref, atol=1e-6) and torch.equal(y, y_ref)
    assert abs(x.mean().item()) < 0.5  # roughly centred by the training statistics
