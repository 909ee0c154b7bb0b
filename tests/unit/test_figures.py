"""aibnb.figures: the book's tables, galleries, style and the chapters' figures (drawn, not looked at)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from aibnb.figures import grids, style, tables


def test_display_names_rename_code_names_and_keep_the_rest() -> None:
    assert tables.display_name("vgg_aib_qt") == "VGG-aib-qt"
    assert tables.display_name("batch_size") == "batch size"
    assert tables.display_name("warmup_epochs") == "warm-up epochs"
    assert tables.display_name("test_info_bits") == "KL term (bits)"
    assert tables.display_name("anything else") == "anything else"


def test_cells_write_mean_sd_and_intervals_one_way() -> None:
    assert tables.mean_sd_text([13.0, 14.0, 15.0]) == "14.00 ± 1.00"
    assert tables.mean_sd_text([13.0, None, float("nan")]) == "13.00"
    assert tables.mean_sd_text([]) == "–"
    low, high = (float(v) for v in tables.interval_text([13.0, 14.0, 15.0]).split(" to "))
    assert low == pytest.approx(14.0 - 4.303 / math.sqrt(3), abs=1e-2) and high == pytest.approx(28.0 - low)
    assert tables.interval_text([1.0]) == "–"
    assert tables.pm(1.234, 0.5) == "1.2 ± 0.5" and tables.pm(1.234, float("nan")) == "1.2"
    assert tables.pm(float("nan"), 1.0) == "–"


def test_mean_sd_frames_and_pm_frame() -> None:
    frame = pd.DataFrame({"model": ["vgg_aib"] * 4, "condition": ["a", "a", "b", "b"], "score": [1, 3, 5, 7]})
    mean, sd = tables.mean_sd(frame, ("model", "condition"), "score", ["b", "a"])
    assert list(mean.columns) == ["b", "a"] and mean.loc["vgg_aib", "a"] == 2
    shown = tables.pm_frame(mean, sd)
    assert shown.loc["VGG-aib", "b"] == "6.0 ± 1.4"


def test_book_table_renames_formats_and_identifies() -> None:
    frame = pd.DataFrame(
        {"test_error": [12.345, None], "seed": [0, 1]}, index=pd.Index(["vgg", "vgg_dvib"], name="model")
    )
    html = tables.book_table(frame, caption="A whole caption", precision=2, table_id="x").to_html()
    assert 'class="aibnb-table"' in html and 'data-aibnb-table="x"' in html
    assert "test error (%)" in html and "VGG-DVIB" in html and "12.35" in html and "–" in html
    assert "<caption>A whole caption</caption>" in html
    numbers = pd.DataFrame({"v": [1.0]}, index=pd.Index([0.01], name="beta"))
    assert "0.01" in tables.book_table(numbers, caption="c").format_index("{:g}").to_html()
    gaps = tables.departures_table({"batch_size": (64, 128)}, caption="c").to_html()
    assert "batch size" in gaps and "128" in gaps
    check = tables.comparison_table({"a": 1.0}, {"a": 1.5}, ["a"], caption="c").to_html()
    assert "0.5000" in check


def test_map_grid_draws_images_and_rows_on_one_scale() -> None:
    images = np.random.default_rng(0).integers(0, 255, (3, 1, 32, 32), dtype=np.uint8)
    maps = np.random.default_rng(1).random((3, 1, 16, 16))
    fig = grids.map_grid(
        images,
        [maps, maps],
        ["μ_a", "sample"],
        labels=[0, 1, 2],
        predictions=[0, 2, 2],
        classes=["a", "b", "c"],
        masks=np.ones((3, 1, 32, 32), bool),
        anchors=[0.2, 0.8],
        row_notes=[["x", "", ""], ["", "", ""]],
    )
    shown = [im for ax in fig.axes for im in ax.get_images()]
    assert len(shown) == 9
    assert {
        im.get_clim()
        for im in shown[1:]
        if im.get_array().shape == (32, 32) and im.get_cmap().name == "viridis"
    } == {style.ATTENTION_RANGE}
    assert any(ax.get_title().endswith("→ c") for ax in fig.axes)  # the wrong prediction named
    plt.close(fig)
    with pytest.raises(ValueError, match="each row needs"):
        grids.map_grid(images, [maps[:2]], ["μ_a"])
    assert grids.enlarge(np.ones((2, 2)), (4, 4)).shape == (4, 4)


def test_use_book_style_sets_legible_fonts() -> None:
    style.use_book_style()
    assert plt.rcParams["font.size"] >= 8 and plt.rcParams["xtick.labelsize"] >= 7


def test_chapter_one_tables_and_plane() -> None:
    from aibnb import bounds
    from aibnb.figures import bounds as figs

    source = bounds.GaussianSource(
        cov_x=[[1.0, 0.3], [0.3, 1.0]], label_map=[[1.0, 0.0], [0.0, 0.5]], label_noise_cov=np.eye(2)
    )
    channel = bounds.LinearGaussianChannel(source, encoder=np.eye(2), noise_cov=0.5 * np.eye(2))
    rng = np.random.default_rng(0)
    exact, table = figs.truth_table(channel, 20_000, rng)
    assert (table["|MC − exact| / SE"] < 5).all() and exact["zx"] == pytest.approx(exact["zxa"])
    priors = {f: bounds.best_gaussian_prior(channel, f) for f in ("standard", "full")}
    rate = figs.rate_table(channel, priors, exact["zxa"], 20_000, rng, 32)
    assert rate.loc["full", "gap = bound − I(Z;X,A)"] == pytest.approx(0.0, abs=1e-9)
    decoder = figs.decoder_table(channel, {"Bayes": channel.bayes_decoder()}, 20_000, rng, 32)
    assert decoder.loc["Bayes", "gap = I(Z;Y) − bound"] == pytest.approx(0.0, abs=1e-9)
    fig = figs.bounds_figure(
        rate, decoder, {"I(Z;X,A)": exact["zxa"]}, {"I(Z;Y)": exact["zy"]}, rate_title="r", decoder_title="d"
    )
    plt.close(fig)
    fits = [bounds.fit_linear_vib(source, beta, steps=20, seed=0) for beta in (0.1, 0.3)]
    sweep = pd.DataFrame([f.summary() for f in fits]).set_index("beta")
    plane = figs.InformationPlane(bounds.GaussianIB.from_source(source), source, fits, sweep)
    plt.close(plane.figure())
    panel = plane.panel(fits[0], "profile ci")
    assert len(panel.axes) == 3
    plt.close(panel)
    cov = plane.posterior_cov(fits[0].channel)
    assert np.all(np.linalg.eigvalsh(cov) > 0) and np.all(np.linalg.eigvalsh(source.cov_x - cov) >= -1e-12)


def test_chapter_two_and_three_figures() -> None:
    from aibnb.figures import quantiser, vib
    from aibnb.quantize import soft_quantize

    sigmas = [0.01, 0.1]
    index = pd.MultiIndex.from_product([("μ", "σ"), sigmas], names=["gradient", "σ"])
    variance = pd.DataFrame({"pathwise": 1.0, "score": 10.0, "score + baseline": 3.0}, index=index)
    plt.close(vib.estimator_variance_figure(variance, sigmas))
    plane = pd.DataFrame(
        {
            "epoch": [1, 2],
            "train_info_bits": [100.0, 50.0],
            "train_izy_bits": [1.0, 2.0],
            "val_info_bits": [90.0, 40.0],
            "val_izy_bits": [1.1, 2.1],
        }
    )
    lab = pd.DataFrame({"beta": [0.01, 1.0], "kl_bits": [5.0, 0.2], "izy_bits": [2.8, 2.5]})
    plt.close(vib.training_plane_figure(plane, lab))
    grid = torch.linspace(0, 1, 101, dtype=torch.float64)
    anchors = torch.linspace(0, 1, 5, dtype=torch.float64)
    derivs = {0.1: torch.ones_like(grid)}
    plt.close(quantiser.ste_figure(grid, anchors, derivs, spacing=0.25, soft_quantize=soft_quantize))
    bits = pd.DataFrame(
        {
            "K": [2, 20],
            "pooled bits": [100.0, 300.0],
            "cap H·W·log2 K": [256.0, 256 * math.log2(20)],
            "H·W·log2 perplexity": [90.0, 280.0],
            "KL term (bits)": [5.0, 5.0],
        }
    )
    fig = quantiser.anchor_cap_figure(bits)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["2", "20"]  # no 2×10⁰ labels
    plt.close(fig)


def test_chapter_five_tables() -> None:
    from types import SimpleNamespace

    from aibnb.figures import interpret

    run = SimpleNamespace(
        final={"test_error": 90.4, "confusion": [[0, 5], [0, 5]]},
        metrics=[{"train_info_bits": 2.0}, {"train_info_bits": 0.0001}],
    )

    table = interpret.scene_error_table({"vgg_aib": {0: run, 2: run}}, {"vgg_aib": {2: run}}, [0, 1, 2])
    assert table.loc["VGG-aib", "seed 1"] == "–" and table.loc["VGG-aib", "seed 2"].endswith(
        "(did not learn)"
    )
    assert "gives one class to 100 % of the scenes" in interpret.collapse_sentence("vgg_aib", 2, run)
    settings = [
        {
            "group": g,
            "value": v,
            "label": f"x={v}",
            "pointing": 0.3,
            "pointing_ci": 0.1,
            "mass_structure": 0.2,
            "mass_structure_ci": 0.1,
            "iou": 0.2,
            "iou_ci": 0.1,
            "test_error": 50.0,
            "area": 0.2,
        }
        for g in ("beta", "anchors")
        for v in (2, 20)
    ]
    fig = interpret.sweep_localisation_figure(settings)
    assert "accuracy" in " ".join(t.get_text() for t in fig.axes[1].get_legend().get_texts())
    plt.close(fig)
