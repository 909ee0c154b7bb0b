"""aibnb.data splits: the validation carve-out and the stratified subsets."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aibnb import data
from aibnb.data.splits import VAL_SEED, stratified_choice, train_val_indices, val_size


def test_val_size_rule():
    assert val_size(50_000) == 5000 and val_size(60_000) == 5000 and val_size(73_257) == 5000
    assert val_size(5994) == 599 and val_size(1437) == 144


def test_val_split_is_disjoint_stratified_and_deterministic():
    labels = torch.arange(3000) % 7  # 7 classes, unequal counts (429 or 428)
    labels = labels[torch.randperm(3000, generator=torch.Generator().manual_seed(1))]
    train, val = train_val_indices(labels)
    assert len(val) == val_size(3000) == 300 and len(train) == 2700
    assert not set(train.tolist()) & set(val.tolist())
    assert torch.equal(torch.sort(torch.cat([train, val])).values, torch.arange(3000))
    counts = torch.bincount(labels[val], minlength=7)
    expected = torch.bincount(labels, minlength=7).double() * 300 / 3000
    assert (counts - expected).abs().max() < 1  # proportional, up to rounding
    # deterministic: independent of the global RNG state and of the call
    torch.manual_seed(123)
    again = train_val_indices(labels)[1]
    assert torch.equal(val, again)


def test_val_split_of_a_real_dataset_is_fixed():
    train = data.load_tensors("digits", "train")
    val = data.load_tensors("digits", "val")
    full = data.load_tensors("digits", "train_full")
    assert len(train) + len(val) == len(full) and len(val) == 144
    assert torch.equal(val.labels.bincount(minlength=10).clamp(13, 16), val.labels.bincount(minlength=10))
    # the val images are exactly the images the fixed seed selects from train_full
    index = stratified_choice(full.labels, 144, VAL_SEED)
    assert torch.equal(full.images[index], val.images)


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31),
)
def test_stratified_choice_properties(counts, fraction, seed):
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    n = round(fraction * len(labels))
    chosen = stratified_choice(labels, n, seed)
    assert len(chosen) == n and len(set(chosen.tolist())) == n
    assert torch.equal(chosen, torch.sort(chosen).values)
    share = torch.bincount(labels[chosen], minlength=len(counts)).double()
    assert (share - torch.tensor(counts).double() * n / len(labels)).abs().max() < 1
    assert torch.equal(chosen, stratified_choice(labels, n, seed))


def test_subset_is_stratified_and_seeded():
    full = data.load_tensors("digits", "train")
    small = data.subset(full, 100, seed=3)
    assert len(small) == 100 and small.images.shape[1:] == full.images.shape[1:]
    assert torch.equal(small.labels.bincount(minlength=10).clamp(9, 11), small.labels.bincount(minlength=10))
    assert torch.equal(small.images, full.subset(100, seed=3).images)
    assert not torch.equal(small.images, full.subset(100, seed=4).images)
    with pytest.raises(ValueError, match="n must be between 1 and"):
        full.subset(0)
