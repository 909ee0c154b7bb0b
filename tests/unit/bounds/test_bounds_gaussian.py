"""Tests of aibnb.bounds.gaussian: the Gaussian closed forms against known values and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aibnb import bounds

N_MC = 40_000
NUM_SE = 4.0


def test_gaussian_mi_matches_correlation_formula():
    rho = 0.8
    cov = [[1.0, rho], [rho, 1.0]]
    assert bounds.gaussian_mi(cov, [0], [1]) == pytest.approx(-0.5 * math.log(1 - rho**2))
    # independent blocks carry no information; conditioning on the common cause removes it
    cov3 = np.array([[1.0, 0.5, 0.5], [0.5, 1.0, 0.25], [0.5, 0.25, 1.0]])  # X1, X2 = X0/2 + noise
    assert bounds.gaussian_mi(cov3, [1], [2], [0]) == pytest.approx(0.0, abs=1e-12)
    assert bounds.gaussian_mi(cov3, [1], [2]) > 0


def test_gaussian_kl_closed_form():
    m0, s0 = np.array([0.3, -0.2]), np.array([[1.0, 0.2], [0.2, 0.5]])
    m1, s1 = np.array([0.0, 0.5]), np.array([[2.0, -0.3], [-0.3, 1.0]])
    assert bounds.gaussian_kl(m0, s0, m0, s0) == pytest.approx(0.0, abs=1e-12)
    p = bounds.GaussianDensity(m0, s0)
    z = p.sample(N_MC, rng=3)
    mc = bounds.mc_estimate(p.log_prob(z) - bounds.GaussianDensity(m1, s1).log_prob(z))
    assert mc.contains(bounds.gaussian_kl(m0, s0, m1, s1), NUM_SE)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="disjoint"):
        bounds.gaussian_mi(np.eye(3), [0, 1], [1])
    with pytest.raises(ValueError, match="points"):
        bounds.gaussian_expectation(lambda z: z[:, 0], np.zeros(4), np.eye(4), order=64)
