"""A whole split in memory as one uint8 tensor: what the device-resident loader trains on."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from aibnb.data.splits import stratified_choice

__all__ = ["TensorData"]


@dataclass
class TensorData:
    """A whole split in memory, as the device-resident loader wants it.

    ``images`` are ``uint8 N x C x H x W`` at the stored resolution; training takes a random
    ``crop x crop`` window of the image reflect-padded by ``pad`` (32 and 4 for the 32 x 32
    datasets; 224 and 0 for CUB's 256 x 256 images), evaluation the centre ``crop``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    name: str
    split: str
    masks: torch.Tensor | None = None
    crop: int = 32
    pad: int = 4

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(
                f"images must be uint8 N x C x H x W, got {self.images.dtype} {tuple(self.images.shape)}"
            )
        n, c, h, w = self.images.shape
        if self.labels.shape != (n,) or self.labels.dtype != torch.int64:
            raise ValueError(
                f"labels must be int64 of shape ({n},), got {self.labels.dtype} {tuple(self.labels.shape)}"
            )
        if self.masks is not None and (self.masks.dtype != torch.bool or self.masks.shape != (n, 1, h, w)):
            raise ValueError(f"masks must be bool of shape ({n}, 1, {h}, {w})")
        if len(self.mean) != c or len(self.std) != c:
            raise ValueError(f"mean and std need {c} values (one per channel)")
        if self.crop > min(h, w) + 2 * self.pad:
            raise ValueError(f"crop {self.crop} does not fit a {h}x{w} image padded by {self.pad}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def select(self, index: torch.Tensor) -> TensorData:
        """The samples at ``index`` (a copy), keeping everything else."""
        index = torch.as_tensor(index, dtype=torch.long)
        masks = None if self.masks is None else self.masks[index]
        return replace(self, images=self.images[index], labels=self.labels[index], masks=masks)

    def subset(self, n: int, seed: int = 0) -> TensorData:
        """A stratified random subset of ``n`` samples (for the CPU profiles); same seed, same subset."""
        if not 0 < n <= len(self):
            raise ValueError(
                f"n must be between 1 and {len(self)} (the size of {self.name}/{self.split}), got {n}"
            )
        return self.select(stratified_choice(self.labels, n, seed))
