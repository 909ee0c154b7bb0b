"""Gaussian channels with closed-form mutual information, and the variational bounds of AIB.

Chapter 1 of the book derives the two bounds behind the paper's objective (Lai et al., IJCAI 2021,
§3.2 and App. A):

* a **lower** bound on the relevance term through a decoder q(y|z),
  ``I(Z;Y) >= E log q(y|z) + H(Y)``, whose gap is ``E_z KL(p(y|z) || q(y|z))``;
* an **upper** bound on the compression term through a prior r(z),
  ``I(Z;X) <= I(Z;X,A) <= E_{x,a} KL(p(z|x,a) || r(z))``, whose gaps are ``I(Z;A|X)``
  (the chain rule) and ``KL(p(z) || r(z))``.

To check them we need problems where the truth is known. This module provides one with the
paper's graph X -> A, (X, A) -> Z and a label Y that depends on X only:

* :class:`GaussianSource` (X, Y jointly Gaussian) and :class:`ClassConditionalSource`
  (Y discrete, X | Y = c Gaussian with a shared covariance);
* :class:`LinearGaussianChannel`, the attentive encoder ``A = M X + e_a``,
  ``Z = W X + V A + e_z`` (attention optional), with every mutual information in closed form
  (Gaussian source) or by Gauss-Hermite quadrature of a Gaussian-mixture entropy (discrete Y);
* exact and Monte-Carlo values of both bounds for any Gaussian prior and decoder;
* the analytic information curve of the Gaussian information bottleneck (Chechik et al. 2005),
  :class:`GaussianIB`, and :func:`fit_linear_vib`, which trains a linear-Gaussian encoder with
  the reparametrised variational objective so that the two can be compared.

Everything is in **nats**; :func:`nats_to_bits` converts. The paper's β multiplies the
compression term: the objective is ``I(Z;Y) - β I(Z;X)`` (Chechik et al. put their β on the
relevance term, which is 1/β here).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import brentq
from scipy.special import logsumexp

__all__ = [
    "ChannelSample",
    "ClassConditionalSource",
    "GaussianAttention",
    "GaussianDensity",
    "GaussianIB",
    "GaussianMixtureDensity",
    "GaussianSource",
    "LinearGaussianChannel",
    "LinearGaussianDecoder",
    "MCEstimate",
    "SoftmaxDecoder",
    "VIBFit",
    "best_gaussian_prior",
    "bits_to_nats",
    "check_covariance",
    "fit_linear_vib",
    "gaussian_entropy",
    "gaussian_expectation",
    "gaussian_kl",
    "gaussian_mi",
    "mc_estimate",
    "nats_to_bits",
]

LN2 = math.log(2.0)
_MAX_QUADRATURE_POINTS = 2_000_000

Rng = np.random.Generator | int | None


# --------------------------------------------------------------------------------------------
# units and input checks
# --------------------------------------------------------------------------------------------


def nats_to_bits(value: Any) -> Any:
    """Convert an information value (float or array) from nats to bits (divide by ln 2)."""
    return value / LN2


def bits_to_nats(value: Any) -> Any:
    """Convert an information value (float or array) from bits to nats (multiply by ln 2)."""
    return value * LN2


def _rng(rng: Rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _matrix(name: str, value: Any, shape: tuple[int | None, int | None] | None = None) -> np.ndarray:
    """A finite float64 2-D array, optionally of a given shape (None = any size on that axis)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix; got an array of shape {arr.shape}.")
    if shape is not None:
        for axis, want in enumerate(shape):
            if want is not None and arr.shape[axis] != want:
                raise ValueError(
                    f"{name} has shape {arr.shape}, but axis {axis} must have size {want} "
                    f"(expected shape {tuple('*' if s is None else s for s in shape)})."
                )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries.")
    return arr


