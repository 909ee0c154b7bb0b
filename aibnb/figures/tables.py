"""Tables as the book shows them: display names, units, "mean ± sd" cells, one style.

A reader should never see a code name (``vgg_aib_qt``, ``batch_size``, ``test_info_bits``) where
a word belongs, nor two numbers run together: :func:`display_name` maps the library's names to
the book's, :func:`book_table` renames a frame's labels with it, formats its numbers, keeps its
caption whole and gives it the class ``aibnb-table`` (padding and a scroll box of its own come
from the book's style sheet). The cell formatters (:func:`mean_sd_text`, :func:`interval_text`,
:func:`pm`) are the only place a "mean ± sd" is written, so that a table and a slider panel that
show the same runs print the same characters.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler
from scipy import stats

__all__ = [
    "DATASET_NAMES",
    "FIELD_NAMES",
    "MODEL_NAMES",
    "TABLE_CLASS",
    "book_table",
    "comparison_table",
    "departures_table",
    "display_name",
    "interval_text",
    "mean_sd",
    "mean_sd_text",
    "pm",
    "pm_frame",
]

#: the class every table of the book carries (the style sheet pads and boxes it)
TABLE_CLASS = "aibnb-table"

MODEL_NAMES = {
    "vgg": "VGG", "vgg_gap": "VGG-GAP", "vgg_dvib": "VGG-DVIB", "vgg_att2": "VGG-att2",
    "vgg_att3": "VGG-att3", "vgg_aib": "VGG-aib", "vgg_aib_qt": "VGG-aib-qt", "wrn": "WRN",
    "wrn_abn": "WRN-ABN", "wrn_aib": "WRN-aib", "wrn_aib_qt": "WRN-aib-qt",
    "vgg+gradcam": "VGG + Grad-CAM",
}
DATASET_NAMES = {"fashion_mnist": "Fashion-MNIST", "cluttered_fashion": "cluttered scenes"}
#: training settings (``TrainConfig`` fields) and the numbers of a run's ``final.json``
FIELD_NAMES = {
    "epochs": "epochs", "batch_size": "batch size", "optimizer": "optimiser", "lr": "learning rate",
    "momentum": "momentum", "weight_decay": "weight decay", "schedule": "learning-rate schedule",
    "warmup_epochs": "warm-up epochs", "width": "width (fraction of the paper's)",
    "train_subset": "training images", "beta": "β", "num_anchors": "anchors K", "latent_dim": "latent size d",
    "seed": "seed", "test_error": "test error (%)", "best_val_acc": "best validation accuracy",
    "test_info_bits": "KL term (bits)", "test_izy_bits": "I(Z;Y) bound (bits)",
    "test_perplexity": "anchor perplexity", "test_att_mean": "mean μ_a", "test_att_std": "mean σ_a",
    "test_att_outside": "samples outside [0, 1]", "test_dead_anchors": "dead anchors per batch",
    "test_commitment": "commitment loss", "wall_time_s": "training time (s)",
}


def display_name(key: Any) -> str:
    """The book's name for a model, dataset, training setting or stored number (else ``key``)."""
    text = str(key)
    for names in (MODEL_NAMES, DATASET_NAMES, FIELD_NAMES):
        if text in names:
            return names[text]
    return text


