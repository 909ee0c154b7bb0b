"""Timers: how long a step takes, measured the same way everywhere in the book.

* :func:`time_it` — the median seconds of a step after warm-up calls, synchronising a GPU so that
  queued kernels are counted;
* :func:`inference_ms_per_image` — one evaluation forward per image, the paper's Table 4 convention
  (batch 1 and batch 256, the model's evaluation samples).

The benchmarks (:mod:`aibnb.bench`) and chapter 4's live cost table both use them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["inference_ms_per_image", "time_it"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_it(step: Callable[[], Any], device: torch.device, *, warmup: int, repeats: int) -> float:
    """Median seconds of ``step()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@torch.no_grad()
def inference_ms_per_image(
    model: torch.nn.Module,
    batch_size: int,
    *,
    in_channels: int = 3,
    image_size: int = 32,
    repeats: int = 3,
    warmup: int = 1,
    device: str | torch.device = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
) -> float:
    """Median wall time of one evaluation forward, per image, in ms (the model's eval samples).

    ``warmup`` untimed calls, then ``repeats`` timed calls on a random batch (in ``memory_format``).
    """
    if batch_size < 1 or repeats < 1 or warmup < 0:
        raise ValueError(
            f"batch_size and repeats must be >= 1 and warmup >= 0, got {batch_size}, {repeats}, {warmup}"
        )
    device = torch.device(device)
    model = model.to(device).eval()
    x = torch.randn(batch_size, in_channels, image_size, image_size, device=device)
    x = x.contiguous(memory_format=memory_format)
    seconds = time_it(lambda: model(x), device, warmup=warmup, repeats=repeats)
    return 1e3 * seconds / batch_size