def _vector(name: str, value: Any, size: int | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector; got an array of shape {arr.shape}.")
    if size is not None and arr.shape[0] != size:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected {size}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries.")
    return arr


def check_covariance(cov: Any, name: str = "cov", dim: int | None = None) -> np.ndarray:
    """Return ``cov`` as a symmetric positive-definite float64 matrix, or raise a clear error.

    Every log-determinant in this module needs strict positive definiteness, so a singular or
    indefinite matrix is rejected with its smallest eigenvalue in the message.
    """
    arr = _matrix(name, cov, (dim, dim))
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square; got shape {arr.shape}.")
    scale = max(1.0, float(np.max(np.abs(arr)))) if arr.size else 1.0
    if not np.allclose(arr, arr.T, rtol=0.0, atol=1e-9 * scale):
        raise ValueError(
            f"{name} must be symmetric; max |{name} - {name}.T| = {np.max(np.abs(arr - arr.T)):.3g}. "
            f"Symmetrise it with ({name} + {name}.T) / 2."
        )
    arr = 0.5 * (arr + arr.T)
    if arr.size:
        smallest = float(np.linalg.eigvalsh(arr)[0])
        if smallest <= 1e-12 * scale:
            raise ValueError(
                f"{name} must be positive definite; its smallest eigenvalue is {smallest:.3g}. "
                f"Add a small ridge (e.g. {name} + 1e-6 * I) or fix the matrix."
            )
    return arr


def _logdet(cov: np.ndarray) -> float:
    if cov.size == 0:
        return 0.0
    return float(2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(cov)))))


# --------------------------------------------------------------------------------------------
# closed forms for Gaussians
# --------------------------------------------------------------------------------------------


def gaussian_entropy(cov: Any) -> float:
    """Differential entropy ``½ log det(2πe Σ)`` of a Gaussian with covariance ``cov``, in nats."""
    sigma = check_covariance(cov, "cov")
    d = sigma.shape[0]
    return 0.5 * (d * math.log(2.0 * math.pi * math.e) + _logdet(sigma))


def _indices(name: str, idx: Any, dim: int) -> list[int]:
    out = [int(i) for i in np.atleast_1d(np.asarray(idx, dtype=int))] if idx is not None else []
    for i in out:
        if not 0 <= i < dim:
            raise ValueError(f"{name} contains index {i}, outside 0..{dim - 1} of cov_joint.")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} contains repeated indices: {out}.")
    return out


def gaussian_mi(cov_joint: Any, idx_a: Any, idx_b: Any, idx_given: Any = None) -> float:
    """Mutual information ``I(A;B)`` (or ``I(A;B|C)``) of jointly Gaussian variables, in nats.

    ``idx_a``, ``idx_b`` (and ``idx_given``) select coordinates of ``cov_joint``. With
    ``H(S) = ½ log det Σ_S + const``:  ``I(A;B|C) = H(A,C) + H(B,C) - H(A,B,C) - H(C)``.
    """
    sigma = check_covariance(cov_joint, "cov_joint")
    d = sigma.shape[0]
    a = _indices("idx_a", idx_a, d)
    b = _indices("idx_b", idx_b, d)
    c = _indices("idx_given", idx_given, d)
    if not a or not b:
        raise ValueError("idx_a and idx_b must each select at least one coordinate.")
    if set(a) & set(b) or set(a) & set(c) or set(b) & set(c):
        raise ValueError("idx_a, idx_b and idx_given must be disjoint sets of coordinates.")

    def ld(idx: list[int]) -> float:
        return _logdet(sigma[np.ix_(idx, idx)]) if idx else 0.0

    return 0.5 * (ld(a + c) + ld(b + c) - ld(a + b + c) - ld(c))


def gaussian_kl(mean0: Any, cov0: Any, mean1: Any, cov1: Any) -> float:
    """``KL(N(mean0, cov0) || N(mean1, cov1))`` in nats."""
    s0 = check_covariance(cov0, "cov0")
    d = s0.shape[0]
    s1 = check_covariance(cov1, "cov1", d)
    m0 = _vector("mean0", mean0, d)
    m1 = _vector("mean1", mean1, d)
    diff = m1 - m0
    s1_inv = np.linalg.inv(s1)
    return 0.5 * float(np.trace(s1_inv @ s0) + diff @ s1_inv @ diff - d + _logdet(s1) - _logdet(s0))


