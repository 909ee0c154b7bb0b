"""Tests of aibnb.bounds.densities: the quadrature entropy of a Gaussian mixture."""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.integrate import quad

from aibnb import bounds


def test_mixture_entropy_quadrature_matches_adaptive_1d_integration():
    mix = bounds.GaussianMixtureDensity([0.5, 0.3, 0.2], [[-2.0], [0.5], [2.5]], [[[0.4]], [[0.8]], [[0.3]]])

    def integrand(z: float) -> float:
        lp = float(mix.log_prob(np.array([[z]]))[0])
        return -math.exp(lp) * lp

    ref, err = quad(integrand, -15, 15, epsabs=1e-13, epsrel=1e-13, limit=200)
    assert err < 1e-10
    # unequal component variances make this a hard case for Gauss-Hermite: it converges, but slowly
    errors = [abs(mix.entropy(order) - ref) for order in (32, 64, 128, 256)]
    assert errors[-1] < 1e-10
    assert all(later < earlier for earlier, later in itertools.pairwise(errors))
