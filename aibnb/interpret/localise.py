"""Attention scored against ground truth: pointing game, relevance mass and IoU on object masks.

The paper scores its maps only by their *stability* (Table 2). On the cluttered scenes of
:mod:`aibnb.data.cluttered` the object mask is exact, so we can also ask whether a map points at the
object. Three standard metrics (cf. the Quantus library's ``PointingGame``,
``RelevanceMassAccuracy`` and top-k intersection), all per image, for maps ``B x 1 x H x W`` at the
resolution of the boolean masks ``B x 1 x H x W``:

* **pointing game** (Zhang et al., 2018): is the map's maximum inside the mask? Quantised maps have
  plateaus, so ties are counted fairly: the score is the *fraction of maximal pixels* inside the
  mask (the hit probability under random tie-breaking; 0 or 1 when the maximum is unique).
* **relevance mass** (Arras et al., 2022): the fraction of the map's positive mass that lies inside
  the mask, ``sum(relu(a) * mask) / sum(relu(a))`` (NaN for a map with no positive mass).
* **IoU** of the thresholded map with the mask. Threshold rules: ``"mask_area"`` keeps the pixels
  whose value is at least the k-th largest, with k the mask's pixel count (so a perfect ranking
  gives IoU 1; ties at the threshold are all kept); ``"mean"`` keeps pixels above the map's mean;
  a number ``q`` in ``(0, 1)`` keeps the top ``q`` fraction of pixels.

Chance levels: a map that is constant or independent of the image has an expected pointing score
and relevance mass equal to the mask's **area fraction** (:func:`area_fraction`); compare with it.

Maps at 16 x 16 (32 x 32 for LTPA's finest) are brought to the image size by :func:`upsample` with
an explicit ``mode``: ``"nearest"`` for quantised maps (their values are anchors), ``"bilinear"``
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "UPSAMPLE_MODES",
    "LocalisationResult",
    "area_fraction",
    "confident_failures",
    "iou",
    "localisation_scores",
    "pointing_game",
    "raw_and_structure",
    "relevance_mass",
    "round_robin",
    "subtract_minimum",
    "threshold_maps",
    "upsample",
]

UPSAMPLE_MODES = ("nearest", "bilinear")


def _check_pair(maps: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    if not isinstance(maps, Tensor) or maps.ndim != 4 or maps.shape[1] != 1:
        shape = tuple(maps.shape) if isinstance(maps, Tensor) else type(maps).__name__
        raise ValueError(f"maps must be a B x 1 x H x W tensor, got {shape}")
    if not isinstance(masks, Tensor) or masks.dtype != torch.bool:
        raise ValueError("masks must be a bool tensor B x 1 x H x W (True on the object)")
    if masks.shape != maps.shape:
        raise ValueError(
            f"maps {tuple(maps.shape)} and masks {tuple(masks.shape)} must have the same shape; bring the "
            "maps to the mask resolution with upsample(maps, size, mode=...) first"
        )
    return maps.double(), masks


def upsample(maps: Tensor, size: int | tuple[int, int], mode: str) -> Tensor:
    """Resize maps ``B x 1 x h x w`` to ``size``: ``mode="nearest"`` (quantised maps) or ``"bilinear"``.

    Bilinear uses ``align_corners=False`` (pixel centres, like the image resizing of the data).
    """
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"mode must be one of {UPSAMPLE_MODES} (nearest for quantised maps), got {mode!r}")
    if not isinstance(maps, Tensor) or maps.ndim != 4:
        raise ValueError("maps must be a B x 1 x h x w tensor")
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(maps.shape[-2:]) == size:
        return maps
    if mode == "nearest":
        return F.interpolate(maps.float(), size=size, mode="nearest")
    return F.interpolate(maps.float(), size=size, mode="bilinear", align_corners=False)


def area_fraction(masks: Tensor) -> Tensor:
    """The fraction of each image covered by its mask (the chance level of pointing and mass)."""
    return masks.flatten(1).double().mean(dim=1)


def pointing_game(maps: Tensor, masks: Tensor, *, rtol: float = 1e-6) -> Tensor:
    """Per image: the fraction of the map's maximal pixels that lie inside the mask (in ``[0, 1]``).

    Pixels within ``rtol`` (relative to the map's range) of the maximum count as maximal, so float
    noise does not break a quantised plateau.
    """
    maps, masks = _check_pair(maps, masks)
    flat, inside = maps.flatten(1), masks.flatten(1)
    top = flat.amax(dim=1, keepdim=True)
    span = (top - flat.amin(dim=1, keepdim=True)).clamp_min(1e-300)
    is_max = flat >= top - rtol * span
    return (is_max & inside).sum(1).double() / is_max.sum(1).double()


def relevance_mass(maps: Tensor, masks: Tensor) -> Tensor:
    """Per image: the share of the map's positive mass inside the mask (NaN if there is none)."""
    maps, masks = _check_pair(maps, masks)
    pos = maps.clamp_min(0).flatten(1)
    total = pos.sum(1)
    inside = (pos * masks.flatten(1)).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-300), torch.full_like(total, float("nan")))


