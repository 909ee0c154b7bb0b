"""Tests of aibnb.interpret: modifications, the consistency score, localisation metrics, Grad-CAM."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from aibnb import interpret
from aibnb.models import ModelOutput, build_model

MEAN, STD = (0.5,), (0.25,)


def _images(n: int = 6, c: int = 1, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_models() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    out = {}
    for name in ("vgg", "vgg_aib", "vgg_aib_qt", "vgg_att3"):
        out[name] = build_model(name, 10, width=0.0625, in_channels=1).eval()
    out["wrn_abn"] = build_model("wrn_abn", 10, width=0.05, in_channels=1, depth=10).eval()
    return out


# --- frequency filter ---------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [0.5, 1.0, 3.0, 4.0, 8.0, 12.5])
def test_low_plus_high_reconstructs_the_image(radius: float) -> None:
    x = _images(4, 3)
    low = interpret.frequency_filter(x, radius, "low")
    high = interpret.frequency_filter(x, radius, "high")
    assert low.shape == x.shape and low.dtype == x.dtype
    torch.testing.assert_close(low + high, x, atol=1e-6, rtol=0)


def test_radial_mask_matches_the_reference_loop_of_wang_et_al() -> None:
    # their code: distance of (i, j) to (rows // 2, cols // 2) < r
    for h, w, r in [(32, 32, 4), (31, 28, 5.5), (8, 8, 1)]:
        expected = np.zeros((h, w), dtype=bool)
        for i in range(h):
            for j in range(w):
                expected[i, j] = math.hypot(i - h // 2, j - w // 2) < r
        assert np.array_equal(interpret.radial_mask(h, w, r).numpy(), expected)
    assert int(interpret.radial_mask(32, 32, 4).sum()) == 45  # lattice points strictly inside a radius-4 disc


def test_radius_limits_dc_only_and_everything() -> None:
    x = _images(3, 2)
    # radius <= 1 keeps only the zero frequency: the low-pass image is each channel's mean
    low = interpret.frequency_filter(x, 1.0, "low")
    torch.testing.assert_close(low, x.mean(dim=(2, 3), keepdim=True).expand_as(x), atol=1e-6, rtol=0)
    # a radius beyond the corners keeps everything
    big = interpret.frequency_filter(x, 100.0, "low")
    torch.testing.assert_close(big, x, atol=1e-6, rtol=0)
    assert interpret.frequency_filter(x, 100.0, "high").abs().max() < 1e-6
    # growing the radius moves energy from the high band to the low band
    energy = [interpret.frequency_filter(x, r, "high").pow(2).sum().item() for r in (1, 2, 4, 8, 16)]
    assert all(a >= b for a, b in itertools.pairwise(energy))


def test_rescale_is_per_image_and_channel_min_max_on_256_levels() -> None:
    x = _images(3, 3)
    out = interpret.frequency_filter(x, 4.0, "high", rescale=True)
    flat = out.flatten(2)
    assert torch.allclose(flat.amin(2), torch.zeros(3, 3)) and torch.allclose(flat.amax(2), torch.ones(3, 3))
    torch.testing.assert_close(out * 255, (out * 255).round(), atol=1e-4, rtol=0)
    flat_image = torch.full((1, 1, 8, 8), 0.3)  # a constant image has no high frequencies
    assert interpret.frequency_filter(flat_image, 2.0, "high", rescale=True).abs().max() == 0


@pytest.mark.parametrize("radius", [0, -1.0, float("nan"), True])
def test_frequency_filter_rejects_bad_radius(radius) -> None:
    with pytest.raises(ValueError, match="radius"):
        interpret.frequency_filter(_images(1), radius)


def test_frequency_filter_rejects_bad_band_and_shape() -> None:
    with pytest.raises(ValueError, match="band"):
        interpret.frequency_filter(_images(1), 4, "mid")
    with pytest.raises(ValueError, match="B x C x H x W"):
        interpret.frequency_filter(torch.rand(32, 32), 4)


# --- occlusion ----------------------------------------------------------------------------------


@pytest.mark.parametrize("r", [0.125, 0.25, 0.5, 1.0])
def test_colour_occlusion_geometry(r: float) -> None:
    x = _images(16, 3)
    out, mask = interpret.occlude(x, r, generator=3, return_mask=True)
    side = round(r * 32)
    assert mask.shape == (16, 1, 32, 32)
    assert (mask.sum(dim=(1, 2, 3)) == side * side).all()
    for b in range(16):
        rows = mask[b, 0].any(dim=1).nonzero().flatten()
        cols = mask[b, 0].any(dim=0).nonzero().flatten()
        assert len(rows) == len(cols) == side  # one contiguous square inside the image
        assert rows.max() - rows.min() == side - 1 and cols.max() - cols.min() == side - 1
        inside = out[b][:, mask[b, 0]]
        assert (inside == inside[:, :1]).all()  # one colour per image (per channel)
    keep = ~mask.expand_as(x)
    assert torch.equal(out[keep], x[keep])  # nothing outside the square changes


def test_occlusion_positions_cover_the_image_uniformly() -> None:
    x = torch.zeros(4000, 1, 8, 8)
    _, mask = interpret.occlude(x, 0.25, generator=0, return_mask=True)  # 2 x 2 squares, 7 x 7 positions
    top = mask[:, 0].any(dim=2).float().argmax(dim=1)
    counts = torch.bincount(top, minlength=7).float()
    assert counts.shape == (7,)
    assert (counts - 4000 / 7).abs().max() < 5 * math.sqrt(4000 / 7)


def test_occlusion_is_seeded_and_leaves_the_global_rng_alone() -> None:
    x = _images(8)
    state = torch.random.get_rng_state()
    a = interpret.occlude(x, 0.25, generator=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = interpret.occlude(x, 0.25, generator=torch.Generator().manual_seed(7))
    c = interpret.occlude(x, 0.25, generator=8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_patch_occlusion_pastes_a_window_of_a_source_image() -> None:
    x = torch.zeros(10, 1, 16, 16)
    source = torch.rand(3, 1, 20, 20, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.5
    out, mask = interpret.occlude(x, 0.25, fill="patch", source=source, generator=5, return_mask=True)
    side = 4
    for b in range(10):
        rows = mask[b, 0].any(dim=1).nonzero().flatten()
        cols = mask[b, 0].any(dim=0).nonzero().flatten()
        patch = out[b, 0, rows.min() : rows.min() + side, cols.min() : cols.min() + side]
        windows = source[:, 0].unfold(1, side, 1).unfold(2, side, 1)  # 3 x 17 x 17 x 4 x 4
        assert (windows == patch).flatten(3).all(dim=3).any()  # the patch is some source window
    rgb = interpret.occlude(torch.zeros(2, 3, 16, 16), 0.5, fill="patch", source=source, generator=0)
    assert torch.equal(rgb[:, 0], rgb[:, 1])  # grey sources are repeated over the channels


@pytest.mark.parametrize("r", [0, -0.1, 1.5, float("nan"), "0.5", True])
def test_occlusion_rejects_r_outside_unit_interval(r) -> None:
    with pytest.raises(ValueError, match=r"r must be a number in \(0, 1\]"):
        interpret.occlude(_images(2), r)


def test_occlusion_input_errors() -> None:
    with pytest.raises(ValueError, match="B x C x H x W"):
        interpret.occlude(torch.rand(1, 32, 32), 0.25)
    with pytest.raises(ValueError, match="float"):
        interpret.occlude(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), 0.25)
    with pytest.raises(ValueError, match="source"):
        interpret.occlude(_images(2), 0.25, fill="patch")
    with pytest.raises(ValueError, match="channels"):
        interpret.occlude(_images(2, 1), 0.25, fill="patch", source=_images(2, 3))
    with pytest.raises(ValueError, match="fill"):
        interpret.occlude(_images(2), 0.25, fill="noise")


# --- cosine similarity, Wilson intervals, the score from known maps -----------------------------


def test_cosine_similarity_and_normalisations_on_known_maps() -> None:
    ramp = torch.linspace(0, 1, 16).reshape(1, 1, 4, 4)
    flipped = ramp.flip(-1).flip(-2)
    offset = 10.0
    # identical maps and scaled maps are identical under every normalisation
    for norm in interpret.NORMALIZATIONS:
        assert interpret.cosine_similarity(ramp, 3 * ramp, norm).item() == pytest.approx(1.0, abs=1e-6)
    # a large constant offset makes any two maps look alike to the raw cosine ...
    raw = interpret.cosine_similarity(ramp + offset, flipped + offset, "none").item()
    assert raw > 0.99
    # ... but not once the offset is removed: a reversed ramp is perfectly anti-correlated
    centred = interpret.cosine_similarity(ramp + offset, flipped + offset, "center").item()
    assert centred == pytest.approx(-1, abs=1e-6)
    mm = interpret.cosine_similarity(ramp + offset, flipped + offset, "minmax").item()
    expected = float((ramp.flatten() * flipped.flatten()).sum() / ramp.flatten().pow(2).sum())
    assert mm == pytest.approx(expected, abs=1e-6)
    # constant maps: two of them are identical, one against a structured map is not
    const = torch.full((1, 1, 4, 4), 0.5)
    assert interpret.cosine_similarity(const, const, "minmax").item() == 1.0
    assert interpret.cosine_similarity(const, ramp, "center").item() == 0.0
    with pytest.raises(ValueError, match="normalize"):
        interpret.cosine_similarity(ramp, ramp, "l1")


def test_unrelated_maps_with_an_offset_look_consistent_to_the_raw_cosine() -> None:
    g = torch.Generator().manual_seed(0)
    m_lo, width = 0.6, 0.3  # pixels uniform on [0.6, 0.9]: mean 0.75, variance 0.3^2 / 12
    maps = m_lo + width * torch.rand(400, 1, 16, 16, generator=g)
    mean, var = m_lo + width / 2, width**2 / 12
    limit = mean**2 / (mean**2 + var)  # the raw cosine of two unrelated such maps
    sims = interpret.cosine_similarity(maps, maps.roll(1, dims=0), "none")
    assert sims.mean().item() == pytest.approx(limit, abs=2e-3)
    assert interpret.unrelated_pairs_score(maps, (0.9, 0.95), normalize="none") == (100.0, 100.0)
    assert interpret.unrelated_pairs_score(maps, (0.9, 0.95), normalize="minmax") == (0.0, 0.0)
    assert interpret.unrelated_pairs_score(maps, 0.9, normalize="center") == (0.0,)
    with pytest.raises(ValueError, match="at least 2"):
        interpret.unrelated_pairs_score(maps[:1], 0.9)


def test_wilson_interval_known_values() -> None:
    lo, hi = interpret.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = interpret.wilson_interval(8, 10)
    assert (lo, hi) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))
    assert all(math.isnan(v) for v in interpret.wilson_interval(0, 0))
    with pytest.raises(ValueError):
        interpret.wilson_interval(5, 3)


def test_consistency_from_explanations_counts_by_hand() -> None:
    base = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(5, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    scales = torch.tensor([0.0, 0.05, 0.3, 1.0, 0.0]).view(5, 1, 1, 1)
    modified_maps = base + scales * noise
    logits = torch.eye(3)[[0, 1, 2, 0, 1]] * 5
    changed = logits.clone()
    changed[4] = torch.eye(3)[2] * 5  # the last prediction flips
    orig = interpret.Explanation(logits, base, "mean")
    mod = interpret.Explanation(changed, modified_maps, "mean")
    taus = (0.85, 0.9, 0.95)
    res = interpret.consistency_from_explanations(orig, mod, taus, normalize="center")
    sim = interpret.cosine_similarity(base, modified_maps, "center")
    assert res.num_total == 5 and res.num_consistent == 4
    for tau, score, k in zip(taus, res.scores, res.num_attention_consistent):
        expected = int((sim[:4] > tau).sum())
        assert k == expected and score == pytest.approx(100 * expected / 4)
    assert res.num_attention_consistent[0] >= res.num_attention_consistent[-1]  # monotone in tau
    rows = res.as_rows(model="toy")
    assert len(rows) == 3 and rows[1]["tau"] == 0.9 and rows[1]["model"] == "toy"
    assert all(r["ci_low"] <= r["score"] <= r["ci_high"] for r in rows)
    # per image: "-" where the prediction flipped, else how many taus the cosine exceeds
    code = res.stability_code()
    assert len(code) == 5 and code[4] == "-"
    assert code[:4] == "".join(str(int((sim[i] > torch.tensor(taus)).sum())) for i in range(4))
    levels = interpret.stability_levels(code)
    assert levels[4] == -1 and list(levels[:4]) == [int(c) for c in code[:4]]
    with pytest.raises(ValueError, match="re-score"):
        interpret.stability_levels("12x")


# --- the score on tiny untrained models ---------------------------------------------------------


def test_identity_modification_scores_100(tiny_models) -> None:
    x = _images(12)
    for name, kind in [("vgg_aib", "mean"), ("vgg_aib", "sample"), ("vgg_aib_qt", "quantised"),
                       ("vgg_att3", "mean"), ("wrn_abn", "mean")]:
        res = interpret.consistency_score(tiny_models[name], x, lambda im: im.clone(), (0.9, 1.0 - 1e-6),
                                          mean=MEAN, std=STD, attention=kind)
        assert res.num_consistent == res.num_total == 12, name
        assert res.scores == (100.0, 100.0), (name, kind)


def test_scores_are_percentages_with_counts(tiny_models) -> None:
    x = _images(16)
    def occluded(im):
        return interpret.occlude(im, 0.5, generator=0)

    res = interpret.consistency_score(tiny_models["vgg_aib"], x, occluded, (0.85, 0.9, 0.95), mean=MEAN,
                                      std=STD, normalize="minmax")
    assert 0 <= res.num_consistent <= res.num_total == 16
    for s in res.scores:
        assert math.isnan(s) or 0 <= s <= 100
    assert list(res.num_attention_consistent) == sorted(res.num_attention_consistent, reverse=True)
    assert res.similarity.shape == (16,) and res.prediction_consistent.dtype == bool


def test_explain_is_reproducible_and_keeps_the_global_rng(tiny_models) -> None:
    x = _images(4)
    state = torch.random.get_rng_state()
    a = interpret.explain(tiny_models["vgg_aib"], x, mean=MEAN, std=STD, attention="sample", seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = interpret.explain(tiny_models["vgg_aib"], x, mean=MEAN, std=STD, attention="sample", seed=3)
    c = interpret.explain(tiny_models["vgg_aib"], x, mean=MEAN, std=STD, attention="sample", seed=4)
    assert torch.equal(a.maps, b.maps) and not torch.equal(a.maps, c.maps)
    assert a.maps.shape == (4, 1, 16, 16) and a.kind == "sample"
    own = interpret.explain(tiny_models["vgg_att3"], x, mean=MEAN, std=STD)
    assert own.kind == "own" and own.maps.shape == (4, 1, 32, 32)  # LTPA's finest map
    q = interpret.explain(tiny_models["vgg_aib_qt"], x, mean=MEAN, std=STD, attention="quantised")
    anchors = tiny_models["vgg_aib_qt"].attention.quantizer.anchors.detach()
    assert torch.isin(q.maps, anchors).all() and q.upsample_mode == "nearest"


def test_consistency_score_errors(tiny_models) -> None:
    x = _images(4)
    with pytest.raises(ValueError, match="no attention map"):
        interpret.consistency_score(tiny_models["vgg"], x, lambda im: im, 0.9, mean=MEAN, std=STD)
    for bad in (0, 1.2, -0.5, (0.9, 1.5), ()):
        with pytest.raises(ValueError, match="tau"):
            interpret.consistency_score(tiny_models["vgg_aib"], x, lambda im: im, bad, mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="B x C x H x W"):
        interpret.consistency_score(tiny_models["vgg_aib"], x[0], lambda im: im, 0.9, mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="quantised"):
        interpret.consistency_score(tiny_models["vgg_aib"], x, lambda im: im, 0.9, mean=MEAN, std=STD,
                                    attention="quantised")
    with pytest.raises(ValueError, match="attention must be one of"):
        interpret.consistency_score(tiny_models["vgg_aib"], x, lambda im: im, 0.9, mean=MEAN, std=STD,
                                    attention="mu")
    with pytest.raises(ValueError, match="shape"):
        interpret.consistency_score(tiny_models["vgg_aib"], x, lambda im: im[:2], 0.9, mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="mean and std"):
        interpret.consistency_score(tiny_models["vgg_aib"], x, lambda im: im, 0.9, mean=(0.5, 0.5), std=STD)


def test_plain_models_are_scored_through_grad_cam(tiny_models) -> None:
    x = _images(6)
    res = interpret.consistency_score(tiny_models["vgg"], x, lambda im: im.clone(), 0.9, mean=MEAN, std=STD,
                                      attention=interpret.gradcam_explainer("block4"))
    assert res.kind == "gradcam:block4" and res.num_total == 6


# --- localisation -------------------------------------------------------------------------------


def _square_mask(size: int = 8, lo: int = 2, hi: int = 5) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size, dtype=torch.bool)
    mask[..., lo:hi, lo:hi] = True
    return mask


def test_pointing_game_on_hand_made_maps() -> None:
    mask = _square_mask()
    hit = torch.zeros(1, 1, 8, 8)
    hit[..., 3, 3] = 1.0
    miss = torch.zeros(1, 1, 8, 8)
    miss[..., 0, 7] = 1.0
    plateau = torch.zeros(1, 1, 8, 8)
    plateau[..., 3, 3] = plateau[..., 7, 7] = 1.0  # a tie: one maximum inside, one outside
    assert interpret.pointing_game(hit, mask).item() == 1.0
    assert interpret.pointing_game(miss, mask).item() == 0.0
    assert interpret.pointing_game(plateau, mask).item() == 0.5
    flat = torch.ones(1, 1, 8, 8)  # every pixel is a maximum: the score is the area fraction
    assert interpret.pointing_game(flat, mask).item() == pytest.approx(9 / 64)


def test_relevance_mass_on_hand_made_maps() -> None:
    mask = _square_mask()
    assert interpret.relevance_mass(mask.float(), mask).item() == 1.0
    assert interpret.relevance_mass(torch.ones(1, 1, 8, 8), mask).item() == pytest.approx(9 / 64)
    signed = mask.float() * 2 - 1  # +1 inside, -1 outside: negative values carry no mass
    assert interpret.relevance_mass(signed, mask).item() == 1.0
    half = mask.float() + torch.zeros(1, 1, 8, 8).index_fill_(3, torch.tensor([7]), 9 / 8)
    assert interpret.relevance_mass(half, mask).item() == pytest.approx(0.5)
    assert math.isnan(interpret.relevance_mass(-torch.ones(1, 1, 8, 8), mask).item())


def test_iou_threshold_rules() -> None:
    mask = _square_mask()
    perfect = mask.float() * 0.7 + 0.1
    for rule in ("mask_area", "mean"):
        assert interpret.iou(perfect, mask, rule).item() == 1.0
    shifted = torch.roll(perfect, shifts=1, dims=3)  # 3 x 3 square moved one column: overlap 6
    assert interpret.iou(shifted, mask, "mask_area").item() == pytest.approx(6 / 12)
    assert interpret.iou(perfect, mask, 9 / 64).item() == 1.0  # top fraction = the mask's area
    assert interpret.threshold_maps(perfect, None, 0.5).sum().item() >= 32
    with pytest.raises(ValueError, match="threshold"):
        interpret.iou(perfect, mask, 1.5)


def test_random_maps_point_at_the_mask_with_its_area_fraction() -> None:
    g = torch.Generator().manual_seed(0)
    mask = _square_mask(16, 3, 9).expand(3000, 1, 16, 16)  # area 36 / 256
    maps = torch.rand(3000, 1, 16, 16, generator=g)
    rate = interpret.pointing_game(maps, mask).mean().item()
    p = 36 / 256
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / 3000)
    assert interpret.relevance_mass(maps, mask).mean().item() == pytest.approx(p, abs=0.01)


def test_upsample_and_localisation_scores() -> None:
    maps = torch.arange(4.0).reshape(1, 1, 2, 2)
    near = interpret.upsample(maps, 4, "nearest")
    assert set(near.unique().tolist()) == {0.0, 1.0, 2.0, 3.0} and near.shape == (1, 1, 4, 4)
    bil = interpret.upsample(maps, 4, "bilinear")
    assert len(bil.unique()) > 4 and bil.min() >= 0 and bil.max() <= 3
    with pytest.raises(ValueError, match="mode"):
        interpret.upsample(maps, 4, "bicubic")
    mask = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    mask[..., 2:, 2:] = True  # the quadrant of the value 3
    with pytest.raises(ValueError, match="upsample"):
        interpret.pointing_game(maps, mask)
    res = interpret.localisation_scores(maps, mask, mode="nearest")
    assert res.pointing[0] == 1.0 and res.iou[0] == 1.0 and res.area[0] == 0.25
    assert res.mass[0] == pytest.approx(3 * 4 / (6 * 4))
    summary = res.summary()
    assert summary["pointing"] == 1.0 and summary["pointing_ci"] == 0.0


def test_confident_failures_selection() -> None:
    conf = np.array([0.99, 0.95, 0.5, 0.97, 0.92])
    pointing = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    mass = np.array([0.05, 0.1, 0.0, 0.05, 0.4])
    area = np.full(5, 0.2)
    assert interpret.confident_failures(conf, pointing, mass, area).tolist() == [0, 1]
    assert interpret.confident_failures(conf, pointing, mass, area, limit=1).tolist() == [0]
    with pytest.raises(ValueError, match="min_confidence"):
        interpret.confident_failures(conf, pointing, mass, area, min_confidence=2)
    # a gallery cycles over classes: ranked [a1, a2, a3, b1, c1, b2] -> [a1, b1, c1, a2, b2, a3]
    groups = np.array([0, 0, 0, 1, 2, 1])
    assert interpret.round_robin(np.arange(6), groups).tolist() == [0, 3, 4, 1, 5, 2]
    assert interpret.round_robin(np.array([5, 0]), groups, limit=1).tolist() == [5]


# --- Grad-CAM -----------------------------------------------------------------------------------


class _TwoChannelToy(nn.Module):
    """Channel 0 detects bright pixels, channel 1 is noise the classifier ignores."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(1, 2, 1, bias=False)
        with torch.no_grad():
            self.features.weight.copy_(torch.tensor([[[[1.0]]], [[[0.0]]]]))
        self.classify = nn.Linear(2, 2)
        with torch.no_grad():
            self.classify.weight.copy_(torch.tensor([[5.0, 0.0], [-5.0, 0.0]]))
            self.classify.bias.zero_()

    def forward(self, x: torch.Tensor, num_samples: int | None = None) -> ModelOutput:
        f = self.features(x) + torch.stack([torch.zeros_like(x[:, 0]), torch.rand_like(x[:, 0])], 1)
        return ModelOutput(logits=self.classify(f.mean(dim=(2, 3))))


