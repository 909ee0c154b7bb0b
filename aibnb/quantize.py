"""The scalar anchor quantiser of the paper's Section 3.3, with the straight-through estimator.

Every pixel of the sampled attention map is snapped to its nearest anchor value (Eq. (9)).
The look-up has no useful gradient, so the backward pass copies the gradient of the quantised map
to the continuous map unchanged (the straight-through estimator of Bengio et al., 2013), written
``q_st = a + sg(q - a)``. Two MSE terms with stop-gradients (van den Oord et al., 2017; Eq. (10))
train the pieces the look-up cannot reach:

* the codebook loss ``|| sg(a) - q ||^2`` moves the anchors towards the attention values
  (it is the anchors' only gradient), and
* the commitment loss ``|| a - sg(q) ||^2`` pulls the attention towards its anchors.

The official code (``VGG-backbone-32/sonnet_vqvae_torch.py``; the WRN copy is identical)
initialises the anchors at ``linspace(0, 1, K)`` and updates them by gradient, not EMA. How fast
they move differs by script; :func:`param_groups` reproduces each behaviour as an explicit choice
(``anchor_lr="base" | "ratio" | "frozen"``).

With K anchors a quantised H x W map can say at most ``H * W * log2 K`` bits.
:func:`quantized_map_bits` measures how many of them stored maps use (the plug-in entropy of their
anchor indices, :func:`entropy_bits`); the stored K sweep and chapter 3 both count with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

ANCHOR_INITS = ("linspace", "random")
ANCHOR_LR_MODES = ("base", "ratio", "frozen")


@dataclass
class QuantizerOutput:
    """What :class:`AnchorQuantizer` returns.

    ``quantized``: the straight-through output (forward value = nearest anchor, gradient = identity);
    ``indices``: the anchor index of every element; ``codebook_loss`` / ``commitment_loss``: the two
    MSE terms (means over all elements); ``perplexity``: exp of the entropy of anchor usage (K when
    all anchors are used equally, 1 when one anchor takes everything); ``usage``: the fraction of
    elements assigned to each anchor (shape ``(K,)``).
    """

    quantized: Tensor
    indices: Tensor
    codebook_loss: Tensor
    commitment_loss: Tensor
    perplexity: Tensor
    usage: Tensor

    @property
    def dead_anchors(self) -> int:
        """Number of anchors that no element chose in this batch (synchronises)."""
        return int((self.usage == 0).sum())


def _check_finite(x: Tensor) -> None:
    """The input check of :meth:`AnchorQuantizer.forward` (kept out of the method, which the book
    shows beside the equations)."""
    if x.device.type != "meta" and not torch.isfinite(x).all():
        raise ValueError(
            "AnchorQuantizer: the input has non-finite values (NaN or inf); the attention map "
            "diverged upstream - lower the learning rate or check the inputs"
        )


class AnchorQuantizer(nn.Module):
    """Nearest-anchor quantisation of scalars with ``num_anchors`` learnable anchor values.

    The paper's Eq. (9)-(10), derived in the book's chapter 3 ("Nearest anchors, a
    straight-through gradient and two losses").

    ``init="linspace"`` spreads the anchors evenly over ``[low, high]`` with both ends included
    (the official default, ``rd_init=False``); ``init="random"`` draws them uniformly from that
    range and sorts them. Input of any shape is quantised element-wise.
    """

    def __init__(
        self,
        num_anchors: int,
        init: str = "linspace",
        *,
        low: float = 0.0,
        high: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(num_anchors, bool) or not isinstance(num_anchors, int) or num_anchors < 1:
            raise ValueError(
                f"AnchorQuantizer: num_anchors (K) must be an integer >= 1, got {num_anchors!r}"
            )
        if init not in ANCHOR_INITS:
            raise ValueError(f"AnchorQuantizer: init must be one of {ANCHOR_INITS}, got {init!r}")
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ValueError(f"AnchorQuantizer: need finite low <= high, got low={low}, high={high}")
        if init == "linspace":
            values = torch.linspace(low, high, num_anchors)
        else:
            values = torch.rand(num_anchors, generator=generator) * (high - low) + low
            values = values.sort().values
        self.num_anchors = num_anchors
        self.anchors = nn.Parameter(values)

    def extra_repr(self) -> str:
        return f"num_anchors={self.num_anchors}"

    def forward(self, x: Tensor) -> QuantizerOutput:
        _check_finite(x)
        anchors = self.anchors.to(x.dtype)
        indices = (x.detach().unsqueeze(-1) - anchors.detach()).abs().argmin(dim=-1)
        nearest = anchors[indices]
        codebook_loss = F.mse_loss(nearest, x.detach())
        commitment_loss = F.mse_loss(x, nearest.detach())
        quantized = x + (nearest - x).detach()
        flat = indices.reshape(-1)
        counts = torch.zeros(self.num_anchors, device=x.device).scatter_add_(
            0, flat, torch.ones_like(flat, dtype=torch.float32)
        )
        usage = counts / counts.sum().clamp_min(1.0)
        entropy = -(usage * torch.log(usage.clamp_min(1e-12))).sum()
        return QuantizerOutput(
            quantized=quantized,
            indices=indices,
            codebook_loss=codebook_loss,
            commitment_loss=commitment_loss,
            perplexity=entropy.exp(),
            usage=usage,
        )


def soft_quantize(x: Tensor, anchors: Tensor, temperature: float) -> Tensor:
    """A smooth relaxation of the nearest-anchor look-up (a softmax over negative squared distances).

    As ``temperature -> 0`` it tends to the hard look-up; for ``temperature > 0`` it is
    differentiable, so finite differences give its "true" gradient. Chapter 3 uses it to measure
    the bias of the straight-through estimator.
    """
    if temperature <= 0:
        raise ValueError(f"soft_quantize: temperature must be > 0, got {temperature}")
    weights = torch.softmax(-((x.unsqueeze(-1) - anchors) ** 2) / temperature, dim=-1)
    return (weights * anchors).sum(dim=-1)


def entropy_bits(counts: np.ndarray) -> float:
    """Shannon entropy (bits) of the empirical distribution given by non-negative ``counts``."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or np.any(counts < 0) or counts.sum() <= 0:
        raise ValueError(
            f"counts must be a 1-d array of non-negative numbers with a positive sum, got {counts!r}"
        )
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def quantized_map_bits(maps: np.ndarray, anchors: Sequence[float]) -> dict[str, float]:
    """How many bits the quantised maps use, against the cap ``H * W * log2 K``.

    ``maps`` (N x H x W, or N x 1 x H x W) hold anchor values; each pixel is assigned to its
    nearest anchor. ``per_image``: the mean over images of ``H * W * H(histogram of that image's
    anchor indices)``, the length of the map under a code fitted to the image's own histogram
    (not counting the histogram); ``pooled``: ``H * W * H(histogram over all images)``, the code
    length with one histogram for the data set (>= ``per_image`` by concavity). Both are at most
    ``cap = H * W * log2 K``; ``used``: anchors used by at least one pixel.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim == 4 and maps.shape[1] == 1:
        maps = maps[:, 0]
    if maps.ndim != 3 or maps.shape[0] == 0:
        raise ValueError(f"maps must be N x H x W (or N x 1 x H x W) with N >= 1, got {maps.shape}")
    anchors = np.asarray(anchors, dtype=np.float64)
    if anchors.ndim != 1 or anchors.size == 0:
        raise ValueError("anchors must be a non-empty 1-d sequence of anchor values")
    k, pixels = anchors.size, maps.shape[1] * maps.shape[2]
    index = np.abs(maps[..., None] - anchors).argmin(axis=-1).reshape(maps.shape[0], -1)
    counts = np.stack([np.bincount(row, minlength=k) for row in index])
    return {
        "per_image": float(np.mean([pixels * entropy_bits(c) for c in counts])),
        "pooled": pixels * entropy_bits(counts.sum(axis=0)),
        "cap": pixels * math.log2(k) if k > 1 else 0.0,
        "used": int((counts.sum(axis=0) > 0).sum()),
    }


def anchor_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The anchor tensors of every :class:`AnchorQuantizer` inside ``model``, found by type.

    Selecting by module type (not by parameter name) is what keeps the anchors' own learning rate
    working whatever wrapper (DataParallel, DDP, torch.compile) prefixes the names.
    """
    return [m.anchors for m in model.modules() if isinstance(m, AnchorQuantizer)]


def param_groups(
    model: nn.Module,
    lr: float,
    *,
    weight_decay: float = 5e-4,
    anchor_lr: str = "ratio",
    anchor_lr_ratio: float = 1e-4,
    anchor_weight_decay: float | None = None,
) -> list[dict]:
    """Optimiser parameter groups that give the anchors their own learning rate.

    ``anchor_lr``:

    * ``"ratio"`` — anchors train at ``lr * anchor_lr_ratio`` (the intended behaviour; what the
      official WRN script achieves: 0.1 x 1e-4 = 1e-5, anchors practically frozen);
    * ``"base"`` — anchors train at the base ``lr`` with the others (what the official VGG script
      really does: its name filter ``'emb.weight'`` misses ``'module.emb.weight'`` under
      DataParallel, so the anchor group is empty);
    * ``"frozen"`` — anchors get ``requires_grad=False`` (the official CUB runs, ``qt_trainable=False``).

    Weight decay applies to the anchors as in the official code unless ``anchor_weight_decay`` is
    given. Each group carries a ``"name"`` key (``"weights"`` / ``"anchors"``) for logging.
    """
    if anchor_lr not in ANCHOR_LR_MODES:
        raise ValueError(f"param_groups: anchor_lr must be one of {ANCHOR_LR_MODES}, got {anchor_lr!r}")
    if lr <= 0 or anchor_lr_ratio < 0 or weight_decay < 0:
        raise ValueError(
            "param_groups: need lr > 0, anchor_lr_ratio >= 0 and weight_decay >= 0, got "
            f"lr={lr}, anchor_lr_ratio={anchor_lr_ratio}, weight_decay={weight_decay}"
        )
    anchors = anchor_parameters(model)
    anchor_ids = {id(p) for p in anchors}
    if anchor_lr == "frozen":
        for p in anchors:
            p.requires_grad_(False)
    else:
        for p in anchors:
            p.requires_grad_(True)
    if anchor_lr == "base":
        anchor_ids = set()
    weights = [p for p in model.parameters() if p.requires_grad and id(p) not in anchor_ids]
    groups = [{"name": "weights", "params": weights, "lr": lr, "weight_decay": weight_decay}]
    if anchor_lr == "ratio" and anchors:
        groups.append({
            "name": "anchors",
            "params": anchors,
            "lr": lr * anchor_lr_ratio,
            "weight_decay": weight_decay if anchor_weight_decay is None else anchor_weight_decay,
        })
    return groups

