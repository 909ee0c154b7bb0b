"""The wide-ResNet family at 32 x 32: WRN, WRN-ABN and WRN-aib(-qt).

WRN-28-10 (Zagoruyko & Komodakis, 2016): a 3x3 stem to 16 channels, three groups of ``n =
(depth - 4) / 6`` pre-activation BasicBlocks at 160, 320 and 640 channels (strides 1, 2, 2), dropout
0.3 between the two convolutions of a block, BN-ReLU, global average pooling, a linear classifier.

* ``wrn``: that network.
* ``wrn_abn``: the Attention Branch Network (Fukui et al., 2019) on it: an attention branch from the
  output of group 2 (a stride-1 copy of group 3, BN, 1x1 conv to C maps, BN, ReLU) gives both the
  attention map (3x3 conv to 1 map, BN, sigmoid) and auxiliary logits (1x1 conv C->C, GAP); the
  perception branch runs group 3 on ``f * (1 + att)``. Trained with CE(perception) + CE(attention).
* ``wrn_aib`` / ``wrn_aib_qt``: the official ``WideResNet(_QT)`` of ``wrn_va.py``: the same ABN
  branch up to the sigmoid is the attention mean (the paper calls it "an extra residual block"),
  the attention std is a 3x3 conv of the mean map, the encoder is group 3 + BN + ReLU + GAP +
  Linear(640, 2d), the decoder ReLU-Linear(d, C) (the official "v3"), with d the latent size
  (``latent_dim``, 512).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from aibnb.attention import VariationalAttention
from aibnb.models.aib import AIBNet
from aibnb.models.blocks import init_wrn, scaled
from aibnb.models.output import ModelOutput
from aibnb.quantize import AnchorQuantizer
from aibnb.vib import VIBHead


class BasicBlock(nn.Module):
    """Pre-activation wide-ResNet block: BN-ReLU-Conv3x3-BN-ReLU-Dropout-Conv3x3 + shortcut.

    When the channel count changes, the shortcut is a 1x1 convolution of the pre-activated input.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)
        self.dropout = dropout
        self.equal_in_out = in_planes == out_planes and stride == 1
        self.shortcut = None if self.equal_in_out else nn.Conv2d(
            in_planes, out_planes, 1, stride=stride, padding=0, bias=False
        )

    def forward(self, x: Tensor) -> Tensor:
        pre = F.relu(self.bn1(x))
        out = F.relu(self.bn2(self.conv1(pre)))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        out = self.conv2(out)
        return out + (x if self.equal_in_out else self.shortcut(pre))


def wrn_group(in_planes: int, out_planes: int, num_blocks: int, stride: int, dropout: float) -> nn.Sequential:
    """``num_blocks`` BasicBlocks; the first changes channels and stride."""
    return nn.Sequential(*[
        BasicBlock(in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1, dropout)
        for i in range(num_blocks)
    ])


def _blocks_per_group(depth: int) -> int:
    if depth < 10 or (depth - 4) % 6 != 0:
        raise ValueError(f"depth must be 6n + 4 with n >= 1 (10, 16, 22, 28, ...), got {depth}")
    return (depth - 4) // 6


def _channels(width: float) -> tuple[int, int, int, int]:
    return tuple(scaled(c, width) for c in (16, 160, 320, 640))  # type: ignore[return-value]


class WRNStem(nn.Sequential):
    """Stem + groups 1-2: the feature extractor shared by WRN, ABN and WRN-aib (320 x 16 x 16)."""

    def __init__(self, in_channels: int, channels: tuple[int, int, int, int], n: int, dropout: float):
        c16, c160, c320, _ = channels
        super().__init__(
            nn.Conv2d(in_channels, c16, 3, padding=1, bias=False),
            wrn_group(c16, c160, n, 1, dropout),
            wrn_group(c160, c320, n, 2, dropout),
        )


