"""Cross-domain evaluation: shifted test sets with the training normalisation, errors without retraining."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aibnb.reproduce import cross_domain
from aibnb.train import load_model

TINY = {  # a few seconds on CPU: scikit-learn's bundled digits, width 1/16
    "model": "vgg",
    "dataset": "digits",
    "width": 0.0625,
    "train_subset": 256,
    "val_subset": 64,
    "test_subset": 64,
    "epochs": 1,
    "batch_size": 64,
    "quiet": True,
    "save_attention": 0,
    "num_threads": 1,
}


pytestmark = pytest.mark.usefixtures("isolated_runs")


def test_shifted_test_set_takes_the_training_normalisation_and_checks_classes():
    from aibnb import data

    shifted = cross_domain.shifted_test_set("digits", "cluttered_digits", n=50)
    assert len(shifted) == 50 and shifted.masks is None
    assert (shifted.mean, shifted.std) == data.normalization("digits")
    assert (shifted.mean, shifted.std) != data.normalization("cluttered_digits")
    assert shifted.classes == data.load_tensors("digits", "test").classes
    with pytest.raises(ValueError, match="same classes"):
        cross_domain.shifted_test_set("digits", "cluttered_fashion", n=10)


def test_shifted_error_is_the_error_of_the_best_weights_on_the_shifted_set():
    from aibnb import data
    from aibnb.train import fit

    record = fit(**TINY)
    shifted = cross_domain.shifted_test_set("digits", "cluttered_digits", n=64)
    error = cross_domain.shifted_error(record, shifted)
    model = load_model(record)  # vgg is deterministic in eval mode: recompute by hand
    x, y = next(iter(data.DeviceLoader(shifted, 64, train=False)))
    with torch.no_grad():
        by_hand = 100.0 * (model(x).logits.argmax(1) != y).double().mean().item()
    assert math.isclose(error, by_hand, abs_tol=1e-9)
    assert 0.0 <= error <= 100.0


def test_dataset_present_says_no_for_missing_files_without_downloading(tmp_path, monkeypatch):
    monkeypatch.setenv("AIBNB_DATA", str(tmp_path / "empty"))
    assert not cross_domain.dataset_present("cifar10")
    assert not cross_domain.dataset_present("cub200")
    assert not (tmp_path / "empty").exists() or not any((tmp_path / "empty").rglob("*.bin"))
    assert cross_domain.dataset_present("digits")  # bundled with scikit-learn


def test_shifted_error_of_a_sampling_model_is_reproducible():
    from aibnb.train import fit

    record = fit(**{**TINY, "model": "vgg_aib"})
    shifted = cross_domain.shifted_test_set("digits", "cluttered_digits", n=64)
    state = torch.get_rng_state()
    first = cross_domain.shifted_error(record, shifted, seed=3)
    assert torch.equal(state, torch.get_rng_state())  # the global random state is left alone
    assert cross_domain.shifted_error(record, shifted, seed=3) == first


def test_stl10_is_a_shifted_test_set_for_cifar10_models(tmp_path, monkeypatch):
    """The paper's cross-domain path on tiny files in the official formats (CIFAR-10 pickles, STL-10 bins)."""
    import pickle

    from aibnb import data

    monkeypatch.setenv("AIBNB_DATA", str(tmp_path))
    cifar = tmp_path / "cifar-10-batches-py"
    cifar.mkdir()
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    rows = np.zeros((10, 3072), np.uint8)
    for part, obj in (("test_batch", {"data": rows, "labels": list(range(10))}),
                      ("batches.meta", {"label_names": names})):  # fmt: skip
        (cifar / part).write_bytes(pickle.dumps(obj, protocol=2))
    stl = tmp_path / "stl10_binary"
    stl.mkdir()
    np.zeros((20, 3, 96, 96), np.uint8).tofile(stl / "test_X.bin")
    np.arange(1, 11).repeat(2).astype(np.uint8).tofile(stl / "test_y.bin")  # 1-based, every class twice
    for backbone in ("vgg", "wrn"):
        shifted = cross_domain.shifted_test_set("cifar10", "stl10", "test", backbone=backbone)
        assert len(shifted) == 18 and shifted.classes == names  # monkey dropped, CIFAR-10 labels
        assert (shifted.mean, shifted.std) == data.normalization("cifar10", backbone)
    assert data.normalization("cifar10", "vgg") != data.normalization("cifar10", "wrn")


def test_every_shifted_set_is_a_dataset_of_the_registry():
    from aibnb import data

    for train_set, targets in cross_domain.CROSS_DOMAIN.items():
        assert train_set in data.available()
        for target, split, label in targets:
            assert target in data.available() and split in ("train", "test") and label


def test_shifted_outcomes_keep_every_image_and_agree_with_the_error(monkeypatch):
    from aibnb.train import fit

    record = fit(**TINY)
    assert cross_domain.shifted_outcomes(record, n=64) is None  # digits has no shifted set registered
    monkeypatch.setitem(cross_domain.CROSS_DOMAIN, "digits", (("cluttered_digits", "test", "scenes"),))
    out = cross_domain.shifted_outcomes(record, n=64)
    assert out["dataset"] == "cluttered_digits" and out["num_images"] == len(out["correct"]) == 64
    assert set(out["correct"]) <= {0, 1}
    shifted = cross_domain.shifted_test_set("digits", "cluttered_digits", n=64)
    assert math.isclose(out["error"], cross_domain.shifted_error(record, shifted), abs_tol=1e-9)
    again = cross_domain.shifted_outcomes(record, n=64, device="auto")  # the device as the queue passes it
    assert again["correct"] == out["correct"]
