"""The variational information bottleneck pieces: sampling, the Gaussian KL, the head and the loss.

Paper: Eq. (8)/(20) of Lai et al. (2021), after Alemi et al. (2017). The encoder outputs the
statistics of q(z | x, a) = N(mu, diag(std^2)); ``z`` is drawn with the reparametrisation trick
(Kingma & Welling, 2014); the decoder q(y | z) gives the logits; the KL of q(z | x, a) to the prior
r(z) = N(0, I) upper-bounds I(Z; X, A).

Two places where the official code departs from the textbook are options here, with the official
behaviour as the default (the book's chapter 2 derives and measures both):

* ``gaussian_kl(..., form="reference")`` evaluates the KL of N(mu, exp(std)) although ``z`` is
  sampled with scale ``std``; ``form="textbook"`` is the correct closed form.
* ``aib_loss(..., info_factor=0.5)`` weighs the KL by an extra 0.5 (VGG scripts; WRN uses 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

if TYPE_CHECKING:  # pragma: no cover
    from aibnb.models.output import ModelOutput

LN2 = math.log(2.0)
KL_FORMS = ("reference", "textbook")
LOSS_UNITS = ("bits", "nats")
DECODERS = ("mlp", "relu_linear")


def _check_gaussian(caller: str, mu: Tensor, std: Tensor, *, n: int = 1, form: str = "reference") -> None:
    """The argument checks of :func:`reparametrize` and :func:`gaussian_kl` (kept out of their
    bodies, which the book shows beside the equations)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"{caller}: n must be an integer >= 1 (number of samples), got {n!r}")
    if form not in KL_FORMS:
        raise ValueError(f"{caller}: form must be one of {KL_FORMS}, got {form!r}")
    if mu.shape != std.shape:
        raise ValueError(f"{caller}: mu {tuple(mu.shape)} and std {tuple(std.shape)} differ")


def reparametrize(mu: Tensor, std: Tensor, n: int = 1) -> Tensor:
    """Draw ``n`` samples ``mu + std * eps`` with ``eps ~ N(0, I)``, stacked on a new first axis.

    Returns a tensor of shape ``(n, *mu.shape)``; gradients flow to ``mu`` and ``std``
    (the reparametrisation trick), which is what makes the sampled attention map and the
    sampled latent trainable by back-propagation. Derived in the book's chapter 2, "Two
    reparametrised samples".
    """
    _check_gaussian("reparametrize", mu, std, n=n)
    eps = torch.randn((n, *mu.shape), dtype=mu.dtype, device=mu.device)
    return mu.unsqueeze(0) + std.unsqueeze(0) * eps


def gaussian_kl(mu: Tensor, std: Tensor, form: str = "reference") -> Tensor:
    """KL(N(mu, s^2 I) || N(0, I)) per sample, summed over the last (latent) axis, in nats.

    Derived in the book's chapter 2, "The Gaussian KL in closed form" (both forms measured there).

    ``form="textbook"`` uses ``s = std``:
        KL = sum_k [ -log s_k + (s_k^2 + mu_k^2 - 1) / 2 ].
    ``form="reference"`` reproduces the official code, which builds ``Normal(mu, scale=exp(std))``
    for the KL while sampling with ``std``; with ``s = exp(std)``:
        KL = sum_k [ -std_k + (exp(2 std_k) + mu_k^2 - 1) / 2 ],
    minimised at ``std -> 0`` and ~ ``mu^2 / 2 + std^2`` for small ``std``: in practice an L2
    penalty on ``mu``.
    """
    _check_gaussian("gaussian_kl", mu, std, form=form)
    if form == "reference":
        log_scale, var = std, torch.exp(2.0 * std)
    else:
        log_scale, var = torch.log(std), std * std
    return (-log_scale + 0.5 * (var + mu * mu - 1.0)).sum(dim=-1)


