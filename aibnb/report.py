"""Chapter 4's reporting: our errors beside the paper's, the paper's claims checked, costs, GPU results.

Everything here turns run records (:class:`aibnb.runs.RunRecord`) and the paper's numbers
(``book/results/paper.json``, transcribed from the paper's Tables 1-4) into small pandas tables,
so that the chapter contains no hand-typed number.

* **The paper as data.** :func:`load_paper` reads and checks ``paper.json``;
  :func:`paper_table1` is its Table 1 as a frame, :func:`paper_error` one cell of it.
* **Mean ± std over seeds.** :func:`summarize` (sample standard deviation, ``ddof=1``; ``n``
  always reported) and :func:`errors_by_model` (one test error per model and seed from records).
* **Our table beside the paper's.** :func:`results_table` lays the errors out in the row order
  of the paper's Table 1 with the paper's column of choice beside them, labelled as context when
  the dataset differs.
* **Claims** are decided in :mod:`aibnb.reproduce` (paired statistics, the book's four verdicts).
* **Cross-domain.** :data:`CROSS_DOMAIN` says on which shifted test sets the models of a training
  set are evaluated without retraining (STL-10 for CIFAR-10, as in the paper; the objects of
  ``cluttered_fashion`` for Fashion-MNIST, this book's analogue); :func:`shifted_test_set`
  builds such a set with the *training* set's normalisation and :func:`shifted_error` evaluates
  a run on it through :func:`aibnb.train.evaluate`.
* **Cost.** :func:`cost_table` counts parameters (both of the paper's conventions) and MACs of
  each model at width 1 on the ``meta`` device (nothing is allocated);
  :func:`inference_ms_per_image` times a model's evaluation forward (4 x 4 samples);
  :func:`paper_cost_table` is the paper's Tables 3-4 for 32 x 32 inputs.
* **Stored GPU results.** Full-profile runs are made on a GPU and stored as small JSON files
  under ``book/results/full/``; :func:`load_full_runs` reads them (format below) and
  :func:`write_table1` writes them from run records. :func:`load_bench_paper` reads the output
  of ``python -m aibnb.bench paper --json book/results/full/bench_paper.json``.

Stored format of the full-profile Table 1 runs: ``book/results/full/table1_<dataset>.json``::

    {"provenance": {...},                  # who wrote the file (runs.provenance)
     "dataset": "cifar10", "profile": "full",
     "runs": [{"model": "vgg_aib", "seed": 0, "test_error": 4.3, "best_epoch": 180,
               "epochs": 200, "beta": 0.01, "num_anchors": null,
               "device": "cuda (NVIDIA H100 ...)", "commit": "...", "created": "..."}, ...]}

``book/results/full/index.json`` (``tools/run_queue.py export --profile full``) holds rows of the same shape,
for every dataset and setting; :func:`load_full_runs` reads it when no ``table1_<dataset>.json``
exists and keeps the rows at the models' default settings (Table 1's).
"""

from __future__ import annotations

import functools
import math
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from aibnb import runs

__all__ = [
    "CROSS_DOMAIN",
    "TABLE1_MODELS",
    "Summary",
    "cost_table",
    "dataset_present",
    "errors_by_model",
    "inference_ms_per_image",
    "load_bench_paper",
    "load_full_runs",
    "load_paper",
    "paper_cost_table",
    "paper_error",
    "paper_file",
    "paper_table1",
    "results_table",
    "shifted_error",
    "shifted_test_set",
    "summarize",
    "table1_rows",
    "write_table1",
]

#: The models of the paper's Table 1 that this library implements, in the table's row order
#: (VGG-PAN has no implementation here).
TABLE1_MODELS = (
    "vgg", "vgg_gap", "vgg_dvib", "wrn", "vgg_att2", "vgg_att3", "wrn_abn",
    "vgg_aib", "vgg_aib_qt", "wrn_aib", "wrn_aib_qt",
)  # fmt: skip