def _expected_gaussian_kl(
    mean_of_mean: np.ndarray,
    cov_of_mean: np.ndarray,
    cov: np.ndarray,
    prior: GaussianDensity,
) -> float:
    """``E_μ KL(N(μ, cov) || prior)`` when μ has the given mean and covariance (any law).

    The KL is a quadratic function of μ, so only the first two moments of μ matter.
    """
    d = cov.shape[0]
    r_inv = np.linalg.inv(prior.cov)
    diff = mean_of_mean - prior.mean
    return 0.5 * float(
        np.trace(r_inv @ (cov + cov_of_mean)) + diff @ r_inv @ diff - d + _logdet(prior.cov) - _logdet(cov)
    )


def gaussian_expectation(
    fn: Callable[[np.ndarray], np.ndarray], mean: Any, cov: Any, order: int = 96
) -> float:
    """``E_{z ~ N(mean, cov)} fn(z)`` by tensor-product Gauss-Hermite quadrature.

    ``fn`` maps points of shape ``(n, d)`` to values of shape ``(n,)``. Exact for polynomials of
    degree < 2·order; for smooth integrands such as log-sum-exps of quadratics (the log-density
    of a Gaussian mixture) the error falls geometrically with ``order``. Only for low
    dimension: ``order**d`` points are evaluated.
    """
    sigma = check_covariance(cov, "cov")
    d = sigma.shape[0]
    mu = _vector("mean", mean, d)
    if int(order) != order or order < 1:
        raise ValueError(f"order must be a positive integer; got {order!r}.")
    order = int(order)
    if order**d > _MAX_QUADRATURE_POINTS:
        raise ValueError(
            f"quadrature of order {order} in dimension {d} needs {order**d} points; lower `order` "
            f"or use a Monte-Carlo estimate (quadrature is meant for d <= 3)."
        )
    nodes, weights = hermegauss(order)
    weights = weights / math.sqrt(2.0 * math.pi)
    grid = np.array(list(itertools.product(nodes, repeat=d)))
    w = np.prod(np.array(list(itertools.product(weights, repeat=d))), axis=1)
    points = mu + grid @ np.linalg.cholesky(sigma).T
    values = np.asarray(fn(points), dtype=np.float64)
    if values.shape != (points.shape[0],):
        raise ValueError(f"fn must return shape ({points.shape[0]},); got {values.shape}.")
    return float(np.dot(w, values))


# --------------------------------------------------------------------------------------------
# Monte-Carlo estimates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MCEstimate:
    """A Monte-Carlo mean with its standard error (``std / sqrt(n)``) and sample count."""

    mean: float
    stderr: float
    n: int

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """Normal-approximation confidence interval ``mean ± z·stderr`` (1.96 ≈ 95 %)."""
        return (self.mean - z * self.stderr, self.mean + z * self.stderr)

    def contains(self, value: float, num_se: float = 4.0) -> bool:
        """Whether ``value`` lies within ``num_se`` standard errors of the mean."""
        return abs(self.mean - value) <= num_se * self.stderr

    def bits(self) -> MCEstimate:
        """The same estimate converted from nats to bits."""
        return MCEstimate(nats_to_bits(self.mean), nats_to_bits(self.stderr), self.n)


def mc_estimate(samples: Any) -> MCEstimate:
    """Mean and standard error of i.i.d. samples of an estimator."""
    arr = np.asarray(samples, dtype=np.float64).ravel()
    if arr.size < 2:
        raise ValueError(f"mc_estimate needs at least 2 samples; got {arr.size}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("mc_estimate got NaN or infinite samples.")
    return MCEstimate(float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(arr.size)), arr.size)


# --------------------------------------------------------------------------------------------
# densities (priors r(z), marginals p(z))
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GaussianDensity:
    """A multivariate normal N(mean, cov): a prior r(z) or a Gaussian marginal."""

    mean: np.ndarray
    cov: np.ndarray

    def __post_init__(self) -> None:
        cov = check_covariance(self.cov, "cov")
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "mean", _vector("mean", self.mean, cov.shape[0]))

    @property
    def dim(self) -> int:
        return self.cov.shape[0]

    def log_prob(self, z: Any) -> np.ndarray:
        """Log-density at the rows of ``z`` (shape ``(n, dim)``)."""
        return _gaussian_log_prob(np.asarray(z, dtype=np.float64), self.mean, self.cov)

    def sample(self, n: int, rng: Rng = None) -> np.ndarray:
        return _rng(rng).multivariate_normal(self.mean, self.cov, size=int(n))

    def entropy(self) -> float:
        return gaussian_entropy(self.cov)


