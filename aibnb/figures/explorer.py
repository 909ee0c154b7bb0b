"""A slider over one stored setting of a tier, whose panels and table come from the same runs.

A chapter's "explore β" slider shows the trained models of the stored ``lab`` tier, not a live
toy: for each value of one :class:`Setting` (β, the number of anchors K, the latent size d, the
model, the size of the training set) a :class:`Point` holds the tier's runs of that value by seed,
selected exactly as the chapter's tables select them (:meth:`aibnb.reproduce.evidence.Tier.select`:
the model's other settings at their defaults, the training-set ladder left out unless the setting
asks for it). Then

* :func:`points_table` is the chapter's table of the sweep: one row per value, one cell per
  :class:`Column` (the test error as mean ± sd over seeds and its 95 % interval, the KL term, the
  I(Z;Y) bound ...);
* :func:`stored_explorer` is the slider: one panel per value, the same cells printed above a
  figure of the same runs (by default :func:`maps_panel`: the same test images' maps, one row per
  seed), so that a panel and the table can never disagree; the panel's root and the table carry
  the same ``data-aibnb-table`` identifier, by which the book's tests compare them;
* :func:`live_trainer` is the "train a new value" box: it works only with a live kernel, so it is
  marked live-only (hidden in the static page).

A new slider (e.g. over the training-set sizes of the ladder, :data:`TRAIN_SIZE`) needs only its
setting, its columns and, if the default is not what it should show, a drawing function.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from aibnb import viz
from aibnb.figures.grids import class_names, map_grid
from aibnb.figures.style import ATTENTION_RANGE, LTPA_RANGE
from aibnb.figures.tables import book_table, display_name, interval_text, mean_sd_text
from aibnb.reproduce.pairing import map_scores, run_setting, stored_scores

__all__ = [
    "ANCHORS",
    "BETA",
    "ERROR",
    "ERROR_INTERVAL",
    "IZY",
    "KL",
    "LATENT",
    "MODEL",
    "PERPLEXITY",
    "STANDARD_COLUMNS",
    "TRAIN_SIZE",
    "Column",
    "Point",
    "Setting",
    "final_value",
    "live_trainer",
    "localisation_value",
    "maps_panel",
    "model_points",
    "panel_cells",
    "points_frame",
    "points_table",
    "stored_explorer",
    "sweep_points",
]

STAT_ATTRIBUTE = "data-aibnb-stat"
TABLE_ATTRIBUTE = "data-aibnb-table"
NUMBERS_CLASS = "aibnb-panel-numbers"


@dataclass(frozen=True)
class Setting:
    """One stored setting a slider moves along: its config key, its symbol, and the other
    settings every one of its runs has (``fixed``; e.g. the ladder's ``train_eval=True``)."""

    key: str
    symbol: str
    name: str
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def label(self, value: Any) -> str:
        """How a value is written on the slider and in the table (``0.01``, ``20``, ``VGG-aib``)."""
        if self.key == "model":
            return display_name(value)
        if self.key == "train_subset":
            return f"{int(value):,}"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)


BETA = Setting("beta", "β", "β")
ANCHORS = Setting("num_anchors", "K", "number of anchors K")
LATENT = Setting("latent_dim", "d", "latent size d")
MODEL = Setting("model", "model", "model")
TRAIN_SIZE = Setting("train_subset", "n", "training images n", fixed={"train_eval": True})


@dataclass
class Point:
    """The stored runs of one value of a setting, ``{seed: RunRecord}``."""

    setting: Setting
    value: Any
    records: dict[int, Any]

    @property
    def label(self) -> str:
        return self.setting.label(self.value)

    @property
    def seeds(self) -> list[int]:
        return sorted(self.records)


def sweep_points(
    tier: Any,
    model: str,
    setting: Setting,
    dataset: str = "fashion_mnist",
    *,
    values: Iterable[Any] | None = None,
    keep: Callable[[Any], bool] | None = None,
) -> list[Point]:
    """One :class:`Point` per stored value of ``setting`` for ``model`` on ``dataset`` (``values``
    to choose them; default: every value the tier holds), in increasing order, empty ones left
    out. Runs are selected by ``tier.select`` with ``setting.fixed``; ``keep`` drops runs."""
    if values is None:
        found = {
            run_setting(r, setting.key)
            for r in tier.records
            if r.config["model"] == model and r.config["dataset"] == dataset
            and all(run_setting(r, k) == v for k, v in setting.fixed.items())
        }
        values = sorted(v for v in found if v is not None)
    points = []
    for value in values:
        chosen = tier.select(model, dataset, **{setting.key: value}, **setting.fixed)
        chosen = {s: r for s, r in chosen.items() if keep is None or keep(r)}
        if chosen:
            points.append(Point(setting, value, chosen))
    return points


