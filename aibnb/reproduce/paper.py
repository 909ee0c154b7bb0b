"""The paper's Tables 1, 3 and 4 as data, and our Table 1 errors laid out beside them.

The paper's numbers live in one file, ``book/results/paper.json`` (transcribed from the paper's
Tables 1-4), so that no chapter holds a hand-typed number of the paper. This module reads and
checks that file and turns it into small pandas tables:

* :func:`load_paper` reads ``paper.json`` and checks the structure the book relies on (every
  Table 1 row gives every column; Tables 3-4 give one value per model);
* :func:`paper_table1` is Table 1 (top-1 error, %) as a frame, :func:`paper_error` one cell of it,
  :func:`paper_column_for` the column shown beside a training set (its own, else CIFAR-10 as context);
* :func:`paper_cost_table` is Tables 3-4 (parameters, "FLOPs", ms per frame) for one input size;
* :data:`TABLE1_MODELS` is Table 1's row order over the models this library implements, and
  :func:`table1_beta` the β at which Table 1 trains a model (the official recipe's, 0 without a
  bottleneck): the setting that tells a Table 1 run from a sweep run;
* :func:`results_table` lays our errors over seeds (mean ± std, :func:`errors_by_model` reads them
  from run records) out in Table 1's order with the paper's column of choice beside them.

Our own cost counts are :func:`aibnb.models.cost.cost_table`; the claims of Table 1 are decided in
:mod:`aibnb.reproduce.claims` with the paired statistics of :mod:`aibnb.reproduce.stats`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aibnb import runs, storage
from aibnb.data.paths import project_root
from aibnb.models import spec
from aibnb.reproduce.stats import summarize

if TYPE_CHECKING:  # pandas is the book's extra: imported where a table is built
    import pandas as pd

__all__ = [
    "TABLE1_MODELS",
    "errors_by_model",
    "load_paper",
    "paper_column_for",
    "paper_cost_table",
    "paper_error",
    "paper_file",
    "paper_table1",
    "results_table",
    "table1_beta",
]

#: The models of the paper's Table 1 that this library implements, in the table's row order
#: (VGG-PAN has no implementation here).
TABLE1_MODELS = (
    "vgg", "vgg_gap", "vgg_dvib", "wrn", "vgg_att2", "vgg_att3", "wrn_abn",
    "vgg_aib", "vgg_aib_qt", "wrn_aib", "wrn_aib_qt",
)  # fmt: skip

#: Model kinds with an information bottleneck, hence a β.
BOTTLENECK_KINDS = ("vib", "aib", "aib_qt")


def table1_beta(model: str) -> float:
    """The β of ``model`` in Table 1: its official recipe's, 0 for a model without a bottleneck."""
    s = spec(model)
    return float(s.recipe.get("beta", 0.0)) if s.kind in BOTTLENECK_KINDS else 0.0


# ---------------------------------------------------------------------------------------------
# paper.json


def paper_file() -> Path:
    """``book/results/paper.json`` of this checkout."""
    return project_root() / "book" / "results" / "paper.json"


def load_paper(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The paper's Tables 1-4 as data, checked for the structure the book relies on."""
    path = Path(path) if path is not None else paper_file()
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; it holds the paper's numbers (book/results/paper.json)"
        )
    paper = storage.read_json(path)
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
    import pandas as pd

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


def paper_column_for(dataset: str, paper: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """The paper's Table 1 column to show beside our errors on ``dataset``, and a note for its header:
    ``(dataset, "")`` when the paper has that column, else ``("cifar10", " (context: another dataset)")``:
    another dataset at another scale is context, never a target."""
    paper = load_paper() if paper is None else paper
    if dataset in paper["table1"]["columns"]:
        return dataset, ""
    return "cifar10", " (context: another dataset)"


def paper_cost_table(
    paper: Mapping[str, Any] | None = None, *, input_size: int = 32, num_classes: int = 10
) -> pd.DataFrame:
    """The paper's Tables 3-4 for one input size and class count: parameters (M), GFLOPs, ms."""
    import pandas as pd

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
# Our errors beside the paper's


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
    import pandas as pd

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
