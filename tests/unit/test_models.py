"""Every model of Table 1: shapes, outputs, gradient flow, determinism, fidelity of counts."""

import pytest
import torch

from aibnb.models import available, build_model, count_macs, count_parameters, spec
from aibnb.quantize import param_groups
from aibnb.vib import aib_loss

SMALL = {  # fast CPU settings per family
    "vgg": {"width": 0.0625},
    "wrn": {"width": 0.05, "depth": 10},
    "cub": {"width": 0.0625, "image_size": 64},
}


def _small(name, num_classes=10, in_channels=3, **extra):
    kwargs = dict(SMALL[spec(name).family])
    size = kwargs.pop("image_size", 32)
    return build_model(name, num_classes, in_channels=in_channels, image_size=size, **kwargs, **extra), size


def test_registry_lists_the_paper_models():
    expected = {"vgg", "vgg_gap", "vgg_dvib", "vgg_att2", "vgg_att3", "vgg_aib", "vgg_aib_qt", "wrn",
                "wrn_abn", "wrn_aib", "wrn_aib_qt"}
    names = set(available())
    assert expected <= names
    assert {"vgg_aib_cub", "vgg_aib_qt_cub", "wrn_aib_cub", "wrn_aib_qt_cub"} <= names


@pytest.mark.parametrize("name", available())
def test_forward_shapes_and_fields(name):
    torch.manual_seed(0)
    model, size = _small(name, in_channels=1 if spec(name).family != "cub" else 3)
    x = torch.randn(3, model.build_args["in_channels"], size, size)
    model.train()
    out = model(x)
    assert out.logits.shape == (3, 10)
    kind = spec(name).kind
    has_attention = kind in ("attention", "aib", "aib_qt")
    assert (out.attention is not None) == has_attention
    if has_attention:
        assert out.attention.dim() == 4 and out.attention.shape[:2] == (3, 1)
    assert (out.kl is not None) == (kind in ("vib", "aib", "aib_qt"))
    assert (out.codebook_loss is not None) == (kind == "aib_qt")
    assert (out.aux_logits is not None) == (name == "wrn_abn")
    if kind in ("aib", "aib_qt"):
        assert out.attention_mean.shape == out.attention.shape
        assert torch.all((out.attention_mean >= 0) & (out.attention_mean <= 1))
    model.eval()
    with torch.no_grad():
        assert model(x).logits.shape == (3, 10)


@pytest.mark.parametrize("name", ["vgg_aib", "vgg_aib_qt", "wrn_aib", "wrn_aib_qt", "vgg_dvib"])
def test_aib_attention_is_16x16_at_32px(name):
    model, _ = _small(name)
    out = model(torch.randn(2, 3, 32, 32))
    if out.attention is not None:
        assert out.attention.shape == (2, 1, 16, 16)


@pytest.mark.parametrize("name", ["vgg", "vgg_gap", "vgg_dvib", "vgg_att2", "vgg_att3", "vgg_aib",
                                  "vgg_aib_qt", "wrn", "wrn_abn", "wrn_aib", "wrn_aib_qt"])
def test_gradients_reach_every_trainable_parameter(name):
    torch.manual_seed(0)
    model, _ = _small(name, dropout=0.0) if spec(name).family == "wrn" else _small(name)
    model.train()
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    out = model(x)
    aib_loss(out, y, beta=0.01).total.backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert missing == []


def test_anchors_get_gradient_only_from_the_codebook_loss():
    torch.manual_seed(0)
    model, _ = _small("vgg_aib_qt")
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    out = model(x)
    aib_loss(out, y, beta=0.01, codebook_weight=0.0).total.backward()
    anchors = model.attention.quantizer.anchors
    assert anchors.grad is None or torch.all(anchors.grad == 0)
    model.zero_grad()
    out = model(x)
    out.codebook_loss.backward()
    assert anchors.grad.abs().sum() > 0
    others = [p for n, p in model.named_parameters() if "anchors" not in n]
    assert all(p.grad is None or torch.all(p.grad == 0) for p in others)


def test_straight_through_gradient_reaches_the_attention_mean():
    torch.manual_seed(0)
    model, _ = _small("vgg_aib_qt")
    out = model(torch.randn(2, 3, 32, 32))
    out.logits.sum().backward()
    assert model.attention.mean_net[0].weight.grad.abs().sum() > 0


def test_eval_averages_logits_over_attention_times_latent_samples():
    torch.manual_seed(0)
    model, _ = _small("vgg_aib", eval_samples=3)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.manual_seed(5)
        logits = model(x).logits
        torch.manual_seed(5)
        att = model.attention(model.features(x), 3)
        per_sample, *_ = model.head(model.encoder(att.features), 3)  # 3 z x (3 att x 2 images)
    assert per_sample.shape == (3, 6, 10)
    assert torch.allclose(logits, per_sample.reshape(9, 2, 10).mean(0), atol=1e-6)


def test_training_draws_one_sample():
    model, _ = _small("vgg_aib")
    model.train()
    calls = []
    model.head.register_forward_hook(lambda m, inp, out: calls.append(inp[1] if len(inp) > 1 else 1))
    model(torch.randn(2, 3, 32, 32))
    assert calls == [1]


