"""The variational spatial attention module of the paper (Section 3.2, App. C).

Given a feature map ``f`` (B x C x H x W) from the feature extractor:

1. mean: ``mu_a = mean_net(f)`` in (0, 1) — a 3x3 convolution to one channel and a sigmoid by
   default (VGG); deeper branches for WRN and CUB are passed in as ``mean_net``;
2. std: ``sigma_a = softplus(conv3x3(mu_a) - 5)`` — a 1->1 convolution of the *mean map* (not of
   ``f``), offset by 5 so that ``sigma_a`` starts near 0.0067: the attention is nearly deterministic;
3. sample: ``a = mu_a + sigma_a * eps`` with the reparametrisation trick, ``n`` samples;
4. optional squashing of the samples (the official code uses none, so ``a`` may leave [0, 1]);
5. optional anchor quantisation (the ``-qt`` models), straight-through;
6. modulation: ``f * (1 + a)`` (residual, the official code, inherited from ABN) or ``f * a``
   (the paper's description). The one-channel map is broadcast over all C channels.

The n samples are laid out sample-major (row ``s * B + b``), as in the official code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aibnb.quantize import AnchorQuantizer, QuantizerOutput
from aibnb.vib import reparametrize

SQUASH_MODES = (None, "clamp", "sigmoid")


@dataclass
class AttentionOutput:
    """What :class:`VariationalAttention` returns.

    ``features``: the modulated features, ``(n * B) x C x H x W`` (sample-major);
    ``attention``: the maps that modulated them, ``n x B x 1 x H x W`` (quantised for ``-qt``);
    ``mean`` / ``std``: ``mu_a`` and ``sigma_a`` (``B x 1 x H x W``);
    ``sample``: the continuous samples before quantisation (``n x B x 1 x H x W``);
    ``quant``: the quantiser's diagnostics, or ``None``.
    """

    features: Tensor
    attention: Tensor
    mean: Tensor
    std: Tensor
    sample: Tensor
    quant: QuantizerOutput | None


def default_mean_net(in_channels: int) -> nn.Sequential:
    """Conv3x3(C -> 1, bias) + Sigmoid: the official VGG attention mean."""
    return nn.Sequential(nn.Conv2d(in_channels, 1, kernel_size=3, padding=1, bias=True), nn.Sigmoid())


def _checked_mean(f: Tensor, mean_net: nn.Module) -> Tensor:
    """``mean_net(f)`` with the shape checks of :meth:`VariationalAttention.forward` (kept out of
    the method, which the book shows beside the equations)."""
    if f.dim() != 4:
        raise ValueError(f"VariationalAttention: expected B x C x H x W features, got {tuple(f.shape)}")
    mean = mean_net(f)
    if mean.shape[1] != 1 or mean.shape[2:] != f.shape[2:]:
        raise ValueError(
            f"VariationalAttention: mean_net must give B x 1 x {f.shape[2]} x {f.shape[3]}, "
            f"got {tuple(mean.shape)}"
        )
    return mean


class VariationalAttention(nn.Module):
    """Variational spatial attention: mean, std, reparametrised sample, (quantise), modulate.

    The module of the paper's §3.2 and Fig. 2, derived in the book's chapter 2 ("Two
    reparametrised samples"); its quantiser in chapter 3.

    Parameters
    ----------
    in_channels:
        channels of the feature map the attention is computed from and applied to.
    mean_net:
        module mapping ``f`` to ``mu_a`` (B x 1 x H x W) in (0, 1); default :func:`default_mean_net`.
    residual:
        ``True`` (official): ``f * (1 + a)``; ``False``: ``f * a``.
    squash:
        ``None`` (official), ``"clamp"`` (clip samples to [0, 1]) or ``"sigmoid"`` (the official
        code's dead ``att_mode='sigmoid'`` branch: ``sigmoid(a)``).
    std_offset:
        the 5 in ``softplus(x - 5)``.
    quantizer:
        an :class:`~aibnb.quantize.AnchorQuantizer` for the ``-qt`` models, or ``None``.
    """

    def __init__(
        self,
        in_channels: int,
        *,
        mean_net: nn.Module | None = None,
        residual: bool = True,
        squash: str | None = None,
        std_offset: float = 5.0,
        quantizer: AnchorQuantizer | None = None,
    ) -> None:
        super().__init__()
        if squash not in SQUASH_MODES:
            raise ValueError(f"VariationalAttention: squash must be one of {SQUASH_MODES}, got {squash!r}")
        self.mean_net = mean_net if mean_net is not None else default_mean_net(in_channels)
        self.std_conv = nn.Conv2d(1, 1, kernel_size=3, padding=1, bias=True)
        self.residual = residual
        self.squash = squash
        self.std_offset = std_offset
        self.quantizer = quantizer

    def extra_repr(self) -> str:
        return f"residual={self.residual}, squash={self.squash}, std_offset={self.std_offset}"

    def forward(self, f: Tensor, num_samples: int = 1) -> AttentionOutput:
        mean = _checked_mean(f, self.mean_net)
        std = F.softplus(self.std_conv(mean) - self.std_offset)
        sample = reparametrize(mean, std, num_samples)
        if self.squash == "clamp":
            sample = sample.clamp(0.0, 1.0)
        elif self.squash == "sigmoid":
            sample = torch.sigmoid(sample)
        quant = None
        attention = sample
        if self.quantizer is not None:
            quant = self.quantizer(sample)
            attention = quant.quantized
        gate = 1.0 + attention if self.residual else attention
        modulated = f.unsqueeze(0) * gate.to(f.dtype)
        features = modulated.reshape(num_samples * f.shape[0], *f.shape[1:])
        return AttentionOutput(
            features=features, attention=attention, mean=mean, std=std, sample=sample, quant=quant
        )
