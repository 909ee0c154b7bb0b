"""Sources p(x, y): the data distributions of the toy, whose mutual informations are known.

In the paper's graph the label Y depends on the input X only (§3.2). To check the bounds we need
sources where I(X;Y) and every information of a linear-Gaussian code of X can be computed:

* :class:`GaussianSource`, (X, Y) jointly Gaussian: every information is a log-determinant
  ratio, and the Gaussian IB curve (:mod:`aibnb.bounds.gaussian_ib`) is analytic;
* :class:`ClassConditionalSource`, a discrete label as in the paper's classification tasks, with
  X | Y = c Gaussian and a covariance shared by the classes: X is a Gaussian mixture.

``Source`` is their union.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aibnb.bounds.checks import Rng, _matrix, _rng, _vector, check_covariance
from aibnb.bounds.densities import GaussianMixtureDensity
from aibnb.bounds.gaussian import _logdet, gaussian_entropy


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