def model_points(tier: Any, models: Sequence[str], dataset: str = "fashion_mnist", *,
                 keep: Callable[[Any], bool] | None = None) -> list[Point]:
    """One :class:`Point` per model (its runs at the default settings), models without runs left out."""
    points = []
    for model in models:
        chosen = {s: r for s, r in tier.select(model, dataset).items() if keep is None or keep(r)}
        if chosen:
            points.append(Point(MODEL, model, chosen))
    return points


def final_value(key: str) -> Callable[[Any], float | None]:
    """The number ``key`` of a run's ``final.json`` (None when absent)."""

    def value(record: Any) -> float | None:
        found = (record.final or {}).get(key)
        return None if found is None else float(found)

    value.__name__ = f"final_{key}"
    return value


def localisation_value(metric: str, map_name: str = "own") -> Callable[[Any], float | None]:
    """A run's mean localisation score on the cluttered scenes, in percent, from the scores the queue
    stored beside it (``scores.json``; ``metric`` ``"pointing"`` or ``"mass"``, the relevance mass of
    the map minus its minimum), as :meth:`aibnb.reproduce.evidence.Tier.localisation` reads them."""

    def value(record: Any) -> float | None:
        found = map_scores(stored_scores(record), map_name).get("per_image", {}).get(metric)
        return None if found is None else 100.0 * float(np.nanmean(np.asarray(found, dtype=float)))

    value.__name__ = f"localisation_{map_name}_{metric}"
    return value


@dataclass(frozen=True)
class Column:
    """One number of a point over its seeds: ``kind`` ``"mean_sd"`` ("13.46 ± 0.96"),
    ``"interval"`` (the 95 % t-interval of the mean) or ``"mean"``; ``None`` values are left out."""

    header: str
    value: Callable[[Any], float | None]
    kind: str = "mean_sd"
    digits: int = 2

    def cell(self, records: Iterable[Any]) -> str:
        values = [self.value(r) for r in records]
        if self.kind == "interval":
            return interval_text(values, self.digits)
        if self.kind == "mean":
            finite = [v for v in values if v is not None and math.isfinite(v)]
            return f"{np.mean(finite):.{self.digits}f}" if finite else "–"
        return mean_sd_text(values, self.digits)


ERROR = Column("test error (%)", final_value("test_error"))
ERROR_INTERVAL = Column("95 % interval (%)", final_value("test_error"), kind="interval")
KL = Column("KL term (bits)", final_value("test_info_bits"), kind="mean", digits=3)
IZY = Column("I(Z;Y) bound (bits)", final_value("test_izy_bits"), kind="mean", digits=3)
PERPLEXITY = Column("anchor perplexity", final_value("test_perplexity"), kind="mean", digits=1)
#: what every stored-run slider shows: the error over seeds, the KL term and the I(Z;Y) bound
STANDARD_COLUMNS = (ERROR, ERROR_INTERVAL, KL, IZY)


def panel_cells(point: Point, columns: Sequence[Column]) -> dict[str, str]:
    """The cells of one point: ``seeds`` and one string per column (the table's row, the panel's text)."""
    records = [point.records[s] for s in point.seeds]
    return {"seeds": str(len(records)), **{c.header: c.cell(records) for c in columns}}


def points_table(points: Sequence[Point], columns: Sequence[Column] = STANDARD_COLUMNS, *,
                 caption: str, table_id: str) -> Styler:
    """The sweep as a table: one row per point (its label), the columns' cells over its seeds."""
    if not points:
        raise ValueError("points_table: no stored runs to show")
    rows = {p.label: panel_cells(p, columns) for p in points}
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis(points[0].setting.symbol)
    return book_table(frame, caption=caption, table_id=table_id, rename=False)


def points_frame(points: Sequence[Point]) -> pd.DataFrame:
    """One row per run of the points: the setting's value, the seed and the stored numbers
    (``test_error``, ``kl_bits``, ``izy_bits``, ``perplexity``), for :func:`aibnb.viz.sweep_figure`."""
    rows = []
    for p in points:
        for seed, r in sorted(p.records.items()):
            f = r.final or {}
            rows.append({p.setting.key: p.value, "seed": seed, "test_error": f.get("test_error"),
                         "kl_bits": f.get("test_info_bits"), "izy_bits": f.get("test_izy_bits"),
                         "perplexity": f.get("test_perplexity")})
    return pd.DataFrame(rows)


def _map_key(record: Any) -> tuple[str, tuple[float, float], str]:
    """Which stored map a model is shown by: (key in attention.npz, colour range, colour-bar label)."""
    model = record.config["model"]
    if model.endswith("_qt"):
        return "attention", ATTENTION_RANGE, "attention (quantised)"
    if model in ("vgg_att2", "vgg_att3"):
        return "attention", LTPA_RANGE, "H·W·a (LTPA's softmax map)"
    return "attention_mean", ATTENTION_RANGE, "attention mean μ_a"


