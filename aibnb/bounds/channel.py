"""The attentive linear-Gaussian channel: the paper's encoder in a form where everything is exact.

The paper's graph is X -> A, (X, A) -> Z, with the label Y depending on X only (§3.2).
:class:`LinearGaussianChannel` is that graph with linear maps and Gaussian noise: the attention
``A = M X + e_a`` (:class:`GaussianAttention`) and the code ``Z = W X + V A + e_z``, on a source of
:mod:`aibnb.bounds.sources`. It gives

* every mutual information of the graph, I(Z;X), I(Z;X,A), the chain-rule gap I(Z;A|X) and
  I(Z;Y), in closed form (or by quadrature of a mixture entropy for a discrete label), and unbiased
  Monte-Carlo estimates of each to check them;
* the upper bound on the compression term, ``E_{x,a} KL(p(z|x,a) || r(z))`` (Eq. (5), App.
  (16)–(17)), exactly for a Gaussian prior and by sampling for any prior of
  :mod:`aibnb.bounds.densities`, and its gap ``KL(p(z) || r(z))``;
* the lower bound on the relevance term, ``E log q(y|z) + H(Y)`` (Eq. (1)–(4), App. (11)–(15)),
  for any decoder of :mod:`aibnb.bounds.decoders`, and the Bayes-optimal decoder that closes it.

Both bounds are expectations under the channel's joint law, which is why they are its methods.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aibnb.bounds.checks import Rng, _indices, _matrix, _rng, check_covariance
from aibnb.bounds.decoders import Decoder, LinearGaussianDecoder, SoftmaxDecoder
from aibnb.bounds.densities import (
    GaussianDensity,
    GaussianMixtureDensity,
    Prior,
    _expected_gaussian_kl,
    _moments,
)
from aibnb.bounds.gaussian import _gaussian_log_prob, _logdet, gaussian_entropy, gaussian_expectation
from aibnb.bounds.montecarlo import MCEstimate, mc_estimate
from aibnb.bounds.sources import ClassConditionalSource, GaussianSource, Source


@dataclass(frozen=True, eq=False)
class GaussianAttention:
    """The toy attention module p(a|x) = N(weight @ x, noise_cov) and its read-in V.

    In the encoder ``p(z|x,a) = N(W x + readin @ a, S)`` the attention enters through ``readin``.
    """

    weight: np.ndarray
    noise_cov: np.ndarray
    readin: np.ndarray

    def __post_init__(self) -> None:
        m = _matrix("attention.weight", self.weight)
        object.__setattr__(self, "weight", m)
        object.__setattr__(
            self, "noise_cov", check_covariance(self.noise_cov, "attention.noise_cov", m.shape[0])
        )
        object.__setattr__(self, "readin", _matrix("attention.readin", self.readin, (None, m.shape[0])))


@dataclass(frozen=True, eq=False)
class ChannelSample:
    """One Monte-Carlo draw of the whole model: x, y (source), a (attention), z (code)."""

    x: np.ndarray
    y: np.ndarray
    a: np.ndarray
    z: np.ndarray


class LinearGaussianChannel:
    """The attentive encoder of the toy: ``A = M X + e_a``, ``Z = W X + V A + e_z``.

    Parameters
    ----------
    source:
        the data distribution p(x, y) (:class:`GaussianSource` or :class:`ClassConditionalSource`).
    encoder:
        W, shape ``(latent_dim, x_dim)``.
    noise_cov:
        S, the covariance of e_z (default: identity).
    attention:
        optional :class:`GaussianAttention` (M, Σ_a, V). Without it A is absent and
        I(Z;X,A) = I(Z;X).

    The graph is the paper's: A depends on X only, Z on (X, A) only, Y on X only. Given X, the
    code is ``Z | X ~ N(C X, S_eff)`` with ``C = W + V M`` and ``S_eff = S + V Σ_a V^T``; given
    (X, A) it is ``N(W X + V A, S)``. Hence every entropy but h(Z) is a Gaussian log-det, and
    h(Z) is Gaussian (Gaussian source) or a Gaussian-mixture entropy (discrete label).
    """

    def __init__(
        self,
        source: Source,
        encoder: Any,
        noise_cov: Any = None,
        attention: GaussianAttention | None = None,
    ) -> None:
        if not isinstance(source, GaussianSource | ClassConditionalSource):
            raise TypeError(
                f"source must be a GaussianSource or a ClassConditionalSource; got {type(source).__name__}."
            )
        self.source = source
        self.encoder = _matrix("encoder", encoder, (None, source.x_dim))
        d_z = self.encoder.shape[0]
        self.noise_cov = check_covariance(np.eye(d_z) if noise_cov is None else noise_cov, "noise_cov", d_z)
        self.attention = attention
        if attention is None:
            self.effective_encoder = self.encoder
            self.effective_noise_cov = self.noise_cov
        else:
            if attention.weight.shape[1] != source.x_dim:
                raise ValueError(
                    f"attention.weight has shape {attention.weight.shape}; its second axis must "
                    f"be x_dim = {source.x_dim}."
                )
            if attention.readin.shape[0] != d_z:
                raise ValueError(
                    f"attention.readin has shape {attention.readin.shape}; its first axis must be "
                    f"latent_dim = {d_z}."
                )
            v = attention.readin
            self.effective_encoder = self.encoder + v @ attention.weight
            self.effective_noise_cov = self.noise_cov + v @ attention.noise_cov @ v.T

    # -- shapes and marginals ---------------------------------------------------------------

    @property
    def latent_dim(self) -> int:
        return self.encoder.shape[0]

    @property
    def attention_dim(self) -> int:
        return 0 if self.attention is None else self.attention.weight.shape[0]

    def z_given_y_cov(self) -> np.ndarray:
        """Covariance of Z | Y (the same for every y in both sources)."""
        c = self.effective_encoder
        inner = self.source.cov_x_given_y if isinstance(self.source, GaussianSource) else self.source.cov
        return c @ inner @ c.T + self.effective_noise_cov

    def z_marginal(self) -> Prior:
        """p(z): Gaussian for a Gaussian source, a Gaussian mixture for a discrete label."""
        c = self.effective_encoder
        if isinstance(self.source, GaussianSource):
            cov = c @ self.source.cov_x @ c.T + self.effective_noise_cov
            return GaussianDensity(np.zeros(self.latent_dim), cov)
        return GaussianMixtureDensity(self.source.priors, self.source.means @ c.T, self.z_given_y_cov())

    def z_given_y_log_prob(self, z: Any, y: Any) -> np.ndarray:
        """log p(z|y) for paired rows of z and y."""
        z = np.asarray(z, dtype=np.float64)
        c = self.effective_encoder
        if isinstance(self.source, GaussianSource):
            gain = np.linalg.solve(self.source.cov_y, self.source.cov_xy.T).T  # E[x|y] = gain @ y
            mean = np.asarray(y, dtype=np.float64) @ (c @ gain).T
        else:
            mean = self.source.means[np.asarray(y, dtype=int)] @ c.T
        return _gaussian_log_prob(z, mean, self.z_given_y_cov())

    def joint_cov(self) -> tuple[np.ndarray, dict[str, list[int]]]:
        """Covariance of the stacked (X, Y, A, Z) and the index of each block (Gaussian source).

        Built as ``L diag(Σ_x, Σ_ey, Σ_a, S) L^T`` with L the linear map from the independent
        inputs (X, e_y, e_a, e_z); useful to cross-check the closed forms with
        :func:`gaussian_mi`.
        """
        if not isinstance(self.source, GaussianSource):
            raise TypeError("joint_cov needs a GaussianSource: with a discrete Y, (X, Z) is a mixture.")
        src = self.source
        dx, dy, da, dz = src.x_dim, src.y_dim, self.attention_dim, self.latent_dim
        zero = np.zeros
        m = self.attention.weight if self.attention else zero((0, dx))
        v = self.attention.readin if self.attention else zero((dz, 0))
        sa = self.attention.noise_cov if self.attention else zero((0, 0))
        lin = np.block(
            [
                [np.eye(dx), zero((dx, dy)), zero((dx, da)), zero((dx, dz))],
                [src.label_map, np.eye(dy), zero((dy, da)), zero((dy, dz))],
                [m, zero((da, dy)), np.eye(da), zero((da, dz))],
                [self.effective_encoder, zero((dz, dy)), v, np.eye(dz)],
            ]
        )
        blocks = [src.cov_x, src.label_noise_cov, sa, self.noise_cov]
        inner = zero((dx + dy + da + dz,) * 2)
        start = 0
        for blk in blocks:
            k = blk.shape[0]
            inner[start : start + k, start : start + k] = blk
            start += k
        sizes = {"x": dx, "y": dy, "a": da, "z": dz}
        index, start = {}, 0
        for name, k in sizes.items():
            index[name] = list(range(start, start + k))
            start += k
        return lin @ inner @ lin.T, index

    # -- exact mutual information -----------------------------------------------------------

    def z_entropy(self, order: int = 96) -> float:
        """h(Z): closed form (Gaussian source) or Gauss-Hermite quadrature (discrete label)."""
        marg = self.z_marginal()
        return marg.entropy() if isinstance(marg, GaussianDensity) else marg.entropy(order)

    def mi_zx(self, order: int = 96) -> float:
        """I(Z;X) = h(Z) - h(Z|X), with h(Z|X) = ½ log det(2πe S_eff)."""
        return self.z_entropy(order) - gaussian_entropy(self.effective_noise_cov)

    def mi_zxa(self, order: int = 96) -> float:
        """I(Z;X,A) = h(Z) - h(Z|X,A), with h(Z|X,A) = ½ log det(2πe S)."""
        return self.z_entropy(order) - gaussian_entropy(self.noise_cov)

    def mi_za_given_x(self) -> float:
        """I(Z;A|X) = h(Z|X) - h(Z|X,A) = ½ log det S_eff / det S: the chain-rule gap."""
        return 0.5 * (_logdet(self.effective_noise_cov) - _logdet(self.noise_cov))

    def mi_zy(self, order: int = 96) -> float:
        """I(Z;Y) = h(Z) - h(Z|Y)."""
        return self.z_entropy(order) - gaussian_entropy(self.z_given_y_cov())

    # -- sampling and Monte-Carlo estimates of the truth ------------------------------------

    def sample(self, n: int, rng: Rng = None) -> ChannelSample:
        """Draw n joint samples (x, y, a, z) by ancestral sampling along the graph."""
        gen = _rng(rng)
        n = int(n)
        x, y = self.source.sample(n, gen)
        mean_z = x @ self.encoder.T
        if self.attention is None:
            a = np.zeros((n, 0))
        else:
            att = self.attention
            a = x @ att.weight.T + gen.multivariate_normal(
                np.zeros(self.attention_dim), att.noise_cov, size=n
            )
            mean_z = mean_z + a @ att.readin.T
        z = mean_z + gen.multivariate_normal(np.zeros(self.latent_dim), self.noise_cov, size=n)
        return ChannelSample(x, y, a, z)

    def _log_p_z_given_xa(self, s: ChannelSample) -> np.ndarray:
        mean = s.x @ self.encoder.T
        if self.attention is not None:
            mean = mean + s.a @ self.attention.readin.T
        return _gaussian_log_prob(s.z, mean, self.noise_cov)

    def mi_mc(self, n: int, rng: Rng = None) -> dict[str, MCEstimate]:
        """Unbiased Monte-Carlo estimates of I(Z;X), I(Z;X,A) and I(Z;Y) from one joint sample.

        Each is the mean of a log density ratio, e.g. ``log p(z|x) - log p(z)``; p(z) is known
        exactly here (Gaussian or Gaussian mixture), so these check the closed forms.
        """
        s = self.sample(n, rng)
        log_pz = self.z_marginal().log_prob(s.z)
        log_pz_x = _gaussian_log_prob(s.z, s.x @ self.effective_encoder.T, self.effective_noise_cov)
        return {
            "zx": mc_estimate(log_pz_x - log_pz),
            "zxa": mc_estimate(self._log_p_z_given_xa(s) - log_pz),
            "zy": mc_estimate(self.z_given_y_log_prob(s.z, s.y) - log_pz),
        }

    # -- the upper bound on the compression term --------------------------------------------

    def rate_upper_bound(self, prior: GaussianDensity) -> float:
        """Exact ``E_{x,a} KL(p(z|x,a) || r(z))`` for a Gaussian prior r (paper Eq. (5)/(17)).

        The KL is quadratic in the encoder mean ``W x + V a``, whose mean and covariance over
        (x, a) are known, so the expectation is closed form for both sources.
        """
        prior = self._check_prior(prior)
        if not isinstance(prior, GaussianDensity):
            raise TypeError(
                "rate_upper_bound is closed form for a GaussianDensity prior only; "
                "use rate_upper_bound_mc for a mixture prior."
            )
        mx, cx = self.source.x_moments()
        c = self.effective_encoder
        mean_of_mean = c @ mx
        cov_of_mean = c @ cx @ c.T
        if self.attention is not None:
            v = self.attention.readin
            cov_of_mean = cov_of_mean + v @ self.attention.noise_cov @ v.T
        return _expected_gaussian_kl(mean_of_mean, cov_of_mean, self.noise_cov, prior)

    def rate_upper_bound_mc(self, prior: Prior, n: int, rng: Rng = None) -> MCEstimate:
        """Monte-Carlo ``E[log p(z|x,a) - log r(z)]`` over joint samples; any prior with log_prob."""
        prior = self._check_prior(prior)
        s = self.sample(n, rng)
        return mc_estimate(self._log_p_z_given_xa(s) - prior.log_prob(s.z))

    def prior_mismatch(self, prior: Prior, order: int = 96) -> float:
        """``KL(p(z) || r(z))``, the exact gap between the rate bound and I(Z;X,A).

        Identity: ``E_{x,a} KL(p(z|x,a) || r) = I(Z;X,A) + KL(p(z) || r)``.
        """
        prior = self._check_prior(prior)
        marg = self.z_marginal()
        if isinstance(prior, GaussianDensity):
            mean, cov = (marg.mean, marg.cov) if isinstance(marg, GaussianDensity) else _moments(marg)
            r_inv = np.linalg.inv(prior.cov)
            diff = mean - prior.mean
            cross = 0.5 * (
                self.latent_dim * math.log(2.0 * math.pi)
                + _logdet(prior.cov)
                + float(np.trace(r_inv @ cov) + diff @ r_inv @ diff)
            )
        elif isinstance(marg, GaussianDensity):
            cross = -gaussian_expectation(prior.log_prob, marg.mean, marg.cov, order)
        else:
            cross = -marg.expectation(prior.log_prob, order)
        return cross - self.z_entropy(order)

    def _check_prior(self, prior: Any) -> Prior:
        if not isinstance(prior, GaussianDensity | GaussianMixtureDensity):
            raise TypeError(
                f"prior must be a GaussianDensity or GaussianMixtureDensity; got {type(prior).__name__}."
            )
        if prior.dim != self.latent_dim:
            raise ValueError(
                f"prior has dimension {prior.dim}, but the code Z has latent_dim = {self.latent_dim}."
            )
        return prior

    # -- the lower bound on the relevance term ----------------------------------------------

    def bayes_decoder(self, dims: Sequence[int] | None = None) -> Decoder:
        """The Bayes-optimal decoder q(y|z) = p(y|z_S) that reads only the coordinates ``dims``.

        ``dims=None`` reads all of z (the bound is then tight); ``dims=()`` ignores z (the bound
        is 0); in between, the bound equals I(Z_S;Y). For a Gaussian label this is a linear
        regression with Gaussian residuals, for a discrete label a linear softmax (LDA, exact
        because the class-conditional covariances of Z are shared).
        """
        d_z = self.latent_dim
        sel = list(range(d_z)) if dims is None else _indices("dims", list(dims), d_z)
        proj = np.eye(d_z)[sel]  # (|S|, d_z)
        if isinstance(self.source, GaussianSource):
            marg = self.z_marginal()
            cov_yz = self.source.label_map @ self.source.cov_x @ self.effective_encoder.T
            d_y = self.source.y_dim
            if not sel:
                return LinearGaussianDecoder(np.zeros((d_y, d_z)), np.zeros(d_y), self.source.cov_y)
            cov_s = proj @ marg.cov @ proj.T
            cov_ys = cov_yz @ proj.T
            gain = np.linalg.solve(cov_s, cov_ys.T).T
            resid = self.source.cov_y - gain @ cov_ys.T
            return LinearGaussianDecoder(gain @ proj, np.zeros(d_y), 0.5 * (resid + resid.T))
        k = self.source.num_classes
        log_pri = np.log(self.source.priors)
        if not sel:
            return SoftmaxDecoder(np.zeros((k, d_z)), log_pri)
        means = self.source.means @ self.effective_encoder.T @ proj.T  # (k, |S|)
        cov_s = proj @ self.z_given_y_cov() @ proj.T
        lda = np.linalg.solve(cov_s, means.T).T  # rows Σ_S^{-1} m_c
        bias = log_pri - 0.5 * np.sum(lda * means, axis=1)
        return SoftmaxDecoder(lda @ proj, bias)

    def decoder_lower_bound(self, decoder: Decoder, order: int = 96) -> float:
        """Exact ``E_{y,z} log q(y|z) + H(Y)`` (paper Eq. (3)/(13)); ≤ I(Z;Y) for any decoder.

        Closed form for a linear-Gaussian decoder of a Gaussian label; Gauss-Hermite quadrature
        of ``Σ_c π_c E_{z|c} log q(c|z)`` for a softmax decoder of a discrete label.
        """
        self._check_decoder(decoder)
        if isinstance(self.source, GaussianSource):
            marg = self.z_marginal()
            dd, q = decoder.weight, decoder.cov
            cov_yz = self.source.label_map @ self.source.cov_x @ self.effective_encoder.T
            resid = self.source.cov_y - dd @ cov_yz.T - cov_yz @ dd.T + dd @ marg.cov @ dd.T
            resid = resid + np.outer(decoder.bias, decoder.bias)  # E y = E z = 0
            d_y = self.source.y_dim
            ell = -0.5 * (
                d_y * math.log(2.0 * math.pi) + _logdet(q) + float(np.trace(np.linalg.solve(q, resid)))
            )
        else:
            cov = self.z_given_y_cov()
            means = self.source.means @ self.effective_encoder.T
            ell = sum(
                float(pi)
                * gaussian_expectation(lambda z, c=c: decoder.log_probs(z)[:, c], means[c], cov, order)
                for c, pi in enumerate(self.source.priors)
            )
        return ell + self.source.label_entropy()

    def decoder_lower_bound_mc(self, decoder: Decoder, n: int, rng: Rng = None) -> MCEstimate:
        """Monte-Carlo ``mean log q(y|z) + H(Y)`` over joint samples (H(Y) is exact)."""
        self._check_decoder(decoder)
        s = self.sample(n, rng)
        return mc_estimate(decoder.log_prob(s.y, s.z) + self.source.label_entropy())

    def _check_decoder(self, decoder: Any) -> None:
        want = LinearGaussianDecoder if isinstance(self.source, GaussianSource) else SoftmaxDecoder
        if not isinstance(decoder, want):
            raise TypeError(
                f"a {type(self.source).__name__} needs a {want.__name__}; got {type(decoder).__name__}."
            )
        if decoder.weight.shape[1] != self.latent_dim:
            raise ValueError(
                f"decoder.weight has shape {decoder.weight.shape}; its second axis must be "
                f"latent_dim = {self.latent_dim}."
            )
        n_out = self.source.y_dim if isinstance(self.source, GaussianSource) else self.source.num_classes
        if decoder.weight.shape[0] != n_out:
            raise ValueError(f"decoder.weight has {decoder.weight.shape[0]} rows; the label needs {n_out}.")
