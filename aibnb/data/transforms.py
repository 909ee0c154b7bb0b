"""Normalisation statistics and the two implementations of the official augmentation.

**Normalisation** (:func:`normalization`) follows the official code exactly
(``VGG-backbone-32/cifar_va.py`` and ``WRN-backbone-32/cifar_va.py`` of the authors' repository):

============================== ========================================== ==========================
dataset                        VGG backbone                               WRN backbone
============================== ========================================== ==========================
CIFAR-10 and CIFAR-100         CIFAR-**100** statistics (both!)           (0.4914, 0.4822, 0.4465) /
                               (0.5071, 0.4867, 0.4408) /                 (0.2023, 0.1994, 0.2010)
                               (0.2675, 0.2565, 0.2761)                   (both)
SVHN                           0.5 / 0.5                                  0.5 / 0.5
CUB-200-2011                   ImageNet                                   ImageNet
STL-10                         CIFAR-10's (it tests CIFAR-10 models)      CIFAR-10's
Fashion-MNIST, digits,         mean / std of the dataset's full training set, computed once
cluttered scenes               with :func:`compute_mean_std` (``python -m aibnb data stats NAME``)
                               and checked by the unit tests
cluttered_fashion_shift        ``cluttered_fashion``'s (it tests models trained there)
============================== ========================================== ==========================

**Augmentation** for training is the official one: reflect-pad by 4, random 32 x 32 crop,
horizontal flip with probability 1/2, then ``ToTensor`` + ``Normalize`` (CUB: random
224 crop of the 256 x 256 box crop, flip). It exists twice, on purpose:

* :func:`official_transform`, torchvision's per-sample PIL transforms, used by
  :func:`aibnb.data.load` (the reference pipeline, with a ``DataLoader``);
* :func:`crop_flip_indices` + :func:`gather_crop_flip` + :func:`normalize_uint8`, the same
  maps applied to a whole batch with one gather on the training device, used by
  :class:`aibnb.data.DeviceLoader`.

Given the same crop offsets and flips both produce the same tensors (the tests check it),
and the offsets are drawn from the same distribution (uniform over the ``2 * pad + 1``
positions per axis, as ``RandomCrop`` draws them).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torchvision import transforms
from torchvision.transforms import functional as image_ops

Stats = tuple[tuple[float, ...], tuple[float, ...]]

BACKBONES = ("vgg", "wrn")

CIFAR100_STATS: Stats = ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))
CIFAR_WRN_STATS: Stats = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
HALF_STATS: Stats = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
IMAGENET_STATS: Stats = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# Measured once on the full training sets (after padding / generation, at 32 x 32) with
# compute_mean_std; tests/unit/test_data_transforms.py re-measures them.
FASHION_MNIST_STATS: Stats = ((0.2190,), (0.3318,))
DIGITS_STATS: Stats = ((0.1717,), (0.2904,))
CLUTTERED_FASHION_STATS: Stats = ((0.2199,), (0.2716,))
CLUTTERED_DIGITS_STATS: Stats = ((0.2290,), (0.2866,))

_BY_BACKBONE: dict[str, dict[str, Stats]] = {
    "vgg": {"cifar10": CIFAR100_STATS, "cifar100": CIFAR100_STATS},
    "wrn": {"cifar10": CIFAR_WRN_STATS, "cifar100": CIFAR_WRN_STATS},
}
_FIXED: dict[str, Stats] = {
    "svhn": HALF_STATS,
    "cub200": IMAGENET_STATS,
    "fashion_mnist": FASHION_MNIST_STATS,
    "digits": DIGITS_STATS,
    "cluttered_fashion": CLUTTERED_FASHION_STATS,
    "cluttered_digits": CLUTTERED_DIGITS_STATS,
}
# evaluation-only datasets use the statistics of the dataset their models were trained on
_EVALUATED_WITH = {"stl10": "cifar10", "cluttered_fashion_shift": "cluttered_fashion"}


def normalization(dataset: str, backbone: str = "vgg") -> Stats:
    """Per-channel ``(mean, std)`` that the official code uses for ``dataset`` and ``backbone``.

    ``backbone`` is ``"vgg"`` or ``"wrn"``; it matters only for CIFAR-10/100 (and STL-10,
    which borrows CIFAR-10's statistics).
    """
    key = backbone.lower()
    if key not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    name = _EVALUATED_WITH.get(dataset, dataset)
    if name in _BY_BACKBONE[key]:
        return _BY_BACKBONE[key][name]
    if name in _FIXED:
        return _FIXED[name]
    known = sorted({*_BY_BACKBONE[key], *_FIXED, *_EVALUATED_WITH})
    raise ValueError(f"no normalisation known for dataset {dataset!r}; known: {', '.join(known)}")


def compute_mean_std(images: torch.Tensor, chunk: int = 8192) -> Stats:
    """Per-channel mean and (population) std of ``uint8`` images ``N x C x H x W``, in [0, 1]."""
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError("images must be a uint8 tensor N x C x H x W")
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    total_sq = torch.zeros_like(total)
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk].to(torch.float64) / 255.0
        total += part.sum(dim=(0, 2, 3))
        total_sq += (part * part).sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(0).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


# ---------------------------------------------------------------------------------------
# The per-sample PIL path (torchvision transforms, as in the official code)


def official_transform(*, train: bool, mean: Sequence[float], std: Sequence[float], crop: int, pad: int):
    """torchvision transform of the official code for one PIL image.

    Training: ``RandomCrop(crop, padding=pad, padding_mode="reflect")`` (no padding when
    ``pad == 0``, as for CUB's 224 crop of a 256 image) then ``RandomHorizontalFlip()``.
    Test: ``CenterCrop(crop)`` (the identity at 32 x 32). Both end in ``ToTensor()`` +
    ``Normalize(mean, std)``. The official VGG pipeline starts with ``Resize(32)``, a no-op
    on images that are already 32 x 32, so it is left out.
    """
    steps: list = []
    if train:
        steps.append(transforms.RandomCrop(crop, padding=pad or None, padding_mode="reflect"))
        steps.append(transforms.RandomHorizontalFlip())
    else:
        steps.append(transforms.CenterCrop(crop))
    steps += [transforms.ToTensor(), transforms.Normalize(mean, std)]
    return transforms.Compose(steps)


class JointTransform:
    """The official transform applied to an image and its object mask with the same draws.

    It consumes the global torch RNG exactly as :func:`official_transform` does (two
    ``randint`` for the crop, one ``rand`` for the flip), so for the same RNG state the image
    comes out identical to the image-only path, and the mask follows the same crop and flip.
    The mask is returned as a ``bool`` tensor ``1 x crop x crop``.
    """

    def __init__(self, *, train: bool, mean: Sequence[float], std: Sequence[float], crop: int, pad: int):
        self.train, self.crop, self.pad = train, crop, pad
        self.tail = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])

    def __call__(self, image, mask):
        if self.train:
            if self.pad:
                image = image_ops.pad(image, self.pad, padding_mode="reflect")
                mask = image_ops.pad(mask, self.pad, padding_mode="reflect")
            i, j, h, w = transforms.RandomCrop.get_params(image, (self.crop, self.crop))
            image, mask = image_ops.crop(image, i, j, h, w), image_ops.crop(mask, i, j, h, w)
            if torch.rand(1) < 0.5:
                image, mask = image_ops.hflip(image), image_ops.hflip(mask)
        else:
            image, mask = image_ops.center_crop(image, self.crop), image_ops.center_crop(mask, self.crop)
        return self.tail(image), image_ops.pil_to_tensor(mask) > 0


# ---------------------------------------------------------------------------------------
# The batched path (one gather on the training device)


def crop_flip_indices(
    offsets_y: torch.Tensor,
    offsets_x: torch.Tensor,
    flips: torch.Tensor,
    *,
    height: int,
    width: int,
    crop: int,
    pad: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Source rows and columns (``B x crop`` each) of reflect-pad + crop + optional h-flip.

    ``offsets_*`` are the crop's top-left corner in the padded image (``0 .. 2 * pad`` for
    32 x 32, ``0 .. H - crop`` when ``pad == 0``), as ``RandomCrop`` draws them. The
    reflection (``-1 -> 1``, edge excluded) is the one of ``padding_mode="reflect"``.
    """
    if pad >= min(height, width):
        raise ValueError(f"pad must be smaller than the image ({height} x {width}), got {pad}")
    steps = torch.arange(crop, device=offsets_y.device)
    rows = offsets_y[:, None] - pad + steps
    cols = offsets_x[:, None] - pad + steps
    rows = _reflect(rows, height)
    cols = _reflect(cols, width)
    cols = torch.where(flips[:, None], cols.flip(-1), cols)
    return rows, cols


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    index = index.abs()
    return torch.where(index > size - 1, 2 * (size - 1) - index, index)


def gather_crop_flip(
    images: torch.Tensor, sample: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor
) -> torch.Tensor:
    """Crop ``images[sample]`` at ``rows x cols`` with one advanced-indexing gather.

    Returns ``B x C x crop x crop`` as a channels-last *view* (``.contiguous()`` gives the
    usual layout), because the gather naturally produces ``B x crop x crop x C``.
    """
    out = images[sample[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


def normalize_uint8(
    images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``ToTensor`` + ``Normalize`` on a uint8 batch: ``(x / 255 - mean) / std`` (same ops)."""
    x = images.to(dtype).div(255)
    return x.sub(mean.view(1, -1, 1, 1).to(dtype)).div(std.view(1, -1, 1, 1).to(dtype))


def denormalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Undo :func:`normalize_uint8` (for display): returns values in [0, 1]."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return (x * s + m).clamp(0, 1)


def resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a uint8 batch to ``size x size`` with antialiased bilinear interpolation.

    Antialiasing matters when shrinking (STL-10's 96 -> 32): plain bilinear would sample
    only 4 of every 9 pixels and alias. Results are rounded back to uint8.
    """
    out = F.interpolate(
        images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return out.round_().clamp_(0, 255).to(torch.uint8)
