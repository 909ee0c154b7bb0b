"""The anchor quantiser: look-up, straight-through gradient, stop-gradients, diagnostics, LR groups."""

import math

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from torch import nn

from aibnb.quantize import (
    AnchorQuantizer,
    anchor_parameters,
    entropy_bits,
    param_groups,
    quantized_map_bits,
    soft_quantize,
)


def test_linspace_init_includes_both_ends():
    q = AnchorQuantizer(20)
    assert q.anchors.shape == (20,)
    assert q.anchors[0] == 0.0 and q.anchors[-1] == 1.0
    assert torch.allclose(q.anchors[1], torch.tensor(1 / 19))
    assert AnchorQuantizer(1).anchors.tolist() == [0.0]


def test_random_init_is_sorted_within_range_and_seeded():
    a = AnchorQuantizer(7, "random", generator=torch.Generator().manual_seed(0)).anchors
    b = AnchorQuantizer(7, "random", generator=torch.Generator().manual_seed(0)).anchors
    assert torch.equal(a, b)
    assert torch.all(a[1:] >= a[:-1]) and a.min() >= 0 and a.max() <= 1


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_num_anchors_must_be_a_positive_integer(k):
    with pytest.raises(ValueError, match="num_anchors"):
        AnchorQuantizer(k)


def test_unknown_init_is_an_error():
    with pytest.raises(ValueError, match="init must be one of"):
        AnchorQuantizer(3, "kmeans")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_is_a_clear_error(bad):
    x = torch.tensor([0.1, bad, 0.3])
    with pytest.raises(ValueError, match="non-finite"):
        AnchorQuantizer(4)(x)


def test_straight_through_gradient_equals_upstream_gradient():
    torch.manual_seed(0)
    q = AnchorQuantizer(5)
    x = torch.rand(3, 16, requires_grad=True)
    upstream = torch.randn(3, 16)
    out = q(x)
    (out.quantized * upstream).sum().backward()
    assert torch.equal(x.grad, upstream)
    # the task gradient does not reach the anchors
    assert q.anchors.grad is None or torch.all(q.anchors.grad == 0)


def test_anchors_move_only_by_the_codebook_loss_and_commitment_only_moves_the_input():
    torch.manual_seed(0)
    q = AnchorQuantizer(5)
    x = torch.rand(64, requires_grad=True)
    out = q(x)
    out.codebook_loss.backward(retain_graph=True)
    assert q.anchors.grad is not None and q.anchors.grad.abs().sum() > 0
    assert x.grad is None or torch.all(x.grad == 0)
    q.anchors.grad = None
    out.commitment_loss.backward()
    assert q.anchors.grad is None or torch.all(q.anchors.grad == 0)
    assert x.grad.abs().sum() > 0


def test_codebook_loss_gradient_pulls_each_anchor_to_its_members():
    q = AnchorQuantizer(2)  # anchors 0 and 1
    x = torch.tensor([0.1, 0.2, 0.9])
    out = q(x)
    out.codebook_loss.backward()
    # d/da0 mean((a0 - x)^2 over all 3 elements) = 2 * ((0-0.1) + (0-0.2)) / 3
    assert torch.allclose(q.anchors.grad, torch.tensor([2 * (-0.3) / 3, 2 * 0.1 / 3]))


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-2.0, 3.0, allow_nan=False), min_size=1, max_size=64),
    k=st.integers(1, 12),
)
def test_quantiser_properties(values, k):
    q = AnchorQuantizer(k)
    x = torch.tensor(values, dtype=torch.float32)
    out = q(x)
    anchors = q.anchors.detach()
    # every output is an anchor, and the nearest one
    assert torch.all(torch.isclose(out.quantized.detach(), anchors[out.indices]))
    dist = (x.unsqueeze(-1) - anchors).abs()
    chosen = dist.gather(-1, out.indices.unsqueeze(-1)).squeeze(-1)
    assert torch.all(chosen <= dist.min(-1).values + 1e-6)
    assert out.indices.min() >= 0 and out.indices.max() < k
    assert out.usage.shape == (k,)
    assert out.usage.sum() == pytest.approx(1.0, abs=1e-5)
    assert 1.0 - 1e-4 <= float(out.perplexity) <= k + 1e-4
    assert out.dead_anchors == int((torch.bincount(out.indices, minlength=k) == 0).sum())
    # the two losses are the same number (MSE between x and its anchors), seen from either side
    codebook, commitment = float(out.codebook_loss.detach()), float(out.commitment_loss.detach())
    assert codebook == pytest.approx(commitment, rel=1e-5, abs=1e-7)


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4))
def test_quantiser_keeps_any_shape(shape):
    x = torch.rand(*shape)
    out = AnchorQuantizer(3)(x)
    assert out.quantized.shape == x.shape and out.indices.shape == x.shape