#: Shifted test sets per training set: ``(dataset, split, label)``. The paper evaluates its
#: CIFAR-10 models on STL-10 (both splits); this book's analogue for Fashion-MNIST models is the
#: test split of ``cluttered_fashion`` (the same ten classes, each item smaller, anywhere in a
#: 32 x 32 scene, among fragments of other items on a textured background); models trained on
#: ``cluttered_fashion`` itself meet ``cluttered_fashion_shift`` (denser clutter, smaller items).
CROSS_DOMAIN: dict[str, tuple[tuple[str, str, str], ...]] = {
    "cifar10": (("stl10", "train", "STL10-train"), ("stl10", "test", "STL10-test")),
    "fashion_mnist": (("cluttered_fashion", "test", "cluttered scenes"),),
    "cluttered_fashion": (("cluttered_fashion_shift", "test", "shifted scenes"),),
}


# ---------------------------------------------------------------------------------------------
# The paper's numbers


def paper_file() -> Path:
    """``book/results/paper.json`` of this checkout."""
    from aibnb.data.paths import project_root

    return project_root() / "book" / "results" / "paper.json"


def load_paper(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The paper's Tables 1-4 as data, checked for the structure the book relies on."""
    path = Path(path) if path is not None else paper_file()
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; it holds the paper's numbers (book/results/paper.json)"
        )
    paper = runs.read_json(path)
    for key in ("source", "notes", "table1", "table3", "table4"):
        if key not in paper:
            raise ValueError(f"{path}: missing key {key!r}")
    table1 = paper["table1"]
    columns = table1["columns"]
    for row in table1["rows"]:
        if set(row["errors"]) != set(columns):
            raise ValueError(f"{path}: Table 1 row {row['paper_name']!r} must give every column {columns}")
        unknown = set(row["starred"]) - set(columns)
        if unknown:
            raise ValueError(f"{path}: Table 1 row {row['paper_name']!r} stars unknown columns {unknown}")
    for name in ("table3", "table4"):
        width = len(paper[name]["models"])
        for row in paper[name]["rows"]:
            for key in ("values", "gflops", "ms"):
                if key in row and len(row[key]) != width:
                    raise ValueError(f"{path}: {name} row {row} needs {width} values in {key!r}")
    return paper


def paper_table1(paper: Mapping[str, Any] | None = None, *, with_stars: bool = False) -> pd.DataFrame:
    """The paper's Table 1 (top-1 error, %), one row per paper model, columns per dataset.

    The index is the paper's model name; column ``model`` is this library's name (missing, NaN,
    for VGG-PAN). With ``with_stars`` the cells are strings and the paper's ambiguous ``∗`` marks are
    kept (``"4.64∗"``); otherwise floats (NaN where the paper has a dash).
    """
    paper = load_paper() if paper is None else paper
    table = paper["table1"]
    rows = []
    for row in table["rows"]:
        out: dict[str, Any] = {"paper model": row["paper_name"], "model": row["model"]}
        for col in table["columns"]:
            value = row["errors"][col]
            if with_stars:
                out[col] = "–" if value is None else f"{value:.2f}" + ("∗" if col in row["starred"] else "")
            else:
                out[col] = math.nan if value is None else float(value)
        rows.append(out)
    return pd.DataFrame(rows).set_index("paper model")


def paper_error(model: str, column: str, paper: Mapping[str, Any] | None = None) -> float | None:
    """The paper's Table 1 error of ``model`` (a registry name) in ``column`` (e.g. ``"cifar10"``)."""
    paper = load_paper() if paper is None else paper
    columns = paper["table1"]["columns"]
    if column not in columns:
        raise ValueError(f"column must be one of {columns}, got {column!r}")
    for row in paper["table1"]["rows"]:
        if row["model"] == model:
            value = row["errors"][column]
            return None if value is None else float(value)
    return None


# ---------------------------------------------------------------------------------------------
# Mean ± std over seeds


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (``ddof=1``; NaN for one value) and count."""

    mean: float
    std: float
    n: int

    def __str__(self) -> str:
        return self.format()

    def format(self, digits: int = 2) -> str:
        """``"23.95 ± 0.41"``; a single value has no spread: ``"23.95 (n=1)"``."""
        if self.n < 2 or not math.isfinite(self.std):
            return f"{self.mean:.{digits}f} (n={self.n})"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def summarize(values: Iterable[float]) -> Summary:
    """:class:`Summary` of ``values`` (finite numbers; at least one)."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("summarize: values is empty; pass at least one number (one per seed)")
    bad = [v for v in vals if not math.isfinite(v)]
    if bad:
        raise ValueError(f"summarize: values must be finite numbers, got {bad}")
    std = statistics.stdev(vals) if len(vals) > 1 else math.nan
    return Summary(mean=statistics.fmean(vals), std=std, n=len(vals))


