"""Stored run rows and GPU results: one row for index.json and table1_<dataset>.json, the bench file."""

from __future__ import annotations

import json
import math

import pytest

from aibnb import runs, storage
from aibnb.reproduce import run_rows

pytestmark = pytest.mark.usefixtures("isolated_runs")


def test_table1_file_round_trip_keeps_runs_and_provenance(tmp_path, make_record):
    recs = [make_record("vgg_aib", s, 4.0 + s, beta=0.01) for s in (0, 1)]
    recs.append(make_record("vgg", 0, 7.5))
    recs.append(make_record("vgg_aib", 5, 9.9, beta=0.1))  # a sweep run: not Table 1
    recs.append(make_record("vgg", 1, 1.0, dataset="svhn"))  # another dataset
    path = run_rows.write_table1(recs, "cifar10", base=tmp_path / "full")
    assert path == tmp_path / "full" / "table1_cifar10.json"
    written = json.loads(path.read_text())
    assert written["provenance"]["profile"] == "full" and len(written["runs"]) == 4
    frame, meta = run_rows.load_full_runs("cifar10", tmp_path / "full")
    assert meta["file"] == "table1_cifar10.json" and meta["provenance"]["profile"] == "full"
    assert list(zip(frame["model"], frame["seed"], frame["test_error"], strict=True)) == [
        ("vgg", 0, 7.5),
        ("vgg_aib", 0, 4.0),
        ("vgg_aib", 1, 5.0),
    ]
    assert set(frame["device"]) == {"cuda (a GPU)"} and set(frame["best_epoch"]) == {7}
    assert run_rows.load_full_runs("cifar100", tmp_path / "full") is None
    assert run_rows.load_full_runs("cifar10", tmp_path / "absent") is None
    with pytest.raises(ValueError, match="no finished runs"):
        run_rows.write_table1(recs, "cub200", base=tmp_path / "full")


def test_full_runs_fall_back_to_the_index_and_reject_bad_rows(tmp_path):
    rows = [
        {"run": "a", "model": "vgg_aib_qt", "dataset": "fashion_mnist", "seed": 0, "epochs": 15,
         "beta": 0.01, "num_anchors": 20, "test_error": 6.1, "best_epoch": 15},
        {"run": "b", "model": "vgg_aib_qt", "dataset": "fashion_mnist", "seed": 0, "epochs": 15,
         "beta": 0.01, "num_anchors": 5, "test_error": 6.9, "best_epoch": 14},
        {"run": "c", "model": "wrn_aib_qt", "dataset": "fashion_mnist", "seed": 0, "epochs": 15,
         "beta": 0.01, "num_anchors": 50, "test_error": 5.2, "best_epoch": 15},
    ]  # fmt: skip
    storage.write_json(tmp_path / "index.json", {"note": "GPU runs", "runs": rows})
    frame, meta = run_rows.load_full_runs("fashion_mnist", tmp_path)
    assert meta["file"] == "index.json" and meta["note"] == "GPU runs"
    assert list(frame["test_error"]) == [6.1, 5.2]  # K = 5 is a sweep run; K = 20 / 50 are defaults
    assert len(run_rows.load_full_runs("fashion_mnist", tmp_path, defaults_only=False)[0]) == 3
    storage.write_json(tmp_path / "index.json", {"runs": [{"model": "vgg", "seed": 0}]})
    with pytest.raises(ValueError, match="lacks"):
        run_rows.load_full_runs("fashion_mnist", tmp_path)


def test_the_stored_lab_index_is_made_of_run_rows():
    """``index.json`` and ``table1_<dataset>.json`` share one row: the committed index is rebuilt exactly."""
    store = runs.results_dir("lab")
    index = runs.load_result(store / "index.json")
    if index is None:
        pytest.skip("no stored lab tier")
    rebuilt = [run_rows.run_row(runs.RunRecord.load(store / "runs" / row["run"])) for row in index["runs"]]
    assert rebuilt == index["runs"]
    assert all(set(run_rows.ROW_KEYS) | set(run_rows.OPTIONAL_KEYS) <= set(row) for row in rebuilt)



def test_stored_per_image_outcomes_agree_with_their_rows():
    """Every stored Table 2 part that keeps per-image outcomes (scorer 4) counts, from them, exactly
    the numbers of its rows: the per-image tests of chapter 5 read the same outcomes as its table."""
    from aibnb.interpret import stability_levels

    parts = []
    for folder in sorted((runs.results_dir("lab") / "runs").glob("*")):
        if (folder / "scores.json").exists():
            sc = storage.read_json(folder / "scores.json")
            named = [("table2", sc.get("table2")), *(sc.get("posthoc") or {}).items()]
            parts += [(folder.name, name, p) for name, p in named
                      if isinstance(p, dict) and "rows" in p and "per_image" in p]  # Table 2 parts only
    if not parts:
        pytest.skip("no stored lab run keeps per-image Table 2 outcomes")
    for run, name, part in parts:
        for row in part["rows"]:
            levels = stability_levels(part["per_image"][row["normalize"]][row["condition"]])
            need = sum(t <= row["tau"] for t in part["taus"])
            where = (run, name, row["condition"])
            assert len(levels) == row["num_total"], where
            assert int((levels >= 0).sum()) == row["num_consistent"], where
            assert int((levels >= need).sum()) == row["num_attention_consistent"], where


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
    assert run_rows.load_bench_paper(tmp_path) is None
    runs.save_result(tmp_path / "bench_paper.json", BENCH, stamp={"profile": "bench", "commit": "abc"})
    frame, meta = run_rows.load_bench_paper(tmp_path)
    assert frame.loc["vgg_aib", "speed-up"] == 3.0 and frame.loc["vgg_aib", "ms/image (batch 1)"] == 2.5
    assert math.isclose(frame.loc["vgg_aib", "MACs (G)"], 3.787)
    assert meta["device"].startswith("cuda") and meta["provenance"]["commit"] == "abc"
    storage.write_json(tmp_path / "bench_paper.json", {**BENCH, "suite": "models"})
    with pytest.raises(ValueError, match="not the output"):
        run_rows.load_bench_paper(tmp_path)


@pytest.mark.slow
def test_the_benchmark_writes_what_the_loader_reads(tmp_path):
    from aibnb.__main__ import main

    argv = ["bench", "paper", "--dataset", "digits", "--models", "vgg_aib", "--width", "0.0625",
            "--images", "128", "--batch", "64", "--workers", "0", "--repeats", "1", "--device", "cpu",
            "--json", str(tmp_path / "bench_paper.json")]  # fmt: skip
    assert main(argv) == 0
    frame, meta = run_rows.load_bench_paper(tmp_path)
    assert list(frame.index) == ["vgg_aib"] and frame.loc["vgg_aib", "engine img/s"] > 0
    assert meta["width"] == 0.0625 and meta["provenance"]["profile"] == "bench"
