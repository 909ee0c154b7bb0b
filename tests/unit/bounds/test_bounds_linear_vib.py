"""Tests of aibnb.bounds.linear_vib: variational training reaches the Gaussian IB curve with tight bounds."""

from __future__ import annotations

import pytest

from aibnb import bounds


def test_fit_linear_vib_lands_on_the_curve_with_tight_bounds(gsrc):
    ib = bounds.GaussianIB.from_source(gsrc)
    fit = bounds.fit_linear_vib(gsrc, 0.35, steps=150, batch_size=256, seed=1)
    s = fit.summary()
    assert fit.losses.shape == (150,) and fit.losses[-20:].mean() < fit.losses[:20].mean()
    assert s["mi_zy"] <= ib.relevance_at_rate(s["mi_zx"]) + 1e-9
    assert ib.relevance_at_rate(s["mi_zx"]) - s["mi_zy"] < 0.02
    opt_rate, opt_rel = ib.optimum(0.35)
    assert (opt_rel - 0.35 * opt_rate) - (s["mi_zy"] - 0.35 * s["mi_zx"]) < 0.02
    assert 0.0 <= s["rate_bound"] - s["mi_zx"] < 0.01  # learned prior ≈ the marginal
    assert 0.0 <= s["mi_zy"] - s["relevance_bound"] < 0.01  # learned decoder ≈ Bayes


def test_negative_beta_is_rejected(gsrc):
    with pytest.raises(ValueError, match="beta must be"):
        bounds.fit_linear_vib(gsrc, -1.0)
