"""What a run trains, built from its configuration: the data loaders, the model and the optimiser.

The data are the dataset's train / val / test splits, each cut to the configuration's stratified
subset with one fixed seed (:data:`SUBSET_SEED`), so that every run of a profile, whatever its own
seed, is trained, selected and tested on the same images; they live on the training device
(:class:`aibnb.data.DeviceLoader`). The optimiser is the recipe's SGD with momentum, or Adam for
the CUB models (``CUB-experiments/solver.py``), over :func:`aibnb.quantize.param_groups`, which
gives the quantiser's anchors the learning rate of the official scripts (``anchor_lr``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from aibnb import data
from aibnb.models import build_model, count_parameters, spec
from aibnb.quantize import param_groups
from aibnb.train.config import TrainConfig, model_kwargs
from aibnb.train.machine import Distributed
from aibnb.train.profiles import profile

SUBSET_SEED = 0  # every run of a profile sees the same stratified subsets, whatever its seed


def split_tensors(cfg: TrainConfig, split: str) -> Any:
    """The images of one split (``"train"``, ``"val"`` or ``"test"``) exactly as a run of ``cfg``
    sees them: the profile's stratified subset, drawn with :data:`SUBSET_SEED`."""
    sizes = {"train": cfg.train_subset, "val": cfg.val_subset, "test": cfg.test_subset}
    if split not in sizes:
        raise ValueError(f"split must be one of {sorted(sizes)}, got {split!r}")
    backbone = "wrn" if spec(cfg.model).family == "wrn" else "vgg"
    tensors = data.load_tensors(cfg.dataset, split, backbone=backbone)
    n = sizes[split]
    if n is not None and n > len(tensors) and n != getattr(profile(cfg.profile), f"{split}_subset"):
        # a profile's subset is a cap (the ci profile's 6,000 images of a smaller dataset: all of
        # them); a subset asked for that the split cannot give is an error, never silently less
        raise ValueError(
            f"TrainConfig.{split}_subset: {n} images asked for, but the {split} split of {cfg.dataset} "
            f"has {len(tensors)}; use at most {len(tensors)} (or None for all of them)"
        )
    if n is not None and n < len(tensors):
        tensors = tensors.subset(n, seed=SUBSET_SEED)
    return tensors


def load_data(
    cfg: TrainConfig, device: torch.device, dist_: Distributed
) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """The three splits (as tensors), the training loader (this rank's share of every epoch) and
    the ``val`` and ``test`` loaders (batches of 256, no augmentation)."""
    splits = {split: split_tensors(cfg, split) for split in ("train", "val", "test")}
    channels_last = bool(cfg.channels_last)
    train = data.DeviceLoader(
        splits["train"],
        cfg.batch_size,
        device=device,
        train=True,
        seed=cfg.seed,
        drop_last=True,
        channels_last=channels_last,
        rank=dist_.rank,
        world_size=dist_.world_size,
    )
    evals = {
        s: data.DeviceLoader(splits[s], 256, device=device, train=False, channels_last=channels_last)
        for s in ("val", "test")
    }
    return splits, train, evals


def build(cfg: TrainConfig, train_data: Any) -> nn.Module:
    """The model of ``cfg`` for images like ``train_data``'s (its channels, crop size and classes)."""
    in_channels, size = train_data.images.shape[1], train_data.crop
    return build_model(
        cfg.model,
        train_data.num_classes,
        width=cfg.width,
        in_channels=in_channels,
        image_size=size,
        **model_kwargs(cfg),
    )


def describe(model: nn.Module, splits: dict[str, Any]) -> dict[str, Any]:
    """The ``model`` entry of ``config.json``: what :func:`~aibnb.train.checkpoint.load_model`
    needs to rebuild the model, its size and the sizes of the splits."""
    return {
        "num_classes": splits["train"].num_classes,
        "in_channels": splits["train"].images.shape[1],
        "image_size": splits["train"].crop,
        "parameters": count_parameters(model),
        "state_dict_size": count_parameters(model, include_buffers=True),
        "train_size": len(splits["train"]),
        "val_size": len(splits["val"]),
        "test_size": len(splits["test"]),
        "classes": splits["train"].classes,
    }


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (Adam where the recipe says so) over the model's parameter groups; every
    group keeps its peak learning rate as ``peak_lr`` for the schedule to scale."""
    groups = param_groups(
        model,
        cfg.lr,
        weight_decay=cfg.weight_decay,
        anchor_lr=cfg.anchor_lr or "base",
        anchor_lr_ratio=cfg.anchor_lr_ratio or 1e-4,
    )
    for g in groups:
        g["peak_lr"] = g["lr"]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    betas = spec(cfg.model).recipe.get("adam_betas", (0.9, 0.999))
    return torch.optim.Adam(groups, lr=cfg.lr, betas=tuple(betas))
