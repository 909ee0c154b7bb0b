"""``tools/experiments/sweep.py``: the grids, the numbers it keeps from a run, its stored points' round trip.

Nothing here trains: a finished run is faked on disk in the layout of :mod:`aibnb.runs`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import sweep

from aibnb import runs, storage
from aibnb.provenance import provenance


def test_grids_cover_the_papers_figures():
    beta, latent, k = sweep.GRIDS["beta"], sweep.GRIDS["latent"], sweep.GRIDS["k"]
    assert beta.model == "vgg_aib" and beta.axis == "beta"
    assert len(beta.values) >= 5 and min(beta.values) <= 1e-4 and max(beta.values) >= 1.0
    assert 1e-2 in beta.values  # the official β: the chapter's main run is a grid point
    assert latent.axis == "latent_dim" and 256 in latent.values and len(latent.values) >= 3
    assert k.model == "vgg_aib_qt" and k.axis == "num_anchors"
    assert min(k.values) == 2 and max(k.values) == 50 and 20 in k.values
    for grid in sweep.GRIDS.values():
        assert list(grid.values) == sorted(grid.values) and len(set(grid.values)) == len(grid.values)


def test_points_are_every_value_for_every_seed_and_cross_points_for_the_first_seed():
    grid = sweep.GRIDS["k"]
    points = grid.points([3, 1])
    main = [p for p in points if p["role"] == "grid"]
    cross = [p for p in points if p["role"] == "cross"]
    assert len(main) == 2 * len(grid.values)
    assert {(p["num_anchors"], p["seed"]) for p in main} == {(v, s) for v in grid.values for s in (3, 1)}
    assert len(cross) == len(grid.cross) and all(p["seed"] == 3 for p in cross)
    assert all(p["model"] == "vgg_aib_qt" for p in points)


def test_the_default_value_is_left_unset_so_chapter_runs_share_the_cache():
    latent, k, beta = sweep.GRIDS["latent"], sweep.GRIDS["k"], sweep.GRIDS["beta"]
    common = {"seed": 0, "role": "grid"}
    assert "latent_dim" not in latent.overrides({"model": "vgg_aib", "latent_dim": 256, **common})
    assert latent.overrides({"model": "vgg_aib", "latent_dim": 64, **common})["latent_dim"] == 64
    assert "num_anchors" not in k.overrides({"model": "vgg_aib_qt", "num_anchors": 20, **common})
    assert "role" not in beta.overrides({"model": "vgg_aib", "beta": 0.1, **common})


def test_defaults_match_what_the_models_do():
    """The grids' `default` must be what the model builds when the field is unset."""
    from aibnb.models import build_model

    qt = build_model("vgg_aib_qt", 10, width=0.0625, in_channels=1)
    assert qt.attention.quantizer.num_anchors == sweep.GRIDS["k"].default
    aib = build_model("vgg_aib", 10, width=0.0625, in_channels=1)
    assert aib.head.latent_dim == sweep.GRIDS["latent"].default


@pytest.mark.parametrize(
    ("seeds", "match"),
    [([], "at least one"), ([0, 0], "repeated"), ([-1], "integers >= 0"), ([True], ">= 0")],
)
def test_bad_seeds_are_clear_errors(seeds, match):
    with pytest.raises(ValueError, match=match):
        sweep.check_seeds(seeds)


def test_only_selects_grids_and_rejects_unknown_names():
    assert [g.name for g in sweep.select_grids(["k", "beta"])] == ["beta", "k"]
    assert len(sweep.select_grids(None)) == len(sweep.GRIDS)
    with pytest.raises(ValueError, match="unknown sweep"):
        sweep.select_grids(["gamma"])
    assert sweep.main(["--only", "gamma"]) == 2


def _fake_run(root: Path, name: str, *, seed: int, beta: float, quantized: bool) -> runs.RunRecord:
    """A finished run folder as aibnb.train.fit writes it (config, metrics, final, provenance, maps)."""
    path = root / name
    path.mkdir(parents=True)
    config = {"model": "vgg_aib_qt" if quantized else "vgg_aib", "dataset": "fashion_mnist", "profile": "ci",
              "seed": seed, "beta": beta, "latent_dim": None, "num_anchors": 4 if quantized else None,
              "model_options": {}}
    storage.write_json(path / "config.json", {"hash": name, "config": config, "model": {}})
    anchors = [0.0, 1 / 3, 2 / 3, 1.0] if quantized else None
    metrics = [{"epoch": e, "train_info_bits": 10.0 - e, "val_info_bits": 9.0 - e, "val_acc": 0.5 + 0.1 * e,
                **({"anchors": anchors} if quantized else {})} for e in (1, 2)]
    storage.write_jsonl(path / "metrics.jsonl", metrics)
    final = {"test_error": 20.0 + seed + beta, "test_acc": 0.8, "best_val_acc": 0.79, "best_epoch": 2,
             "test_info_bits": 5.0 * (1 + seed), "test_izy_bits": 2.5,
             "test_perplexity": 3.0 if quantized else 0.0,
             "test_att_outside": float("nan"), "anchors": anchors, "num_anchors": 4 if quantized else None,
             "wall_time_s": 12.5}
    storage.write_json(path / "final.json", final)
    storage.write_json(path / "provenance.json", {
        "commit": "abc", "device": "cpu (2 threads, x86_64)", "created": "2026-01-01T00:00:00+00:00",
        "wall_time_s": 12.5})
    rng = np.random.default_rng(seed)
    maps = rng.choice(np.array(anchors if quantized else [0.2, 0.7]), size=(12, 1, 16, 16))
    np.savez_compressed(path / "attention.npz", images=rng.integers(0, 255, (12, 1, 32, 32), dtype=np.uint8),
                        labels=np.arange(12), predictions=np.arange(12),
                        attention=maps.astype(np.float16), attention_mean=maps.astype(np.float16))
    return runs.RunRecord.load(path)


