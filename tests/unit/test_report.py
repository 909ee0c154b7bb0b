"""Chapter 4's reporting helpers: the paper as data, mean ± std, claims, cost, stored GPU results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from aibnb import report, runs
from aibnb.runs import RunRecord
from aibnb.train import load_model

TINY = {  # a few seconds on CPU: scikit-learn's bundled digits, width 1/16
    "model": "vgg",
    "dataset": "digits",
    "width": 0.0625,
    "train_subset": 256,
    "val_subset": 64,
    "test_subset": 64,
    "epochs": 1,
    "batch_size": 64,
    "quiet": True,
    "save_attention": 0,
    "num_threads": 1,
}


pytestmark = pytest.mark.usefixtures("isolated_runs")


def fake_record(tmp_path: Path, model: str, seed: int, error: float, **config) -> RunRecord:
    """A finished run record without training (what the helpers read from a run folder)."""
    cfg = {"model": model, "dataset": "cifar10", "seed": seed, "epochs": 200, "beta": 0.0, **config}
    final = {"test_error": error, "best_epoch": 7, "num_anchors": None}
    prov = {"device": "cuda (a GPU)", "commit": "abc123", "created": "2026-01-01T00:00:00+00:00"}
    return RunRecord(path=tmp_path / f"{model}-{seed}", config=cfg, final=final, provenance=prov)


# --- the paper as data ---------------------------------------------------------------------------


def test_paper_json_holds_the_papers_tables():
    paper = report.load_paper()
    table = report.paper_table1(paper)
    assert len(table) == 12 and table.loc["VGG-aib", "cifar10"] == 4.28
    assert math.isnan(table.loc["WRN", "svhn"])  # a dash in the paper
    assert pd.isna(table.loc["VGG-PAN", "model"])  # no implementation here
    # every Table 1 model of the registry has a row, in the paper's order
    assert [m for m in table["model"] if isinstance(m, str)] == list(report.TABLE1_MODELS)
    stars = report.paper_table1(paper, with_stars=True)
    assert stars.loc["VGG-DVIB", "cifar10"] == "4.64∗" and stars.loc["WRN-ABN", "cifar100"] == "18.12"
    assert report.paper_error("wrn_aib_qt", "stl10_test", paper) == 50.49
    assert report.paper_error("vgg", "svhn", paper) == 4.27
    with pytest.raises(ValueError, match="column must be one of"):
        report.paper_error("vgg", "imagenet", paper)


def test_load_paper_rejects_a_row_without_every_column(tmp_path):
    paper = json.loads(report.paper_file().read_text())
    del paper["table1"]["rows"][0]["errors"]["svhn"]
    bad = tmp_path / "paper.json"
    bad.write_text(json.dumps(paper))
    with pytest.raises(ValueError, match="must give every column"):
        report.load_paper(bad)
    with pytest.raises(FileNotFoundError, match="paper's numbers"):
        report.load_paper(tmp_path / "absent.json")


def test_our_cost_counts_reproduce_the_papers_table3_and_the_true_wrn_macs():
    """Built at width 1 on the meta device: Table 3 to 0.01 M in the paper's own conventions."""
    paper = report.load_paper()
    ours = report.cost_table(["vgg_att3", "vgg_aib", "vgg_aib_qt", "wrn_abn", "wrn_aib", "wrn_aib_qt"])
    theirs = report.paper_cost_table(paper)
    for model, row in theirs.iterrows():
        column = "state_dict (M)" if row["paper convention"] == "state_dict" else "parameters (M)"
        assert abs(ours.loc[model, column] - row["paper parameters (M)"]) < 0.01, model
    # Table 4: VGG-aib's thop MACs are the true count; WRN's are inflated by double counting
    assert abs(ours.loc["vgg_aib", "MACs (G)"] - theirs.loc["vgg_aib", "paper 'FLOPs' (G)"]) < 0.01
    assert abs(ours.loc["wrn_aib", "MACs (G)"] - 12.38) < 0.01
    assert theirs.loc["wrn_aib", "paper 'FLOPs' (G)"] > 3 * ours.loc["wrn_aib", "MACs (G)"]
    with pytest.raises(ValueError, match="no cost rows"):
        report.paper_cost_table(paper, input_size=64)


