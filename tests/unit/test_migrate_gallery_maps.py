"""``tools/experiments/migrate_gallery_maps.py``: base64 maps inside the JSON become the .npz beside it."""

from __future__ import annotations

import base64

import migrate_gallery_maps as migration
import numpy as np
import sweep_interpret

from aibnb import runs


def _old_format(maps: list[np.ndarray]) -> dict:
    settings = [
        {"group": "beta", "label": f"β={i}", "pointing": 0.5,
         "gallery_maps_f16": base64.b64encode(np.ascontiguousarray(m, dtype="<f2").tobytes()).decode("ascii"),
         "gallery_maps_shape": list(m.shape), "gallery_prediction": [1, 2]}
        for i, m in enumerate(maps)
    ]  # fmt: skip
    return {"dataset": "cluttered_fashion", "gallery": [3, 7], "settings": settings}


def test_the_migration_keeps_every_value_and_the_maps_to_the_bit(tmp_path):
    rng = np.random.default_rng(0)
    maps = [rng.random((2, 16, 16)).astype(np.float16) for _ in range(3)]
    path = tmp_path / "interpret_sweep_cluttered_fashion.json"
    stamp = {"profile": "ci", "commit": "abc", "created": "2026-01-01T00:00:00+00:00"}
    runs.save_result(path, _old_format(maps), stamp=stamp)

    assert migration.main([str(path)]) == 0
    stored, arrays = runs.load_result_with_arrays(path)
    assert stored["provenance"] == stamp and stored["gallery"] == [3, 7]
    for i, (setting, m) in enumerate(zip(stored["settings"], maps, strict=True)):
        assert setting["index"] == i and setting["label"] == f"β={i}"
        assert setting["gallery_prediction"] == [1, 2]
        assert "gallery_maps_f16" not in setting and "gallery_maps_shape" not in setting
        got = arrays[sweep_interpret.gallery_key(i)]
        assert got.dtype == np.float16 and got.tobytes() == m.tobytes()

    text = path.read_text()
    assert migration.main([str(path)]) == 0  # a migrated file is left alone
    assert path.read_text() == text
    assert migration.migrate(runs.load_result(path)) is None
