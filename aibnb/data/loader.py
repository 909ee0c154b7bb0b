"""A device-resident data loader: the whole (small) dataset lives on the training device.

For 32 x 32 datasets a ``DataLoader`` spends most of its time in per-sample Python and PIL
work, not in the model. :class:`DeviceLoader` instead moves the ``uint8`` images to the
device once; each batch is one gather (which also does the reflect-pad, the random crop
and the flip, see :func:`aibnb.data.transforms.crop_flip_indices`), one conversion to float
and one normalisation. The augmentation has the official per-sample distribution: a crop
offset uniform over the ``2 * pad + 1`` positions on each axis and a flip with probability
1/2, drawn independently for every sample.

Reproducibility: the shuffle order and every crop and flip of an epoch are drawn at its
start from a generator seeded by ``(seed, epoch)`` only (on the CPU, so they do not depend
on the device either). A run resumed at epoch ``e`` after ``set_epoch(e)`` sees exactly the
batches an uninterrupted run saw. The draws are made for the global order *before*
sharding, so a sample's crop does not depend on ``world_size`` either.

Sharding for ``DistributedDataParallel`` follows ``DistributedSampler``: rank ``r`` of
``w`` takes positions ``r, r + w, r + 2w, ...`` of the epoch's order, after the order is cut
to a multiple of ``w`` (``drop_last=True``) or padded with its own first elements
(``drop_last=False``), so every rank has the same number of batches. ``drop_last`` also drops
a final incomplete batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from aibnb.data.tensors import TensorData
from aibnb.data.transforms import crop_flip_indices, gather_crop_flip, normalize_uint8


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator that is a pure function of ``(seed, epoch)`` (well mixed, not seed + epoch)."""
    if seed < 0 or epoch < 0:
        raise ValueError(f"seed and epoch must be >= 0, got seed={seed}, epoch={epoch}")
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


class DeviceLoader:
    """Batches of a :class:`TensorData` made on ``device``: yields ``(x, y)`` or ``(x, y, mask)``.

    ``x`` is float (``dtype``) ``B x C x crop x crop``, normalised with the data's mean and
    std (channels-last memory if ``channels_last``); ``y`` int64; ``mask`` bool
    ``B x 1 x crop x crop``, cropped and flipped with its image. ``augment`` and ``shuffle``
    default to ``train``. Without augmentation the image is centre-cropped to ``crop``
    (the identity for the 32 x 32 datasets), as the official test transform does.
    """

    def __init__(
        self,
        data: TensorData,
        batch_size: int,
        *,
        device: str | torch.device = "cpu",
        train: bool = True,
        augment: bool | None = None,
        shuffle: bool | None = None,
        drop_last: bool = False,
        seed: int = 0,
        channels_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        return_masks: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        if return_masks and data.masks is None:
            raise ValueError(f"{data.name} has no object masks; use return_masks=False")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.data = data
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.augment = train if augment is None else augment
        self.shuffle = train if shuffle is None else shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.channels_last = channels_last
        self.rank, self.world_size = rank, world_size
        self.return_masks = return_masks
        self.dtype = dtype
        self.epoch = 0
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self.masks = data.masks.to(self.device) if return_masks else None
        self.mean = torch.tensor(data.mean, dtype=torch.float32, device=self.device)
        self.std = torch.tensor(data.std, dtype=torch.float32, device=self.device)
        _, _, self.height, self.width = data.images.shape

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and augmentation the next iteration uses."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = epoch

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch (before dropping an incomplete batch)."""
        n = len(self.data)
        if self.world_size == 1:
            return n
        if self.drop_last:
            return n // self.world_size
        return math.ceil(n / self.world_size)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def plan(self, epoch: int | None = None) -> dict[str, torch.Tensor]:
        """This rank's sample order and crop/flip draws for ``epoch`` (default: the current one)."""
        g = epoch_generator(self.seed, self.epoch if epoch is None else epoch)
        n = len(self.data)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        span_y = self.height + 2 * self.data.pad - self.data.crop
        span_x = self.width + 2 * self.data.pad - self.data.crop
        if self.augment:
            offset_y = torch.randint(0, span_y + 1, (n,), generator=g)
            offset_x = torch.randint(0, span_x + 1, (n,), generator=g)
            flip = torch.rand(n, generator=g) < 0.5
        else:  # centre crop, rounded as torchvision's CenterCrop does
            offset_y = torch.full((n,), round(span_y / 2.0))
            offset_x = torch.full((n,), round(span_x / 2.0))
            flip = torch.zeros(n, dtype=torch.bool)
        if self.world_size > 1:
            total = self.num_samples * self.world_size
            take = torch.arange(total) % n  # cut to, or pad up to, a multiple of world_size
            take = take[self.rank :: self.world_size]
            order, offset_y, offset_x, flip = order[take], offset_y[take], offset_x[take], flip[take]
        return {"order": order, "offset_y": offset_y, "offset_x": offset_x, "flip": flip}

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        plan = {k: v.to(self.device) for k, v in self.plan().items()}
        identity = not self.augment and self.data.crop == self.height == self.width
        for b in range(len(self)):
            part = slice(b * self.batch_size, (b + 1) * self.batch_size)
            index = plan["order"][part]
            if identity:
                x = self.images[index]
                mask = self.masks[index] if self.return_masks else None
            else:
                rows, cols = crop_flip_indices(
                    plan["offset_y"][part],
                    plan["offset_x"][part],
                    plan["flip"][part],
                    height=self.height,
                    width=self.width,
                    crop=self.data.crop,
                    pad=self.data.pad,
                )
                x = gather_crop_flip(self.images, index, rows, cols)
                mask = gather_crop_flip(self.masks, index, rows, cols) if self.return_masks else None
            x = normalize_uint8(x, self.mean, self.std, self.dtype)
            fmt = torch.channels_last if self.channels_last else torch.contiguous_format
            x = x.contiguous(memory_format=fmt)
            y = self.labels[index]
            if self.return_masks:
                yield x, y, mask.contiguous()
            else:
                yield x, y


def subset(data: TensorData, n: int, seed: int = 0) -> TensorData:
    """A stratified random subset of ``n`` samples of ``data`` (see :meth:`TensorData.subset`)."""
    return data.subset(n, seed)