def errors_by_model(
    records: Iterable[runs.RunRecord], key: str = "test_error"
) -> dict[str, dict[int, float]]:
    """``{model: {seed: final[key]}}`` from finished run records (one record per model and seed)."""
    out: dict[str, dict[int, float]] = {}
    for rec in records:
        if not rec.finished:
            raise ValueError(f"errors_by_model: run {rec.path} has not finished (no final.json)")
        model, seed = rec.config["model"], int(rec.config["seed"])
        if seed in out.setdefault(model, {}):
            raise ValueError(
                f"errors_by_model: two runs of {model} with seed {seed}; pass one record per model and seed"
            )
        out[model][seed] = float(rec.final[key])
    return out


# ---------------------------------------------------------------------------------------------
# Our errors beside the paper's


def results_table(
    errors: Mapping[str, Mapping[int, float] | Sequence[float]],
    paper: Mapping[str, Any] | None = None,
    *,
    column: str = "cifar10",
    ours_label: str = "ours",
    digits: int = 2,
) -> pd.DataFrame:
    """One row per model (Table 1's order): our mean ± std over seeds and n, and the paper's ``column``.

    ``errors`` maps a model to its per-seed errors (a ``{seed: error}`` dict or a list). Models
    that are not in ``errors`` are left out. The paper's cell keeps its ``∗`` mark.
    """
    paper = load_paper() if paper is None else paper
    starred = paper_table1(paper, with_stars=True)
    labels = paper["table1"]["column_labels"]
    if column not in labels:
        raise ValueError(f"column must be one of {list(labels)}, got {column!r}")
    by_model = {row["model"]: name for name, row in starred.iterrows() if isinstance(row["model"], str)}
    unknown = sorted(set(errors) - set(by_model))
    if unknown:
        raise ValueError(f"results_table: {unknown} are not models of the paper's Table 1 ({list(by_model)})")
    rows = []
    for model in TABLE1_MODELS:
        if model not in errors:
            continue
        values = errors[model]
        vals = list(values.values()) if isinstance(values, Mapping) else list(values)
        seeds = sorted(values) if isinstance(values, Mapping) else list(range(len(vals)))
        s = summarize(vals)
        rows.append(
            {
                "model": model,
                "paper model": by_model[model],
                f"{ours_label} mean": s.mean,
                f"{ours_label} std": s.std,
                "n": s.n,
                "seeds": ", ".join(str(x) for x in seeds),
                f"{ours_label} (mean ± std)": s.format(digits),
                f"paper {labels[column]}": starred.loc[by_model[model], column],
            }
        )
    return pd.DataFrame(rows).set_index("model")


# ---------------------------------------------------------------------------------------------
# Cross-domain evaluation


def dataset_present(name: str) -> bool:
    """Whether ``name``'s test split is on this machine (nothing is downloaded)."""
    from aibnb import data
    from aibnb.data.datasets import cub_records

    try:
        if name == "cub200":
            cub_records("test")  # the index only: decoding 5,794 JPEGs just to check is wasteful
        else:
            data.load_tensors(name, "test")
    except data.DatasetNotFoundError:
        return False
    return True