def test_determinism_under_a_seed():
    def run():
        torch.manual_seed(123)
        model, _ = _small("vgg_aib_qt")
        out = model(torch.ones(2, 3, 32, 32))
        return [p.detach().clone() for p in model.parameters()], out.logits.detach()

    (p1, l1), (p2, l2) = run(), run()
    assert all(torch.equal(a, b) for a, b in zip(p1, p2))
    assert torch.equal(l1, l2)


def test_official_vgg_initialisation():
    torch.manual_seed(0)
    model, _ = _small("vgg_aib")
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(bool(((m.weight >= 0) & (m.weight <= 1)).all()) and bool((m.bias == 0).all()) for m in bns)
    assert torch.all(model.attention.mean_net[0].bias == 0)


def test_unknown_names_and_options_list_what_is_valid():
    with pytest.raises(ValueError, match="unknown model 'resnet'; valid models: vgg, vgg_gap"):
        build_model("resnet", 10)
    with pytest.raises(ValueError, match=r"unknown option.*valid options: latent_dim"):
        build_model("vgg_aib", 10, width=0.1, num_anchorz=5)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("vgg", 1)
    with pytest.raises(ValueError, match="width"):
        build_model("vgg", 10, width=0)
    with pytest.raises(ValueError, match="multiple of 32"):
        build_model("vgg_aib", 10, width=0.1, image_size=28)
    with pytest.raises(ValueError, match="depth must be 6n"):
        build_model("wrn", 10, width=0.1, depth=12)
    with pytest.raises(ValueError, match="num_anchors"):
        build_model("vgg_aib_qt", 10, width=0.1, num_anchors=0)


def _meta(name, num_classes):
    with torch.device("meta"):
        return build_model(name, num_classes)


# Table 3 of the paper (M parameters). VGG rows count the state_dict (BN running statistics
# included), WRN and LTPA rows count parameters(): that is how the official numbers were produced.
TABLE3 = [
    ("vgg_att3", 10, False, 19.86), ("vgg_att3", 100, False, 19.99),
    ("vgg_aib", 10, True, 20.05), ("vgg_aib", 100, True, 20.07),
    ("vgg_aib_qt", 10, True, 20.05), ("vgg_aib_qt", 100, True, 20.07),
    ("wrn_abn", 10, False, 64.35), ("wrn_abn", 100, False, 64.48),
    ("wrn_aib", 10, False, 65.00), ("wrn_aib", 100, False, 65.11),
    ("wrn_aib_qt", 10, False, 65.00), ("wrn_aib_qt", 100, False, 65.11),
    ("vgg_aib_qt_cub", 200, False, 24.28),
]


@pytest.mark.parametrize("name,num_classes,buffers,millions", TABLE3)
def test_parameter_counts_reproduce_table3(name, num_classes, buffers, millions):
    model = _meta(name, num_classes)
    assert count_parameters(model, include_buffers=buffers) / 1e6 == pytest.approx(millions, abs=0.005)


def test_cub_wrn_count_is_table3_minus_the_dead_layer():
    # Table 3 says 130.73 M, which includes the official model's unused 20.736 M `tmp_layer`.
    model = _meta("wrn_aib_cub", 200)
    assert count_parameters(model) / 1e6 == pytest.approx(130.7267 - 20.736, abs=0.01)


def test_macs_reproduce_table4_for_vgg_and_the_true_count_for_wrn():
    assert count_macs(_meta("vgg_aib", 10), (1, 3, 32, 32)) / 1e9 == pytest.approx(3.787, abs=0.002)
    assert count_macs(_meta("wrn_aib", 10), (1, 3, 32, 32)) / 1e9 == pytest.approx(12.38, abs=0.01)
    assert count_macs(_meta("vgg_aib_qt_cub", 200), (1, 3, 224, 224)) / 1e9 == pytest.approx(16.737, abs=0.01)


def test_recipes_follow_the_official_code():
    vgg = build_model("vgg_aib", 10, width=0.1)
    wrn = build_model("wrn_aib", 10, width=0.05, depth=10)
    assert vgg.recipe["info_factor"] == 0.5 and wrn.recipe["info_factor"] == 1.0
    assert vgg.recipe["anchor_lr"] == "base" and wrn.recipe["anchor_lr"] == "ratio"
    assert vgg.recipe["loss_units"] == "bits"
    assert build_model("vgg", 10, width=0.1).recipe["loss_units"] == "nats"
    assert build_model("vgg_aib_qt", 10, width=0.1).attention.quantizer.num_anchors == 20
    assert build_model("vgg_aib_qt", 100, width=0.1).attention.quantizer.num_anchors == 50
    assert build_model("wrn_aib_qt", 10, width=0.05, depth=10).attention.quantizer.num_anchors == 50


def test_anchor_group_of_a_built_model():
    model = build_model("vgg_aib_qt", 10, width=0.1)
    groups = param_groups(model, 0.1, anchor_lr="ratio")
    assert [g["name"] for g in groups] == ["weights", "anchors"]
    assert groups[1]["params"][0] is model.attention.quantizer.anchors
