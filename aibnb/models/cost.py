"""Model cost: parameter counts (two conventions) and multiply-accumulate counts.

The paper's Table 3 mixes conventions: its VGG numbers are ``state_dict`` sizes (BatchNorm running
statistics included: 20.05 M for VGG-aib), its WRN numbers are ``parameters()`` sizes (65.00 M).
:func:`count_parameters` gives either. Table 4's "FLOPs" are thop MACs of a single sample; thop
counts a module once per parent it is registered under, which inflates the official WRN (whose
group 3 and attention branch are registered twice) from 12.38 G to 39.14 G. :func:`count_macs`
counts each Conv2d / Linear application once, so it gives the true count.

:func:`cost_table` lays both counts out per model at any width, for chapter 4 to set beside the
paper's Tables 3-4 (:func:`aibnb.reproduce.paper.paper_cost_table`). It builds the models on the
``meta`` device (:func:`meta_model`): shapes only, no memory and no time, so the paper's width-1
models are counted on a laptop. Timings are measured elsewhere (:mod:`aibnb.bench`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from aibnb.models.registry import build_model

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def count_parameters(model: nn.Module, *, include_buffers: bool = False) -> int:
    """Number of parameter elements; with ``include_buffers`` the ``state_dict`` size (BN stats too)."""
    if include_buffers:
        return sum(t.numel() for t in model.state_dict().values())
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, input_shape: tuple[int, ...], *, num_samples: int = 1) -> int:
    """Multiply-accumulates of Conv2d and Linear layers for one forward of a batch of one.

    The model runs in eval mode with ``num_samples`` attention and latent samples (1 = the cost of
    one deterministic pass, the convention of the paper's Table 4). Element-wise operations,
    normalisation and pooling are not counted.
    """
    if input_shape[0] != 1:
        raise ValueError(f"count_macs: input_shape must describe one sample (1, C, H, W), got {input_shape}")
    total = 0

    def conv_hook(module: nn.Conv2d, _inputs, output) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, inputs, _output) -> None:
        nonlocal total
        rows = inputs[0].numel() // module.in_features
        total += rows * module.in_features * module.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        x = torch.zeros(input_shape, dtype=param.dtype, device=param.device)
        try:
            model(x, num_samples=num_samples)
        except TypeError:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def meta_model(name: str, num_classes: int, in_channels: int, image_size: int, width: float) -> nn.Module:
    """The registry model ``name`` built on the ``meta`` device: its shapes, without memory or time."""
    with torch.device("meta"):
        return build_model(name, num_classes, width=width, in_channels=in_channels, image_size=image_size)


def cost_table(
    models: Sequence[str],
    *,
    num_classes: int = 10,
    in_channels: int = 3,
    image_size: int = 32,
    width: float = 1.0,
) -> pd.DataFrame:
    """Parameters (``parameters()`` and ``state_dict`` sizes, millions) and MACs (G) at ``width``.

    Models are built on the ``meta`` device: shapes only, no memory, no time. MACs are one
    deterministic pass of one image (:func:`count_macs`, every Conv2d/Linear application counted
    once).
    """
    import pandas as pd  # the book's dependency, not the library's: imported when a table is asked for

    rows = []
    for name in models:
        model = meta_model(name, num_classes, in_channels, image_size, width)
        rows.append(
            {
                "model": name,
                "parameters (M)": count_parameters(model) / 1e6,
                "state_dict (M)": count_parameters(model, include_buffers=True) / 1e6,
                "MACs (G)": count_macs(model, (1, in_channels, image_size, image_size)) / 1e9,
            }
        )
    return pd.DataFrame(rows).set_index("model")
