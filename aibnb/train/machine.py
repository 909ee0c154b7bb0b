"""The machine a run trains on: the device, its defaults, the seeds, the CPU threads, bf16, DDP.

A run's numbers depend on more than its configuration: on the device, on bf16 autocast, on the
memory format and, on a CPU, on the thread count (it changes the order of floating-point sums).
:func:`prepare` therefore writes the machine's choices into the configuration before it is hashed,
so that the run folder names everything its numbers depend on. The global RNG is re-seeded per
epoch and rank (:func:`epoch_seed`), which is what lets a killed run resume to the same numbers.
:class:`Distributed` is this process's place in a ``torchrun`` launch.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from aibnb.models import spec
from aibnb.train import profiles
from aibnb.train.config import TrainConfig, as_config, resolve


def select_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA if available, else Apple MPS, else CPU; a clear error for an absent device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "TrainConfig.device: 'cuda' requested but no CUDA device is available; use 'auto' or 'cpu'"
        )
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("TrainConfig.device: 'mps' requested but MPS is not available; use 'auto' or 'cpu'")
    return torch.device(name)


def prepare(
    config: TrainConfig | dict[str, Any] | None = None, **overrides: Any
) -> tuple[TrainConfig, torch.device]:
    """Resolve ``config`` completely, device-dependent defaults included, and pick the device.

    bf16 autocast defaults to on for CUDA; channels-last to on except on MPS; on CPU the thread
    count is fixed (results depend on it). The result is the configuration ``fit`` hashes,
    stores and caches.
    """
    cfg = resolve(as_config(config, overrides))
    device = select_device(cfg.device)
    fixed = profiles.profile(cfg.profile).num_threads
    threads = (cfg.num_threads or fixed or torch.get_num_threads()) if device.type == "cpu" else None
    cfg = replace(
        cfg,
        num_threads=threads,
        amp=cfg.amp if cfg.amp is not None else device.type == "cuda",
        # channels-last: faster convolutions on CUDA and on CPU
        channels_last=cfg.channels_last if cfg.channels_last is not None else device.type != "mps",
    )
    return cfg, device


#: Hours one epoch of the ``full`` profile takes on a CPU, per backbone family: VGG at width 1 on
#: Fashion-MNIST's 55,000 training images was measured at about 6 h on a two-core CPU; WRN
#: (WRN-28-10-aib: 12.4 G multiply-accumulates an image against VGG's 3.8 G) and CUB (6,000 images
#: at 224 px) are scaled from it. Rough on purpose: it only has to tell hours from weeks.
CPU_EPOCH_HOURS = {"vgg": 6.0, "wrn": 20.0, "cub": 3.0}
#: Training images of the epoch that :data:`CPU_EPOCH_HOURS` times
CPU_EPOCH_IMAGES = {"vgg": 55_000, "wrn": 55_000, "cub": 6_000}
#: Set to 1 to train the ``full`` profile on a CPU all the same (``--allow-cpu-full``)
ALLOW_CPU_FULL_ENV = "AIBNB_ALLOW_CPU_FULL"


def cpu_full_allowed(allow: bool = False) -> bool:
    """Whether a ``full`` run may train on a CPU: asked for (``allow``) or ``$AIBNB_ALLOW_CPU_FULL``."""
    return allow or os.environ.get(ALLOW_CPU_FULL_ENV, "").strip().lower() in ("1", "true", "yes")


def check_cpu_budget(cfg: TrainConfig, device: torch.device, *, allow: bool = False) -> None:
    """Refuse to train a resolved ``full``-profile configuration on a CPU (weeks, not minutes)
    unless :func:`cpu_full_allowed`: a one-line ``ValueError`` that says what would run, about how
    long (from the epochs and :data:`CPU_EPOCH_HOURS`) and how to insist."""
    if cfg.profile != "full" or device.type != "cpu" or cpu_full_allowed(allow):
        return
    family = spec(cfg.model).family
    images = CPU_EPOCH_IMAGES.get(family, 55_000)
    fraction = min(1.0, cfg.train_subset / images) if cfg.train_subset else 1.0
    per_epoch = CPU_EPOCH_HOURS.get(family, 6.0) * (cfg.width or 1.0) ** 2 * fraction
    raise ValueError(
        f"profile 'full' on a machine without a GPU: {cfg.model} on {cfg.dataset} would train "
        f"{cfg.epochs} epochs at width {cfg.width:g}, about {duration_text(cfg.epochs * per_epoch)} on a CPU "
        f"(~{duration_text(per_epoch)} an epoch); train it on a GPU or at --profile ci / lab, or pass "
        f"--allow-cpu-full ({ALLOW_CPU_FULL_ENV}=1) to insist"
    )


def duration_text(hours: float) -> str:
    """``"40 min"``, ``"12 h"`` or ``"50 days"``: a rough duration in words."""
    if hours < 1:
        return f"{max(hours * 60, 1):.0f} min"
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.0f} days"


@contextlib.contextmanager
def fixed_threads(num_threads: int | None) -> Iterator[None]:
    """Run the body with ``num_threads`` CPU threads (``None``: unchanged), then restore the count."""
    before = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of the global RNG for one epoch of one rank."""
    return int(np.random.SeedSequence([seed, epoch, rank, 7]).generate_state(1, dtype=np.uint32)[0])


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global RNGs (the model's initialisation draws from torch's)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool) -> Iterator[None]:
    """bf16 autocast on CUDA when ``enabled`` (no gradient scaler needed for bf16)."""
    if enabled and device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


class Distributed:
    """This process's place in a ``torchrun`` launch (world size 1 when not launched so)."""

    def __init__(self) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world_size > 1
        self._owns_group = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def setup(self, device: torch.device) -> torch.device:
        if not self.enabled:
            return device
        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
            self._owns_group = True
        return device

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce(self, tensor: Tensor) -> Tensor:
        if self.enabled:
            dist.all_reduce(tensor)
        return tensor

    def broadcast_object(self, obj: Any) -> Any:
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def teardown(self) -> None:
        if self._owns_group and dist.is_initialized():
            dist.destroy_process_group()
