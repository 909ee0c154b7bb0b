"""Model cost: parameter counts (two conventions) and multiply-accumulate counts.

The paper's Table 3 mixes conventions: its VGG numbers are ``state_dict`` sizes (BatchNorm running
statistics included: 20.05 M for VGG-aib), its WRN numbers are ``parameters()`` sizes (65.00 M).
:func:`count_parameters` gives either. Table 4's "FLOPs" are thop MACs of a single sample; thop
counts a module once per parent it is registered under, which inflates the official WRN (whose
group 3 and attention branch are registered twice) from 12.38 G to 39.14 G. :func:`count_macs`
counts each Conv2d / Linear application once, so it gives the true count.
"""

from __future__ import annotations

import torch
from torch import nn


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
