"""Closed forms for Gaussians: entropy, mutual information, KL divergence, log-density, expectations.

These are the exact values that the variational bounds of the paper are checked against. For
jointly Gaussian variables every entropy is ``½ log det(2πe Σ)``, so a mutual information is a
ratio of log-determinants (:func:`gaussian_mi`), and the KL of a Gaussian encoder to a Gaussian
prior, the summand of the rate bound (Eq. (5), App. (16)–(17)), is :func:`gaussian_kl`. Where a
density is not Gaussian (the Gaussian-mixture code of a discrete label), only expectations under a
Gaussian are needed; :func:`gaussian_expectation` computes them by tensor-product Gauss-Hermite
quadrature, accurate enough in the low dimensions of the toy to stand in for a closed form.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from aibnb.bounds.checks import _indices, _vector, check_covariance

_MAX_QUADRATURE_POINTS = 2_000_000


def _logdet(cov: np.ndarray) -> float:
    if cov.size == 0:
        return 0.0
    return float(2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(cov)))))


def gaussian_entropy(cov: Any) -> float:
    """Differential entropy ``½ log det(2πe Σ)`` of a Gaussian with covariance ``cov``, in nats."""
    sigma = check_covariance(cov, "cov")
    d = sigma.shape[0]
    return 0.5 * (d * math.log(2.0 * math.pi * math.e) + _logdet(sigma))


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


def _gaussian_log_prob(z: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log N(z; mean, cov) for rows of z; ``mean`` may be one vector or one per row."""
    d = cov.shape[0]
    if z.ndim != 2 or z.shape[1] != d:
        raise ValueError(f"points must have shape (n, {d}); got {z.shape}.")
    chol = np.linalg.cholesky(cov)
    sol = np.linalg.solve(chol, (z - mean).T)
    return -0.5 * (np.sum(sol**2, axis=0) + d * math.log(2.0 * math.pi)) - 0.5 * _logdet(cov)


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
