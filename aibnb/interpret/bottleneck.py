"""The per-sample information bottleneck of Schulz et al. (2020), a post-hoc map for any model.

AIB learns its bottleneck during training: the attention map *is* the channel that limits how much
of the image reaches the classifier. Schulz, Sixt, Tombari and Landgraf ("Restricting the flow:
information bottlenecks for attribution", ICLR 2020) put the same idea after training, one image at
a time: at a layer with activations ``R`` (``C x h x w``), replace ``R`` by a noisy copy

    Z = lambda * R + (1 - lambda) * eps,        eps ~ N(mu_R, sigma_R^2),

with a mask ``lambda`` in ``[0, 1]`` per element (``mu_R`` and ``sigma_R`` are the element-wise
mean and standard deviation of ``R`` over reference images). Where ``lambda = 1`` the activation
passes unchanged; where ``lambda = 0`` it is replaced by noise that carries no information about
the image. With ``Q(Z) = N(mu_R, sigma_R^2)`` as the variational marginal, the information that
passes an element is bounded by

    KL(P(Z|R) || Q(Z)) = -log(1 - lambda) + ((1 - lambda)^2 + lambda^2 r^2) / 2 - 1/2,

in nats, where ``r = (R - mu_R) / sigma_R`` — the same Gaussian KL as the VIB loss of chapter 2
(:func:`aibnb.vib.gaussian_kl`), with ``P(Z|R) = N(lambda R + (1 - lambda) mu_R, (1 - lambda)^2
sigma_R^2)``. The mask is fitted per image by minimising

    cross-entropy(target class) + beta * mean over elements of KL,

with ``lambda = smooth(sigmoid(alpha))`` (a Gaussian blur of width ``sigma`` over space), ``alpha``
initialised at 5 (almost everything passes) and ``steps`` Adam steps of learning rate 1, each on
``samples`` noise draws: the settings of the paper (beta = 10, 10 steps, 10 samples per step; this
book's scoring uses fewer samples to fit two CPU cores, an option here). The attribution map is the
information per location, the KL summed over channels, in bits: a map in the same units as the rate
term of chapter 2, so it can be read as "how many bits of this location the classifier needed".

Why re-implement rather than use the authors' package: it is a few lines on top of a forward hook,
and the models of this book return a :class:`~aibnb.models.ModelOutput`, not a tensor. The hook
is removed in a ``finally`` block and the model's parameters are left untouched (only ``alpha``
receives gradients).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aibnb.interpret.gradcam import default_layer, find_layer

__all__ = ["PerSampleBottleneck", "bottleneck_kl", "per_sample_bottleneck"]

ALPHA_INIT = 5.0


def bottleneck_kl(lam: Tensor, r: Tensor) -> Tensor:
    """``KL(P(Z|R) || Q(Z))`` per element, in nats, for mask ``lam`` and standardised activations ``r``."""
    one_minus = (1 - lam).clamp_min(1e-6)
    return -torch.log(one_minus) + (one_minus**2 + (lam * r) ** 2) / 2 - 0.5


def _gaussian_kernel(sigma: float, channels: int, device: torch.device) -> Tensor:
    radius = max(1, math.ceil(2 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    k2 = torch.outer(g, g)
    k2 = k2 / k2.sum()
    return k2.expand(channels, 1, *k2.shape).contiguous()


def _smooth(lam: Tensor, kernel: Tensor | None) -> Tensor:
    if kernel is None:
        return lam
    pad = kernel.shape[-1] // 2
    return F.conv2d(F.pad(lam, (pad, pad, pad, pad), mode="replicate"), kernel, groups=lam.shape[1])


def _capture(model: nn.Module, module: nn.Module, x: Tensor, batch_size: int) -> Tensor:
    """The activations of ``module`` for the inputs ``x`` (no gradients)."""
    found: list[Tensor] = []
    handle = module.register_forward_hook(lambda _m, _i, out: found.append(out.detach()))
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                model(x[start : start + batch_size])
    finally:
        handle.remove()
    return torch.cat(found)


def per_sample_bottleneck(
    model: nn.Module,
    x: Tensor,
    layer: str,
    *,
    mean: Tensor,
    std: Tensor,
    target: Tensor | None = None,
    beta: float = 10.0,
    steps: int = 10,
    samples: int = 10,
    lr: float = 1.0,
    sigma: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """Per-sample bottleneck maps of ``model`` at ``layer`` for the model inputs ``x``.

    ``mean``/``std``: the element-wise statistics of the layer's activations (``C x h x w``) over
    reference images (:class:`PerSampleBottleneck` estimates them). ``target``: the class each mask
    must keep (default: the model's prediction on the clean input). Returns ``(logits, maps)``:
    the clean logits and the information per location in bits, ``B x 1 x h x w``.
    Noise is drawn from the global RNG (seed it, or call through :func:`aibnb.interpret.explain`).
    """
    if beta < 0 or steps < 1 or samples < 1 or sigma < 0:
        raise ValueError(
            "need beta >= 0, steps >= 1, samples >= 1 and sigma >= 0, "
            f"got {beta}, {steps}, {samples}, {sigma}"
        )
    module = find_layer(model, layer)
    state: dict[str, Tensor] = {}

    def hook(_module, _inputs, output):
        if "z" in state:
            return state["z"]
        state["r"] = output.detach()
        return None

    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            out = model(x)
        clean = out if isinstance(out, Tensor) else out.logits
        classes = clean.argmax(dim=1) if target is None else torch.as_tensor(target, device=clean.device)
        r = state["r"]
        if r.shape[1:] != mean.shape or r.shape[1:] != std.shape:
            raise ValueError(
                f"statistics of shape {tuple(mean.shape)} do not fit activations {tuple(r.shape)}"
            )
        std = std.clamp_min(1e-6)
        standard = (r - mean) / std
        kernel = _gaussian_kernel(sigma, r.shape[1], r.device) if sigma > 0 else None
        alpha = torch.full_like(r, ALPHA_INIT, requires_grad=True)
        optimiser = torch.optim.Adam([alpha], lr=lr)
        reps = classes.repeat(samples)
        for _ in range(steps):
            optimiser.zero_grad()
            with torch.enable_grad():
                lam = _smooth(torch.sigmoid(alpha), kernel)
                noise = mean + std * torch.randn((samples, *r.shape), device=r.device)
                state["z"] = (lam * r + (1 - lam) * noise).flatten(0, 1)
                out = model(x.repeat(samples, 1, 1, 1))
                logits = out if isinstance(out, Tensor) else out.logits
                ce = F.cross_entropy(logits, reps, reduction="none").view(samples, -1).mean(0)
                info = bottleneck_kl(lam, standard).flatten(1).mean(1)
                # per-image losses are summed so that each image's mask gets its own gradient
                (ce + beta * info).sum().backward()
            optimiser.step()
            del state["z"]
        with torch.no_grad():
            lam = _smooth(torch.sigmoid(alpha), kernel)
            maps = bottleneck_kl(lam, standard).sum(dim=1, keepdim=True) / math.log(2)
    finally:
        handle.remove()
        state.pop("z", None)
        for p in frozen:
            p.requires_grad_(True)
    return clean.detach(), maps


class PerSampleBottleneck:
    """An explainer callable for :func:`aibnb.interpret.explain`: ``(model, x) -> (logits, maps)``.

    ``reference``: normalised model inputs from which the layer's element-wise mean and standard
    deviation are estimated (once per model, on first use). ``layer=None`` picks
    :func:`~aibnb.interpret.gradcam.default_layer`, the layer Grad-CAM uses, so the two post-hoc
    maps are read at the same place. The other options are those of :func:`per_sample_bottleneck`.
    """

    def __init__(self, reference: Tensor, layer: str | None = None, *, beta: float = 10.0, steps: int = 10,
                 samples: int = 10, batch_size: int = 256) -> None:
        if not isinstance(reference, Tensor) or reference.ndim != 4 or len(reference) < 2:
            raise ValueError("reference must be a B x C x H x W tensor of at least 2 normalised model inputs")
        self.reference = reference
        self.layer = layer
        self.options = {"beta": beta, "steps": steps, "samples": samples}
        self.batch_size = batch_size
        self._statistics: dict[int, tuple[Tensor, Tensor]] = {}

    @property
    def name(self) -> str:
        return "bottleneck"

    def statistics(self, model: nn.Module) -> tuple[Tensor, Tensor]:
        """Element-wise mean and standard deviation of the layer's activations over ``reference``
        (for a stochastic model, with its noise drawn from a fixed seed)."""
        key = id(model)
        if key not in self._statistics:
            device = next(iter(model.parameters())).device
            module = find_layer(model, self.layer or default_layer(model))
            was_training = model.training
            model.eval()
            try:  # in a forked, fixed RNG: the statistics do not depend on when they are first needed
                with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                    torch.manual_seed(0)
                    acts = _capture(model, module, self.reference.to(device), self.batch_size)
            finally:
                model.train(was_training)
            self._statistics[key] = (acts.mean(0), acts.std(0))
        return self._statistics[key]

    def __call__(self, model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, std = self.statistics(model)
        return per_sample_bottleneck(model, x, self.layer or default_layer(model), mean=mean, std=std,
                                     **self.options)