def test_grad_cam_highlights_the_synthetic_feature() -> None:
    torch.manual_seed(0)
    x = torch.zeros(3, 1, 12, 12)
    for b, (r, c) in enumerate([(1, 1), (5, 7), (8, 2)]):
        x[b, 0, r : r + 3, c : c + 3] = 1.0
    model = _TwoChannelToy()
    logits, cam = interpret.grad_cam(model, x, "features", target=[0, 0, 0])
    assert logits.shape == (3, 2) and cam.shape == (3, 1, 12, 12)
    square = x.bool()
    assert interpret.pointing_game(cam, square).eq(1).all()
    assert interpret.relevance_mass(cam, square).min() > 0.999  # the noise channel gets zero weight
    assert not model._forward_hooks and not model.features._forward_hooks  # hook removed
    assert all(p.grad is None for p in model.parameters())  # no parameter gradients


def test_grad_cam_shapes_on_the_book_models(tiny_models) -> None:
    x = (_images(3) - 0.5) / 0.25
    for name, layer, size in [("vgg", "block4", 16), ("vgg_aib", "features", 16), ("wrn_abn", "stem", 16),
                              ("vgg_att3", "block4", 16)]:
        model = tiny_models[name]
        assert interpret.default_layer(model) == layer
        logits, cam = interpret.grad_cam(model, x, layer)
        assert cam.shape == (3, 1, size, size) and (cam >= 0).all(), name
        assert logits.shape == (3, 10)
    with pytest.raises(ValueError, match="not a submodule"):
        interpret.grad_cam(tiny_models["vgg"], x, "block9")
    with pytest.raises(ValueError, match="target"):
        interpret.grad_cam(tiny_models["vgg"], x, "block4", target=[1, 2])