class ABNBranch(nn.Module):
    """The attention branch of ABN up to the map (and, optionally, the auxiliary logits).

    stride-1 group 3 -> BN -> Conv1x1(-> C, no bias) -> BN -> ReLU -> [Conv3x3(C -> 1, no bias) ->
    BN -> Sigmoid] for the map, and [Conv1x1(C -> C, no bias) -> GAP] for the logits.
    """

    def __init__(self, c320: int, c640: int, num_classes: int, n: int, dropout: float,
                 with_logits: bool) -> None:
        super().__init__()
        self.group = wrn_group(c320, c640, n, 1, dropout)
        self.bn = nn.BatchNorm2d(c640)
        self.to_classes = nn.Conv2d(c640, num_classes, 1, bias=False)
        self.bn_classes = nn.BatchNorm2d(num_classes)
        self.to_map = nn.Conv2d(num_classes, 1, 3, padding=1, bias=False)
        self.bn_map = nn.BatchNorm2d(1)
        self.to_logits = nn.Conv2d(num_classes, num_classes, 1, bias=False) if with_logits else None

    def forward(self, f: Tensor) -> tuple[Tensor, Tensor | None]:
        h = F.relu(self.bn_classes(self.to_classes(self.bn(self.group(f)))))
        attention = self.bn_map(self.to_map(h)).sigmoid()
        logits = None if self.to_logits is None else self.to_logits(h).mean(dim=(2, 3))
        return attention, logits


class ABNMean(nn.Module):
    """The ABN branch as the attention *mean* of WRN-aib (map only)."""

    def __init__(self, branch: ABNBranch) -> None:
        super().__init__()
        self.branch = branch

    def forward(self, f: Tensor) -> Tensor:
        return self.branch(f)[0]


def _head(c640: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(c640), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten())


class WRN(nn.Module):
    """``wrn`` (``abn=False``) and ``wrn_abn`` (``abn=True``)."""

    def __init__(self, num_classes: int, *, width: float = 1.0, in_channels: int = 3,
                 image_size: int = 32, depth: int = 28, dropout: float = 0.3, abn: bool = False) -> None:
        super().__init__()
        n = _blocks_per_group(depth)
        channels = _channels(width)
        _, _, c320, c640 = channels
        self.stem = WRNStem(in_channels, channels, n, dropout)
        self.group3 = wrn_group(c320, c640, n, 2, dropout)
        self.head = _head(c640)
        self.fc = nn.Linear(c640, num_classes)
        self.abn = ABNBranch(c320, c640, num_classes, n, dropout, with_logits=True) if abn else None
        init_wrn(self)

    def forward(self, x: Tensor, num_samples: int | None = None) -> ModelOutput:
        f = self.stem(x)
        if self.abn is None:
            return ModelOutput(logits=self.fc(self.head(self.group3(f))))
        attention, aux = self.abn(f)
        logits = self.fc(self.head(self.group3(f * (1.0 + attention))))
        return ModelOutput(logits=logits, attention=attention, aux_logits=aux)


def wrn_aib(
    num_classes: int,
    *,
    width: float = 1.0,
    in_channels: int = 3,
    image_size: int = 32,
    depth: int = 28,
    dropout: float = 0.3,
    quantize: bool = False,
    latent_dim: int = 512,
    num_anchors: int | None = None,
    anchor_init: str = "linspace",
    residual: bool = True,
    squash: str | None = None,
    kl_form: str = "reference",
    std_offset: float = 5.0,
    train_samples: int = 1,
    eval_samples: int = 4,
) -> AIBNet:
    """WRN-aib (``quantize=False``) and WRN-aib-qt (``quantize=True``).

    ``num_anchors`` defaults to the official README runs: 50 for 10 classes, 20 for 100.
    """
    n = _blocks_per_group(depth)
    channels = _channels(width)
    _, _, c320, c640 = channels
    features = WRNStem(in_channels, channels, n, dropout)
    mean_net = ABNMean(ABNBranch(c320, c640, num_classes, n, dropout, with_logits=False))
    quantizer = None
    if quantize:
        k = num_anchors if num_anchors is not None else (50 if num_classes <= 10 else 20)
        quantizer = AnchorQuantizer(k, init=anchor_init)
    attention = VariationalAttention(
        c320, mean_net=mean_net, residual=residual, squash=squash, std_offset=std_offset,
        quantizer=quantizer,
    )
    encoder = nn.Sequential(
        wrn_group(c320, c640, n, 2, dropout), _head(c640), nn.Linear(c640, 2 * latent_dim)
    )
    head = VIBHead(latent_dim, num_classes, decoder="relu_linear", std_offset=std_offset, kl_form=kl_form)
    net = AIBNet(features, attention, encoder, head, train_samples=train_samples, eval_samples=eval_samples)
    init_wrn(net, skip=(attention.std_conv,))
    return net
