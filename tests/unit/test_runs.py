"""Run records and stored results: the digest of stored arrays, what ``aibnb.runs`` exports."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from aibnb import runs, storage
from aibnb.storage import arrays_digest


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


def test_a_run_reads_the_model_facts_stored_beside_its_configuration(tmp_path):
    folder = _run_folder(tmp_path)
    assert runs.RunRecord.load(folder).model_info == {}
    info = {"classes": ["a", "b"], "test_size": 20}
    storage.write_json(folder / "config.json", {**storage.read_json(folder / "config.json"), "model": info})
    record = runs.RunRecord.load(folder)
    assert record.model_info == info
    record.model_info["classes"].append("c")  # a copy: the record's facts are not changed through it
    assert record.model_info == info
    storage.write_json(folder / "config.json", {"hash": "abc", "config": {}})
    with pytest.raises(storage.DamagedFileError, match=r"config\.json is damaged \(it lacks 'model'\)"):
        record.model_info  # noqa: B018 - the property reads the file


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