def _gaussian_log_prob(z: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(z; mean, cov) for rows of z; ``mean`` may be one vector or one per row."""
    d = cov.shape[0]
    if z.ndim != 2 or z.shape[1] != d:
        raise ValueError(f"points must have shape (n, {d}); got {z.shape}.")
    chol = np.linalg.cholesky(cov)
    sol = np.linalg.solve(chol, (z - mean).T)
    return -0.5 * (np.sum(sol**2, axis=0) + d * math.log(2.0 * math.pi)) - 0.5 * _logdet(cov)


@dataclass(frozen=True, eq=False)
class GaussianMixtureDensity:
    """A Gaussian mixture ``Σ_k w_k N(means[k], covs[k])``; ``covs`` may be one shared matrix."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray

    def __post_init__(self) -> None:
        w = _vector("weights", self.weights)
        if np.any(w < 0) or not math.isclose(float(w.sum()), 1.0, abs_tol=1e-9):
            raise ValueError(f"weights must be non-negative and sum to 1; got {w}.")
        means = _matrix("means", self.means, (w.size, None))
        covs = np.asarray(self.covs, dtype=np.float64)
        if covs.ndim == 2:
            covs = np.broadcast_to(covs, (w.size, *covs.shape))
        if covs.shape != (w.size, means.shape[1], means.shape[1]):
            raise ValueError(
                f"covs must have shape ({w.size}, {means.shape[1]}, {means.shape[1]}) or "
                f"({means.shape[1]}, {means.shape[1]}); got {np.shape(self.covs)}."
            )
        covs = np.stack([check_covariance(c, f"covs[{k}]") for k, c in enumerate(covs)])
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "covs", covs)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def log_prob(self, z: Any) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        parts = [
            math.log(w) + _gaussian_log_prob(z, m, c)
            for w, m, c in zip(self.weights, self.means, self.covs, strict=True)
            if w > 0
        ]
        return logsumexp(np.stack(parts), axis=0)

    def sample(self, n: int, rng: Rng = None) -> np.ndarray:
        gen = _rng(rng)
        comp = gen.choice(self.weights.size, size=int(n), p=self.weights)
        chols = np.linalg.cholesky(self.covs)
        eps = gen.standard_normal((int(n), self.dim))
        return self.means[comp] + np.einsum("nij,nj->ni", chols[comp], eps)

    def expectation(self, fn: Callable[[np.ndarray], np.ndarray], order: int = 96) -> float:
        """``E fn(z)`` under the mixture, by Gauss-Hermite quadrature of each component."""
        return float(
            sum(
                w * gaussian_expectation(fn, m, c, order)
                for w, m, c in zip(self.weights, self.means, self.covs, strict=True)
                if w > 0
            )
        )

    def entropy(self, order: int = 96) -> float:
        """Differential entropy ``-E log p(z)`` by Gauss-Hermite quadrature (no closed form).

        Compare two orders (e.g. 48 and 96) to see the quadrature error: for the shared-covariance
        mixtures of the book they agree to about 1e-10 nats; components of very different widths
        converge more slowly (1-D example in the tests: 5e-8 nats at order 64, 1e-10 at 128).
        """
        return -self.expectation(self.log_prob, order)

    def moments(self) -> GaussianDensity:
        """The moment-matched Gaussian (the best Gaussian prior in KL(p || r))."""
        mean = self.weights @ self.means
        centred = self.means - mean
        cov = np.einsum("k,kij->ij", self.weights, self.covs) + (centred.T * self.weights) @ centred
        return GaussianDensity(mean, cov)


