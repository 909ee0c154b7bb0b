"""The paper's interpretability score (§4.4, Table 2): is the attention map stable under a modification
that does not change the decision?

For a set of images ``x`` and their modified versions ``x'`` (occluded, frequency-filtered, see
:mod:`aibnb.interpret.modify`), a sample is *prediction-consistent* when ``pred(x) == pred(x')``.
Among those, it is *attention-consistent* at threshold ``tau`` when the cosine similarity of the two
flattened attention maps exceeds ``tau``. The score is

    score(tau) = 100 * #{pred equal and cos > tau} / #{pred equal}.

Choices the paper leaves open (its §4.4; the authors did not release this evaluation), explicit here:

* **which map** (``attention=``): ``"mean"`` (mu_a of the AIB models), ``"sample"`` (one continuous
  attention sample), ``"quantised"`` (the map that modulated the features of a ``-qt`` model), or a
  callable (e.g. a Grad-CAM explainer) for models without attention. LTPA and ABN maps are
  deterministic, so for them ``"mean"`` and ``"sample"`` both mean the model's own map.
* **normalisation before the cosine** (``normalize=``): ``"none"`` (the cosine of the raw maps,
  which is already invariant to scale), ``"minmax"`` (each map rescaled to ``[0, 1]`` first, as the
  official figures do) or ``"center"`` (mean removed: the Pearson correlation). A raw map with a
  large constant offset — a sigmoid map near 0.8 everywhere — has a cosine near 1 with *any* other
  such map, so ``"none"`` rewards flat maps. Min-max rescaling lowers that floor but keeps it
  (rescaled maps are still non-negative, with mean near 1/2); only ``"center"`` removes it, so that
  unrelated maps score near 0 (see :func:`unrelated_pairs_score`).
* **tau**: the surviving argparse hints give 0.85, 0.9 and 0.95; pass any sequence in ``(0, 1]``.

Counts come back with the score, so that a confidence interval (Wilson, :func:`wilson_interval`) can
be drawn for every cell of the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from aibnb.interpret.modify import check_images

__all__ = [
    "ATTENTION_KINDS",
    "NORMALIZATIONS",
    "ConsistencyResult",
    "Explanation",
    "check_taus",
    "consistency_from_explanations",
    "consistency_score",
    "cosine_similarity",
    "explain",
    "has_attention",
    "stability_levels",
    "unrelated_pairs_score",
    "wilson_interval",
]

ATTENTION_KINDS = ("mean", "sample", "quantised")
NORMALIZATIONS = ("none", "minmax", "center")
DEFAULT_TAUS = (0.85, 0.9, 0.95)

#: ``explainer(model, x) -> (logits, maps)``: ``x`` normalised model input, maps ``B x 1 x h x w``.
Explainer = Callable[[nn.Module, Tensor], tuple[Tensor, Tensor]]


@dataclass
class Explanation:
    """A model's decision and attention maps for a batch of images.

    ``logits`` (B x C, float32, CPU), ``maps`` (B x 1 x h x w), ``kind``: which map (``"mean"``,
    ``"sample"``, ``"quantised"``, ``"own"`` for LTPA/ABN, or the explainer's name).
    """

    logits: Tensor
    maps: Tensor
    kind: str

    @property
    def predictions(self) -> Tensor:
        return self.logits.argmax(dim=1)

    @property
    def probabilities(self) -> Tensor:
        return torch.softmax(self.logits, dim=1)

    @property
    def confidence(self) -> Tensor:
        """The softmax probability of the predicted class."""
        return self.probabilities.amax(dim=1)

    @property
    def upsample_mode(self) -> str:
        """``"nearest"`` for quantised maps (their values are anchors), ``"bilinear"`` otherwise."""
        return "nearest" if self.kind == "quantised" else "bilinear"


def check_taus(tau: float | Sequence[float]) -> tuple[float, ...]:
    """``tau`` as a tuple of thresholds, each in ``(0, 1]``."""
    taus = (tau,) if isinstance(tau, (int, float)) and not isinstance(tau, bool) else tuple(tau)
    if not taus:
        raise ValueError("tau must be a number in (0, 1] or a non-empty sequence of them, got an empty one")
    for t in taus:
        bad = isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)
        if bad or not 0 < t <= 1:
            raise ValueError(
                f"tau must lie in (0, 1] (a cosine-similarity threshold, e.g. 0.9), got {t!r}"
            )
    return tuple(float(t) for t in taus)


def has_attention(model: nn.Module, probe: Tensor) -> bool:
    """Whether ``model`` returns an attention map for ``probe`` (one forward pass)."""
    with torch.no_grad():
        out = model(probe)
    return getattr(out, "attention", None) is not None


def _select_map(out: Any, attention: str) -> tuple[Tensor, str]:
    own = getattr(out, "attention", None)
    if own is None and getattr(out, "attention_mean", None) is None:
        raise ValueError(
            "model returns no attention map (a plain backbone or the DVIB baseline); score it "
            "through a post-hoc explainer instead: attention=aibnb.interpret.gradcam_explainer(layer)"
        )
    variational = getattr(out, "attention_mean", None) is not None
    if not variational:  # LTPA / ABN: one deterministic map
        if attention == "quantised":
            raise ValueError(
                "attention='quantised' needs a quantised (-qt) AIB model; this model has its own "
                "deterministic map: use attention='mean'"
            )
        return own, "own"
    if attention == "mean":
        return out.attention_mean, "mean"
    if attention == "sample":
        return out.attention_sample, "sample"
    if out.usage is None:  # no quantiser ran
        raise ValueError(
            "attention='quantised' needs a quantised (-qt) AIB model; use 'mean' or 'sample' for this one"
        )
    return out.attention, "quantised"


def explain(
    model: nn.Module,
    images: Tensor,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    attention: str | Explainer = "mean",
    batch_size: int = 256,
    num_samples: int | None = None,
    seed: int = 0,
) -> Explanation:
    """Run ``model`` on pixel-space ``images`` (``[0, 1]``) and return logits and attention maps.

    ``mean``/``std`` are the normalisation the model was trained with (``TensorData.mean``/``.std``).
    ``attention`` chooses the map (see the module docstring) or is an explainer callable.
    ``num_samples`` overrides the number of attention x latent samples of the AIB models
    (``None``: the model's evaluation default, officially 4 x 4). Sampling is seeded with ``seed``
    inside a forked RNG, so the call is reproducible (for the same ``batch_size``: the noise is
    drawn batch by batch) and leaves the global RNG alone.
    """
    check_images(images)
    if not callable(attention) and attention not in ATTENTION_KINDS:
        raise ValueError(
            f"attention must be one of {ATTENTION_KINDS} or an explainer callable, got {attention!r}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    channels = images.shape[1]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean and std need {channels} values (one per image channel), got {mean}, {std}")
    device = next(iter(model.parameters())).device
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    was_training = model.training
    model.eval()
    logits, maps, kind = [], [], None
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            for start in range(0, len(images), batch_size):
                x = (images[start : start + batch_size].to(device, torch.float32) - m) / s
                if callable(attention):
                    lg, mp = attention(model, x)
                    kind = getattr(attention, "name", getattr(attention, "__name__", "explainer"))
                else:
                    with torch.no_grad():
                        out = model(x) if num_samples is None else model(x, num_samples=num_samples)
                    mp, kind = _select_map(out, attention)
                    lg = out.logits
                logits.append(lg.detach().float().cpu())
                maps.append(mp.detach().float().cpu())
    finally:
        model.train(was_training)
    if not logits:
        raise ValueError("images is empty: explain needs at least one image")
    return Explanation(torch.cat(logits), torch.cat(maps), str(kind))


def _normalise(maps: Tensor, normalize: str) -> Tensor:
    flat = maps.reshape(len(maps), -1).double()
    if normalize == "none":
        return flat
    if normalize == "center":
        return flat - flat.mean(dim=1, keepdim=True)
    lo = flat.amin(dim=1, keepdim=True)
    span = flat.amax(dim=1, keepdim=True) - lo
    return torch.where(span > 0, (flat - lo) / span.clamp_min(1e-300), torch.zeros_like(flat))


def cosine_similarity(maps_a: Tensor, maps_b: Tensor, normalize: str = "none") -> Tensor:
    """Per-sample cosine similarity of two batches of maps after flattening and ``normalize``.

    Two maps that both normalise to the zero vector (constant maps under ``"minmax"`` or
    ``"center"``) count as identical (similarity 1); one zero map against a non-zero one gives 0.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    if maps_a.shape != maps_b.shape:
        raise ValueError(
            f"maps_a {tuple(maps_a.shape)} and maps_b {tuple(maps_b.shape)} must have the same shape"
        )
    a, b = _normalise(maps_a, normalize), _normalise(maps_b, normalize)
    na, nb = a.norm(dim=1), b.norm(dim=1)
    tiny = 1e-12
    cos = (a * b).sum(dim=1) / (na * nb).clamp_min(tiny)
    both_zero = (na <= tiny) & (nb <= tiny)
    return torch.where(both_zero, torch.ones_like(cos), cos).clamp(-1.0, 1.0).float()


def unrelated_pairs_score(
    maps: Tensor,
    tau: float | Sequence[float] = DEFAULT_TAUS,
    *,
    normalize: str = "none",
    seed: int = 0,
) -> tuple[float, ...]:
    """The score that maps of *different* images would get: a floor for :func:`consistency_score`.

    Pairs every map with the map of another image (a random derangement, seeded) and returns, per
    tau, the percentage of pairs whose cosine similarity exceeds tau. For maps whose pixels have
    mean ``m`` and variance ``v`` (over images and positions) and are unrelated, the raw cosine
    tends to ``m^2 / (m^2 + v)`` as the map grows: close to 1 for a map with a large offset, so
    under ``normalize="none"`` such maps look "consistent" whatever they show.
    """
    taus = check_taus(tau)
    n = len(maps)
    if n < 2:
        raise ValueError("maps must hold at least 2 maps to form pairs of different images")
    g = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, n, (1,), generator=g).item()
    order = torch.randperm(n, generator=g)
    partner = torch.empty_like(order)
    partner[order] = order.roll(-shift)  # a cyclic shift of a random order: nobody meets itself
    sim = cosine_similarity(maps, maps[partner], normalize)
    return tuple(float(100.0 * (sim > t).float().mean()) for t in taus)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion, as fractions in ``[0, 1]``.

    ``(nan, nan)`` when ``n == 0``. Unlike the normal approximation it stays inside ``[0, 1]``
    and behaves at proportions near 0 or 1, where the interpretability scores live.
    """
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if n == 0:
        return (math.nan, math.nan)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends, no rounding residue
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


@dataclass
class ConsistencyResult:
    """Scores of one model under one modification.

    ``scores[i]`` is the percentage for ``taus[i]`` (NaN when no sample is prediction-consistent);
    ``num_attention_consistent[i]`` its numerator, ``num_consistent`` the denominator,
    ``num_total`` the number of images; ``similarity`` (all images) and ``prediction_consistent``
    are per-sample arrays.
    """

    taus: tuple[float, ...]
    scores: tuple[float, ...]
    num_attention_consistent: tuple[int, ...]
    num_consistent: int
    num_total: int
    normalize: str
    kind: str
    similarity: np.ndarray = field(repr=False)
    prediction_consistent: np.ndarray = field(repr=False)

    def stability_code(self) -> str:
        """The per-image outcomes behind every score, one character per image: ``-`` where the
        prediction changed, otherwise how many of ``taus`` the two maps' cosine exceeds (``0`` to
        ``len(taus)``). Stored beside the scores so that two maps can be compared image by image;
        :func:`stability_levels` reads it back."""
        if len(self.taus) > 9:
            raise ValueError(f"stability_code: at most 9 taus fit one digit, got {len(self.taus)}")
        levels = (self.similarity[:, None] > np.asarray(self.taus)[None, :]).sum(axis=1)
        return "".join("-" if not same else str(int(k))
                       for same, k in zip(self.prediction_consistent, levels, strict=True))

    def intervals(self, level: float = 0.95) -> list[tuple[float, float]]:
        """Wilson intervals of every score, in percent."""
        out = []
        for k in self.num_attention_consistent:
            lo, hi = wilson_interval(k, self.num_consistent, level)
            out.append((100 * lo, 100 * hi))
        return out

    def as_rows(self, **labels: Any) -> list[dict[str, Any]]:
        """One dict per tau (with ``labels`` added), ready for a DataFrame or a stored table."""
        rows = []
        for tau, score, k, (lo, hi) in zip(
            self.taus, self.scores, self.num_attention_consistent, self.intervals(), strict=True
        ):
            rows.append({
                **labels, "tau": tau, "score": score, "ci_low": lo, "ci_high": hi,
                "num_attention_consistent": k, "num_consistent": self.num_consistent,
                "num_total": self.num_total, "normalize": self.normalize, "attention": self.kind,
            })
        return rows


def stability_levels(code: str) -> np.ndarray:
    """A :meth:`ConsistencyResult.stability_code` as integers: -1 where the prediction changed,
    else the number of thresholds the cosine exceeds. The map is attention-consistent at the
    threshold ``tau`` of a list ``taus`` where the level is at least ``sum(t <= tau for t in taus)``."""
    bad = set(code) - set("-0123456789")
    if bad:
        raise ValueError(f"stability code: unexpected characters {sorted(bad)}; re-score the run")
    return np.array([-1 if c == "-" else int(c) for c in code], dtype=np.int64)


def _check_pair(original: Explanation, modified: Explanation, tau: float | Sequence[float]
                ) -> tuple[float, ...]:
    """The argument checks of :func:`consistency_from_explanations` (kept out of its body, which
    the book shows beside the equation); returns the thresholds as a tuple."""
    if original.logits.shape != modified.logits.shape:
        raise ValueError("original and modified explanations must cover the same images")
    return check_taus(tau)


def consistency_from_explanations(
    original: Explanation,
    modified: Explanation,
    tau: float | Sequence[float] = DEFAULT_TAUS,
    *,
    normalize: str = "none",
) -> ConsistencyResult:
    """The score from two :class:`Explanation` objects of the same images (original, modified).

    The paper's Table 2 score, defined in the book's chapter 5 ("The protocol, choice by choice").
    """
    taus = _check_pair(original, modified, tau)
    sim = cosine_similarity(original.maps, modified.maps, normalize)
    same = original.predictions == modified.predictions
    n_same = int(same.sum())
    counts = tuple(int(((sim > t) & same).sum()) for t in taus)
    scores = tuple(100.0 * k / n_same if n_same else math.nan for k in counts)
    return ConsistencyResult(
        taus=taus, scores=scores, num_attention_consistent=counts, num_consistent=n_same,
        num_total=len(same), normalize=normalize, kind=original.kind,
        similarity=sim.numpy(), prediction_consistent=same.numpy(),
    )


def consistency_score(
    model: nn.Module,
    images: Tensor,
    modify: Callable[[Tensor], Tensor] | Tensor,
    tau: float | Sequence[float] = DEFAULT_TAUS,
    *,
    mean: Sequence[float],
    std: Sequence[float],
    attention: str | Explainer = "mean",
    normalize: str = "none",
    batch_size: int = 256,
    num_samples: int | None = None,
    seed: int = 0,
    original: Explanation | None = None,
) -> ConsistencyResult:
    """The interpretability score of ``model`` on ``images`` under ``modify`` (paper §4.4).

    ``images``: pixel-space float ``B x C x H x W`` in ``[0, 1]``; ``modify``: a function of the
    images (e.g. ``lambda x: occlude(x, 0.25, generator=0)``) or the modified images themselves.
    ``tau``: one threshold or several (all in ``(0, 1]``). ``attention``, ``mean``, ``std``,
    ``num_samples`` and ``seed`` as in :func:`explain`; ``normalize`` as in
    :func:`cosine_similarity`. Pass ``original=`` (an :func:`explain` result for ``images``) to
    reuse the forward pass on the unmodified images across several modifications.

    Raises a ``ValueError`` naming the parameter for images of the wrong shape, tau outside
    ``(0, 1]``, and a model without an attention map (unless ``attention`` is an explainer).
    """
    check_images(images)
    taus = check_taus(tau)
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    modified_images = modify(images) if callable(modify) else modify
    check_images(modified_images, "modified images")
    if modified_images.shape != images.shape:
        raise ValueError(
            f"modify must keep the shape of images {tuple(images.shape)}, got {tuple(modified_images.shape)}"
        )
    options = {"mean": mean, "std": std, "attention": attention, "batch_size": batch_size,
               "num_samples": num_samples, "seed": seed}
    if original is None:
        original = explain(model, images, **options)
    elif len(original.logits) != len(images):
        raise ValueError(f"original covers {len(original.logits)} images, but images has {len(images)}")
    modified = explain(model, modified_images, **options)
    return consistency_from_explanations(original, modified, taus, normalize=normalize)