def test_summarize_run_keeps_the_chapters_numbers(tmp_path):
    record = _fake_run(tmp_path, "qt", seed=1, beta=0.01, quantized=True)
    point, maps = sweep.summarize_run(record, num_maps=8)
    assert point["seed"] == 1 and point["num_anchors"] == 4 and point["run"] == "qt"
    assert point["final"]["test_error"] == pytest.approx(21.01)
    assert point["final"]["test_att_outside"] is None  # NaN becomes null, not an invalid JSON token
    assert point["curves"]["epoch"] == [1, 2] and point["curves"]["val_info_bits"] == [8.0, 7.0]
    assert len(point["curves"]["anchors"]) == 2
    assert point["map_stats"]["map_bits_cap"] == pytest.approx(256 * 2.0)
    assert 0 < point["map_stats"]["map_bits_pooled"] <= 256 * 2.0
    assert maps["attention"].shape == (8, 16, 16) and maps["attention"].dtype == np.float16
    assert maps["images"].shape == (8, 1, 32, 32) and maps["images"].dtype == np.uint8
    unfinished = runs.RunRecord(path=tmp_path / "x", config={})
    with pytest.raises(ValueError, match="has not finished"):
        sweep.summarize_run(unfinished)


def test_summary_averages_grid_points_over_seeds_only(tmp_path):
    points = []
    for i, (seed, beta, role) in enumerate([(0, 0.01, "grid"), (1, 0.01, "grid"), (0, 0.1, "grid"),
                                            (0, 1.0, "cross")]):
        point, _ = sweep.summarize_run(_fake_run(tmp_path, f"r{i}", seed=seed, beta=beta, quantized=False))
        point["role"] = role
        points.append(point)
    rows = sweep.summarize_values(points, "beta")
    assert [r["beta"] for r in rows] == [0.01, 0.1]  # the cross point is not a grid value
    first = rows[0]
    assert first["seeds"] == [0, 1]
    assert first["test_error_mean"] == pytest.approx(np.mean([20.01, 21.01]))
    assert first["test_error_std"] == pytest.approx(np.std([20.01, 21.01], ddof=1))
    assert first["test_info_bits_mean"] == pytest.approx(7.5)
    assert rows[1]["test_error_std"] is None  # one seed: no spread


def test_a_sweeps_points_and_maps_round_trip_through_the_stored_format(tmp_path):
    """What run_grid stores (a summarised point, its maps) reads back as it was written."""
    record = _fake_run(tmp_path / "runs", "qt", seed=0, beta=0.01, quantized=True)
    point, maps = sweep.summarize_run(record)
    point["index"], point["role"] = 0, "grid"
    arrays = {"images": maps["images"], "labels": maps["labels"], "p0_attention": maps["attention"]}
    data = {"sweep": "k", "axis": "num_anchors", "points": [point],
            "summary": sweep.summarize_values([point], "num_anchors")}
    stamp = provenance(profile="ci", seed=0, device="cpu")
    out = tmp_path / "results" / "k_sweep.json"
    assert runs.save_result_with_arrays(out, data, arrays, stamp=stamp) is True
    loaded, loaded_arrays = runs.load_result_with_arrays(out)
    assert loaded["provenance"]["profile"] == "ci" and loaded["provenance"]["commit"]
    assert loaded["points"][0]["final"]["test_error"] == point["final"]["test_error"]
    assert loaded["points"][0]["final"]["test_att_outside"] is None
    assert loaded["arrays"] == "k_sweep.npz"
    assert set(loaded_arrays) == set(arrays)
    for key, value in arrays.items():
        assert loaded_arrays[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded_arrays[key], value)
    json.loads(out.read_text())  # strict JSON (no NaN tokens)
    assert "NaN" not in out.read_text()
    # the same points again (cached runs): nothing is rewritten
    assert runs.save_result_with_arrays(out, data, arrays, stamp=stamp) is False


@pytest.mark.parametrize("profile", ["ci", "full"])
def test_stored_sweeps_when_present_are_complete_and_stamped(profile):
    """The committed results: provenance, every grid value, finite numbers, maps for the first seed."""
    directory = runs.results_dir(profile)
    found = [g for g in sweep.GRIDS.values() if (directory / f"{g.stem}.json").exists()]
    if not found:
        pytest.skip(f"no stored sweeps for profile {profile}")
    for grid in found:
        data, arrays = runs.load_result_with_arrays(directory / f"{grid.stem}.json")
        prov = data["provenance"]
        for key in ("commit", "profile", "device", "versions", "wall_time_s", "seeds"):
            assert prov.get(key) is not None, (grid.name, key)
        assert prov["profile"] == data["profile"] == profile
        grid_values = {p[grid.axis] for p in data["points"] if p["role"] == "grid"}
        assert grid_values == set(grid.values), grid.name
        first = data["seeds"][0]
        for p in data["points"]:
            assert math.isfinite(p["final"]["test_error"]) and 0 <= p["final"]["test_error"] <= 100
            if p["seed"] == first:
                assert arrays[f"p{p['index']}_attention"].shape == (sweep.NUM_MAPS, 16, 16)
        assert arrays["images"].shape[0] == sweep.NUM_MAPS
