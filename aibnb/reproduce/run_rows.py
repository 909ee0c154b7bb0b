"""The stored run rows and GPU results that chapter 4 reads back, in one format each.

Training runs of the ``full`` profile are made on a GPU, away from the book's build, and come back
as small JSON files under ``book/results/full/``; the chapters draw them without retraining. A
stored run is summarised as one **run row** (:func:`run_row`), the same dict wherever it is
written:

* ``book/results/<profile>/index.json``, rewritten by the queue (:mod:`aibnb.reproduce.queue`,
  ``python -m aibnb queue export --profile full``) after every stored run::

      {"profile": "full", "description": "...", "runs": [<run row>, ...]}

* ``book/results/full/table1_<dataset>.json``, written by chapter 4 itself when it runs at the
  ``full`` profile (:func:`write_table1`)::

      {"provenance": {...}, "dataset": "cifar10", "profile": "full", "runs": [<run row>, ...]}

A run row::

    {"run": "vgg_aib-cifar10-<config hash>", "model": "vgg_aib", "dataset": "cifar10", "seed": 0,
     "epochs": 200, "beta": 0.01, "num_anchors": null, "latent_dim": null, "loss_units": "bits",
     "test_error": 4.3, "best_epoch": 180, "device": "cuda (NVIDIA H100 ...)",
     "training_code": 1, "commit": "...", "created": "...", "wall_time_s": 812.5,
     "has_scores": true, "has_predictions": true}

:func:`load_full_runs` reads the Table 1 runs of a dataset from either file (``table1_<dataset>.json``
first) and keeps the rows at Table 1's settings; :func:`load_bench_paper` reads the output of
``python -m aibnb bench paper --json book/results/full/bench_paper.json``. A missing file is
``None`` (the chapter says so); a malformed one is a clear error.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aibnb import runs
from aibnb.models import spec
from aibnb.models.cost import meta_model
from aibnb.provenance import provenance
from aibnb.reproduce.paper import table1_beta

if TYPE_CHECKING:  # pandas is the book's extra: imported where a table is built
    import pandas as pd

__all__ = [
    "OPTIONAL_KEYS",
    "ROW_KEYS",
    "load_bench_paper",
    "load_full_runs",
    "run_row",
    "table1_rows",
    "write_table1",
]

#: What every run row read back must hold, and what :func:`load_full_runs` keeps besides.
ROW_KEYS = ("model", "seed", "test_error")
OPTIONAL_KEYS = ("best_epoch", "epochs", "beta", "num_anchors", "device", "commit", "created")


def run_row(record: runs.RunRecord) -> dict[str, Any]:
    """One stored run as a row of ``index.json`` or ``table1_<dataset>.json`` (see the module doc)."""
    cfg, final, prov = record.config, record.final or {}, record.provenance or {}
    return {
        "run": record.name,
        "model": cfg["model"],
        "dataset": cfg["dataset"],
        "seed": cfg["seed"],
        "epochs": cfg.get("epochs"),
        "beta": cfg.get("beta"),
        "num_anchors": final.get("num_anchors"),
        "latent_dim": cfg.get("latent_dim"),
        "loss_units": cfg.get("loss_units"),
        "test_error": final.get("test_error"),
        "best_epoch": final.get("best_epoch"),
        "device": prov.get("device"),
        "training_code": prov.get("training_code"),
        "commit": prov.get("commit"),
        "created": prov.get("created"),
        "wall_time_s": prov.get("wall_time_s"),
        "has_scores": (record.path / "scores.json").exists(),
        "has_predictions": (record.path / "predictions.npz").exists(),
    }


def table1_rows(records: Iterable[runs.RunRecord]) -> list[dict[str, Any]]:
    """:func:`run_row` of each record; every record must have finished."""
    rows = []
    for rec in records:
        if not rec.finished:
            raise ValueError(f"table1_rows: run {rec.path} has not finished")
        rows.append(run_row(rec))
    return rows


def write_table1(
    records: Iterable[runs.RunRecord],
    dataset: str,
    *,
    base: str | os.PathLike[str] | None = None,
    profile: str = "full",
    device: Any = "cpu",
) -> Path:
    """Write ``<base>/table1_<dataset>.json`` (default base: ``book/results/<profile>``) from records."""
    rows = [r for r in table1_rows(records) if r["dataset"] == dataset]
    if not rows:
        raise ValueError(f"write_table1: no finished runs on {dataset!r} among the records")
    folder = Path(base) if base is not None else runs.results_dir(profile)
    path = folder / f"table1_{dataset}.json"
    stamp = provenance(profile=profile, seed=None, device=device)
    runs.save_result(path, {"dataset": dataset, "profile": profile, "runs": rows}, stamp=stamp)
    return path


@functools.cache
def _default_settings(model: str, dataset: str) -> tuple[float, int | None]:
    """Table 1's beta and K of ``model`` on ``dataset`` (the recipe's beta; the model's default K)."""
    s = spec(model)
    if s.kind != "aib_qt":
        return table1_beta(model), None
    num_classes = {"cifar100": 100, "cub200": 200}.get(dataset, 10)
    built = meta_model(model, num_classes, 3, s.native_size, 1.0)
    return table1_beta(model), int(built.attention.quantizer.num_anchors)