def shifted_test_set(
    train_dataset: str,
    target: str,
    split: str = "test",
    *,
    n: int | None = None,
    backbone: str = "vgg",
    seed: int = 0,
) -> Any:
    """The ``target``/``split`` images as a test set for models trained on ``train_dataset``.

    The images are normalised with the *training* set's statistics (the models' input
    convention; STL-10 already borrows CIFAR-10's) and lose their masks; ``n`` takes a stratified
    subset (same ``seed``, same subset). The classes must be the training set's.
    """
    from aibnb import data

    shifted = data.load_tensors(target, split, backbone=backbone)
    train_classes = data.load_tensors(train_dataset, "test", backbone=backbone).classes
    if list(shifted.classes) != list(train_classes):
        raise ValueError(
            f"shifted_test_set: {target} has classes {shifted.classes}, but models trained on "
            f"{train_dataset} predict {train_classes}; a shifted test set needs the same classes"
        )
    mean, std = data.normalization(train_dataset, backbone)
    shifted = replace(shifted, mean=mean, std=std, masks=None)
    if n is not None and n < len(shifted):
        shifted = shifted.subset(n, seed=seed)
    return shifted


@torch.no_grad()
def shifted_error(
    record: runs.RunRecord, test_set: Any, *, device: str = "cpu", batch_size: int = 256, seed: int = 0
) -> float:
    """Top-1 error (%) of a run's best weights on ``test_set`` (the official 4 x 4 samples), no retraining.

    The attention and latent samples are drawn from a generator seeded with ``seed`` (the global
    random state is restored afterwards), so the same call gives the same error.
    """
    from aibnb import data
    from aibnb.train import TrainConfig, evaluate, load_model

    cfg = TrainConfig.from_dict(record.config)
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        model = load_model(record, device=device)  # building the model draws initial weights too
        loader = data.DeviceLoader(test_set, batch_size, device=device, train=False)
        torch.manual_seed(seed)
        result = evaluate(model, loader, cfg, dev, prefix="shift")
    return float(result["shift_error"])


# ---------------------------------------------------------------------------------------------
# Cost


def _build_meta(name: str, num_classes: int, in_channels: int, image_size: int, width: float):
    from aibnb.models import build_model

    with torch.device("meta"):
        return build_model(name, num_classes, width=width, in_channels=in_channels, image_size=image_size)


def cost_table(
    models: Sequence[str],
    *,
    num_classes: int = 10,
    in_channels: int = 3,
    image_size: int = 32,
    width: float = 1.0,
) -> pd.DataFrame:
    """Parameters (``parameters()`` and ``state_dict`` sizes, millions) and MACs (G) at ``width``.

    Models are built on the ``meta`` device: shapes only, no memory, no time. MACs are one
    deterministic pass of one image (:func:`aibnb.models.count_macs`, every Conv2d/Linear
    application counted once).
    """
    from aibnb.models import count_macs, count_parameters

    rows = []
    for name in models:
        model = _build_meta(name, num_classes, in_channels, image_size, width)
        rows.append(
            {
                "model": name,
                "parameters (M)": count_parameters(model) / 1e6,
                "state_dict (M)": count_parameters(model, include_buffers=True) / 1e6,
                "MACs (G)": count_macs(model, (1, in_channels, image_size, image_size)) / 1e9,
            }
        )
    return pd.DataFrame(rows).set_index("model")


@torch.no_grad()
def inference_ms_per_image(
    model: torch.nn.Module,
    batch_size: int,
    *,
    in_channels: int = 3,
    image_size: int = 32,
    repeats: int = 3,
    warmup: int = 1,
    device: str | torch.device = "cpu",
) -> float:
    """Median wall time of one evaluation forward, per image, in ms (the model's eval samples).

    ``warmup`` untimed calls, then ``repeats`` timed calls on a random batch.
    """
    if batch_size < 1 or repeats < 1 or warmup < 0:
        raise ValueError(
            f"batch_size and repeats must be >= 1 and warmup >= 0, got {batch_size}, {repeats}, {warmup}"
        )
    from aibnb.bench import time_it

    device = torch.device(device)
    model = model.to(device).eval()
    x = torch.randn(batch_size, in_channels, image_size, image_size, device=device)
    seconds = time_it(lambda: model(x), device, warmup=warmup, repeats=repeats)
    return 1e3 * seconds / batch_size