class VIBHead(nn.Module):
    """From encoder statistics to averaged logits: split, sample ``z``, decode, average.

    ``stats`` (rows x 2d, d the latent dimension; the official code's ``--K``) holds ``mu`` in its
    first half and a raw scale in its second; ``std = softplus(raw - std_offset)`` (offset 5 as in
    the official code, so ``std`` starts near 0.0067). ``decoder="mlp"`` is
    Linear(d,d)-ReLU-Linear(d,C) (VGG, CUB); ``"relu_linear"`` is ReLU-Linear(d,C) (WRN, the
    official "v3" variant).
    """

    def __init__(
        self,
        latent_dim: int,
        num_classes: int,
        *,
        decoder: str = "mlp",
        std_offset: float = 5.0,
        kl_form: str = "reference",
    ) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"VIBHead: latent_dim must be >= 1, got {latent_dim}")
        if decoder not in DECODERS:
            raise ValueError(f"VIBHead: decoder must be one of {DECODERS}, got {decoder!r}")
        if kl_form not in KL_FORMS:
            raise ValueError(f"VIBHead: kl_form must be one of {KL_FORMS}, got {kl_form!r}")
        self.latent_dim = latent_dim
        self.std_offset = std_offset
        self.kl_form = kl_form
        if decoder == "mlp":
            self.decode = nn.Sequential(
                nn.Linear(latent_dim, latent_dim), nn.ReLU(inplace=True),
                nn.Linear(latent_dim, num_classes),
            )
        else:
            self.decode = nn.Sequential(nn.ReLU(), nn.Linear(latent_dim, num_classes))

    def split(self, stats: Tensor) -> tuple[Tensor, Tensor]:
        """``mu`` and ``std`` from the encoder's 2d statistics."""
        if stats.shape[-1] != 2 * self.latent_dim:
            raise ValueError(
                f"VIBHead: expected {2 * self.latent_dim} statistics (2 x latent_dim), "
                f"got {stats.shape[-1]}"
            )
        mu, raw = stats[..., : self.latent_dim], stats[..., self.latent_dim :]
        return mu, F.softplus(raw - self.std_offset)

    def forward(self, stats: Tensor, num_samples: int = 1) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Return ``(logits, mu, std, kl)``.

        ``logits`` has shape ``(num_samples, rows, C)`` (one decode per latent sample; the caller
        averages), ``kl`` is the per-row KL in nats (``form`` = ``self.kl_form``).
        """
        mu, std = self.split(stats)
        z = reparametrize(mu, std, num_samples)
        logits = self.decode(z)
        kl = gaussian_kl(mu.float(), std.float(), self.kl_form)
        return logits, mu, std, kl


@dataclass
class LossParts:
    """The optimised total and its named parts.

    ``total`` carries the graph; every other part is a detached 0-d tensor on the loss's device,
    so a training loop can accumulate them without a host synchronisation per step
    (``as_dict`` converts to floats, which synchronises).

    ``class_bits``: cross-entropy in bits; ``info_bits``: the KL term in bits (``nan`` for models
    without a VIB head) — an upper bound on I(Z;X,A) with ``kl_form="textbook"``; with the official
    exp(std) form it is the quantity the official code penalises, which is not a bound;
    ``izy_bits``: the lower bound log2 C - CE on I(Z;Y) (for balanced classes);
    ``codebook`` / ``commitment``: the quantiser's two MSE terms (0 without a quantiser);
    ``aux_bits``: ABN's attention-branch cross-entropy in bits (0 without one).
    """

    total: Tensor
    class_bits: Tensor
    info_bits: Tensor
    izy_bits: Tensor
    codebook: Tensor
    commitment: Tensor
    aux_bits: Tensor

    NAMES = ("total", "class_bits", "info_bits", "izy_bits", "codebook", "commitment", "aux_bits")

    def stacked(self) -> Tensor:
        """All parts (``total`` detached) as one 1-d tensor in the order of ``NAMES``."""
        return torch.stack([getattr(self, name).detach().float() for name in self.NAMES])

    def as_dict(self) -> dict[str, float]:
        """The parts as plain floats, ``total`` included (for logging; synchronises)."""
        return dict(zip(self.NAMES, self.stacked().tolist()))


def _check_loss_options(beta: Any, units: str, **weights: float) -> None:
    """The argument checks of :func:`aib_loss` (kept out of its body, which the book shows)."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) \
            or beta < 0:
        raise ValueError(f"aib_loss: beta must be a finite number >= 0, got {beta!r}")
    for name, value in weights.items():
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"aib_loss: {name} must be a finite number >= 0, got {value}")
    if units not in LOSS_UNITS:
        raise ValueError(f"aib_loss: units must be one of {LOSS_UNITS}, got {units!r}")


def aib_loss(
    output: ModelOutput,
    targets: Tensor,
    beta: float,
    *,
    info_factor: float = 0.5,
    codebook_weight: float = 0.4,
    commitment_weight: float = 0.1,
    aux_weight: float = 1.0,
    units: str = "bits",
) -> LossParts:
    """The AIB training loss, Eq. (8)/(20) of the paper as the official code computes it
    (derived in the book's chapter 2, "The loss in bits").

    ``total = CE / ln2 + beta * info_factor * KL / ln2 + codebook_weight * L_codebook
    + commitment_weight * L_commit (+ aux_weight * CE_aux / ln2)``.

    The cross-entropy and KL are in bits (divided by ln 2) as in the official code; the quantiser
    terms are not, so their weight relative to the rest differs from a nats formulation by ln 2.
    ``info_factor`` is 0.5 in the official VGG scripts and 1 for WRN and CUB. ``units="nats"``
    optimises the same terms without the 1/ln2 (for the baselines, whose reference code uses nats);
    the reported parts stay in bits either way. Terms absent from ``output`` (no KL, no quantiser,
    no auxiliary logits) contribute nothing.
    """
    _check_loss_options(beta, units, info_factor=info_factor, codebook_weight=codebook_weight,
                        commitment_weight=commitment_weight, aux_weight=aux_weight)
    scale = 1.0 / LN2 if units == "bits" else 1.0

    logits = output.logits.float()
    ce = F.cross_entropy(logits, targets)
    total = ce * scale
    zero = torch.zeros((), device=logits.device)
    info_bits = torch.full((), float("nan"), device=logits.device)
    if output.kl is not None:
        kl = output.kl.float()
        total = total + beta * info_factor * kl * scale
        info_bits = kl.detach() / LN2
    codebook = commitment = zero
    if output.codebook_loss is not None:
        total = total + codebook_weight * output.codebook_loss.float()
        codebook = output.codebook_loss.detach().float()
    if output.commitment_loss is not None:
        total = total + commitment_weight * output.commitment_loss.float()
        commitment = output.commitment_loss.detach().float()
    aux_bits = zero
    if output.aux_logits is not None:
        aux_ce = F.cross_entropy(output.aux_logits.float(), targets)
        total = total + aux_weight * aux_ce * scale
        aux_bits = aux_ce.detach() / LN2
    class_bits = ce.detach() / LN2
    return LossParts(
        total=total,
        class_bits=class_bits,
        info_bits=info_bits,
        izy_bits=math.log2(logits.shape[-1]) - class_bits,
        codebook=codebook,
        commitment=commitment,
        aux_bits=aux_bits,
    )