def threshold_maps(maps: Tensor, masks: Tensor | None = None, threshold: str | float = "mask_area") -> Tensor:
    """Binarise maps by one of the rules of :func:`iou` (``masks`` needed for ``"mask_area"``)."""
    flat = maps.flatten(1).double()
    n = flat.shape[1]
    if threshold == "mean":
        keep = flat > flat.mean(dim=1, keepdim=True)
    elif threshold == "mask_area":
        if masks is None:
            raise ValueError("threshold='mask_area' needs the masks (k = the mask's pixel count)")
        k = masks.flatten(1).sum(1).clamp(1, n)
        ordered = flat.sort(dim=1, descending=True).values
        kth = ordered.gather(1, (k - 1)[:, None])
        keep = flat >= kth
    elif isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0 < threshold < 1:
        k = max(1, round(threshold * n))
        kth = flat.topk(k, dim=1).values[:, -1:]
        keep = flat >= kth
    else:
        raise ValueError(
            f"threshold must be 'mask_area', 'mean' or a fraction in (0, 1) (keep the top fraction), "
            f"got {threshold!r}"
        )
    return keep.reshape(maps.shape)


def iou(maps: Tensor, masks: Tensor, threshold: str | float = "mask_area") -> Tensor:
    """Per image: intersection over union of the thresholded map and the mask (rules above)."""
    maps, masks = _check_pair(maps, masks)
    keep = threshold_maps(maps, masks, threshold).flatten(1)
    inside = masks.flatten(1)
    inter = (keep & inside).sum(1).double()
    union = (keep | inside).sum(1).double()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


@dataclass
class LocalisationResult:
    """Per-image localisation scores of one set of maps (numpy arrays of length B)."""

    pointing: np.ndarray
    mass: np.ndarray
    iou: np.ndarray
    area: np.ndarray
    threshold: str | float
    mode: str

    def summary(self) -> dict[str, float]:
        """Means, and 1.96 x standard errors over images (a normal-approximation 95 % interval)."""
        out = {}
        for key in ("pointing", "mass", "iou", "area"):
            values = getattr(self, key)
            values = values[np.isfinite(values)]
            out[key] = float(values.mean()) if len(values) else float("nan")
            half = 1.96 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
            out[f"{key}_ci"] = float(half)
        return out


def localisation_scores(
    maps: Tensor, masks: Tensor, *, mode: str, threshold: str | float = "mask_area"
) -> LocalisationResult:
    """Pointing game, relevance mass and IoU of ``maps`` (upsampled with ``mode``) against ``masks``."""
    if not isinstance(masks, Tensor) or masks.ndim != 4:
        raise ValueError("masks must be a bool tensor B x 1 x H x W")
    if not isinstance(maps, Tensor) or maps.ndim != 4 or len(maps) != len(masks):
        raise ValueError(f"maps must be B x 1 x h x w with B = {len(masks)} (one map per mask)")
    up = upsample(maps, tuple(masks.shape[-2:]), mode)
    return LocalisationResult(
        pointing=pointing_game(up, masks).numpy(),
        mass=relevance_mass(up, masks).numpy(),
        iou=iou(up, masks, threshold).numpy(),
        area=area_fraction(masks).numpy(),
        threshold=threshold,
        mode=mode,
    )


def subtract_minimum(maps: Tensor) -> Tensor:
    """Each map minus its own minimum: the map's *structure*, without its constant offset.

    A sigmoid map that sits at 0.8 everywhere puts most of its raw mass on the background whatever
    its shape, so its raw relevance mass is close to the area fraction; the book scores both.
    """
    return maps - maps.amin(dim=(1, 2, 3), keepdim=True)


def raw_and_structure(maps: Tensor, masks: Tensor, *, mode: str) -> dict[str, LocalisationResult]:
    """:func:`localisation_scores` of the raw maps and of their structure (:func:`subtract_minimum`)."""
    return {"raw": localisation_scores(maps, masks, mode=mode),
            "structure": localisation_scores(subtract_minimum(maps), masks, mode=mode)}


def confident_failures(
    confidence: np.ndarray | Tensor,
    pointing: np.ndarray,
    mass: np.ndarray,
    area: np.ndarray,
    *,
    min_confidence: float = 0.9,
    limit: int | None = None,
) -> np.ndarray:
    """Indices of images where the model is sure of itself but its map is wrong, most confident first.

    "Confidently wrong attention": softmax probability of the prediction ``>= min_confidence``, the
    map's maximum misses the object (pointing score 0) and less of its mass falls on the object than
    a flat map would put there (``mass < area``).
    """
    conf = np.asarray(confidence, dtype=float)
    if not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be a probability in [0, 1], got {min_confidence!r}")
    pointing, mass, area = (np.asarray(v, dtype=float) for v in (pointing, mass, area))
    if not (len(conf) == len(pointing) == len(mass) == len(area)):
        raise ValueError("confidence, pointing, mass and area must have one entry per image")
    bad = (conf >= min_confidence) & (pointing == 0) & (mass < area)
    index = np.flatnonzero(bad)
    index = index[np.argsort(-conf[index], kind="stable")]
    return index if limit is None else index[:limit]


def round_robin(index: np.ndarray, groups: np.ndarray, limit: int | None = None) -> np.ndarray:
    """Reorder ``index`` (already ranked) so that successive picks cycle over ``groups``.

    The first pick of every group comes first (in rank order), then the second of every group, and
    so on: a gallery of the top cases then shows several classes instead of one. ``groups[i]`` is
    the group of image ``i`` (e.g. its predicted class).
    """
    index = np.asarray(index, dtype=int)
    groups = np.asarray(groups)
    rank_in_group = np.zeros(len(index), dtype=int)
    seen: dict[object, int] = {}
    for k, i in enumerate(index):
        g = groups[i].item() if hasattr(groups[i], "item") else groups[i]
        rank_in_group[k] = seen.get(g, 0)
        seen[g] = rank_in_group[k] + 1
    order = np.lexsort((np.arange(len(index)), rank_in_group))
    out = index[order]
    return out if limit is None else out[:limit]
