"""aibnb.figures.training: chapter 4's figures and tables, on made-up run records."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from aibnb import runs
from aibnb.figures import training
from aibnb.provenance import devices_phrase
from aibnb.reproduce.paper import load_paper
from aibnb.train import TrainConfig, resolve

CLASSES = ["T-shirt/top", "Trouser", "Ankle boot"]


def _confusion(error: float, n: int = 100) -> list[list[int]]:
    """A 3-class confusion matrix over ``n`` images with ``error`` % wrong, all of them class 0 as 1."""
    wrong = round(n * error / 100)
    per = n // 3
    rows = [[per, 0, 0], [0, per, 0], [0, 0, n - 2 * per]]
    rows[0] = [per - wrong, wrong, 0]
    return rows


def _record(tmp_path, model: str, seed: int, error: float, *, epochs: int = 4, device: str | None = None):
    """A finished run folder: config.json (with the model facts), metrics and final numbers."""
    path = tmp_path / f"{model}-{seed}"
    path.mkdir()
    config = {"model": model, "dataset": "fashion_mnist", "seed": seed, "profile": "ci", "epochs": epochs,
              "width": 0.25}
    (path / "config.json").write_text(json.dumps({
        "config": config,
        "model": {"classes": CLASSES, "image_size": 28, "in_channels": 1, "test_size": 100},
    }))
    conf = _confusion(error)
    final = {"test_error": error, "best_epoch": epochs - 1, "wall_time_s": 10.0 + seed,
             "confusion": conf, "test_acc": float(np.trace(conf) / 100), "train_eval_error": error - 1.0}
    metrics = [{"epoch": e, "val_acc": 0.5 + 0.1 * e - 0.01 * seed, "train_acc": 0.6 + 0.05 * e,
                "train_images_per_s": 100.0 * (e + 1)} for e in range(1, epochs + 1)]
    provenance = {"device": device or f"cpu ({1 + seed % 2} threads, x86_64, AVX2)"}
    return runs.RunRecord(path=path, config=config, metrics=metrics, final=final, provenance=provenance)


@pytest.fixture
def by_model(tmp_path):
    """``{model: {seed: record}}`` of two models and two seeds, VGG-aib a point better."""
    return {m: {s: _record(tmp_path, m, s, err + s) for s in (0, 1)}
            for m, err in (("vgg", 12.0), ("vgg_aib", 11.0))}


def test_lab_table1_frame_has_one_row_per_model_with_its_numbers(by_model):
    frame = training.lab_table1_frame(by_model, {"vgg": 6.5}, {"vgg": "VGG", "vgg_aib": "VGG-aib"})
    assert list(frame.index) == ["VGG", "VGG-aib"]
    assert frame.loc["VGG", "test error (%), mean ± sd"] == "12.50 ± 0.71"
    assert frame.loc["VGG", "seeds"] == "0–1"
    assert frame.loc["VGG", "best epoch (median)"] == "3 of 4"
    assert frame.loc["VGG-aib", "flat at the end"] == "0 of 2"  # still rising by 10 points an epoch
    assert frame.loc["VGG", "regime"].startswith("underfit: gap +1.0")
    assert frame.loc["VGG", "paper, CIFAR-10 (%, context)"] == "6.50"
    assert frame.loc["VGG-aib", "paper, CIFAR-10 (%, context)"] == "–"


def test_curves_figures_draw_one_line_per_seed_or_model(by_model):
    fig = training.lab_curves_figure(by_model, {"vgg": "VGG"})
    assert len(fig.axes) == 4 and [len(ax.lines) for ax in fig.axes[:2]] == [2, 2]
    assert fig.axes[0].get_title() == "VGG" and fig.axes[1].get_title() == "vgg_aib"
    assert not fig.axes[2].axison  # the unused panels are blank
    plt.close(fig)
    empty = training.lab_curves_figure({}, {})
    assert "no stored lab run yet" in empty.axes[0].texts[0].get_text()
    plt.close(empty)
    live = training.live_curves_figure(by_model)
    assert len(live.axes) == 1 and live.axes[0].get_title() == "VGG family"
    styles = {line.get_label(): line.get_linestyle() for line in live.axes[0].lines}
    assert styles == {"vgg": "--", "vgg_aib": "-"}  # the AIB model solid
    np.testing.assert_allclose(live.axes[0].lines[0].get_ydata(), [59.5, 69.5, 79.5, 89.5])  # seed mean
    plt.close(live)


def test_run_log_and_departures_frames(by_model):
    recs = [by_model["vgg"][0], by_model["vgg_aib"][1]]
    specs = [{"model": r.config["model"], "dataset": "fashion_mnist", "seed": r.config["seed"]} for r in recs]
    log = training.run_log_frame(specs, recs, [True, False])
    assert list(log["test error (%)"]) == [12.0, 12.0] and list(log["trained now"]) == [False, True]
    with pytest.raises(ValueError, match="one of each per run"):
        training.run_log_frame(specs, recs[:1], [True])
    configs = {m: resolve(TrainConfig(model=m, dataset="fashion_mnist", profile="ci"))
               for m in ("vgg", "vgg_aib", "wrn")}
    groups = training.grouped_departures_frame(configs)
    assert list(groups.index) == ["vgg, vgg_aib", "wrn"]  # the VGGs depart alike, the WRN in its width
    assert groups.loc["wrn", "width"] != groups.loc["vgg, vgg_aib", "width"]
    assert groups.loc["wrn", "epochs"] == "2 (official 200)"


def test_table1_figure_puts_our_errors_beside_the_paper_s(by_model):
    errors = {m: {s: r.final["test_error"] for s, r in recs.items()} for m, recs in by_model.items()}
    fig = training.table1_figure(errors, {"vgg": 6.5, "vgg_aib": 5.0}, dataset="fashion_mnist",
                                 paper_label="CIFAR-10", profile="ci", same_data=False, rho=1.0)
    ours, paper = fig.axes
    assert [p.get_width() for p in ours.patches] == [12.5, 11.5]
    assert [p.get_width() for p in paper.patches] == [6.5, 5.0]
    assert [t.get_text() for t in ours.get_yticklabels()] == ["vgg", "vgg_aib"]
    assert "context" in paper.get_title() and "1.00" in fig._suptitle.get_text()
    plt.close(fig)


def _samples(rng, images):
    return {"images": images, "labels": np.array([0, 1, 2, 0]), "predictions": np.array([0, 2, 2, 0]),
            "attention": rng.random((4, 1, 7, 7)).astype(np.float16)}


def test_attention_gallery_draws_a_row_per_model_on_one_scale():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (4, 1, 28, 28), dtype=np.uint8)
    samples = {"vgg_aib": _samples(rng, images), "wrn_abn": _samples(rng, images)}
    fig = training.attention_gallery(samples, [0, 1, 2], training.short_class_names(CLASSES), title="maps")
    maps = [im for ax in fig.axes for im in ax.get_images() if im.get_cmap().name == "viridis"]
    assert len(maps) == 6 and {im.get_clim() for im in maps} == {(0.0, 1.0)}
    notes = [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    assert notes.count("✗ Boot") == 2 and notes.count("T-shirt") == 2  # image 1 is a trouser taken for a boot
    assert [ax.get_ylabel() for ax in fig.axes[:9:3]] == ["image", "vgg_aib", "wrn_abn"]
    plt.close(fig)
    soft = training.attention_gallery({"vgg_att2": samples["vgg_aib"]}, [0], CLASSES, softmax=True)
    (shown,) = [im for ax in soft.axes for im in ax.get_images() if im.get_cmap().name == "RdBu_r"]
    assert shown.get_clim() == (-2.0, 2.0)
    a = samples["vgg_aib"]["attention"][0, 0].astype(np.float32)
    np.testing.assert_allclose(shown.get_array(), np.log10(np.maximum(a * 49, 1e-3)), rtol=1e-6)
    plt.close(soft)
    other = {**samples, "wrn_abn": _samples(rng, images[::-1].copy())}
    with pytest.raises(ValueError, match="other test images"):
        training.attention_gallery(other, [0], CLASSES)


def test_confusion_matrices_are_summed_checked_and_drawn(by_model):
    matrices = training.confusion_matrices(by_model)
    assert matrices["vgg"].sum() == 200 and matrices["vgg"][0, 1] == 25  # 12 + 13 wrong
    fig = training.confusion_figure(matrices, training.short_class_names(CLASSES), title="confusion")
    assert fig.axes[0].get_title() == "vgg: error 12.5 %"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["T-shirt", "Trouser", "Boot"]
    plt.close(fig)
    assert training.most_confused(matrices) == (0, 1, pytest.approx(48 / 132))
    broken = by_model["vgg"][0]
    broken.final["test_acc"] = 0.5
    with pytest.raises(ValueError, match="disagrees with"):
        training.confusion_matrices({"vgg": {0: broken}})


def test_shift_frame_costs_the_shift_in_points(by_model):
    inside = {m: {s: r.final["test_error"] for s, r in recs.items()} for m, recs in by_model.items()}
    frame = training.shift_frame(inside, {"vgg": {0: 80.0, 1: 82.0}}, {"vgg": "52.10∗"})
    assert list(frame.index) == ["vgg"]
    assert frame.loc["vgg", "shift cost (points)"] == pytest.approx(81.0 - 12.5)
    assert frame.loc["vgg", "shifted error"] == "81.00 ± 1.41"
    assert frame.loc["vgg", "paper STL-10 (context)"] == "52.10∗"


def test_devices_phrase_names_thread_counts_or_the_devices(by_model):
    assert devices_phrase(by_model["vgg"].values()) == "cpu, 1 or 2 threads"
    assert devices_phrase([by_model["vgg"][0]]) == "cpu, 1 thread"
    gpu = runs.RunRecord(path=by_model["vgg"][0].path, config={}, provenance={"device": "cuda (H100)"})
    assert devices_phrase([gpu, by_model["vgg"][0]]) == "cpu (1 threads, x86_64, AVX2); cuda (H100)"


def test_speed_frame_measures_each_model(tmp_path, monkeypatch):
    import torch

    rec = _record(tmp_path, "vgg", 0, 12.0)
    monkeypatch.setattr(training, "load_model", lambda r, device: torch.nn.Linear(4, 2))
    monkeypatch.setattr(training, "inference_ms_per_image", lambda model, batch, **kw: 1.0 / batch)
    frame = training.speed_frame({"vgg": [rec]}, "cpu")
    assert frame.loc["vgg", "parameters (k)"] == pytest.approx(0.01)
    assert frame.loc["vgg", "ms/image, batch 256"] == pytest.approx(1 / 256)
    assert frame.loc["vgg", "training images/s"] == pytest.approx(350.0)  # 200 to 500 over four epochs
    assert frame.loc["vgg", "runs' device"] == "cpu, 1 thread"
    assert set(training.SPEED_FORMATS) <= set(frame.columns)


def test_full_tier_frame_and_figure_set_stored_runs_beside_the_live_ones():
    stored_rows = pd.DataFrame({"model": ["vgg", "vgg", "wrn"], "test_error": [6.0, 7.0, 5.0],
                                "epochs": [200, 200, 200], "device": ["cuda (A)"] * 3,
                                "commit": ["abcdef1234567890"] * 3})
    stored = {"cifar10": (stored_rows, {"file": "table1_cifar10.json"})}
    live = {"cifar10": {"vgg": {0: 30.0, 1: 32.0}}}
    frame = training.full_tier_frame(stored, ["vgg"], live, profile="ci", paper=load_paper())
    row = frame.loc[("cifar10", "vgg")]
    assert row["full (mean ± std)"] == "6.50 ± 0.71" and row["n"] == 2 and row["epochs"] == "200"
    assert row["commit"] == "abcdef123456" and row["ci here (mean ± std)"] == "31.00 ± 1.41"
    assert row["paper (same dataset)"] != "–"
    assert training.full_tier_frame({}, ["vgg"], {}, profile="ci", paper=load_paper()).empty
    fig = training.full_tier_figure(stored, ["vgg"], live, profile="ci")
    (ax,) = fig.axes
    assert [p.get_width() for p in ax.patches] == [6.5, 31.0]
    assert "cuda (A)" in ax.get_title() and "abcdef12" in ax.get_title()
    plt.close(fig)
