"""The VIB pieces: sampling, both KL forms (closed form = torch = Monte Carlo), the head, the loss."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from aibnb.models.output import ModelOutput
from aibnb.vib import LN2, VIBHead, aib_loss, gaussian_kl, reparametrize


def test_reparametrize_shape_and_moments():
    torch.manual_seed(0)
    mu = torch.tensor([[1.0, -2.0, 0.5]])
    std = torch.tensor([[0.5, 2.0, 0.1]])
    z = reparametrize(mu, std, 20000)
    assert z.shape == (20000, 1, 3)
    assert torch.allclose(z.mean(0), mu, atol=0.05)
    assert torch.allclose(z.std(0), std, rtol=0.03)


def test_reparametrize_gradient_flows_to_mu_and_std():
    mu = torch.zeros(4, requires_grad=True)
    std = torch.ones(4, requires_grad=True)
    reparametrize(mu, std, 3).sum().backward()
    assert torch.allclose(mu.grad, torch.full((4,), 3.0))
    assert std.grad is not None and std.grad.abs().sum() > 0


@pytest.mark.parametrize("n", [0, -1, 1.5])
def test_reparametrize_rejects_bad_n(n):
    with pytest.raises(ValueError, match="n must be an integer"):
        reparametrize(torch.zeros(2), torch.ones(2), n)


def _random_stats(rows=64, k=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(rows, k, generator=g, dtype=torch.float64)
    std = torch.rand(rows, k, generator=g, dtype=torch.float64) * 1.5 + 0.05
    return mu, std


def test_textbook_kl_matches_torch_distributions():
    mu, std = _random_stats()
    ours = gaussian_kl(mu, std, "textbook")
    ref = kl_divergence(Normal(mu, std), Normal(0.0, 1.0)).sum(-1)
    assert ours.shape == (64,)
    assert torch.allclose(ours, ref, atol=1e-10)


def test_reference_kl_is_the_kl_of_exp_std_as_the_official_code():
    mu, std = _random_stats()
    ours = gaussian_kl(mu, std, "reference")
    ref = kl_divergence(Normal(mu, torch.exp(std)), Normal(0.0, 1.0)).sum(-1)
    assert torch.allclose(ours, ref, atol=1e-10)


def test_reference_kl_is_an_l2_penalty_on_mu_for_small_std():
    # the regime of the official code: std ~ softplus(-5) ~ 0.0067
    mu = torch.randn(16, 32, dtype=torch.float64)
    std = torch.full_like(mu, 0.0067)
    kl = gaussian_kl(mu, std, "reference")
    approx = (0.5 * mu**2 + std**2).sum(-1)
    assert torch.allclose(kl, approx, rtol=1e-4)


def test_textbook_kl_matches_monte_carlo():
    torch.manual_seed(1)
    mu, std = _random_stats(rows=4, k=3, seed=3)
    n = 200_000
    z = reparametrize(mu, std, n)
    log_q = Normal(mu, std).log_prob(z).sum(-1)
    log_p = Normal(0.0, 1.0).log_prob(z).sum(-1)
    samples = log_q - log_p
    estimate, se = samples.mean(0), samples.std(0) / math.sqrt(n)
    exact = gaussian_kl(mu, std, "textbook")
    assert torch.all((estimate - exact).abs() < 5 * se + 1e-9)


def test_kl_rejects_unknown_form_and_shape_mismatch():
    with pytest.raises(ValueError, match="form must be one of"):
        gaussian_kl(torch.zeros(2), torch.ones(2), "exact")
    with pytest.raises(ValueError, match="differ"):
        gaussian_kl(torch.zeros(2), torch.ones(3))


def test_vib_head_split_and_std_offset():
    head = VIBHead(4, 3)
    stats = torch.zeros(2, 8)
    mu, std = head.split(stats)
    assert mu.shape == std.shape == (2, 4)
    assert torch.allclose(std, torch.full((2, 4), math.log1p(math.exp(-5.0))))
    logits, _, _, kl = head(stats, num_samples=5)
    assert logits.shape == (5, 2, 3) and kl.shape == (2,)
    with pytest.raises(ValueError, match="expected 8 statistics"):
        head.split(torch.zeros(2, 6))


@pytest.mark.parametrize("kwargs,match", [
    ({"latent_dim": 0, "num_classes": 3}, "latent_dim"),
    ({"latent_dim": 4, "num_classes": 3, "decoder": "deep"}, "decoder"),
    ({"latent_dim": 4, "num_classes": 3, "kl_form": "x"}, "kl_form"),
])
def test_vib_head_rejects_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VIBHead(**kwargs)


def _output(**fields):
    torch.manual_seed(0)
    logits = torch.randn(8, 10, requires_grad=True)
    return ModelOutput(logits=logits, **fields)


def test_aib_loss_in_bits_with_the_info_factor():
    targets = torch.randint(0, 10, (8,))
    kl = torch.tensor(12.0, requires_grad=True)
    out = _output(kl=kl)
    parts = aib_loss(out, targets, beta=0.01, info_factor=0.5)
    ce = torch.nn.functional.cross_entropy(out.logits, targets)
    expected = ce / LN2 + 0.01 * 0.5 * 12.0 / LN2
    assert torch.allclose(parts.total, expected)
    d = parts.as_dict()
    assert d["class_bits"] == pytest.approx(float(ce.detach()) / LN2, rel=1e-5)
    assert d["info_bits"] == pytest.approx(12.0 / LN2, rel=1e-5)
    assert d["izy_bits"] == pytest.approx(math.log2(10) - float(ce.detach()) / LN2, rel=1e-5)
    parts.total.backward()
    assert kl.grad == pytest.approx(0.01 * 0.5 / LN2)


def test_aib_loss_quantiser_terms_are_not_divided_by_ln2():
    targets = torch.randint(0, 10, (8,))
    out = _output(kl=torch.tensor(0.0), codebook_loss=torch.tensor(2.0), commitment_loss=torch.tensor(3.0))
    parts = aib_loss(out, targets, beta=0.0)
    ce = torch.nn.functional.cross_entropy(out.logits, targets)
    assert torch.allclose(parts.total, ce / LN2 + 0.4 * 2.0 + 0.1 * 3.0)
    parts = aib_loss(out, targets, beta=0.0, codebook_weight=0.0, commitment_weight=1.0)
    assert torch.allclose(parts.total, ce / LN2 + 3.0)


def test_aib_loss_nats_and_auxiliary_logits():
    targets = torch.randint(0, 10, (8,))
    aux = torch.randn(8, 10)
    out = _output(aux_logits=aux)
    parts = aib_loss(out, targets, beta=0.5, units="nats")
    ce = torch.nn.functional.cross_entropy(out.logits, targets)
    ce_aux = torch.nn.functional.cross_entropy(aux, targets)
    assert torch.allclose(parts.total, ce + ce_aux)
    assert math.isnan(parts.as_dict()["info_bits"])  # no VIB head, no KL


@pytest.mark.parametrize("beta", [-0.1, float("nan"), float("inf")])
def test_aib_loss_rejects_bad_beta(beta):
    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        aib_loss(_output(), torch.zeros(8, dtype=torch.long), beta=beta)


def test_aib_loss_rejects_bad_weights_and_units():
    with pytest.raises(ValueError, match="info_factor"):
        aib_loss(_output(), torch.zeros(8, dtype=torch.long), 0.1, info_factor=-1)
    with pytest.raises(ValueError, match="units"):
        aib_loss(_output(), torch.zeros(8, dtype=torch.long), 0.1, units="shannons")