def load_full_runs(
    dataset: str, base: str | os.PathLike[str] | None = None, *, defaults_only: bool = True
) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The stored full-profile Table 1 runs on ``dataset`` as a frame, with the file's provenance.

    Reads ``<base>/table1_<dataset>.json``, else ``<base>/index.json``; ``None`` when neither holds
    a run on ``dataset`` (the chapter then says so). With ``defaults_only`` rows at a non-default
    β or K (sweeps) are dropped. A malformed row is a clear error.
    """
    import pandas as pd

    folder = Path(base) if base is not None else runs.results_dir("full")
    source = folder / f"table1_{dataset}.json"
    if not source.exists():
        source = folder / "index.json"
    stored = runs.load_result(source)
    if stored is None:
        return None
    rows = stored.get("runs")
    if not isinstance(rows, list):
        raise ValueError(f"{source}: expected a list under 'runs'")
    kept = []
    for i, row in enumerate(rows):
        missing = [k for k in ROW_KEYS if row.get(k) is None]
        if missing:
            raise ValueError(f"{source}: run #{i} lacks {missing} (need {ROW_KEYS})")
        if row.get("dataset", dataset) != dataset:
            continue
        if defaults_only:
            beta, k = _default_settings(row["model"], dataset)
            if row.get("beta") is not None and not math.isclose(float(row["beta"]), beta):
                continue
            if k is not None and row.get("num_anchors") is not None and int(row["num_anchors"]) != k:
                continue
        kept.append({key: row.get(key) for key in (*ROW_KEYS, *OPTIONAL_KEYS)})
    if not kept:
        return None
    frame = pd.DataFrame(kept)
    frame["seed"] = frame["seed"].astype(int)
    frame["test_error"] = frame["test_error"].astype(float)
    meta = {"file": source.name, "provenance": stored.get("provenance"), "note": stored.get("note")}
    return frame.sort_values(["model", "seed"]).reset_index(drop=True), meta


def load_bench_paper(
    base: str | os.PathLike[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """``<base>/bench_paper.json`` (``python -m aibnb bench paper --json ...``) as a frame, or ``None``.

    One row per model: MACs per image, engine and reference-style training images/s, speed-up,
    achieved TFLOP/s and inference ms per image at batch 1 and 256; the second value holds the
    device, width, batch and provenance.
    """
    import pandas as pd

    folder = Path(base) if base is not None else runs.results_dir("full")
    path = folder / "bench_paper.json"
    stored = runs.load_result(path)
    if stored is None:
        return None
    if stored.get("suite") != "paper" or not isinstance(stored.get("models"), dict):
        raise ValueError(f"{path}: not the output of `python -m aibnb bench paper --json` (suite/models)")
    rows = []
    for name, m in stored["models"].items():
        infer = m.get("inference_ms_per_image", {})
        rows.append(
            {
                "model": name,
                "MACs (G)": m["macs_per_image"] / 1e9,
                "engine img/s": m["engine_images_per_s"],
                "reference img/s": m["reference_images_per_s"],
                "speed-up": m["speedup"],
                "TFLOP/s": m["achieved_tflops"],
                "ms/image (batch 1)": infer.get("batch_1"),
                "ms/image (batch 256)": infer.get("batch_256"),
            }
        )
    meta = {k: stored.get(k) for k in ("device", "width", "batch", "images", "dataset", "provenance")}
    return pd.DataFrame(rows).set_index("model"), meta
