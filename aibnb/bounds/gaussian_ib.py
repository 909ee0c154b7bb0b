"""The analytic information curve of the Gaussian information bottleneck (Chechik et al. 2005).

For jointly Gaussian (X, Y) the optimum of the paper's objective ``max I(Z;Y) - β I(Z;X)`` over
all encoders of X, linear or not, is known in closed form: a noisy linear projection on the
generalised eigenvectors of ``Σ_{x|y} Σ_x^{-1}`` (Chechik, Globerson, Tishby & Weiss 2005).
:class:`GaussianIB` gives the optimal encoder, the optimal (I(Z;X), I(Z;Y)) at each β, and the
curve F(R) = max I(Z;Y) subject to I(Z;X) <= R, the reference that the variational training of
:mod:`aibnb.bounds.linear_vib` is measured against. The paper's β multiplies the compression term;
Chechik et al. put theirs on the relevance term, which is 1/β here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import eigh
from scipy.optimize import brentq

from aibnb.bounds.checks import _check_beta
from aibnb.bounds.sources import GaussianSource


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