def paper_cost_table(
    paper: Mapping[str, Any] | None = None, *, input_size: int = 32, num_classes: int = 10
) -> pd.DataFrame:
    """The paper's Tables 3-4 for one input size and class count: parameters (M), GFLOPs, ms."""
    paper = load_paper() if paper is None else paper
    out: dict[str, dict[str, Any]] = {}
    t3, t4 = paper["table3"], paper["table4"]
    for row in t3["rows"]:
        if row["input_size"] == input_size and row["num_classes"] == num_classes:
            for model, value in zip(t3["models"], row["values"], strict=True):
                out.setdefault(model, {})["paper parameters (M)"] = value
                out[model]["paper convention"] = t3["conventions"][model]
    for row in t4["rows"]:
        if row["input_size"] == input_size and row["num_classes"] == num_classes:
            for model, gflops, ms in zip(t4["models"], row["gflops"], row["ms"], strict=True):
                out.setdefault(model, {})["paper 'FLOPs' (G)"] = gflops
                out[model]["paper ms/frame"] = ms
    if not out:
        raise ValueError(f"the paper has no cost rows for {input_size} px and {num_classes} classes")
    frame = pd.DataFrame.from_dict(out, orient="index")
    frame.index.name = "model"
    return frame


# ---------------------------------------------------------------------------------------------
# Stored full-profile results


ROW_KEYS = ("model", "seed", "test_error")
OPTIONAL_KEYS = ("best_epoch", "epochs", "beta", "num_anchors", "device", "commit", "created")


def table1_rows(records: Iterable[runs.RunRecord]) -> list[dict[str, Any]]:
    """One row per finished record in the stored Table 1 format (see the module docstring)."""
    rows = []
    for rec in records:
        if not rec.finished:
            raise ValueError(f"table1_rows: run {rec.path} has not finished")
        prov = rec.provenance or {}
        rows.append(
            {
                "model": rec.config["model"],
                "dataset": rec.config["dataset"],
                "seed": int(rec.config["seed"]),
                "test_error": float(rec.final["test_error"]),
                "best_epoch": rec.final.get("best_epoch"),
                "epochs": rec.config.get("epochs"),
                "beta": rec.config.get("beta"),
                "num_anchors": rec.final.get("num_anchors"),
                "device": prov.get("device"),
                "commit": prov.get("commit"),
                "created": prov.get("created"),
            }
        )
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
    stamp = runs.provenance(profile=profile, seed=None, device=device)
    runs.save_result(path, {"dataset": dataset, "profile": profile, "runs": rows}, stamp=stamp)
    return path


@functools.cache
def _default_settings(model: str, dataset: str) -> tuple[float, int | None]:
    """Table 1's beta and K of ``model`` on ``dataset`` (the recipe's beta; the model's default K)."""
    from aibnb.models import spec

    s = spec(model)
    beta = float(s.recipe.get("beta", 0.0)) if s.kind in ("vib", "aib", "aib_qt") else 0.0
    if s.kind != "aib_qt":
        return beta, None
    num_classes = {"cifar100": 100, "cub200": 200}.get(dataset, 10)
    model_ = _build_meta(model, num_classes, 3, s.native_size, 1.0)
    return beta, int(model_.attention.quantizer.num_anchors)


def load_full_runs(
    dataset: str, base: str | os.PathLike[str] | None = None, *, defaults_only: bool = True
) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The stored full-profile Table 1 runs on ``dataset`` as a frame, with the file's provenance.

    Reads ``<base>/table1_<dataset>.json``, else ``<base>/index.json``; ``None`` when neither holds
    a run on ``dataset`` (the chapter then says so). With ``defaults_only`` rows at a non-default
    β or K (sweeps) are dropped. A malformed row is a clear error.
    """
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
    """``<base>/bench_paper.json`` (``python -m aibnb.bench paper --json ...``) as a frame, or ``None``.

    One row per model: MACs per image, engine and reference-style training images/s, speed-up,
    achieved TFLOP/s and inference ms per image at batch 1 and 256; the second value holds the
    device, width, batch and provenance.
    """
    folder = Path(base) if base is not None else runs.results_dir("full")
    path = folder / "bench_paper.json"
    stored = runs.load_result(path)
    if stored is None:
        return None
    if stored.get("suite") != "paper" or not isinstance(stored.get("models"), dict):
        raise ValueError(f"{path}: not the output of `python -m aibnb.bench paper --json` (suite/models)")
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