# --- the Table 2 protocol and its stored format --------------------------------------------------


def test_table2_conditions_and_rows(tiny_models) -> None:
    conds = interpret.table2_conditions()
    names = [c.name for c in conds]
    assert names[:4] == ["colour r=0.125", "colour r=0.25", "colour r=0.375", "colour r=0.5"]
    assert names[-2:] == ["high-pass r=4", "low-pass r=8"] and len(set(names)) == 10
    with pytest.raises(ValueError, match="fill"):
        interpret.Condition("occlusion", fill="noise", r=0.2)
    labels = torch.zeros(8, dtype=torch.long)
    data = interpret.EvalData(_images(8), labels, None, MEAN, STD, ["a"] * 10, "toy")
    options = {"taus": (0.85, 0.9), "normalize": ["none", "minmax"], "source": _images(4),
               "labels": {"model": "vgg_aib", "seed": 0}}
    rows, codes = interpret.table2_outcomes(tiny_models["vgg_aib"], data, conds[:1] + conds[-1:], **options)
    assert rows == interpret.table2_rows(tiny_models["vgg_aib"], data, conds[:1] + conds[-1:], **options)
    assert len(rows) == 2 * 2 * 2 and {r["normalize"] for r in rows} == {"none", "minmax"}
    # every row's counts follow from the per-image stability codes
    for row in rows:
        levels = interpret.stability_levels(codes[row["normalize"]][row["condition"]])
        assert len(levels) == 8 and int((levels >= 0).sum()) == row["num_consistent"]
        assert int((levels >= (1 if row["tau"] == 0.85 else 2)).sum()) == row["num_attention_consistent"]
    rows = [r for r in rows if r["tau"] == 0.9]
    assert all(set(interpret.TABLE2_KEYS) <= set(r) for r in rows)