# --- mean ± std ----------------------------------------------------------------------------------


def test_summarize_gives_the_sample_std_and_counts():
    s = report.summarize([1.0, 2.0, 3.0])
    assert s.mean == 2.0 and s.std == 1.0 and s.n == 3  # ddof = 1
    assert str(s) == "2.00 ± 1.00"
    one = report.summarize([4.5])
    assert one.n == 1 and math.isnan(one.std) and one.format() == "4.50 (n=1)"
    with pytest.raises(ValueError, match="empty"):
        report.summarize([])
    with pytest.raises(ValueError, match="finite"):
        report.summarize([1.0, float("nan")])


def test_errors_by_model_reads_one_error_per_model_and_seed(tmp_path):
    recs = [fake_record(tmp_path, "vgg", s, 10.0 + s) for s in (0, 1)]
    recs.append(fake_record(tmp_path, "wrn", 0, 5.0))
    assert report.errors_by_model(recs) == {"vgg": {0: 10.0, 1: 11.0}, "wrn": {0: 5.0}}
    with pytest.raises(ValueError, match="two runs of vgg with seed 0"):
        report.errors_by_model([*recs, fake_record(tmp_path, "vgg", 0, 9.0)])
    unfinished = RunRecord(path=tmp_path / "x", config={"model": "vgg", "seed": 0})
    with pytest.raises(ValueError, match="has not finished"):
        report.errors_by_model([unfinished])


def test_results_table_follows_table1_and_shows_the_papers_column():
    errors = {"vgg_aib": {0: 20.0, 1: 22.0, 2: 24.0}, "vgg": [30.0, 31.0], "wrn_abn": {0: 50.0}}
    table = report.results_table(errors, column="cifar10")
    assert list(table.index) == ["vgg", "wrn_abn", "vgg_aib"]  # the paper's row order
    assert table.loc["vgg_aib", "ours (mean ± std)"] == "22.00 ± 2.00"
    assert table.loc["vgg_aib", "n"] == 3 and table.loc["vgg_aib", "seeds"] == "0, 1, 2"
    assert table.loc["wrn_abn", "paper CIFAR-10"] == "3.92∗"
    assert table.loc["vgg", "paper model"] == "VGG"
    with pytest.raises(ValueError, match="not models of the paper's Table 1"):
        report.results_table({"vgg_aib_cub": [1.0]})


# --- cross-domain --------------------------------------------------------------------------------


def test_shifted_test_set_takes_the_training_normalisation_and_checks_classes():
    from aibnb import data

    shifted = report.shifted_test_set("digits", "cluttered_digits", n=50)
    assert len(shifted) == 50 and shifted.masks is None
    assert (shifted.mean, shifted.std) == data.normalization("digits")
    assert (shifted.mean, shifted.std) != data.normalization("cluttered_digits")
    assert shifted.classes == data.load_tensors("digits", "test").classes
    with pytest.raises(ValueError, match="same classes"):
        report.shifted_test_set("digits", "cluttered_fashion", n=10)


def test_shifted_error_is_the_error_of_the_best_weights_on_the_shifted_set():
    from aibnb import data
    from aibnb.train import fit

    record = fit(**TINY)
    shifted = report.shifted_test_set("digits", "cluttered_digits", n=64)
    error = report.shifted_error(record, shifted)
    model = load_model(record)  # vgg is deterministic in eval mode: recompute by hand
    x, y = next(iter(data.DeviceLoader(shifted, 64, train=False)))
    with torch.no_grad():
        by_hand = 100.0 * (model(x).logits.argmax(1) != y).double().mean().item()
    assert math.isclose(error, by_hand, abs_tol=1e-9)
    assert 0.0 <= error <= 100.0