# --------------------------------------------------------------------------------------------
# sources p(x, y)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GaussianSource:
    """X ~ N(0, cov_x) and a Gaussian label ``Y = label_map @ X + e_y``, e_y ~ N(0, label_noise_cov).

    (X, Y) is jointly Gaussian, so every mutual information of a linear-Gaussian encoder of X is
    a log-determinant ratio, and the Gaussian IB curve is analytic.
    """

    cov_x: np.ndarray
    label_map: np.ndarray
    label_noise_cov: np.ndarray

    def __post_init__(self) -> None:
        cov_x = check_covariance(self.cov_x, "cov_x")
        b = _matrix("label_map", self.label_map, (None, cov_x.shape[0]))
        noise = check_covariance(self.label_noise_cov, "label_noise_cov", b.shape[0])
        object.__setattr__(self, "cov_x", cov_x)
        object.__setattr__(self, "label_map", b)
        object.__setattr__(self, "label_noise_cov", noise)

    discrete = False

    @property
    def x_dim(self) -> int:
        return self.cov_x.shape[0]

    @property
    def y_dim(self) -> int:
        return self.label_map.shape[0]

    @property
    def cov_y(self) -> np.ndarray:
        return self.label_map @ self.cov_x @ self.label_map.T + self.label_noise_cov

    @property
    def cov_xy(self) -> np.ndarray:
        return self.cov_x @ self.label_map.T

    @property
    def cov_x_given_y(self) -> np.ndarray:
        """Σ_{x|y} = Σ_x - Σ_xy Σ_y^{-1} Σ_yx."""
        return self.cov_x - self.cov_xy @ np.linalg.solve(self.cov_y, self.cov_xy.T)

    def joint_cov(self) -> np.ndarray:
        """Covariance of the stacked vector (X, Y)."""
        return np.block([[self.cov_x, self.cov_xy], [self.cov_xy.T, self.cov_y]])

    def x_moments(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self.x_dim), self.cov_x

    def label_entropy(self) -> float:
        """Differential entropy h(Y)."""
        return gaussian_entropy(self.cov_y)

    def mi_xy(self) -> float:
        """I(X;Y), the most any representation of X can know about Y."""
        return 0.5 * (_logdet(self.cov_x) - _logdet(self.cov_x_given_y))

    def sample(self, n: int, rng: Rng = None) -> tuple[np.ndarray, np.ndarray]:
        gen = _rng(rng)
        x = gen.multivariate_normal(np.zeros(self.x_dim), self.cov_x, size=int(n))
        e = gen.multivariate_normal(np.zeros(self.y_dim), self.label_noise_cov, size=int(n))
        return x, x @ self.label_map.T + e


@dataclass(frozen=True, eq=False)
class ClassConditionalSource:
    """A discrete label Y ~ Categorical(priors) and X | Y = c ~ N(means[c], cov) (shared cov).

    X is a Gaussian mixture, so I(Z;Y) and I(Z;X) of a linear-Gaussian encoder need the entropy
    of a Gaussian mixture, which has no closed form: we use Gauss-Hermite quadrature (low
    dimension) and state its error.
    """

    priors: np.ndarray
    means: np.ndarray
    cov: np.ndarray

    def __post_init__(self) -> None:
        pri = _vector("priors", self.priors)
        if pri.size < 2 or np.any(pri <= 0) or not math.isclose(float(pri.sum()), 1.0, abs_tol=1e-9):
            raise ValueError(f"priors must be >= 2 positive numbers summing to 1; got {pri}.")
        means = _matrix("means", self.means, (pri.size, None))
        cov = check_covariance(self.cov, "cov", means.shape[1])
        object.__setattr__(self, "priors", pri)
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "cov", cov)

    discrete = True

    @property
    def x_dim(self) -> int:
        return self.means.shape[1]

    @property
    def num_classes(self) -> int:
        return self.priors.size

    def x_moments(self) -> tuple[np.ndarray, np.ndarray]:
        m = GaussianMixtureDensity(self.priors, self.means, self.cov).moments()
        return m.mean, m.cov

    def label_entropy(self) -> float:
        """Shannon entropy H(Y) = -Σ π_c log π_c."""
        return float(-np.sum(self.priors * np.log(self.priors)))

    def sample(self, n: int, rng: Rng = None) -> tuple[np.ndarray, np.ndarray]:
        gen = _rng(rng)
        y = gen.choice(self.num_classes, size=int(n), p=self.priors)
        eps = gen.standard_normal((int(n), self.x_dim))
        return self.means[y] + eps @ np.linalg.cholesky(self.cov).T, y


