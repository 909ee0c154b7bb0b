"""The CUB-200-2011 (224 x 224) variants of the AIB models (``CUB-experiments/`` of the official code).

* ``vgg_aib_cub``: VGG-16 (no BN) convolutional part without its last max-pool (512 x 14 x 14),
  attention mean Conv3x3(512 -> 1) + Sigmoid, encoder AdaptiveAvgPool(3) + Linear(4608, 2d),
  decoder Linear(d, d)-ReLU-Linear(d, 200), with d the latent size (``latent_dim``, 256).
* ``vgg_aib_qt_cub``: as above, but the official ``model_qt.py`` has a deeper attention mean:
  3 x [Conv3x3(512 -> 512) + ReLU] then Conv3x3(512 -> 1) + Sigmoid. Only this model has the 24.28 M
  parameters that the paper's Table 3 lists for both VGG rows.
* ``wrn_aib_cub`` / ``wrn_aib_qt_cub``: wide-ResNet-50-2 up to ``layer3`` (1024 x 14 x 14); the
  attention mean is a fresh stride-1 copy of ``layer4`` (3 Bottlenecks to 2048) + Conv3x3(2048 -> 1)
  + Sigmoid; the encoder is ``layer4`` + GAP + Linear(2048, 2d). The official model also holds an
  unused 20.7 M-parameter ``tmp_layer`` counted in Table 3's 130.73 M; we do not build dead layers.

``pretrained=True`` loads torchvision's ImageNet weights into the backbone (as the official code
does from local files); that needs the torchvision weight download, so the default is ``False``.
"""

from __future__ import annotations

import math

import torchvision
from torch import nn
from torchvision.models.resnet import Bottleneck

from aibnb.attention import VariationalAttention
from aibnb.models.aib import AIBNet
from aibnb.models.blocks import scaled
from aibnb.quantize import AnchorQuantizer
from aibnb.vib import VIBHead

VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def vgg16_features(width: float, in_channels: int) -> nn.Sequential:
    """torchvision's ``vgg16().features[:-1]`` (module indices kept, so ImageNet weights load)."""
    layers: list[nn.Module] = []
    channels = in_channels
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            out = scaled(int(v), width)
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(inplace=True)]
            channels = out
    return nn.Sequential(*layers)


