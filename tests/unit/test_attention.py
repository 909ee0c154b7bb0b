"""The variational attention module: mean/std/sample, squashing, modulation, quantiser hook."""

import math

import pytest
import torch

from aibnb.attention import VariationalAttention
from aibnb.quantize import AnchorQuantizer


def _features(b=2, c=5, h=6, w=6):
    torch.manual_seed(0)
    return torch.randn(b, c, h, w)


def test_shapes_and_sample_major_layout():
    att = VariationalAttention(5)
    f = _features()
    out = att(f, num_samples=3)
    assert out.features.shape == (6, 5, 6, 6)
    assert out.attention.shape == out.sample.shape == (3, 2, 1, 6, 6)
    assert out.mean.shape == out.std.shape == (2, 1, 6, 6)
    # row s * B + b is sample s of image b, modulated residually
    for s in range(3):
        for b in range(2):
            assert torch.allclose(out.features[s * 2 + b], f[b] * (1 + out.attention[s, b]))


def test_mean_is_a_sigmoid_and_std_starts_small():
    att = VariationalAttention(5)
    torch.nn.init.zeros_(att.std_conv.weight)
    torch.nn.init.zeros_(att.std_conv.bias)
    out = att(_features())
    assert torch.all((out.mean > 0) & (out.mean < 1))
    assert torch.allclose(out.std, torch.full_like(out.std, math.log1p(math.exp(-5))))


def test_non_residual_modulation():
    att = VariationalAttention(5, residual=False)
    f = _features()
    out = att(f)
    assert torch.allclose(out.features, f * out.attention[0])


@pytest.mark.parametrize("squash", ["clamp", "sigmoid"])
def test_squashing_keeps_samples_in_the_unit_interval(squash):
    att = VariationalAttention(5, squash=squash, std_offset=-3.0)  # large std: samples leave [0, 1]
    out = att(_features(), num_samples=4)
    assert out.sample.min() >= 0 and out.sample.max() <= 1


def test_unsquashed_samples_can_leave_the_unit_interval():
    att = VariationalAttention(5, std_offset=-3.0)
    out = att(_features(), num_samples=4)
    assert out.sample.min() < 0 or out.sample.max() > 1


def test_quantised_attention_uses_anchor_values():
    att = VariationalAttention(5, quantizer=AnchorQuantizer(3))
    out = att(_features(), num_samples=2)
    assert out.quant is not None
    assert set(out.attention.unique().tolist()) <= {0.0, 0.5, 1.0}
    assert torch.allclose(out.attention, out.quant.quantized)


def test_bad_input():
    with pytest.raises(ValueError, match="squash must be one of"):
        VariationalAttention(5, squash="tanh")
    with pytest.raises(ValueError, match="B x C x H x W"):
        VariationalAttention(5)(torch.zeros(5, 6, 6))
    with pytest.raises(ValueError, match="mean_net must give"):
        VariationalAttention(5, mean_net=torch.nn.Conv2d(5, 2, 1))(_features())
