"""Tests of the post-hoc maps (CAM, the per-sample bottleneck) and cross-checks of the book's own
Grad-CAM and localisation metrics against Captum and Quantus."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from aibnb import interpret
from aibnb.models import ModelOutput, build_model

pytestmark = pytest.mark.usefixtures("one_thread")


class LeftHalf(nn.Module):
    """A toy network whose decision reads only the left half of its feature map."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4, 2)
        with torch.no_grad():  # features copy the image; the head reads its left-half mean, sharply
            self.features.weight.zero_()
            self.features.weight[:, 0, 1, 1] = 1.0
            self.features.bias.zero_()
            self.head.weight.copy_(torch.tensor([[20.0, 0, 0, 0], [-20.0, 0, 0, 0]]))
            self.head.bias.zero_()

    def forward(self, x, num_samples=None):
        f = self.features(x)
        return ModelOutput(logits=self.head(f[..., : f.shape[-1] // 2].mean(dim=(2, 3))))


# --- the per-sample bottleneck ---------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.9])
def test_bottleneck_kl_is_the_gaussian_kl_of_its_derivation(lam):
    """KL(N(lam R + (1-lam) mu, (1-lam)^2 s^2) || N(mu, s^2)), analytic against torch.distributions
    and against a Monte Carlo estimate of E[log p - log q]."""
    mu, s, r_raw = 0.7, 1.9, 2.5
    r = (r_raw - mu) / s
    ours = float(interpret.bottleneck_kl(torch.tensor(lam), torch.tensor(r)))
    p = torch.distributions.Normal(lam * r_raw + (1 - lam) * mu, max(1 - lam, 1e-6) * s)
    q = torch.distributions.Normal(mu, s)
    assert ours == pytest.approx(float(torch.distributions.kl_divergence(p, q)), abs=1e-5)
    z = p.sample((400_000,), ) if lam < 1 else None
    mc = float((p.log_prob(z) - q.log_prob(z)).mean())
    assert ours == pytest.approx(mc, abs=5e-3)


def test_bottleneck_passes_no_information_where_the_mask_is_closed():
    closed = float(interpret.bottleneck_kl(torch.tensor(0.0), torch.tensor(3.0)))
    assert closed == pytest.approx(0.0, abs=1e-6)
    assert float(interpret.bottleneck_kl(torch.tensor(0.99), torch.tensor(3.0))) > 4


def test_bottleneck_finds_the_half_the_decision_reads():
    torch.manual_seed(0)
    model = LeftHalf().eval()
    x = torch.randn(16, 1, 8, 8) + torch.where(torch.arange(16) % 2 == 0, 1.0, -1.0).view(-1, 1, 1, 1)
    explainer = interpret.PerSampleBottleneck(x, "features", steps=10, samples=4)
    logits, maps = explainer(model, x)
    assert maps.shape == (16, 1, 8, 8) and torch.isfinite(maps).all() and (maps >= 0).all()
    left, right = maps[..., :4].mean(), maps[..., 4:].mean()
    assert left > 3 * right, (float(left), float(right))
    assert torch.equal(logits.argmax(1), model(x).logits.argmax(1))
    # the model is left as it was: no hook, parameters still trainable and unchanged
    assert not model.features._forward_hooks
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_bottleneck_through_explain_is_seeded_and_rejects_bad_options():
    torch.manual_seed(0)
    model = build_model("vgg_aib", 10, width=0.0625, in_channels=1).eval()
    images = torch.rand(5, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    explainer = interpret.PerSampleBottleneck((images - 0.5) / 0.25, steps=2, samples=1)
    a = interpret.explain(model, images, mean=(0.5,), std=(0.25,), attention=explainer, seed=3)
    b = interpret.explain(model, images, mean=(0.5,), std=(0.25,), attention=explainer, seed=3)
    assert a.kind == "bottleneck" and torch.equal(a.maps, b.maps) and a.maps.shape == (5, 1, 16, 16)
    with pytest.raises(ValueError, match="steps"):
        interpret.per_sample_bottleneck(model, images, "features", mean=torch.zeros(1), std=torch.ones(1),
                                        steps=0)
    with pytest.raises(ValueError, match="reference"):
        interpret.PerSampleBottleneck(torch.zeros(3, 32, 32))


# --- CAM ---------------------------------------------------------------------------------------


def test_cam_is_the_class_evidence_whose_mean_is_the_logit():
    torch.manual_seed(0)
    model = build_model("vgg_gap", 10, width=0.0625, in_channels=1).eval()
    x = torch.randn(4, 1, 32, 32)
    logits, cam = interpret.CAMExplainer()(model, x)
    top = logits.argmax(1)
    bias = model.classify.bias[top]
    assert torch.allclose(cam.mean(dim=(1, 2, 3)) + bias, logits.gather(1, top[:, None])[:, 0], atol=1e-4)
    with pytest.raises(ValueError, match="class activation map"):
        interpret.CAMExplainer()(build_model("vgg", 10, width=0.0625, in_channels=1).eval(), x)


# --- cross-checks with the kept libraries ------------------------------------------------------


def test_grad_cam_agrees_with_captum_layer_gradcam():
    captum_attr = pytest.importorskip("captum.attr")
    torch.manual_seed(0)
    model = build_model("vgg", 10, width=0.0625, in_channels=1).eval()
    x = torch.randn(6, 1, 32, 32)
    logits, ours = interpret.grad_cam(model, x, "block4")
    target = logits.argmax(1)
    reference = captum_attr.LayerGradCam(lambda t: model(t).logits, model.block4)
    theirs = reference.attribute(x, target=target, relu_attributions=True)
    assert theirs.shape == ours.shape
    assert torch.allclose(ours, theirs.detach(), rtol=1e-4, atol=1e-6)


def test_pointing_game_and_relevance_mass_agree_with_quantus():
    quantus = pytest.importorskip("quantus")
    rng = np.random.default_rng(0)
    maps = rng.random((12, 1, 16, 16)).astype(np.float32)
    masks = np.zeros((12, 1, 16, 16), dtype=bool)
    for i in range(12):
        top, left = rng.integers(0, 10, size=2)
        masks[i, 0, top : top + 6, left : left + 6] = True
    x = rng.random((12, 1, 16, 16)).astype(np.float32)
    y = np.zeros(12, dtype=int)
    kwargs = {"model": None, "x_batch": x, "y_batch": y, "a_batch": maps, "s_batch": masks.astype(float),
              "channel_first": True}
    options = {"disable_warnings": True, "normalise": False, "abs": False}
    pointing = quantus.PointingGame(**options)(**kwargs)
    mass = quantus.RelevanceMassAccuracy(**options)(**kwargs)
    ours_p = interpret.pointing_game(torch.from_numpy(maps), torch.from_numpy(masks)).numpy()
    ours_m = interpret.relevance_mass(torch.from_numpy(maps), torch.from_numpy(masks)).numpy()
    np.testing.assert_allclose(ours_p, np.asarray(pointing, dtype=float))
    np.testing.assert_allclose(ours_m, np.asarray(mass, dtype=float), rtol=1e-5)
    assert not math.isnan(float(ours_m.mean()))
