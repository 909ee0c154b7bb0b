"""Deterministic, stratified splits: the validation set and the small CPU subsets.

The official training scripts keep the checkpoint with the best **test** accuracy. Here model
selection uses ``"val"``, a part carved out of the training set, so the test set is
touched once, at the end. The carve-out is

* **deterministic**: drawn with the fixed seed :data:`VAL_SEED`, independent of any
  run's seed, so every run, every chapter and every machine agree on it;
* **stratified**: each class contributes in proportion to its share of the training set
  (largest-remainder rounding, so the total is exact);
* **sized** ``min(5000, round(10 % of the training set))``: 5,000 images for CIFAR-10/100,
  SVHN and Fashion-MNIST, 599 for CUB-200, 144 for digits.

``"train"`` is the rest, ``"train_full"`` the union (the official training set).
"""

from __future__ import annotations

import torch

VAL_SEED = 20210601  # the date of the official code's last commit; any fixed number would do
VAL_FRACTION = 0.1
VAL_MAX = 5000


def val_size(num_train_full: int) -> int:
    """Number of validation images carved from a training set of ``num_train_full``."""
    return min(VAL_MAX, round(VAL_FRACTION * num_train_full))


def _quotas(counts: torch.Tensor, n: int) -> torch.Tensor:
    """Split ``n`` over classes in proportion to ``counts`` (largest remainder, exact total)."""
    total = int(counts.sum())
    exact = counts.double() * n / total
    quotas = exact.floor().long()
    short = n - int(quotas.sum())
    if short:
        # ties go to the lower class index (stable sort), so the result is deterministic
        order = torch.sort(exact - quotas, descending=True, stable=True).indices
        quotas[order[:short]] += 1
    return torch.minimum(quotas, counts)


def stratified_choice(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Pick ``n`` indices of ``labels``, stratified by class, as a function of ``seed`` only.

    Returns the chosen indices in increasing order.
    """
    labels = torch.as_tensor(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(labels.shape)}")
    if not 0 <= n <= len(labels):
        raise ValueError(f"n must be between 0 and the number of samples ({len(labels)}), got {n}")
    classes, counts = torch.unique(labels, return_counts=True)
    quotas = _quotas(counts, n)
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for cls, quota in zip(classes.tolist(), quotas.tolist(), strict=True):
        members = torch.nonzero(labels == cls).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:quota]])
    picked = torch.cat(chosen) if chosen else torch.zeros(0, dtype=torch.long)
    return torch.sort(picked).values


def train_val_indices(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of ``"train"`` and ``"val"`` inside the full training set (disjoint, sorted)."""
    labels = torch.as_tensor(labels)
    val = stratified_choice(labels, val_size(len(labels)), VAL_SEED)
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[val] = False
    return torch.nonzero(keep).flatten(), val