def test_perplexity_extremes():
    q = AnchorQuantizer(4)
    assert float(q(torch.zeros(10)).perplexity) == pytest.approx(1.0)
    uniform = q(q.anchors.detach().repeat(5))
    assert float(uniform.perplexity) == pytest.approx(4.0, rel=1e-5)


def test_soft_quantize_tends_to_the_hard_look_up():
    anchors = torch.linspace(0, 1, 5)
    x = torch.tensor([0.1, 0.4, 0.8])
    hard = AnchorQuantizer(5)(x).quantized
    assert torch.allclose(soft_quantize(x, anchors, 1e-4), hard, atol=1e-4)
    with pytest.raises(ValueError, match="temperature"):
        soft_quantize(x, anchors, 0.0)


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 3)
        self.emb = AnchorQuantizer(4)


def _group(groups, name):
    return next((g for g in groups if g["name"] == name), None)


def test_param_groups_ratio_mode_finds_anchors_under_any_prefix():
    wrapped = nn.Sequential(_Net())  # names become "0.emb.anchors", like DataParallel's "module."
    groups = param_groups(wrapped, 0.1, anchor_lr="ratio", anchor_lr_ratio=1e-4)
    anchors = _group(groups, "anchors")
    assert anchors is not None and anchors["lr"] == pytest.approx(1e-5)
    assert anchors["params"] == anchor_parameters(wrapped)
    weights = _group(groups, "weights")
    assert all(p is not wrapped[0].emb.anchors for p in weights["params"])
    assert sum(p.numel() for g in groups for p in g["params"]) == sum(p.numel() for p in wrapped.parameters())


def test_param_groups_base_mode_reproduces_the_name_filter_bug():
    net = _Net()
    groups = param_groups(net, 0.1, anchor_lr="base")
    assert _group(groups, "anchors") is None
    assert any(p is net.emb.anchors for p in _group(groups, "weights")["params"])


def test_param_groups_frozen_mode():
    net = _Net()
    groups = param_groups(net, 0.1, anchor_lr="frozen")
    assert not net.emb.anchors.requires_grad
    assert all(p is not net.emb.anchors for g in groups for p in g["params"])
    param_groups(net, 0.1, anchor_lr="ratio")
    assert net.emb.anchors.requires_grad


def test_param_groups_rejects_bad_input():
    with pytest.raises(ValueError, match="anchor_lr must be one of"):
        param_groups(_Net(), 0.1, anchor_lr="fast")
    with pytest.raises(ValueError, match="lr > 0"):
        param_groups(_Net(), 0.0)
    assert math.isfinite(param_groups(_Net(), 0.1)[0]["lr"])


def test_entropy_and_quantized_map_bits():
    assert entropy_bits(np.array([1, 1, 1, 1])) == pytest.approx(2.0)
    assert entropy_bits(np.array([5, 0])) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        entropy_bits(np.array([0, 0]))
    anchors = [0.0, 0.5, 1.0, 1.5]
    half = np.zeros((2, 4, 4))  # image 0: half the pixels on anchor 0, half on anchor 1
    half[0, :2] = 0.5
    half[1] = 1.02  # image 1: all on anchor 2 (up to float16 rounding)
    bits = quantized_map_bits(half, anchors)
    assert bits["cap"] == pytest.approx(16 * 2.0)  # 16 pixels x log2 4
    assert bits["per_image"] == pytest.approx((16 * 1.0 + 0.0) / 2)
    # pooled: 8 pixels on anchor 0, 8 on anchor 1, 16 on anchor 2 -> H = 1.5 bits per pixel
    assert bits["pooled"] == pytest.approx(16 * 1.5)
    assert bits["used"] == 3
    assert bits["per_image"] <= bits["pooled"] <= bits["cap"]
    with pytest.raises(ValueError, match="N x H x W"):
        quantized_map_bits(np.zeros((4, 4)), anchors)