Source = GaussianSource | ClassConditionalSource


# --------------------------------------------------------------------------------------------
# decoders q(y|z)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LinearGaussianDecoder:
    """q(y|z) = N(y; weight @ z + bias, cov), a decoder for a Gaussian label."""

    weight: np.ndarray
    bias: np.ndarray
    cov: np.ndarray

    def __post_init__(self) -> None:
        weight = _matrix("weight", self.weight)
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "bias", _vector("bias", self.bias, weight.shape[0]))
        object.__setattr__(self, "cov", check_covariance(self.cov, "cov", weight.shape[0]))

    def log_prob(self, y: Any, z: Any) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64)
        return _gaussian_log_prob(y, z @ self.weight.T + self.bias, self.cov)


@dataclass(frozen=True, eq=False)
class SoftmaxDecoder:
    """q(y = c | z) = softmax(weight @ z + bias)_c, a decoder for a discrete label."""

    weight: np.ndarray
    bias: np.ndarray

    def __post_init__(self) -> None:
        weight = _matrix("weight", self.weight)
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "bias", _vector("bias", self.bias, weight.shape[0]))

    def log_probs(self, z: Any) -> np.ndarray:
        """All class log-probabilities, shape ``(n, num_classes)``."""
        logits = np.asarray(z, dtype=np.float64) @ self.weight.T + self.bias
        return logits - logsumexp(logits, axis=1, keepdims=True)

    def log_prob(self, y: Any, z: Any) -> np.ndarray:
        y = np.asarray(y, dtype=int)
        return self.log_probs(z)[np.arange(y.size), y]


Decoder = LinearGaussianDecoder | SoftmaxDecoder
Prior = GaussianDensity | GaussianMixtureDensity


# --------------------------------------------------------------------------------------------
# the attentive linear-Gaussian channel
# --------------------------------------------------------------------------------------------


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


def _moments(mix: GaussianMixtureDensity) -> tuple[np.ndarray, np.ndarray]:
    m = mix.moments()
    return m.mean, m.cov


def best_gaussian_prior(
    channel: LinearGaussianChannel, family: Literal["standard", "isotropic", "diagonal", "full"]
) -> GaussianDensity:
    """The member of a Gaussian prior family that minimises the rate bound.

    Because ``bound = I(Z;X,A) + KL(p(z) || r)``, the best r is the projection of p(z) on the
    family: the moment-matched mean, and covariance ``tr(Σ_z)/d · I`` (isotropic), ``diag(Σ_z)``
    (diagonal) or ``Σ_z`` (full). ``"standard"`` is N(0, I), the paper's spherical prior.
    """
    marg = channel.z_marginal()
    mean, cov = (marg.mean, marg.cov) if isinstance(marg, GaussianDensity) else _moments(marg)
    d = channel.latent_dim
    if family == "standard":
        return GaussianDensity(np.zeros(d), np.eye(d))
    if family == "isotropic":
        return GaussianDensity(mean, np.trace(cov) / d * np.eye(d))
    if family == "diagonal":
        return GaussianDensity(mean, np.diag(np.diag(cov)))
    if family == "full":
        return GaussianDensity(mean, cov)
    raise ValueError(f"family must be one of 'standard', 'isotropic', 'diagonal', 'full'; got {family!r}.")


# --------------------------------------------------------------------------------------------
# the Gaussian information bottleneck (Chechik, Globerson, Tishby & Weiss 2005)
# --------------------------------------------------------------------------------------------


def _check_beta(beta: Any) -> float:
    b = float(beta)
    if not math.isfinite(b) or b < 0:
        raise ValueError(f"beta must be a finite number >= 0; got {beta!r}.")
    return b