def maps_panel(point: Point, *, num_images: int = 6, max_seeds: int = 3, masks: bool = False) -> Figure:
    """The first ``num_images`` stored test images of the point's runs (the same for every run),
    then one row of maps per seed (the first ``max_seeds``), each row titled with its seed and its
    test error, wrong predictions noted under the map; ``masks`` outlines the objects."""
    seeds = point.seeds[:max_seeds]
    samples = {s: point.records[s].attention_samples() for s in seeds}
    first = point.records[seeds[0]]
    key, value_range, bar = _map_key(first)
    classes = class_names(first)
    base = samples[seeds[0]]
    rows, names, notes = [], [], []
    for s in seeds:
        smp = samples[s]
        maps = smp[key][:num_images].astype(np.float32)
        if value_range == LTPA_RANGE:
            maps = maps * maps[0].size
        rows.append(list(maps))
        names.append(f"seed {s}\n{point.records[s].final['test_error']:.1f} %")
        pairs = zip(smp["predictions"][:num_images], smp["labels"][:num_images], strict=True)
        notes.append(["" if p == y else f"→ {classes[int(p)][:10]}" for p, y in pairs])
    return map_grid(
        base["images"][:num_images], rows, names, labels=base["labels"][:num_images], classes=classes,
        masks=base["masks"][:num_images] if masks and "masks" in base else None, row_notes=notes,
        value_range=value_range, colorbar_label=bar,
    )


def _numbers_html(point: Point, cells: Mapping[str, str], table_id: str) -> str:
    parts = [f"<b>{html.escape(point.setting.symbol)} = {html.escape(point.label)}</b>"]
    for header, text in cells.items():
        parts.append(f'{html.escape(header)} <span {STAT_ATTRIBUTE}="{html.escape(header, quote=True)}">'
                     f"{html.escape(text)}</span>")
    return (f'<p class="{NUMBERS_CLASS}" {TABLE_ATTRIBUTE}="{html.escape(table_id, quote=True)}">'
            + " · ".join(parts) + "</p>")


def _panel(point: Point, columns: Sequence[Column], draw: Callable[[Point], Figure], table_id: str,
           dpi: int) -> str:
    cells = panel_cells(point, columns)
    fig = draw(point)
    alt = (f"{point.setting.name} = {point.label}: " + "; ".join(f"{k} {v}" for k, v in cells.items())
           + ". The first stored test images and their maps, one row per seed.")
    img = viz.figure_html(fig, alt=alt, dpi=dpi)
    plt.close(fig)
    return _numbers_html(point, cells, table_id) + img


def stored_explorer(
    points: Sequence[Point],
    columns: Sequence[Column] = STANDARD_COLUMNS,
    *,
    table_id: str,
    title: str,
    footer: str,
    draw: Callable[[Point], Figure] = maps_panel,
    initial: Any = None,
    dpi: int = 90,
) -> viz.PanelExplorer:
    """A slider over the points, each panel the point's cells (as in :func:`points_table` with the
    same ``table_id``) above ``draw(point)``; ``initial`` is the value shown first."""
    if not points:
        raise ValueError("stored_explorer: no stored runs to show")
    values = [p.value for p in points]
    start = values.index(initial) if initial in values else 0
    return viz.panel_explorer(
        [p.label for p in points], [_panel(p, columns, draw, table_id, dpi) for p in points],
        description=points[0].setting.symbol, title=title, footer=footer, initial=start, dpi=dpi,
    )


def live_trainer(explorer: viz.PanelExplorer, value_box: widgets.Widget, train: Callable[[Any], Any],
                 setting: Setting, *, columns: Sequence[Column] = STANDARD_COLUMNS,
                 draw: Callable[[Point], Figure] = maps_panel, note: str = "") -> widgets.HBox:
    """A box that trains one run at the value in ``value_box`` (``train(value)`` returns its record)
    and adds its panel to ``explorer``. It needs a live kernel, so it is marked live-only: the static
    page hides it."""
    button = widgets.Button(description="train", button_style="info")
    status = widgets.HTML(f"<small>{html.escape(note)}</small>")

    def on_click(_button: Any) -> None:
        value = value_box.value
        status.value = f"<small>training {html.escape(setting.symbol)} = {value} …</small>"
        record = train(value)
        point = Point(setting, value, {int(record.config["seed"]): record})
        label = point.label if point.label not in explorer.labels else f"{point.label} (live)"
        viz.add_panel(explorer, label, _panel(point, columns, draw, "live", explorer.dpi))
        status.value = f"<small>added {html.escape(setting.symbol)} = {html.escape(point.label)}</small>"

    button.on_click(on_click)
    return viz.live_only(widgets.HBox([value_box, button, status]))
