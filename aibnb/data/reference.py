"""The reference pipeline: per-sample torchvision transforms over PIL images, for a ``DataLoader``
(what :func:`aibnb.data.datasets.load` returns; the device-resident loader is checked against it)."""

from __future__ import annotations

from PIL import Image
from torch.utils.data import Dataset

from aibnb.data.tensors import TensorData
from aibnb.data.transforms import JointTransform, official_transform

__all__ = ["TensorImageDataset"]


class TensorImageDataset(Dataset):
    """Per-sample PIL pipeline over a :class:`TensorData` (what :func:`load` returns).

    Item ``i`` is ``(x, y)`` or, with ``return_masks``, ``(x, y, mask)``: ``x`` float
    ``C x crop x crop`` after the official transforms, ``mask`` bool ``1 x crop x crop``.
    """

    def __init__(self, data: TensorData, *, augment: bool, return_masks: bool = False):
        if return_masks and data.masks is None:
            raise ValueError(f"{data.name} has no object masks; use return_masks=False")
        self.data, self.return_masks = data, return_masks
        options = {"train": augment, "mean": data.mean, "std": data.std, "crop": data.crop, "pad": data.pad}
        self.transform = JointTransform(**options) if return_masks else official_transform(**options)
        self.classes = data.classes

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        array = self.data.images[index].permute(1, 2, 0).numpy()
        image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        label = int(self.data.labels[index])
        if not self.return_masks:
            return self.transform(image), label
        mask = Image.fromarray(self.data.masks[index, 0].numpy().astype("uint8") * 255)
        x, m = self.transform(image, mask)
        return x, label, m
