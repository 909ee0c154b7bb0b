"""The VGG family at 32 x 32: the baselines of Table 1 and VGG-aib(-qt).

All share the VGG-16-BN blocks of Jetley et al.'s "Learn to pay attention" code, which the official
AIB code copies (``blocks.py``): block 1 (2 convs, 64), block 2 (2, 128), block 3 (3, 256),
block 4 (3, 512), block 5 (3, 512), block 6 (2, 512, a max-pool after each conv), then a "dense"
convolution with kernel ``image_size / 32``. No max-pool follows blocks 1-2.

* ``vgg``: that network with a linear classifier on the dense output (LTPA without attention).
* ``vgg_gap``: VGG with a global-average-pooling head after Zhou et al. (2016): blocks 1-5, a
  3x3 convolution to 1024 channels, GAP and a linear layer (no dense layers).
* ``vgg_att2`` / ``vgg_att3``: LTPA (Jetley et al., 2018) in its "attention before pooling"
  variant with concatenated outputs and parametrised compatibility (VGG-att-concat-pc): the maps
  are computed on the outputs of blocks 4-5 (att2) or 3-5 (att3, with a 256->512 projector for
  block 3) *before* each block's max-pool, softmax-normalised over space.
* ``vgg_dvib``: the VIB head of Alemi et al. (2017) on the AIB backbone without the attention module
  (the ablation "effectiveness of attention module"; the DVIB baseline code was not released, so
  this is our reading).
* ``vgg_aib`` / ``vgg_aib_qt``: the official ``Vgg16_bn_lrn_VANet(_QT)``: features = blocks 1-3 and a
  max-pool (256 x 16 x 16), variational attention there, encoder = blocks 4-6 (max-pools after 4 and
  5), dense conv, ReLU, Linear(512, 2d); decoder Linear(d, d)-ReLU-Linear(d, C), with d the latent
  size (``latent_dim``, 256).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aibnb.attention import VariationalAttention, default_mean_net
from aibnb.models.aib import AIBNet
from aibnb.models.blocks import ConvBlock, init_xavier_uniform, scaled
from aibnb.models.output import ModelOutput
from aibnb.quantize import AnchorQuantizer
from aibnb.vib import VIBHead


def _dense_kernel(image_size: int) -> int:
    if image_size % 32 != 0:
        raise ValueError(
            f"image_size must be a multiple of 32 for the 32-px VGG models, got {image_size} "
            "(pad or resize the images, e.g. Fashion-MNIST 28 -> 32)"
        )
    return image_size // 32


class LinearAttentionBlock(nn.Module):
    """LTPA's parametrised compatibility ``c = <u, l + g>`` and the attention-weighted sum.

    ``normalize=True``: ``a = softmax(c)`` over space and ``g_out = sum a * l``;
    ``normalize=False``: ``a = sigmoid(c)`` and ``g_out = mean(a * l)``.
    """

    def __init__(self, channels: int, normalize: bool = True) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, 1, kernel_size=1, bias=False)
        self.normalize = normalize

    def forward(self, local: Tensor, global_: Tensor) -> tuple[Tensor, Tensor]:
        b, c, h, w = local.shape
        compat = self.op(local + global_)
        if self.normalize:
            attn = torch.softmax(compat.reshape(b, 1, -1), dim=2).reshape(b, 1, h, w)
            pooled = (attn * local).reshape(b, c, -1).sum(dim=2)
        else:
            attn = torch.sigmoid(compat)
            pooled = F.adaptive_avg_pool2d(attn * local, 1).reshape(b, c)
        return attn, pooled


class VGGLTPA(nn.Module):
    """``vgg`` (``attention_at=()``), ``vgg_att2`` (``(4, 5)``) and ``vgg_att3`` (``(3, 4, 5)``)."""

    def __init__(
        self,
        num_classes: int,
        *,
        width: float = 1.0,
        in_channels: int = 3,
        image_size: int = 32,
        attention_at: tuple[int, ...] = (),
        normalize_attention: bool = True,
    ) -> None:
        super().__init__()
        c64, c128, c256, c512 = (scaled(c, width) for c in (64, 128, 256, 512))
        self.block1 = ConvBlock(in_channels, c64, 2)
        self.block2 = ConvBlock(c64, c128, 2)
        self.block3 = ConvBlock(c128, c256, 3)
        self.block4 = ConvBlock(c256, c512, 3)
        self.block5 = ConvBlock(c512, c512, 3)
        self.block6 = ConvBlock(c512, c512, 2, pool=True)
        self.dense = nn.Conv2d(c512, c512, kernel_size=_dense_kernel(image_size), bias=True)
        self.attention_at = tuple(attention_at)
        self.projector = nn.Conv2d(c256, c512, 1, bias=False) if 3 in self.attention_at else None
        self.attn = nn.ModuleList(
            LinearAttentionBlock(c512, normalize_attention) for _ in self.attention_at
        )
        self.classify = nn.Linear(c512 * max(1, len(self.attention_at)), num_classes)
        init_xavier_uniform(self)

    def forward(self, x: Tensor, num_samples: int | None = None) -> ModelOutput:
        x = self.block2(self.block1(x))
        l3 = self.block3(x)
        l4 = self.block4(F.max_pool2d(l3, 2))
        l5 = self.block5(F.max_pool2d(l4, 2))
        g = self.dense(self.block6(F.max_pool2d(l5, 2)))
        if not self.attention_at:
            return ModelOutput(logits=self.classify(g.flatten(1)))
        local = {3: l3, 4: l4, 5: l5}
        maps, pooled = [], []
        for layer, block in zip(self.attention_at, self.attn):
            feat = local[layer]
            if layer == 3:
                feat = self.projector(feat)
            a, p = block(feat, g)
            maps.append(a)
            pooled.append(p)
        out = ModelOutput(logits=self.classify(torch.cat(pooled, dim=1)), attention=maps[0])
        out.extras.update({f"attention_block{layer}": m for layer, m in zip(self.attention_at, maps)})
        return out


class VGGGAP(nn.Module):
    """VGG-GAP (Zhou et al., 2016): conv blocks 1-5, Conv3x3 -> 1024 + ReLU, GAP, Linear.

    The class activation map of the predicted class is returned in ``extras["cam"]``.
    """

    def __init__(self, num_classes: int, *, width: float = 1.0, in_channels: int = 3,
                 image_size: int = 32) -> None:
        super().__init__()
        _dense_kernel(image_size)
        c64, c128, c256, c512, c1024 = (scaled(c, width) for c in (64, 128, 256, 512, 1024))
        self.features = nn.Sequential(
            ConvBlock(in_channels, c64, 2), ConvBlock(c64, c128, 2), ConvBlock(c128, c256, 3),
            nn.MaxPool2d(2), ConvBlock(c256, c512, 3), nn.MaxPool2d(2), ConvBlock(c512, c512, 3),
            nn.Conv2d(c512, c1024, 3, padding=1, bias=True), nn.ReLU(inplace=True),
        )
        self.classify = nn.Linear(c1024, num_classes)
        init_xavier_uniform(self)

    def forward(self, x: Tensor, num_samples: int | None = None) -> ModelOutput:
        fmap = self.features(x)
        logits = self.classify(fmap.mean(dim=(2, 3)))
        weights = self.classify.weight[logits.argmax(dim=1)]  # B x C'
        cam = torch.einsum("bc,bchw->bhw", weights, fmap).unsqueeze(1)
        return ModelOutput(logits=logits, extras={"cam": cam})


def vgg_aib(
    num_classes: int,
    *,
    width: float = 1.0,
    in_channels: int = 3,
    image_size: int = 32,
    attention: bool = True,
    quantize: bool = False,
    latent_dim: int = 256,
    num_anchors: int | None = None,
    anchor_init: str = "linspace",
    residual: bool = True,
    squash: str | None = None,
    kl_form: str = "reference",
    std_offset: float = 5.0,
    train_samples: int = 1,
    eval_samples: int = 4,
) -> AIBNet:
    """VGG-aib (``quantize=False``), VGG-aib-qt (``quantize=True``), VGG-DVIB (``attention=False``).

    ``num_anchors`` defaults to the official README runs: 20 for 10 classes, 50 for 100.
    """
    kernel = _dense_kernel(image_size)
    c64, c128, c256, c512 = (scaled(c, width) for c in (64, 128, 256, 512))
    features = nn.Sequential(
        ConvBlock(in_channels, c64, 2), ConvBlock(c64, c128, 2), ConvBlock(c128, c256, 3),
        nn.MaxPool2d(2),
    )
    encoder = nn.Sequential(
        ConvBlock(c256, c512, 3), nn.MaxPool2d(2),
        ConvBlock(c512, c512, 3), nn.MaxPool2d(2),
        ConvBlock(c512, c512, 2, pool=True),
        nn.Conv2d(c512, c512, kernel_size=kernel, bias=True), nn.ReLU(inplace=True),
        nn.Flatten(), nn.Linear(c512, 2 * latent_dim),
    )
    att = None
    if attention:
        quantizer = None
        if quantize:
            k = num_anchors if num_anchors is not None else (20 if num_classes <= 10 else 50)
            quantizer = AnchorQuantizer(k, init=anchor_init)
        att = VariationalAttention(
            c256, mean_net=default_mean_net(c256), residual=residual, squash=squash,
            std_offset=std_offset, quantizer=quantizer,
        )
    elif quantize:
        raise ValueError("vgg_aib: quantize=True needs attention=True (the anchors quantise the attention)")
    head = VIBHead(latent_dim, num_classes, decoder="mlp", std_offset=std_offset, kl_form=kl_form)
    net = AIBNet(features, att, encoder, head, train_samples=train_samples, eval_samples=eval_samples)
    init_xavier_uniform(net)  # Conv/Linear/BN only: the anchors keep their linspace values
    return net
