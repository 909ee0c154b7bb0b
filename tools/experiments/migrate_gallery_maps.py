#!/usr/bin/env python3
"""Move the gallery maps of stored chapter-5 sweeps out of the JSON into the ``.npz`` beside it.

``sweep_interpret.py`` used to store each setting's gallery maps inside
``interpret_sweep_<dataset>.json`` as base64 of little-endian float16 (``gallery_maps_f16``, with
``gallery_maps_shape``). The book now has one format for stored maps, the stored sweeps' own
(:func:`aibnb.runs.save_result_with_arrays`): the arrays in an ``.npz`` beside the JSON, which names
the file and holds the arrays' sha256. This script rewrites a file of the old format into the new
one without recomputing anything:

* setting ``i`` gets ``"index": i`` and loses ``gallery_maps_f16`` / ``gallery_maps_shape``;
* its maps, decoded exactly (the same float16 values), become ``s<i>_gallery_maps`` in the ``.npz``;
* every other value, and the provenance stamp, stay as they were.

Usage (from the repository root; files already in the new format are left alone)::

    python tools/experiments/migrate_gallery_maps.py        # every book/results/*/interpret_sweep_*.json
    python tools/experiments/migrate_gallery_maps.py PATH.json [PATH.json ...]
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root (tools/experiments/..)

import numpy as np
from sweep_interpret import gallery_key  # the sibling script that writes these files

from aibnb import runs
from aibnb.data.paths import project_root

OLD_KEYS = ("gallery_maps_f16", "gallery_maps_shape")


def migrate(stored: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """The new-format data (without the provenance) and arrays of an old-format sweep; ``None`` if
    ``stored`` holds no base64 maps (already migrated)."""
    settings = stored.get("settings", [])
    if not any(key in s for s in settings for key in OLD_KEYS):
        return None
    arrays, new_settings = {}, []
    for index, setting in enumerate(settings):
        raw = base64.b64decode(setting["gallery_maps_f16"])
        maps = np.frombuffer(raw, dtype="<f2").reshape(setting["gallery_maps_shape"])
        arrays[gallery_key(index)] = maps.astype(np.float16)
        new_settings.append({"index": index, **{k: v for k, v in setting.items() if k not in OLD_KEYS}})
    data = {k: v for k, v in stored.items() if k != "provenance"}
    data["settings"] = new_settings
    return data, arrays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="default: book/results/*/interpret_sweep_*.json")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((project_root() / "book" / "results").glob("*/interpret_sweep_*.json"))
    for path in paths:
        stored = runs.load_result(path)
        if stored is None:
            print(f"{path}: does not exist", file=sys.stderr)
            return 1
        found = migrate(stored)
        if found is None:
            print(f"{path}: already in the one map format")
            continue
        data, arrays = found
        runs.save_result_with_arrays(path, data, arrays, stamp=stored["provenance"])
        print(f"{path}: {len(arrays)} settings' gallery maps moved to {path.with_suffix('.npz').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
