"""Tests of aibnb.bounds.channel: closed-form MI vs Monte Carlo, and the decoder bound of the channel."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aibnb import bounds

N_MC = 40_000
NUM_SE = 4.0


# ------------------------------------------------------------------------------------------ closed forms


def test_channel_closed_forms_agree_with_joint_covariance(gch):
    cov, idx = gch.joint_cov()
    assert gch.mi_zx() == pytest.approx(bounds.gaussian_mi(cov, idx["z"], idx["x"]), rel=1e-10)
    assert gch.mi_zxa() == pytest.approx(bounds.gaussian_mi(cov, idx["z"], idx["x"] + idx["a"]), rel=1e-10)
    za_given_x = bounds.gaussian_mi(cov, idx["z"], idx["a"], idx["x"])
    assert gch.mi_za_given_x() == pytest.approx(za_given_x, rel=1e-10)
    assert gch.mi_zy() == pytest.approx(bounds.gaussian_mi(cov, idx["z"], idx["y"]), rel=1e-10)
    # chain rule and data processing: I(Z;Y) <= I(Z;X) <= I(Z;X,A), I(Z;Y) <= I(X;Y)
    assert gch.mi_zxa() == pytest.approx(gch.mi_zx() + gch.mi_za_given_x(), rel=1e-12)
    assert gch.mi_zy() < gch.mi_zx() < gch.mi_zxa()
    assert gch.mi_zy() < gch.source.mi_xy()


@pytest.mark.parametrize("which", ["gaussian", "discrete"])
def test_analytic_mi_matches_monte_carlo(which, gch, cch):
    ch = gch if which == "gaussian" else cch
    est = ch.mi_mc(N_MC, rng=11)
    assert est["zx"].contains(ch.mi_zx(), NUM_SE), (est["zx"], ch.mi_zx())
    assert est["zxa"].contains(ch.mi_zxa(), NUM_SE), (est["zxa"], ch.mi_zxa())
    assert est["zy"].contains(ch.mi_zy(), NUM_SE), (est["zy"], ch.mi_zy())


# -------------------------------------------------------------------------------------- decoder bound


@pytest.mark.parametrize("which", ["gaussian", "discrete"])
def test_decoder_bound_holds_and_is_tight_for_bayes(which, gch, cch):
    ch = gch if which == "gaussian" else cch
    truth = ch.mi_zy()
    none, one, full = (ch.decoder_lower_bound(ch.bayes_decoder(d)) for d in [(), (0,), None])
    assert none == pytest.approx(0.0, abs=1e-9)  # a decoder that ignores z bounds nothing
    assert 0.0 < one < full <= truth + 1e-9
    assert full == pytest.approx(truth, abs=1e-8)  # Bayes-optimal decoder: the gap closes
    assert ch.decoder_lower_bound_mc(ch.bayes_decoder(), N_MC, rng=7).contains(truth, NUM_SE)
    assert ch.decoder_lower_bound_mc(ch.bayes_decoder((0,)), N_MC, rng=8).contains(one, NUM_SE)


def test_uniform_label_shortcut_overstates_information_for_imbalanced_classes(cch):
    """``log C - CE`` is a valid lower bound only when H(Y) = log C."""
    best = cch.bayes_decoder()
    ce = cch.source.label_entropy() - cch.decoder_lower_bound(best)
    shortcut = math.log(3) - ce
    assert shortcut - cch.mi_zy() == pytest.approx(math.log(3) - cch.source.label_entropy(), abs=1e-8)
    assert shortcut > cch.mi_zy()


# ------------------------------------------------------------------------------------------- bad input


def test_bad_inputs_raise_clear_errors(gsrc, gch, cch):
    with pytest.raises(ValueError, match="axis 1 must have size 2"):
        bounds.LinearGaussianChannel(gsrc, np.eye(3))
    with pytest.raises(ValueError, match="noise_cov"):
        bounds.LinearGaussianChannel(gsrc, np.eye(2), -np.eye(2))
    with pytest.raises(ValueError, match="latent_dim"):
        gch.rate_upper_bound(bounds.GaussianDensity(np.zeros(3), np.eye(3)))
    with pytest.raises(TypeError, match="needs a SoftmaxDecoder"):
        cch.decoder_lower_bound(gch.bayes_decoder())