def test_inference_time_is_positive_and_checks_its_arguments():
    from aibnb.models import build_model

    model = build_model("vgg_aib", 10, width=0.0625, in_channels=1)
    ms = report.inference_ms_per_image(model, 4, in_channels=1, repeats=1)
    assert math.isfinite(ms) and ms > 0
    with pytest.raises(ValueError, match="batch_size"):
        report.inference_ms_per_image(model, 0)


# --- stored full-profile results -----------------------------------------------------------------


def test_table1_file_round_trip_keeps_runs_and_provenance(tmp_path):
    recs = [fake_record(tmp_path, "vgg_aib", s, 4.0 + s, beta=0.01) for s in (0, 1)]
    recs.append(fake_record(tmp_path, "vgg", 0, 7.5))
    recs.append(fake_record(tmp_path, "vgg_aib", 5, 9.9, beta=0.1))  # a sweep run: not Table 1
    recs.append(fake_record(tmp_path, "vgg", 1, 1.0, dataset="svhn"))  # another dataset
    path = report.write_table1(recs, "cifar10", base=tmp_path / "full")
    assert path == tmp_path / "full" / "table1_cifar10.json"
    stored = json.loads(path.read_text())
    assert stored["provenance"]["profile"] == "full" and len(stored["runs"]) == 4
    frame, meta = report.load_full_runs("cifar10", tmp_path / "full")
    assert meta["file"] == "table1_cifar10.json" and meta["provenance"]["profile"] == "full"
    assert list(zip(frame["model"], frame["seed"], frame["test_error"], strict=True)) == [
        ("vgg", 0, 7.5),
        ("vgg_aib", 0, 4.0),
        ("vgg_aib", 1, 5.0),
    ]
    assert set(frame["device"]) == {"cuda (a GPU)"} and set(frame["best_epoch"]) == {7}
    assert report.load_full_runs("cifar100", tmp_path / "full") is None
    assert report.load_full_runs("cifar10", tmp_path / "absent") is None
    with pytest.raises(ValueError, match="no finished runs"):
        report.write_table1(recs, "cub200", base=tmp_path / "full")


def test_full_runs_fall_back_to_the_index_and_reject_bad_rows(tmp_path):
    rows = [
        {"run": "a", "model": "vgg_aib_qt", "dataset": "fashion_mnist", "seed": 0, "epochs": 15,
         "beta": 0.01, "num_anchors": 20, "test_error": 6.1, "best_epoch": 15},
        {"run": "b", "model": "vgg_aib_qt", "dataset": "fashion_mnist", "seed": 0, "epochs": 15,
         "beta": 0.01, "num_anchors": 5, "test_error": 6.9, "best_epoch": 14},
        {"run": "c", "model": "wrn_aib_qt", "dataset": "fashion_mnist", "seed": 0, "epochs": 15,
         "beta": 0.01, "num_anchors": 50, "test_error": 5.2, "best_epoch": 15},
    ]  # fmt: skip
    runs.write_json(tmp_path / "index.json", {"note": "GPU runs", "runs": rows})
    frame, meta = report.load_full_runs("fashion_mnist", tmp_path)
    assert meta["file"] == "index.json" and meta["note"] == "GPU runs"
    assert list(frame["test_error"]) == [6.1, 5.2]  # K = 5 is a sweep run; K = 20 / 50 are defaults
    assert len(report.load_full_runs("fashion_mnist", tmp_path, defaults_only=False)[0]) == 3
    runs.write_json(tmp_path / "index.json", {"runs": [{"model": "vgg", "seed": 0}]})
    with pytest.raises(ValueError, match="lacks"):
        report.load_full_runs("fashion_mnist", tmp_path)


BENCH = {
    "suite": "paper",
    "device": "cuda (NVIDIA H100 80GB HBM3)",
    "width": 1.0,
    "batch": 128,
    "images": 10240,
    "dataset": "fashion_mnist",
    "models": {
        "vgg_aib": {
            "macs_per_image": 3.787e9,
            "engine_images_per_s": 9000.0,
            "reference_images_per_s": 3000.0,
            "speedup": 3.0,
            "achieved_tflops": 204.5,
            "fraction_of_bf16_peak": 0.207,
            "epoch_50k_s": 5.6,
            "inference_ms_per_image": {"batch_1": 2.5, "batch_256": 0.05},
        }
    },
}