def _finite(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def mean_sd_text(values: Iterable[Any], digits: int = 2) -> str:
    """``"13.46 ± 0.96"`` over ``values`` (one per seed; sample sd), ``"13.46"`` for one value,
    ``"–"`` for none (``None`` and NaN are left out)."""
    vals = _finite(values)
    if not vals:
        return "–"
    mean = float(np.mean(vals))
    if len(vals) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {float(np.std(vals, ddof=1)):.{digits}f}"


def interval_text(values: Iterable[Any], digits: int = 2, level: float = 0.95) -> str:
    """The ``level`` t-interval of the mean over ``values``, ``"12.27 to 14.65"`` (``"–"`` below
    two values: one seed has no spread)."""
    vals = _finite(values)
    if len(vals) < 2:
        return "–"
    mean, sd = float(np.mean(vals)), float(np.std(vals, ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, len(vals) - 1)) * sd / math.sqrt(len(vals))
    return f"{mean - half:.{digits}f} to {mean + half:.{digits}f}"


def pm(mean: float, sd: float, digits: int = 1) -> str:
    """``"mean ± sd"``; just the mean when ``sd`` is not finite (one seed), ``"–"`` without a mean."""
    if mean is None or not np.isfinite(mean):
        return "–"
    if sd is None or not np.isfinite(sd):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def mean_sd(frame: pd.DataFrame, by: Sequence[str], value: str, columns: Sequence[Any] | None = None
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean and sample sd of ``value`` over the rows of each group ``by = (row key, column key)``,
    as two frames (rows by the first key, columns by the second, in the order ``columns``)."""
    grouped = frame.groupby(list(by))[value]
    mean, sd = grouped.mean().unstack(), grouped.std(ddof=1).unstack()
    if columns is not None:
        mean, sd = mean[list(columns)], sd[list(columns)]
    return mean, sd


def pm_frame(mean: pd.DataFrame, sd: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """A frame of :func:`pm` cells from a frame of means and one of sds (same labels), its rows
    renamed with :func:`display_name`."""
    cells = {c: [pm(mean.loc[i, c], sd.loc[i, c], digits) for i in mean.index] for c in mean.columns}
    return pd.DataFrame(cells, index=[display_name(i) for i in mean.index])


def _label(value: Any) -> Any:
    """A label renamed when it is a name the book knows (numbers stay numbers)."""
    return display_name(value) if isinstance(value, str) else value


def _renamed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.columns = [_label(c) for c in out.columns]
    if not isinstance(out.index, pd.MultiIndex):
        out.index = pd.Index([_label(i) for i in out.index], name=out.index.name)
    out.index.names = [display_name(n) if n is not None else None for n in out.index.names]
    out.columns.name = display_name(frame.columns.name) if frame.columns.name is not None else None
    return out


def book_table(
    frame: pd.DataFrame,
    *,
    caption: str,
    formats: Mapping[str, Any] | str | None = None,
    precision: int | None = None,
    na: str = "–",
    rename: bool = True,
    table_id: str | None = None,
) -> Styler:
    """``frame`` as a styled table of the book.

    ``rename``: labels (columns, index values and names) through :func:`display_name`;
    ``formats``: a format string or ``{column: format}`` (display names, after renaming) or
    ``precision`` digits for every number; ``na``: what a missing value shows; ``caption``: the
    whole caption (it wraps, never clips); ``table_id``: an identifier (``data-aibnb-table``) by
    which a test matches the table with the slider panels drawn from the same runs.
    """
    shown = _renamed(frame) if rename else frame
    styler = shown.style
    if formats is not None:
        styler = styler.format(formats, na_rep=na)
    elif precision is not None:
        styler = styler.format(precision=precision, na_rep=na)
    else:
        styler = styler.format(na_rep=na)
    attributes = f'class="{TABLE_CLASS}"'
    if table_id:
        attributes += f' data-aibnb-table="{html.escape(table_id, quote=True)}"'
    return styler.set_caption(caption).set_table_attributes(attributes)


def comparison_table(stored: Mapping[str, float], now: Mapping[str, float], keys: Sequence[str], *,
                     caption: str) -> Styler:
    """A run's numbers beside the stored ones and their difference (a reproduction check)."""
    frame = pd.DataFrame({
        "stored": {k: stored[k] for k in keys},
        "now": {k: now[k] for k in keys},
        "|now − stored|": {k: abs(now[k] - stored[k]) for k in keys},
    })
    return book_table(frame, caption=caption, formats="{:.4f}")


def departures_table(gaps: Mapping[str, tuple[Any, Any]], *, caption: str, run: str = "this run"
                     ) -> Styler:
    """The training settings in which a run departs from the official recipe
    (:func:`aibnb.train.departures`), one row each, with display names."""
    frame = pd.DataFrame({run: {k: v for k, (v, _) in gaps.items()},
                          "official": {k: o for k, (_, o) in gaps.items()}}).rename_axis("setting")
    return book_table(frame.astype(str), caption=caption)
