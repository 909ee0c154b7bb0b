"""Building blocks shared by the backbones, and the official initialisations."""

from __future__ import annotations

import math

from torch import nn

MIN_CHANNELS = 4


def scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded: how ``width`` scales every channel count.

    Never below ``MIN_CHANNELS`` (4): at the small widths of the CPU profile a layer of one or two
    channels (WRN's 16-channel stem at width 1/20) would be a bottleneck that no real model has.
    """
    return max(min(MIN_CHANNELS, channels), round(channels * width))


class ConvBlock(nn.Sequential):
    """``num_convs`` x [Conv3x3(pad 1, bias) -> BatchNorm2d -> ReLU], each followed by a 2x2
    max-pool when ``pool=True`` (the VGG block of Jetley et al.'s code, reused by AIB)."""

    def __init__(self, in_channels: int, out_channels: int, num_convs: int, pool: bool = False):
        layers: list[nn.Module] = []
        for i in range(num_convs):
            layers += [
                nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1, bias=True),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
            if pool:
                layers.append(nn.MaxPool2d(2, 2))
        super().__init__(*layers)


def init_xavier_uniform(module: nn.Module) -> None:
    """The official VGG initialisation (``--model_init 3``, from Jetley et al.'s code).

    Conv and Linear weights ``xavier_uniform_(gain=sqrt(2))``, biases 0; BatchNorm weights
    ``U(0, 1)``, biases 0.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight, gain=math.sqrt(2.0))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.0, 1.0)
            nn.init.zeros_(m.bias)


def init_wrn(module: nn.Module, *, skip: tuple[nn.Module, ...] = ()) -> None:
    """The official WRN initialisation.

    Conv weights ``N(0, sqrt(2 / (k * k * out)))``; BatchNorm (1, 0); Linear biases 0 with the
    default weight init. Modules in ``skip`` keep PyTorch's default init (the official code leaves
    the attention-std convolution alone).
    """
    skipped = {id(m) for s in skip for m in s.modules()}
    for m in module.modules():
        if id(m) in skipped:
            continue
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
