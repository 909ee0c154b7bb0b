"""Stored results with arrays: the book's one format for stored maps (a JSON and the .npz beside it)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from aibnb import runs, storage
from aibnb.provenance import provenance
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
    stamp = provenance(profile="ci", seed=0, device="cpu")
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
    later = provenance(profile="ci", seed=0, device="cpu", wall_time_s=99.0)
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


def _run_folder(tmp_path):
    folder = tmp_path / "vgg-fashion_mnist-abc"
    config = {"model": "vgg", "dataset": "fashion_mnist", "seed": 0, "epochs": 2, "profile": "lab"}
    storage.write_json(folder / "config.json", {"hash": "abc", "config": config, "model": {}})
    storage.write_json(folder / "final.json", {"test_error": 10.0})
    return folder


@pytest.mark.parametrize(
    "name,content",
    [
        ("final.json", {}),
        ("final.json", [1, 2]),
        ("config.json", {"hash": "abc"}),
        ("config.json", {"hash": "abc", "config": [1]}),
        ("config.json", {"hash": "abc", "config": {"model": "vgg"}}),
        ("provenance.json", [1]),
    ],
)
def test_a_run_file_of_the_wrong_shape_is_named_never_a_finished_run(tmp_path, name, content):
    folder = _run_folder(tmp_path)
    assert runs.RunRecord.load(folder).finished
    storage.write_json(folder / name, content)
    with pytest.raises(storage.DamagedFileError, match=rf"{folder / name} is damaged"):
        runs.RunRecord.load(folder)


def test_a_truncated_attention_file_is_named(tmp_path):
    folder = _run_folder(tmp_path)
    storage.write_npz(folder / "attention.npz", {"images": np.zeros((4, 1, 32, 32), np.uint8),
                                                 "labels": np.arange(4)})
    assert runs.RunRecord.load(folder).attention_samples()["images"].shape == (4, 1, 32, 32)
    data = (folder / "attention.npz").read_bytes()
    (folder / "attention.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(storage.DamagedFileError, match=r"attention\.npz is damaged"):
        runs.RunRecord.load(folder).attention_samples()



def test_runs_exports_only_what_it_defines():
    """Storage and provenance helpers are imported from their own modules, never through runs."""
    tree = ast.parse(Path(runs.__file__).read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    defined |= {target.id for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(target, ast.Name)}
    foreign = sorted(set(runs.__all__) - defined)
    assert not foreign, f"aibnb.runs re-exports {foreign}: import them from where they are defined"