def test_load_eval_data_is_the_engines_test_subset_in_pixel_space(monkeypatch) -> None:
    from aibnb import data as data_mod
    from aibnb.data import TensorData
    from aibnb.train.build import SUBSET_SEED

    g = torch.Generator().manual_seed(0)
    full = TensorData(torch.randint(0, 256, (3000, 1, 32, 32), generator=g, dtype=torch.uint8),
                      torch.arange(3000) % 10, [str(i) for i in range(10)], (0.2,), (0.3,), "toy", "test")
    monkeypatch.setattr(data_mod, "load_tensors", lambda name, split, **_: full)
    engine_subset = full.subset(2000, seed=SUBSET_SEED)  # what fit() tests a ci run on
    data = interpret.load_eval_data("toy", 50, profile="ci")
    assert data.images.shape == (50, 1, 32, 32) and data.images.dtype == torch.float32
    assert torch.equal(data.images, engine_subset.images[:50].float() / 255)
    assert torch.equal(data.labels, engine_subset.labels[:50])
    assert data.masks is None and data.mean == (0.2,) and len(data) == 50
    assert len(interpret.load_eval_data("toy", None, profile="full")) == 3000  # full: every test image
    with pytest.raises(ValueError, match="n must be"):
        interpret.load_eval_data("toy", 0)


