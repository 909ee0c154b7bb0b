"""aibnb.data transforms: normalisation table, and the PIL path vs the batched device path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import functional as image_ops

from aibnb import data
from aibnb.data.transforms import (
    JointTransform,
    crop_flip_indices,
    gather_crop_flip,
    normalize_uint8,
    official_transform,
)


def test_normalisation_follows_the_official_code():
    cifar100 = ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))
    wrn = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
    assert data.normalization("cifar10", "vgg") == cifar100 == data.normalization("cifar100", "vgg")
    assert data.normalization("cifar10", "wrn") == wrn == data.normalization("cifar100", "WRN")
    assert data.normalization("svhn", "vgg") == ((0.5,) * 3, (0.5,) * 3) == data.normalization("svhn", "wrn")
    assert data.normalization("cub200") == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    # evaluation-only sets use the statistics of the training domain
    assert data.normalization("stl10", "wrn") == wrn
    assert data.normalization("cluttered_fashion_shift") == data.normalization("cluttered_fashion")
    with pytest.raises(ValueError, match="no normalisation known"):
        data.normalization("imagenet")


def test_digits_statistics_match_the_data():
    images = data.load_tensors("digits", "train_full").images
    mean, std = data.compute_mean_std(images)
    expected = data.normalization("digits")
    assert mean[0] == pytest.approx(expected[0][0], abs=1e-4)
    assert std[0] == pytest.approx(expected[1][0], abs=1e-4)


def test_compute_mean_std_against_numpy():
    images = torch.randint(
        0, 256, (37, 3, 5, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    mean, std = data.compute_mean_std(images, chunk=8)
    x = images.double().numpy() / 255
    assert mean == pytest.approx(tuple(x.mean(axis=(0, 2, 3))), abs=1e-12)
    assert std == pytest.approx(tuple(x.std(axis=(0, 2, 3))), abs=1e-12)


@pytest.mark.parametrize("pad", [4, 1])
def test_reflect_indices_match_torch_reflect_padding(pad):
    g = torch.Generator().manual_seed(pad)
    images = torch.randint(0, 256, (16, 3, 11, 9), dtype=torch.uint8, generator=g)
    oy = torch.randint(0, 2 * pad + 1, (16,), generator=g)
    ox = torch.randint(0, 2 * pad + 1, (16,), generator=g)
    flips = torch.rand(16, generator=g) < 0.5
    rows, cols = crop_flip_indices(oy, ox, flips, height=11, width=9, crop=9, pad=pad)
    out = gather_crop_flip(images, torch.arange(16), rows, cols)
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="reflect")
    for b in range(16):
        ref = padded[b, :, oy[b] : oy[b] + 9, ox[b] : ox[b] + 9]
        ref = ref.flip(-1) if flips[b] else ref
        assert torch.equal(out[b].float(), ref)


def to_pil(image: torch.Tensor) -> Image.Image:
    array = image.permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


@pytest.mark.parametrize("channels", [1, 3])
def test_pil_path_and_batched_path_give_the_same_tensors(channels):
    """Same crop offsets and flips: torchvision on PIL == one gather + normalise on the batch."""
    g = torch.Generator().manual_seed(channels)
    images = torch.randint(0, 256, (12, channels, 32, 32), dtype=torch.uint8, generator=g)
    mean, std = (0.3,) * channels, (0.2,) * channels
    oy = torch.randint(0, 9, (12,), generator=g)
    ox = torch.randint(0, 9, (12,), generator=g)
    flips = torch.arange(12) % 2 == 0
    rows, cols = crop_flip_indices(oy, ox, flips, height=32, width=32, crop=32, pad=4)
    batched = normalize_uint8(
        gather_crop_flip(images, torch.arange(12), rows, cols), torch.tensor(mean), torch.tensor(std)
    )
    tail = official_transform(train=False, mean=mean, std=std, crop=32, pad=4)
    for b in range(12):
        pil = image_ops.pad(to_pil(images[b]), 4, padding_mode="reflect")
        pil = image_ops.crop(pil, int(oy[b]), int(ox[b]), 32, 32)
        pil = image_ops.hflip(pil) if flips[b] else pil
        assert torch.allclose(batched[b], tail(pil), atol=1e-6)


def test_joint_transform_draws_like_the_official_transform():
    """For the same RNG state the joint (image, mask) transform returns the official image."""
    image = to_pil(
        torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(5))
    )
    mask = Image.fromarray(((torch.arange(32 * 32).view(32, 32) % 7) == 0).numpy().astype("uint8") * 255)
    options = {"train": True, "mean": (0.5,) * 3, "std": (0.25,) * 3, "crop": 32, "pad": 4}
    official, joint = official_transform(**options), JointTransform(**options)
    for seed in range(20):
        torch.manual_seed(seed)
        expected = official(image)
        torch.manual_seed(seed)
        got, got_mask = joint(image, mask)
        assert torch.equal(got, expected)
        assert got_mask.dtype == torch.bool and got_mask.shape == (1, 32, 32)


def decode_offsets(x: torch.Tensor) -> tuple[int, int, bool]:
    """Crop offsets and flip of an augmented coordinate image (R = 7 * row, G = 7 * col)."""
    row = round(x[0, 16, 16].item() * 255 / 7)
    cols = [round(x[1, 16, c].item() * 255 / 7) for c in (15, 16)]
    flipped = cols[1] < cols[0]
    col = cols[0] if flipped else cols[1]  # the source column under output column 16 / 15
    return row - 12, col - 12, flipped


def test_official_training_transform_distribution():
    """RandomCrop(32, pad 4, reflect) + flip: offsets uniform on 0..8 per axis, flips p = 1/2.

    The same distribution DeviceLoader draws from (tests/unit/test_data_loader.py).
    """
    grid = torch.arange(32) * 7
    image = torch.stack([grid[:, None].expand(32, 32), grid[None, :].expand(32, 32), torch.zeros(32, 32)])
    pil = to_pil(image.to(torch.uint8))
    transform = official_transform(train=True, mean=(0.0,) * 3, std=(1.0,) * 3, crop=32, pad=4)
    torch.manual_seed(0)
    draws = [decode_offsets(transform(pil)) for _ in range(1800)]
    oy = torch.tensor([d[0] for d in draws])
    ox = torch.tensor([d[1] for d in draws])
    flips = torch.tensor([d[2] for d in draws], dtype=torch.float)
    assert oy.min() == 0 and oy.max() == 8 and ox.min() == 0 and ox.max() == 8
    for offsets in (oy, ox):  # 200 expected per value; 5 standard deviations is ~ +-66
        assert (torch.bincount(offsets, minlength=9) - 200).abs().max() < 70
    assert abs(flips.mean().item() - 0.5) < 5 * (0.25 / 1800) ** 0.5


def test_denormalize_inverts_normalize():
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.3, 0.25)
    x = normalize_uint8(images, torch.tensor(mean), torch.tensor(std))
    assert torch.allclose(data.denormalize(x, mean, std) * 255, images.float(), atol=1e-3)