def test_bench_paper_file_is_read_into_a_table(tmp_path):
    assert report.load_bench_paper(tmp_path) is None
    runs.save_result(tmp_path / "bench_paper.json", BENCH, stamp={"profile": "bench", "commit": "abc"})
    frame, meta = report.load_bench_paper(tmp_path)
    assert frame.loc["vgg_aib", "speed-up"] == 3.0 and frame.loc["vgg_aib", "ms/image (batch 1)"] == 2.5
    assert math.isclose(frame.loc["vgg_aib", "MACs (G)"], 3.787)
    assert meta["device"].startswith("cuda") and meta["provenance"]["commit"] == "abc"
    runs.write_json(tmp_path / "bench_paper.json", {**BENCH, "suite": "models"})
    with pytest.raises(ValueError, match="not the output"):
        report.load_bench_paper(tmp_path)


@pytest.mark.slow
def test_the_benchmark_writes_what_the_loader_reads(tmp_path):
    from aibnb import bench

    argv = ["paper", "--dataset", "digits", "--models", "vgg_aib", "--width", "0.0625", "--images", "128",
            "--batch", "64", "--workers", "0", "--repeats", "1", "--device", "cpu",
            "--json", str(tmp_path / "bench_paper.json")]  # fmt: skip
    assert bench.main(argv) == 0
    frame, meta = report.load_bench_paper(tmp_path)
    assert list(frame.index) == ["vgg_aib"] and frame.loc["vgg_aib", "engine img/s"] > 0
    assert meta["width"] == 0.0625 and meta["provenance"]["profile"] == "bench"


def test_dataset_present_says_no_for_missing_files_without_downloading(tmp_path, monkeypatch):
    monkeypatch.setenv("AIBNB_DATA", str(tmp_path / "empty"))
    assert not report.dataset_present("cifar10")
    assert not report.dataset_present("cub200")
    assert not (tmp_path / "empty").exists() or not any((tmp_path / "empty").rglob("*.bin"))
    assert report.dataset_present("digits")  # bundled with scikit-learn


def test_shifted_error_of_a_sampling_model_is_reproducible():
    from aibnb.train import fit

    record = fit(**{**TINY, "model": "vgg_aib"})
    shifted = report.shifted_test_set("digits", "cluttered_digits", n=64)
    state = torch.get_rng_state()
    first = report.shifted_error(record, shifted, seed=3)
    assert torch.equal(state, torch.get_rng_state())  # the global random state is left alone
    assert report.shifted_error(record, shifted, seed=3) == first


def test_stl10_is_a_shifted_test_set_for_cifar10_models(tmp_path, monkeypatch):
    """The paper's cross-domain path on tiny files in the official formats (CIFAR-10 pickles, STL-10 bins)."""
    import pickle

    from aibnb import data

    monkeypatch.setenv("AIBNB_DATA", str(tmp_path))
    cifar = tmp_path / "cifar-10-batches-py"
    cifar.mkdir()
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    rows = np.zeros((10, 3072), np.uint8)
    for part, obj in (("test_batch", {"data": rows, "labels": list(range(10))}),
                      ("batches.meta", {"label_names": names})):  # fmt: skip
        (cifar / part).write_bytes(pickle.dumps(obj, protocol=2))
    stl = tmp_path / "stl10_binary"
    stl.mkdir()
    np.zeros((20, 3, 96, 96), np.uint8).tofile(stl / "test_X.bin")
    np.arange(1, 11).repeat(2).astype(np.uint8).tofile(stl / "test_y.bin")  # 1-based, every class twice
    for backbone in ("vgg", "wrn"):
        shifted = report.shifted_test_set("cifar10", "stl10", "test", backbone=backbone)
        assert len(shifted) == 18 and shifted.classes == names  # monkey dropped, CIFAR-10 labels
        assert (shifted.mean, shifted.std) == data.normalization("cifar10", backbone)
    assert data.normalization("cifar10", "vgg") != data.normalization("cifar10", "wrn")