@dataclass(frozen=True, eq=False)
class GaussianIB:
    """The analytic IB solution for jointly Gaussian (X, Y).

    With λ_i the eigenvalues of ``Σ_{x|y} Σ_x^{-1}`` (ascending, in (0, 1]) and v_i the matching
    generalised eigenvectors (``Σ_{x|y} v = λ Σ_x v``), the optimal code for the paper's
    objective ``max I(Z;Y) - β I(Z;X)`` is ``Z = W X + ξ``, ξ ~ N(0, I), whose i-th row is
    ``α_i v_i^T`` with ``α_i² v_i^T Σ_x v_i = (1 - λ_i - β) / (β λ_i)`` while β < 1 - λ_i and 0
    after. Summing the active components::

        I(Z;X) = ½ Σ log[(1 - β)(1 - λ_i) / (β λ_i)],    I(Z;Y) = ½ Σ log[(1 - β) / λ_i].

    (Chechik et al. write the same with their β_c = 1/β on the relevance term.) No encoder of X,
    linear or not, gets above this curve.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    cov_x: np.ndarray = field(repr=False)

    @classmethod
    def from_source(cls, source: GaussianSource) -> GaussianIB:
        from scipy.linalg import eigh

        lam, vec = eigh(source.cov_x_given_y, source.cov_x)
        return cls(np.clip(lam, 1e-300, 1.0), vec, source.cov_x)

    @property
    def critical_betas(self) -> np.ndarray:
        """β below which component i is used: 1 - λ_i (descending)."""
        return 1.0 - self.eigenvalues

    def _active(self, beta: float) -> np.ndarray:
        return self.eigenvalues < 1.0 - beta

    def optimum(self, beta: float) -> tuple[float, float]:
        """(I(Z;X), I(Z;Y)) of the optimal encoder at this β, in nats."""
        b = _check_beta(beta)
        if b == 0.0:
            return math.inf, 0.5 * float(np.sum(np.log(1.0 / self.eigenvalues)))
        lam = self.eigenvalues[self._active(b)]
        rate = 0.5 * float(np.sum(np.log((1.0 - b) * (1.0 - lam) / (b * lam))))
        relevance = 0.5 * float(np.sum(np.log((1.0 - b) / lam)))
        return rate, relevance

    def optimal_encoder(self, beta: float) -> np.ndarray:
        """W of an optimal code ``Z = W X + N(0, I)`` at this β (rows of inactive components are 0)."""
        b = _check_beta(beta)
        if b == 0.0:
            raise ValueError("beta = 0 has no finite optimal encoder (the rate is unbounded); use beta > 0.")
        rows = []
        for lam, v in zip(self.eigenvalues, self.eigenvectors.T, strict=True):
            r = float(v @ self.cov_x @ v)
            alpha2 = max(0.0, (1.0 - lam - b) / (b * lam)) / r
            rows.append(math.sqrt(alpha2) * v)
        return np.array(rows)

    def relevance_at_rate(self, rate: float) -> float:
        """The IB curve F(R) = max I(Z;Y) subject to I(Z;X) ≤ R (concave, increasing)."""
        r = float(rate)
        if not math.isfinite(r) or r < 0:
            raise ValueError(f"rate must be a finite number >= 0; got {rate!r}.")
        b_max = 1.0 - float(self.eigenvalues[0])
        if r == 0.0 or b_max <= 0.0:
            return 0.0

        def excess(log_b: float) -> float:
            return self.optimum(math.exp(log_b))[0] - r

        lo = math.log(b_max) - 1.0
        while excess(lo) < 0:
            lo -= 5.0
        log_b = brentq(excess, lo, math.log(b_max), xtol=1e-14, rtol=1e-13)
        return self.optimum(math.exp(log_b))[1]

    def curve(self, num: int = 200, max_rate: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Points (I(Z;X), I(Z;Y)) along the curve from rate 0 up to ``max_rate``."""
        if max_rate is None:
            max_rate = self.optimum(1e-3 * (1.0 - float(self.eigenvalues[0])))[0]
        rates = np.linspace(0.0, float(max_rate), int(num))
        return rates, np.array([self.relevance_at_rate(r) for r in rates])


# --------------------------------------------------------------------------------------------
# training the linear-Gaussian encoder with the reparametrised variational objective
# --------------------------------------------------------------------------------------------


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
    import torch

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
