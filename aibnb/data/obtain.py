"""Make a dataset available under the data root: fetch its files, or generate its scenes.

:func:`fetch` is the one entry point (``python -m aibnb data fetch NAME``, ``make data``). It sits
above both :mod:`aibnb.data.download` (how files are downloaded and checked) and
:mod:`aibnb.data.datasets` (how they are read and, for the cluttered scenes, generated and cached),
so neither imports the other back.
"""

from __future__ import annotations

import os
from pathlib import Path

from aibnb.data import cluttered, datasets, registry
from aibnb.data.download import LAYOUT, SENTINELS, Log, download, fetch_fashion_mnist
from aibnb.data.paths import data_root

__all__ = ["fetch"]


def fetch(name: str, root: str | os.PathLike[str] | None = None, *, log: Log = print) -> Path:
    """Make ``name`` available under the data root (see the module docstring); return its folder.

    Cluttered scenes: their source is fetched, then every split is generated and cached.
    """
    registry.splits_of(name)  # validates the name
    base = data_root(root)
    if name == "fashion_mnist":
        return fetch_fashion_mnist(root, log=log)
    if name == "digits":
        import sklearn.datasets

        log("digits: bundled with scikit-learn, nothing to fetch")
        return Path(sklearn.datasets.__file__).parent / "data"
    if name in cluttered.CLUTTERED:
        source = cluttered.CLUTTERED[name].source
        if source != "digits":
            fetch(source, root, log=log)
        for split in ("train", "val", "test"):
            path = cluttered.cache_path(base, name, split)
            if path.exists():
                log(f"{name}: {split} split already cached in {path}")
            else:
                datasets.load_tensors(name, split, root)
                log(f"{name}: generated the {split} split into {path}")
        return base / "cluttered"
    folder = base / LAYOUT[name]
    if all((folder / f).exists() for f in SENTINELS[name]):
        log(f"{name}: already present in {folder}")
        return folder
    return download(name, root, log=log)