def resnet_layer(inplanes: int, planes: int, blocks: int, stride: int, base_width: int) -> nn.Sequential:
    """torchvision's ``ResNet._make_layer`` for Bottleneck blocks (expansion 4)."""
    downsample = None
    if stride != 1 or inplanes != planes * Bottleneck.expansion:
        downsample = nn.Sequential(
            nn.Conv2d(inplanes, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
            nn.BatchNorm2d(planes * Bottleneck.expansion),
        )
    layers = [Bottleneck(inplanes, planes, stride, downsample, base_width=base_width)]
    layers += [Bottleneck(planes * Bottleneck.expansion, planes, base_width=base_width)
               for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class WRN50Trunk(nn.Module):
    """wide_resnet50_2's stem and ``layer1``-``layer3`` with torchvision's module names."""

    def __init__(self, width: float, in_channels: int) -> None:
        super().__init__()
        c64 = scaled(64, width)
        self.conv1 = nn.Conv2d(in_channels, c64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(c64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        planes = [scaled(p, width) for p in (64, 128, 256)]
        self.layer1 = resnet_layer(c64, planes[0], 3, 1, 128)
        self.layer2 = resnet_layer(planes[0] * 4, planes[1], 4, 2, 128)
        self.layer3 = resnet_layer(planes[1] * 4, planes[2], 6, 2, 128)
        self.out_channels = planes[2] * 4

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer3(self.layer2(self.layer1(x)))


def _load_pretrained(module: nn.Module, weights_name: str, prefix_map: dict[str, str]) -> None:
    try:
        weights = torchvision.models.get_weight(weights_name)
        state = weights.get_state_dict(progress=False)
    except Exception as err:  # pragma: no cover - needs the network
        raise RuntimeError(
            f"pretrained=True: could not obtain torchvision weights {weights_name} ({err}); "
            "connect to the internet once to fill torch's hub cache, or use pretrained=False"
        ) from err
    mapped = {}
    for key, value in state.items():
        for src, dst in prefix_map.items():
            if key.startswith(src):
                mapped[dst + key[len(src):]] = value
    missing = module.load_state_dict(mapped, strict=False)
    if missing.unexpected_keys:
        raise RuntimeError(f"pretrained=True: unexpected keys {missing.unexpected_keys[:5]}")


def cub_aib(
    num_classes: int = 200,
    *,
    backbone: str = "vgg",
    width: float = 1.0,
    in_channels: int = 3,
    image_size: int = 224,
    quantize: bool = False,
    latent_dim: int = 256,
    num_anchors: int = 20,
    anchor_init: str = "linspace",
    residual: bool = True,
    squash: str | None = None,
    kl_form: str = "reference",
    std_offset: float = 5.0,
    train_samples: int = 1,
    eval_samples: int = 4,
    pretrained: bool = False,
) -> AIBNet:
    """The four CUB models (``backbone`` ``"vgg"`` or ``"wrn"``; ``quantize`` for ``-qt``)."""
    if image_size % 32 != 0:
        raise ValueError(f"image_size must be a multiple of 32 for the CUB models, got {image_size}")
    if pretrained and width != 1.0:
        raise ValueError("pretrained=True needs width=1.0 (ImageNet weights exist only at full width)")
    quantizer = AnchorQuantizer(num_anchors, init=anchor_init) if quantize else None
    if backbone == "vgg":
        features = vgg16_features(width, in_channels)
        c512 = scaled(512, width)
        if quantize:  # model_qt.py: "mu_m3"
            mean_layers: list[nn.Module] = []
            for _ in range(3):
                mean_layers += [nn.Conv2d(c512, c512, 3, padding=1), nn.ReLU(inplace=True)]
            mean_net = nn.Sequential(*mean_layers, nn.Conv2d(c512, 1, 3, padding=1), nn.Sigmoid())
        else:
            mean_net = nn.Sequential(nn.Conv2d(c512, 1, 3, padding=1), nn.Sigmoid())
        attention = VariationalAttention(c512, mean_net=mean_net, residual=residual, squash=squash,
                                         std_offset=std_offset, quantizer=quantizer)
        encoder = nn.Sequential(nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(9 * c512, 2 * latent_dim))
    elif backbone == "wrn":
        features = WRN50Trunk(width, in_channels)
        c1024 = features.out_channels
        p512 = scaled(512, width)
        mean_net = nn.Sequential(resnet_layer(c1024, p512, 3, 1, 128),
                                 nn.Conv2d(p512 * 4, 1, 3, padding=1), nn.Sigmoid())
        attention = VariationalAttention(c1024, mean_net=mean_net, residual=residual, squash=squash,
                                         std_offset=std_offset, quantizer=quantizer)
        encoder = nn.Sequential(resnet_layer(c1024, p512, 3, 2, 128), nn.AdaptiveAvgPool2d(1),
                                nn.Flatten(), nn.Linear(p512 * 4, 2 * latent_dim))
    else:
        raise ValueError(f"cub_aib: backbone must be 'vgg' or 'wrn', got {backbone!r}")
    head = VIBHead(latent_dim, num_classes, decoder="mlp", std_offset=std_offset, kl_form=kl_form)
    net = AIBNet(features, attention, encoder, head, train_samples=train_samples, eval_samples=eval_samples)
    _init_cub(net, backbone)
    if pretrained:
        if backbone == "vgg":
            _load_pretrained(net.features, "VGG16_Weights.IMAGENET1K_V1", {"features.": ""})
        else:
            _load_pretrained(net.features, "Wide_ResNet50_2_Weights.IMAGENET1K_V1",
                             {k: k for k in ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.")})
            _load_pretrained(net.encoder[0], "Wide_ResNet50_2_Weights.IMAGENET1K_V1", {"layer4.": ""})
    return net


def _init_cub(net: nn.Module, backbone: str) -> None:
    """Official CUB init: VGG xavier_uniform(gain=relu), zero bias; WRN kaiming_normal(fan_out), BN (1, 0)."""
    for m in net.modules():
        if backbone == "vgg" and isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight, gain=math.sqrt(2.0))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif backbone == "wrn" and isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif backbone == "wrn" and isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
