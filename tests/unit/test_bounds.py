"""Tests of aibnb.bounds: closed-form MI vs Monte Carlo, the two variational bounds, the Gaussian IB."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad

from aibnb import bounds as B

N_MC = 40_000
NUM_SE = 4.0


@pytest.fixture(scope="module")
def gsrc() -> B.GaussianSource:
    return B.GaussianSource(
        cov_x=[[1.0, 0.4], [0.4, 1.0]], label_map=[[2.0, 0.0], [-0.6, 1.0]], label_noise_cov=np.eye(2)
    )


@pytest.fixture(scope="module")
def csrc() -> B.ClassConditionalSource:
    return B.ClassConditionalSource(
        priors=[0.5, 0.3, 0.2], means=[[-1.5, 0.0], [1.0, 1.0], [0.5, -1.5]], cov=[[0.6, 0.1], [0.1, 0.5]]
    )


ATTENTION = B.GaussianAttention(
    weight=[[0.8, 0.0], [0.3, 0.6]], noise_cov=0.3 * np.eye(2), readin=0.7 * np.eye(2)
)
ENCODER = [[1.0, 0.3], [-0.2, 0.8]]


@pytest.fixture(scope="module")
def gch(gsrc) -> B.LinearGaussianChannel:
    return B.LinearGaussianChannel(gsrc, ENCODER, 0.5 * np.eye(2), ATTENTION)


@pytest.fixture(scope="module")
def cch(csrc) -> B.LinearGaussianChannel:
    return B.LinearGaussianChannel(csrc, ENCODER, 0.5 * np.eye(2), ATTENTION)


# ------------------------------------------------------------------------------------------ closed forms


def test_units():
    assert B.nats_to_bits(math.log(2.0)) == pytest.approx(1.0)
    assert B.bits_to_nats(B.nats_to_bits(0.7)) == pytest.approx(0.7)


def test_gaussian_mi_matches_correlation_formula():
    rho = 0.8
    cov = [[1.0, rho], [rho, 1.0]]
    assert B.gaussian_mi(cov, [0], [1]) == pytest.approx(-0.5 * math.log(1 - rho**2))
    # independent blocks carry no information; conditioning on the common cause removes it
    cov3 = np.array([[1.0, 0.5, 0.5], [0.5, 1.0, 0.25], [0.5, 0.25, 1.0]])  # X1, X2 = X0/2 + noise
    assert B.gaussian_mi(cov3, [1], [2], [0]) == pytest.approx(0.0, abs=1e-12)
    assert B.gaussian_mi(cov3, [1], [2]) > 0


def test_channel_closed_forms_agree_with_joint_covariance(gch):
    cov, idx = gch.joint_cov()
    assert gch.mi_zx() == pytest.approx(B.gaussian_mi(cov, idx["z"], idx["x"]), rel=1e-10)
    assert gch.mi_zxa() == pytest.approx(B.gaussian_mi(cov, idx["z"], idx["x"] + idx["a"]), rel=1e-10)
    assert gch.mi_za_given_x() == pytest.approx(B.gaussian_mi(cov, idx["z"], idx["a"], idx["x"]), rel=1e-10)
    assert gch.mi_zy() == pytest.approx(B.gaussian_mi(cov, idx["z"], idx["y"]), rel=1e-10)
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


def test_mixture_entropy_quadrature_matches_adaptive_1d_integration():
    mix = B.GaussianMixtureDensity([0.5, 0.3, 0.2], [[-2.0], [0.5], [2.5]], [[[0.4]], [[0.8]], [[0.3]]])

    def integrand(z: float) -> float:
        lp = float(mix.log_prob(np.array([[z]]))[0])
        return -math.exp(lp) * lp

    ref, err = quad(integrand, -15, 15, epsabs=1e-13, epsrel=1e-13, limit=200)
    assert err < 1e-10
    # unequal component variances make this a hard case for Gauss-Hermite: it converges, but slowly
    errors = [abs(mix.entropy(order) - ref) for order in (32, 64, 128, 256)]
    assert errors[-1] < 1e-10
    assert all(later < earlier for earlier, later in itertools.pairwise(errors))


def test_gaussian_kl_closed_form():
    m0, s0 = np.array([0.3, -0.2]), np.array([[1.0, 0.2], [0.2, 0.5]])
    m1, s1 = np.array([0.0, 0.5]), np.array([[2.0, -0.3], [-0.3, 1.0]])
    assert B.gaussian_kl(m0, s0, m0, s0) == pytest.approx(0.0, abs=1e-12)
    p = B.GaussianDensity(m0, s0)
    z = p.sample(N_MC, rng=3)
    mc = B.mc_estimate(p.log_prob(z) - B.GaussianDensity(m1, s1).log_prob(z))
    assert mc.contains(B.gaussian_kl(m0, s0, m1, s1), NUM_SE)


# ----------------------------------------------------------------------------------------- rate bound


@pytest.mark.parametrize("which", ["gaussian", "discrete"])
def test_rate_bound_holds_tightens_and_equals_mi_plus_prior_mismatch(which, gch, cch):
    ch = gch if which == "gaussian" else cch
    truth_xa, truth_x = ch.mi_zxa(), ch.mi_zx()
    values = []
    for family in ["standard", "isotropic", "diagonal", "full"]:
        prior = B.best_gaussian_prior(ch, family)
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


def test_mismatched_decoders_are_strictly_below(gch, cch):
    best = gch.bayes_decoder()
    overconfident = B.LinearGaussianDecoder(best.weight, best.bias, 0.2 * best.cov)
    assert gch.decoder_lower_bound(overconfident) < gch.mi_zy() - 0.05
    lda = cch.bayes_decoder()
    flat = B.SoftmaxDecoder(lda.weight, np.zeros(3))  # ignores the class priors
    assert cch.decoder_lower_bound(flat) < cch.mi_zy() - 1e-3


def test_uniform_label_shortcut_overstates_information_for_imbalanced_classes(cch):
    """``log C - CE`` is a valid lower bound only when H(Y) = log C."""
    best = cch.bayes_decoder()
    ce = cch.source.label_entropy() - cch.decoder_lower_bound(best)
    shortcut = math.log(3) - ce
    assert shortcut - cch.mi_zy() == pytest.approx(math.log(3) - cch.source.label_entropy(), abs=1e-8)
    assert shortcut > cch.mi_zy()


# ------------------------------------------------------------------------------------------ Gaussian IB


def test_gaussian_ib_optimal_encoder_reaches_the_analytic_curve(gsrc):
    ib = B.GaussianIB.from_source(gsrc)
    assert np.all((ib.eigenvalues > 0) & (ib.eigenvalues < 1))
    assert ib.optimum(1e-9)[1] == pytest.approx(gsrc.mi_xy(), abs=1e-6)
    for beta in [0.05, 0.3, 0.6, 0.95]:
        rate, rel = ib.optimum(beta)
        ch = B.LinearGaussianChannel(gsrc, ib.optimal_encoder(beta))
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
    ib = B.GaussianIB.from_source(gsrc)
    rng = np.random.default_rng(0)
    for _ in range(50):
        ch = B.LinearGaussianChannel(gsrc, rng.normal(size=(rng.integers(1, 4), 2)) * rng.uniform(0.1, 3))
        assert ch.mi_zy() <= ib.relevance_at_rate(ch.mi_zx()) + 1e-9


def test_fit_linear_vib_lands_on_the_curve_with_tight_bounds(gsrc):
    ib = B.GaussianIB.from_source(gsrc)
    fit = B.fit_linear_vib(gsrc, 0.35, steps=150, batch_size=256, seed=1)
    s = fit.summary()
    assert fit.losses.shape == (150,) and fit.losses[-20:].mean() < fit.losses[:20].mean()
    assert s["mi_zy"] <= ib.relevance_at_rate(s["mi_zx"]) + 1e-9
    assert ib.relevance_at_rate(s["mi_zx"]) - s["mi_zy"] < 0.02
    opt_rate, opt_rel = ib.optimum(0.35)
    assert (opt_rel - 0.35 * opt_rate) - (s["mi_zy"] - 0.35 * s["mi_zx"]) < 0.02
    assert 0.0 <= s["rate_bound"] - s["mi_zx"] < 0.01  # learned prior ≈ the marginal
    assert 0.0 <= s["mi_zy"] - s["relevance_bound"] < 0.01  # learned decoder ≈ Bayes


# ------------------------------------------------------------------------------------------- bad input


def test_bad_inputs_raise_clear_errors(gsrc, gch, cch):
    with pytest.raises(ValueError, match="positive definite"):
        B.check_covariance([[1.0, 2.0], [2.0, 1.0]], "noise_cov")
    with pytest.raises(ValueError, match="symmetric"):
        B.check_covariance([[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="axis 1 must have size 2"):
        B.LinearGaussianChannel(gsrc, np.eye(3))
    with pytest.raises(ValueError, match="noise_cov"):
        B.LinearGaussianChannel(gsrc, np.eye(2), -np.eye(2))
    with pytest.raises(ValueError, match="beta must be"):
        B.GaussianIB.from_source(gsrc).optimum(-0.1)
    with pytest.raises(ValueError, match="beta must be"):
        B.fit_linear_vib(gsrc, -1.0)
    with pytest.raises(ValueError, match="latent_dim"):
        gch.rate_upper_bound(B.GaussianDensity(np.zeros(3), np.eye(3)))
    with pytest.raises(TypeError, match="needs a SoftmaxDecoder"):
        cch.decoder_lower_bound(gch.bayes_decoder())
    with pytest.raises(ValueError, match="disjoint"):
        B.gaussian_mi(np.eye(3), [0, 1], [1])
    with pytest.raises(ValueError, match="summing to 1"):
        B.ClassConditionalSource([0.5, 0.6], [[0.0], [1.0]], [[1.0]])
    with pytest.raises(ValueError, match="points"):
        B.gaussian_expectation(lambda z: z[:, 0], np.zeros(4), np.eye(4), order=64)
    with pytest.raises(ValueError, match="at least 2 samples"):
        B.mc_estimate([1.0])
