"""Training a linear-Gaussian encoder with the reparametrised variational objective.

The paper trains its encoder on a Monte-Carlo estimate of the negated variational objective: one
reparametrised sample of z per example for the decoder term and the closed-form Gaussian KL for the
rate term (Eq. (8), App. (20); in the authors' code, ``VGG-backbone-32/cifar_va.py``).
:func:`fit_linear_vib` does the same on a :class:`~aibnb.bounds.sources.GaussianSource`, with a
linear encoder, a linear-Gaussian decoder and, unlike the paper, a learned full-covariance Gaussian
prior, so that both bounds can become tight. The result, :class:`VIBFit`, can then be put next to
the analytic optimum of :mod:`aibnb.bounds.gaussian_ib`: how close variational training gets to the
information curve, and how tight its two bounds are at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from aibnb.bounds.channel import LinearGaussianChannel
from aibnb.bounds.checks import _check_beta
from aibnb.bounds.decoders import LinearGaussianDecoder
from aibnb.bounds.densities import GaussianDensity
from aibnb.bounds.sources import GaussianSource


@dataclass(frozen=True, eq=False)
class VIBFit:
    """The result of :func:`fit_linear_vib`: the trained encoder, prior, decoder and loss curve."""

    beta: float
    channel: LinearGaussianChannel
    prior: GaussianDensity
    decoder: LinearGaussianDecoder
    losses: np.ndarray

    def summary(self) -> dict[str, float]:
        """Truth and bounds of the trained model, all exact, in nats."""
        return {
            "beta": self.beta,
            "mi_zx": self.channel.mi_zx(),
            "mi_zy": self.channel.mi_zy(),
            "rate_bound": self.channel.rate_upper_bound(self.prior),
            "relevance_bound": self.channel.decoder_lower_bound(self.decoder),
        }


def fit_linear_vib(
    source: GaussianSource,
    beta: float,
    *,
    latent_dim: int | None = None,
    steps: int = 400,
    batch_size: int = 512,
    lr: float = 0.1,
    seed: int = 0,
) -> VIBFit:
    """Train ``Z = W X + N(0, I)``, a prior N(m, R) and a decoder N(Dz + b, Q) on a Gaussian source.

    The loss is the negated attentive VIB objective of the paper without attention, estimated
    as in Eq. (8): per example one reparametrised sample ``z = W x + ε`` for the decoder term
    and the closed-form Gaussian KL for the rate term,
    ``mean[-log q(y|z) + β KL(N(Wx, I) || N(m, R))]``. Fresh (x, y) batches are drawn from the
    source at every step (Adam, cosine-decayed learning rate, float64, CPU).
    """
    b = _check_beta(beta)
    if not isinstance(source, GaussianSource):
        raise TypeError("fit_linear_vib needs a GaussianSource (a Gaussian label Y).")
    for name, val in (("steps", steps), ("batch_size", batch_size)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer; got {val!r}.")
    if not lr > 0:
        raise ValueError(f"lr must be > 0; got {lr!r}.")
    d_x, d_y = source.x_dim, source.y_dim
    d_z = d_x if latent_dim is None else int(latent_dim)
    if d_z < 1:
        raise ValueError(f"latent_dim must be >= 1; got {latent_dim!r}.")

    dt = torch.float64
    gen = torch.Generator().manual_seed(int(seed))
    chol_x = torch.as_tensor(np.linalg.cholesky(source.cov_x), dtype=dt)
    chol_e = torch.as_tensor(np.linalg.cholesky(source.label_noise_cov), dtype=dt)
    label_map = torch.as_tensor(source.label_map, dtype=dt)

    enc = torch.nn.Parameter(0.5 * torch.randn(d_z, d_x, generator=gen, dtype=dt) / math.sqrt(d_x))
    prior_mean = torch.nn.Parameter(torch.zeros(d_z, dtype=dt))
    prior_raw = torch.nn.Parameter(torch.zeros(d_z, d_z, dtype=dt))  # log-diag + strict lower
    dec_w = torch.nn.Parameter(torch.zeros(d_y, d_z, dtype=dt))
    dec_b = torch.nn.Parameter(torch.zeros(d_y, dtype=dt))
    dec_raw = torch.nn.Parameter(torch.zeros(d_y, d_y, dtype=dt))
    params = [enc, prior_mean, prior_raw, dec_w, dec_b, dec_raw]

    def chol(raw: torch.Tensor) -> torch.Tensor:
        return torch.tril(raw, -1) + torch.diag(torch.exp(torch.diagonal(raw)))

    # The problem is a handful of 2x2 matrices: extra threads only add overhead (and stall badly
    # on a busy machine), so train on one thread and restore the caller's setting afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        opt = torch.optim.Adam(params, lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=int(steps), eta_min=0.02 * lr)
        log2pi = math.log(2.0 * math.pi)
        losses = np.empty(int(steps))
        for step in range(int(steps)):
            x = torch.randn(batch_size, d_x, generator=gen, dtype=dt) @ chol_x.T
            y = x @ label_map.T + torch.randn(batch_size, d_y, generator=gen, dtype=dt) @ chol_e.T
            mu = x @ enc.T
            z = mu + torch.randn(batch_size, d_z, generator=gen, dtype=dt)  # reparametrised sample
            lq = chol(dec_raw)
            resid = torch.linalg.solve_triangular(lq, (y - z @ dec_w.T - dec_b).T, upper=False)
            nll = 0.5 * (resid**2).sum(0) + torch.diagonal(lq).log().sum() + 0.5 * d_y * log2pi
            lr_chol = chol(prior_raw)
            diff = torch.linalg.solve_triangular(lr_chol, (mu - prior_mean).T, upper=False)
            lr_inv = torch.linalg.solve_triangular(lr_chol, torch.eye(d_z, dtype=dt), upper=False)
            r_inv_trace = (lr_inv**2).sum()
            kl = 0.5 * (r_inv_trace + (diff**2).sum(0) - d_z) + torch.diagonal(lr_chol).log().sum()
            loss = (nll + b * kl).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses[step] = float(loss.detach())
    finally:
        torch.set_num_threads(threads)

    with torch.no_grad():
        lr_chol, lq = chol(prior_raw), chol(dec_raw)
        prior = GaussianDensity(prior_mean.numpy().copy(), (lr_chol @ lr_chol.T).numpy())
        decoder = LinearGaussianDecoder(dec_w.numpy().copy(), dec_b.numpy().copy(), (lq @ lq.T).numpy())
        channel = LinearGaussianChannel(source, enc.detach().numpy().copy(), np.eye(d_z))
    return VIBFit(b, channel, prior, decoder, losses)
