"""Tests of aibnb.bounds.gaussian_ib: the analytic Gaussian IB curve."""

from __future__ import annotations

import numpy as np
import pytest

from aibnb import bounds


def test_gaussian_ib_optimal_encoder_reaches_the_analytic_curve(gsrc):
    ib = bounds.GaussianIB.from_source(gsrc)
    assert np.all((ib.eigenvalues > 0) & (ib.eigenvalues < 1))
    assert ib.optimum(1e-9)[1] == pytest.approx(gsrc.mi_xy(), abs=1e-6)
    for beta in [0.05, 0.3, 0.6, 0.95]:
        rate, rel = ib.optimum(beta)
        ch = bounds.LinearGaussianChannel(gsrc, ib.optimal_encoder(beta))
        assert ch.mi_zx() == pytest.approx(rate, abs=1e-10)
        assert ch.mi_zy() == pytest.approx(rel, abs=1e-10)
        assert ib.relevance_at_rate(rate) == pytest.approx(rel, abs=1e-9)
    # the slope of the curve at the optimum for β is β (the Lagrange multiplier)
    for beta in [0.1, 0.5]:
        rate, h = ib.optimum(beta)[0], 1e-5
        slope = (ib.relevance_at_rate(rate + h) - ib.relevance_at_rate(rate - h)) / (2 * h)
        assert slope == pytest.approx(beta, abs=1e-4)
    # past the last critical β the code carries nothing
    assert ib.optimum(float(ib.critical_betas[0]) + 1e-3) == (0.0, 0.0)


def test_no_linear_gaussian_encoder_beats_the_ib_curve(gsrc):
    ib = bounds.GaussianIB.from_source(gsrc)
    rng = np.random.default_rng(0)
    for _ in range(50):
        encoder = rng.normal(size=(rng.integers(1, 4), 2)) * rng.uniform(0.1, 3)
        ch = bounds.LinearGaussianChannel(gsrc, encoder)
        assert ch.mi_zy() <= ib.relevance_at_rate(ch.mi_zx()) + 1e-9


def test_negative_beta_is_rejected(gsrc):
    with pytest.raises(ValueError, match="beta must be"):
        bounds.GaussianIB.from_source(gsrc).optimum(-0.1)