def test_score_record_on_plain_and_cluttered_data(scorable_run) -> None:
    conds = interpret.table2_conditions()
    scores = interpret.score_record(scorable_run("vgg_aib", "fashion_mnist"), source=_images(3),
                                    conditions=[conds[0], conds[-1]], posthoc_images=4)
    assert scores["scorer"] == interpret.SCORER_VERSION
    assert scores["attention"] == "mean" and scores["localisation"] is None
    table = scores["table2"]
    assert len(table["rows"]) == 2 * 2 * 3 and len(table["control"]) == 2 * 3  # conditions x norms x taus
    assert {len(code) for codes in table["per_image"].values() for code in codes.values()} == {12}
    assert set(table["per_image"]) == {"none", "minmax"} and len(table["per_image"]["none"]) == 2
    gathered = interpret.table2_from_scores([scores, scores], "fashion_mnist")
    assert len(gathered["rows"]) == 24
    with pytest.raises(ValueError, match="no own-map Table 2 scores"):
        interpret.table2_from_scores([scores], "cifar10")
    # the post-hoc maps: 4 images, under the four post-hoc modifications
    posthoc = scores["posthoc"]
    assert posthoc["num_images"] == 4 and set(posthoc) == {"num_images", "gradcam", "bottleneck"}
    assert len(posthoc["bottleneck"]["rows"]) == 4 * 2 * 3
    assert {len(code) for code in posthoc["gradcam"]["per_image"]["none"].values()} == {4}
    gradcam_rows = interpret.table2_from_scores([scores], "fashion_mnist", map="gradcam")["rows"]
    assert {r["map"] for r in gradcam_rows} == {"gradcam"}
    loc_scores = interpret.score_record(scorable_run("vgg_aib_qt", "cluttered_fashion"), posthoc_images=4)
    loc, post = loc_scores["localisation"], loc_scores["posthoc"]
    assert loc["own"]["kind"] == "quantised" and post["gradcam"]["kind"].startswith("gradcam")
    assert len(loc["own"]["per_image"]["pointing"]) == 12
    assert len(post["bottleneck"]["per_image"]["mass"]) == 4
    for part in (loc["own"], post["gradcam"], post["bottleneck"]):
        for key in ("pointing", "mass", "iou"):  # an untrained Grad-CAM may have no positive mass
            value = part["raw"][key]
            assert 0 <= value <= 1 or (key == "mass" and part is post["gradcam"] and np.isnan(value)), key
    assert loc["area"] == pytest.approx(144 / 1024)
    plain = interpret.score_record(scorable_run("vgg", "fashion_mnist"), posthoc_images=0)
    assert plain["attention"] is None and plain["table2"] is None and plain["posthoc"] is None
    gap_run = scorable_run("vgg_gap", "fashion_mnist")
    gap = interpret.score_record(gap_run, source=_images(3), posthoc_images=2)
    assert gap["table2"] is None and set(gap["posthoc"]) == {"num_images", "gradcam", "bottleneck", "cam"}
    assert interpret.map_kind("wrn_abn") == "mean" and interpret.map_kind("vgg_dvib") is None
