"""Tests of aibnb.bounds.priors: the rate bound with the best prior of each Gaussian family."""

from __future__ import annotations

import itertools

import pytest

from aibnb import bounds

N_MC = 40_000
NUM_SE = 4.0


@pytest.mark.parametrize("which", ["gaussian", "discrete"])
def test_rate_bound_holds_tightens_and_equals_mi_plus_prior_mismatch(which, gch, cch):
    ch = gch if which == "gaussian" else cch
    truth_xa, truth_x = ch.mi_zxa(), ch.mi_zx()
    values = []
    for family in ["standard", "isotropic", "diagonal", "full"]:
        prior = bounds.best_gaussian_prior(ch, family)
        bound = ch.rate_upper_bound(prior)
        values.append(bound)
        assert bound >= truth_xa - 1e-12 >= truth_x - 1e-12
        assert bound == pytest.approx(truth_xa + ch.prior_mismatch(prior), abs=1e-9)
        assert ch.rate_upper_bound_mc(prior, N_MC, rng=5).contains(bound, NUM_SE)
    # nested families: each richer family is at least as tight
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(values))
    full_gap = values[-1] - truth_xa
    if which == "gaussian":  # the marginal is Gaussian: the full-covariance prior is exact
        assert full_gap == pytest.approx(0.0, abs=1e-10)
    else:  # the marginal is a mixture: no Gaussian closes the gap ...
        assert full_gap > 1e-3
        exact = ch.z_marginal()  # ... but the true marginal does, within MC error
        assert ch.prior_mismatch(exact) == pytest.approx(0.0, abs=1e-10)
        assert ch.rate_upper_bound_mc(exact, N_MC, rng=6).contains(truth_xa, NUM_SE)
