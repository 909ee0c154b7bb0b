"""aibnb.data.DeviceLoader: batches, augmentation statistics, determinism, sharding, masks."""

from __future__ import annotations

import math

import pytest
import torch

from aibnb import data
from aibnb.data import DeviceLoader, TensorData


def make_data(n: int = 200, channels: int = 3, masks: bool = False, classes: int = 5) -> TensorData:
    g = torch.Generator().manual_seed(n + channels)
    images = torch.randint(0, 256, (n, channels, 32, 32), dtype=torch.uint8, generator=g)
    return TensorData(
        images=images,
        labels=torch.arange(n) % classes,
        classes=[str(c) for c in range(classes)],
        mean=(0.3,) * channels,
        std=(0.2,) * channels,
        name="synthetic",
        split="train",
        masks=images[:, :1] > 127 if masks else None,
    )


def test_shapes_dtypes_length_and_normalisation():
    tensors = make_data(203)
    loader = DeviceLoader(tensors, 50, train=False)
    batches = list(loader)
    assert len(loader) == len(batches) == 5 and [len(b[1]) for b in batches] == [50, 50, 50, 50, 3]
    x, y = batches[0]
    assert x.shape == (50, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.is_contiguous()
    # evaluation: no shuffle, no augmentation: exactly ToTensor + Normalize of the stored images
    expected = (tensors.images[:50].float() / 255 - 0.3) / 0.2
    assert torch.allclose(x, expected, atol=1e-6) and torch.equal(y, tensors.labels[:50])
    assert len(DeviceLoader(tensors, 50, drop_last=True)) == 4
    assert (
        DeviceLoader(tensors, 50, channels_last=True)
        .__iter__()
        .__next__()[0]
        .is_contiguous(memory_format=torch.channels_last)
    )


def test_matches_the_per_sample_pil_dataset_without_augmentation():
    tensors = make_data(20, channels=1)
    reference = data.reference.TensorImageDataset(tensors, augment=False)
    x, y = next(iter(DeviceLoader(tensors, 20, train=False)))
    for i in range(20):
        xi, yi = reference[i]
        assert torch.allclose(x[i], xi, atol=1e-6) and y[i].item() == yi


def test_augmentation_statistics_match_the_official_transform():
    """Offsets uniform on 0..2*pad per axis (RandomCrop's distribution), flips with p = 1/2."""
    loader = DeviceLoader(make_data(3000), 100, seed=1)
    plan = loader.plan()
    for offsets in (plan["offset_y"], plan["offset_x"]):
        assert offsets.min() == 0 and offsets.max() == 8
        counts = torch.bincount(offsets, minlength=9).double()
        assert (counts - 3000 / 9).abs().max() < 5 * math.sqrt(3000 / 9)
    assert abs(plan["flip"].double().mean().item() - 0.5) < 5 * math.sqrt(0.25 / 3000)
    # and the batches really are those crops: undo normalisation, compare with reflect-pad + crop
    tensors = loader.data
    x, _ = next(iter(loader))
    raw = (x * 0.2 + 0.3) * 255
    padded = torch.nn.functional.pad(tensors.images.float(), (4, 4, 4, 4), mode="reflect")
    for b in range(5):
        i, oy, ox = plan["order"][b], plan["offset_y"][b], plan["offset_x"][b]
        crop = padded[i, :, oy : oy + 32, ox : ox + 32]
        crop = crop.flip(-1) if plan["flip"][b] else crop
        assert torch.allclose(raw[b], crop, atol=1e-3)


def epoch_batches(loader: DeviceLoader, epoch: int) -> list[tuple[torch.Tensor, ...]]:
    loader.set_epoch(epoch)
    return list(loader)


def same_batches(a, b) -> bool:
    return len(a) == len(b) and all(
        torch.equal(p, q) for u, v in zip(a, b, strict=True) for p, q in zip(u, v, strict=True)
    )


def test_epochs_are_a_pure_function_of_seed_and_epoch():
    tensors = make_data(130)
    uninterrupted = DeviceLoader(tensors, 32, seed=7)
    history = [epoch_batches(uninterrupted, e) for e in range(4)]
    resumed = DeviceLoader(tensors, 32, seed=7)  # a fresh process resuming at epoch 2
    torch.manual_seed(999)  # the global RNG state must not matter
    assert same_batches(epoch_batches(resumed, 2), history[2])
    assert same_batches(epoch_batches(resumed, 3), history[3])
    assert not same_batches(history[0], history[1])  # new order and crops every epoch
    assert not same_batches(epoch_batches(DeviceLoader(tensors, 32, seed=8), 0), history[0])
    # every sample exactly once per epoch
    assert sorted(torch.cat([b[1] for b in history[1]]).tolist()) == sorted(tensors.labels.tolist())


@pytest.mark.parametrize("drop_last", [True, False])
def test_sharding_partitions_each_epoch(drop_last):
    n, world = 103, 3
    tensors = make_data(n)
    tensors.labels = torch.arange(n)  # labels identify samples
    loaders = [
        DeviceLoader(tensors, 8, seed=2, rank=r, world_size=world, drop_last=drop_last) for r in range(world)
    ]
    shards = [torch.cat([y for _, y in epoch_batches(loader, 5)]) for loader in loaders]
    if drop_last:  # incomplete batches are dropped too: compare with the full shard order
        assert all(
            torch.equal(s, lo.plan(5)["order"][: len(s)]) for s, lo in zip(shards, loaders, strict=True)
        )
        shards = [lo.plan(5)["order"] for lo in loaders]
    sizes = {len(s) for s in shards}
    assert sizes == ({n // world} if drop_last else {math.ceil(n / world)})
    seen = torch.cat(shards).tolist()
    if drop_last:
        assert len(set(seen)) == len(seen) == world * (n // world)  # disjoint
    else:
        assert set(seen) == set(range(n)) and len(seen) - len(set(seen)) == world * math.ceil(n / world) - n
    # the shards together are the single-process order of that epoch, interleaved
    single = DeviceLoader(tensors, 8, seed=2).plan(5)["order"]
    assert torch.equal(shards[1][:10], single[1:30:3])


def test_masks_follow_the_crop_and_flip():
    tensors = make_data(64, masks=True)  # mask = red channel > 127
    loader = DeviceLoader(tensors, 16, seed=3, return_masks=True)
    for x, _, mask in loader:
        red = (x[:, :1] * 0.2 + 0.3) * 255
        assert mask.dtype == torch.bool and mask.shape == (16, 1, 32, 32)
        assert torch.equal(mask, red > 127.5)
    with pytest.raises(ValueError, match="no object masks"):
        DeviceLoader(make_data(8), 4, return_masks=True)


def test_crop_without_padding_for_large_images():
    """CUB-style data: 224 crops of 256 x 256 images, random in training, centred otherwise."""
    images = torch.arange(256, dtype=torch.uint8).view(1, 1, 1, 256).expand(4, 3, 256, 256).contiguous()
    tensors = TensorData(
        images, torch.arange(4), list("abcd"), (0.0,) * 3, (1.0,) * 3, "big", "train", crop=224, pad=0
    )
    x, _ = next(iter(DeviceLoader(tensors, 4, train=False)))
    assert x.shape == (4, 3, 224, 224) and torch.allclose(x[:, 0, 0, 0] * 255, torch.full((4,), 16.0))
    loader = DeviceLoader(tensors, 4, seed=0)
    plan = loader.plan()
    assert plan["offset_x"].max() <= 32
    x, _ = next(iter(loader))
    first = (x[:, 0, 0, 0] * 255).round()
    expected = torch.where(plan["flip"], plan["offset_x"] + 223, plan["offset_x"]).float()
    assert torch.equal(first, expected)


def test_bad_arguments_are_clear():
    tensors = make_data(10)
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(tensors, 0)
    with pytest.raises(ValueError, match="rank"):
        DeviceLoader(tensors, 2, rank=2, world_size=2)
    with pytest.raises(ValueError, match="epoch"):
        DeviceLoader(tensors, 2).set_epoch(-1)
