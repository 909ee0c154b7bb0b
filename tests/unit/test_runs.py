"""Stored results with arrays: the book's one format for stored maps (a JSON and the .npz beside it)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aibnb import runs
from aibnb.storage import arrays_digest


def _result() -> tuple[dict, dict]:
    data = {"sweep": "k", "values": (2, 5), "points": [{"test_error": 6.25, "outside": float("nan")}]}
    arrays = {
        "images": np.arange(32, dtype=np.uint8).reshape(2, 1, 4, 4),
        "p0_attention": np.linspace(0, 1, 32, dtype=np.float16).reshape(2, 4, 4),
    }
    return data, arrays


def test_files_round_trip_and_rewriting_the_same_content_is_a_no_op(tmp_path):
    data, arrays = _result()
    stamp = runs.provenance(profile="ci", seed=0, device="cpu")
    out = tmp_path / "results"
    path = out / "k_sweep.json"
    assert runs.save_result_with_arrays(path, data, arrays, stamp=stamp) is True
    loaded, loaded_arrays = runs.load_result_with_arrays(path)
    assert loaded["provenance"]["profile"] == "ci" and loaded["provenance"]["commit"]
    assert loaded["values"] == [2, 5] and loaded["points"][0]["test_error"] == 6.25
    assert loaded["points"][0]["outside"] is None  # NaN becomes null, not an invalid JSON token
    assert loaded["arrays"] == "k_sweep.npz" and loaded["arrays_sha256"] == arrays_digest(arrays)
    assert set(loaded_arrays) == set(arrays)
    for key, value in arrays.items():
        assert loaded_arrays[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded_arrays[key], value)
    json.loads(path.read_text())  # strict JSON (no NaN tokens)
    assert "NaN" not in path.read_text()

    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    later = runs.provenance(profile="ci", seed=0, device="cpu", wall_time_s=99.0)
    assert runs.save_result_with_arrays(path, data, arrays, stamp=later) is False
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before

    arrays["p0_attention"] = arrays["p0_attention"] + np.float16(0.5)
    assert runs.save_result_with_arrays(path, data, arrays, stamp=later) is True
    assert runs.load_result(path)["provenance"]["wall_time_s"] == 99.0


def test_loading_detects_mismatched_arrays_and_absent_files(tmp_path):
    arrays = {"images": np.zeros((2, 1, 4, 4), dtype=np.uint8)}
    runs.save_result_with_arrays(tmp_path / "s.json", {"points": []}, arrays, stamp={"profile": "ci"})
    np.savez_compressed(tmp_path / "s.npz", images=np.ones((2, 1, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="sha256"):
        runs.load_result_with_arrays(tmp_path / "s.json")
    assert runs.load_result_with_arrays(tmp_path / "absent.json") is None


def test_the_digest_is_the_content_not_the_order_or_the_zip():
    a = {"x": np.zeros(3, dtype=np.float16), "y": np.ones((2, 2), dtype=np.uint8)}
    assert arrays_digest(a) == arrays_digest(dict(reversed(list(a.items()))))
    assert arrays_digest(a) != arrays_digest({**a, "x": np.zeros(3, dtype=np.float32)})  # dtype counts
    assert arrays_digest(a) != arrays_digest({**a, "y": np.ones((4,), dtype=np.uint8)})  # shape counts
