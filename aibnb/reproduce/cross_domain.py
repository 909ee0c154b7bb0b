"""Cross-domain evaluation: a trained model on a shifted test set, without retraining.

The paper's Table 1 also evaluates its CIFAR-10 models on STL-10 (both splits): the same classes
(STL-10's monkey dropped) photographed differently, which measures how much of what a model learnt
transfers. This book needs the same path for its own datasets, so it is one small piece of code:

* :data:`CROSS_DOMAIN` says on which shifted test sets the models of a training set are evaluated
  (STL-10 for CIFAR-10, as in the paper; the objects of ``cluttered_fashion`` for Fashion-MNIST,
  this book's analogue; ``cluttered_fashion_shift`` for models trained on the cluttered scenes);
* :func:`shifted_test_set` builds such a set with the *training* set's normalisation (the input
  convention the model was trained with) and checks that the classes are the training set's;
* :func:`shifted_error` evaluates a run's best weights on it through :func:`aibnb.train.evaluate`
  (the official 4 x 4 samples), reproducibly and without touching the global random state;
* :func:`shifted_outcomes` keeps the outcome of every shifted image as well, what the stored
  ``lab`` tier needs to decide the paper's cross-domain claim with a per-image paired test;
* :func:`dataset_present` says whether a dataset is on this machine, so that a chapter skips a
  shifted set it does not have instead of downloading it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from aibnb import runs
from aibnb.data.cub import cub_records
from aibnb.data.datasets import load_tensors
from aibnb.data.loader import DeviceLoader
from aibnb.data.paths import DatasetNotFoundError
from aibnb.data.transforms import normalization
from aibnb.train.checkpoint import load_model
from aibnb.train.config import TrainConfig
from aibnb.train.loop import evaluate
from aibnb.train.machine import select_device

__all__ = ["CROSS_DOMAIN", "dataset_present", "shifted_error", "shifted_outcomes", "shifted_test_set"]

#: Shifted test sets per training set: ``(dataset, split, label)``. The paper evaluates its
#: CIFAR-10 models on STL-10 (both splits); this book's analogue for Fashion-MNIST models is the
#: test split of ``cluttered_fashion`` (the same ten classes, each item smaller, anywhere in a
#: 32 x 32 scene, among fragments of other items on a textured background); models trained on
#: ``cluttered_fashion`` itself meet ``cluttered_fashion_shift`` (denser clutter, smaller items).
CROSS_DOMAIN: dict[str, tuple[tuple[str, str, str], ...]] = {
    "cifar10": (("stl10", "train", "STL10-train"), ("stl10", "test", "STL10-test")),
    "fashion_mnist": (("cluttered_fashion", "test", "cluttered scenes"),),
    "cluttered_fashion": (("cluttered_fashion_shift", "test", "shifted scenes"),),
}


def dataset_present(name: str) -> bool:
    """Whether ``name``'s test split is on this machine (nothing is downloaded)."""
    try:
        if name == "cub200":
            cub_records("test")  # the index only: decoding 5,794 JPEGs just to check is wasteful
        else:
            load_tensors(name, "test")
    except DatasetNotFoundError:
        return False
    return True


def shifted_test_set(
    train_dataset: str,
    target: str,
    split: str = "test",
    *,
    n: int | None = None,
    backbone: str = "vgg",
    seed: int = 0,
) -> Any:
    """The ``target``/``split`` images as a test set for models trained on ``train_dataset``.

    The images are normalised with the *training* set's statistics (the models' input
    convention; STL-10 already borrows CIFAR-10's) and lose their masks; ``n`` takes a stratified
    subset (same ``seed``, same subset). The classes must be the training set's.
    """
    shifted = load_tensors(target, split, backbone=backbone)
    train_classes = load_tensors(train_dataset, "test", backbone=backbone).classes
    if list(shifted.classes) != list(train_classes):
        raise ValueError(
            f"shifted_test_set: {target} has classes {shifted.classes}, but models trained on "
            f"{train_dataset} predict {train_classes}; a shifted test set needs the same classes"
        )
    mean, std = normalization(train_dataset, backbone)
    shifted = replace(shifted, mean=mean, std=std, masks=None)
    if n is not None and n < len(shifted):
        shifted = shifted.subset(n, seed=seed)
    return shifted


@torch.no_grad()
def shifted_error(
    record: runs.RunRecord, test_set: Any, *, device: str = "cpu", batch_size: int = 256, seed: int = 0
) -> float:
    """Top-1 error (%) of a run's best weights on ``test_set`` (the official 4 x 4 samples), no retraining.

    The attention and latent samples are drawn from a generator seeded with ``seed`` (the global
    random state is restored afterwards), so the same call gives the same error.
    """
    cfg = TrainConfig.from_dict(record.config)
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        model = load_model(record, device=device)  # building the model draws initial weights too
        loader = DeviceLoader(test_set, batch_size, device=device, train=False)
        torch.manual_seed(seed)
        result = evaluate(model, loader, cfg, dev, prefix="shift")
    return float(result["shift_error"])


@torch.no_grad()
def shifted_outcomes(
    record: runs.RunRecord, *, n: int | None = None, device: str = "cpu", batch_size: int = 256, seed: int = 0
) -> dict[str, Any] | None:
    """A run's best weights on the first shifted test set of its training set (:data:`CROSS_DOMAIN`),
    image by image: ``{"dataset", "split", "label", "num_images", "error", "correct"}`` (``correct``:
    one 0/1 per image, in the order of the stratified subset of ``n`` images). ``None`` when the
    training set has no shifted set here. Predictions use the model's evaluation default (the
    official 4 x 4 samples), drawn from a generator seeded with ``seed``.
    """
    cfg = record.config
    targets = [t for t in CROSS_DOMAIN.get(cfg["dataset"], ()) if dataset_present(t[0])]
    if not targets:
        return None
    target, split, label = targets[0]
    backbone = "wrn" if cfg["model"].startswith("wrn") else "vgg"
    test_set = shifted_test_set(cfg["dataset"], target, split, n=n, backbone=backbone)
    dev = select_device(str(device))  # "auto" as the queue passes it
    mean = torch.tensor(test_set.mean, device=dev).view(1, -1, 1, 1)
    std = torch.tensor(test_set.std, device=dev).view(1, -1, 1, 1)
    correct = []
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        model = load_model(record, device=str(dev)).eval()
        torch.manual_seed(seed)
        for start in range(0, len(test_set), batch_size):
            x = (test_set.images[start : start + batch_size].to(dev, torch.float32) / 255 - mean) / std
            out = model(x)
            logits = out if isinstance(out, torch.Tensor) else out.logits
            labels = test_set.labels[start : start + batch_size].to(dev)
            correct += (logits.argmax(1) == labels).int().tolist()
    return {"dataset": target, "split": split, "label": label, "num_images": len(correct),
            "error": 100.0 * (1 - sum(correct) / max(len(correct), 1)), "correct": correct}
