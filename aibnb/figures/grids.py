"""Images with rows of maps beneath them, every map on one fixed colour scale.

:func:`map_grid` is the one gallery of the book: a row of images (with their labels, the model's
prediction, an object mask) and under them one row per family of maps (the attention mean, a
sample, a quantised map, one row per seed ...), all on the same range with one colour bar, drawn
nearest-neighbour so that the map's resolution stays visible. A map coarser than its image is
enlarged by repetition, so that a mask can be outlined at the image's resolution on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from aibnb import viz
from aibnb.figures.style import ATTENTION_RANGE, IMAGE_RANGE

__all__ = ["class_names", "enlarge", "map_grid"]


def class_names(record: Any) -> list[str]:
    """The class names of a run record (its ``config.json``)."""
    return list(record.model_info["classes"])


def _square(array: Any) -> np.ndarray:
    a = np.asarray(array, dtype=np.float32)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"expected one 2-D map or image (optionally 1 x H x W); got shape {a.shape}")
    return a


def enlarge(map_: Any, size: tuple[int, int]) -> np.ndarray:
    """A ``h x w`` map repeated up to ``size`` (a whole multiple of it): nearest-neighbour."""
    m = _square(map_)
    fy, fx = size[0] // m.shape[0], size[1] // m.shape[1]
    if fy < 1 or fx < 1 or (fy * m.shape[0], fx * m.shape[1]) != tuple(size):
        return m
    return np.repeat(np.repeat(m, fy, axis=0), fx, axis=1)


def _image_title(j: int, labels: Any, predictions: Any, classes: Sequence[str] | None,
                 titles: Sequence[str] | None) -> tuple[str, str]:
    if titles is not None:
        return titles[j], "k"
    if labels is None or classes is None:
        return "", "k"
    wrong = predictions is not None and int(predictions[j]) != int(labels[j])
    text = classes[int(labels[j])][:11]
    if wrong:
        text += f"\n→ {classes[int(predictions[j])][:11]}"
    return text, "C3" if wrong else "k"


#: the grid's geometry in inches: one square cell per image, margins for the row names (left), the
#: colour bar (right) and the titles; fixed, so that drawing needs no layout engine (the galleries of
#: an explorer are drawn many times)
CELL, GAP, LEFT, RIGHT, TOP, BOTTOM = 0.86, 0.1, 0.7, 1.0, 0.4, 0.22


def _grid(ncols: int, nrows: int, *, title: bool, colorbar: bool) -> tuple[Figure, np.ndarray]:
    top = TOP + (0.3 if title else 0.0)
    right = RIGHT if colorbar else 0.1
    row_gap = GAP + 0.2  # room for a note under each map
    width = LEFT + ncols * CELL + (ncols - 1) * GAP + right
    height = top + nrows * CELL + (nrows - 1) * row_gap + BOTTOM
    fig = plt.figure(figsize=(width, height))
    grid = fig.add_gridspec(nrows, ncols, left=LEFT / width, right=1 - right / width, bottom=BOTTOM / height,
                            top=1 - top / height, wspace=GAP / CELL, hspace=row_gap / CELL)
    axes = np.array([[fig.add_subplot(grid[i, j]) for j in range(ncols)] for i in range(nrows)])
    return fig, axes


def _colorbar_axes(fig: Figure, column: np.ndarray) -> Any:
    """An axes for the colour bar right of the maps' last column, as tall as the rows of maps."""
    top, bottom = column[0].get_position(), column[-1].get_position()
    width_in = fig.get_figwidth()
    return fig.add_axes((top.x1 + 0.12 / width_in, bottom.y0, 0.12 / width_in, top.y1 - bottom.y0))


def map_grid(
    images: Any,
    rows: Sequence[Any],
    row_names: Sequence[str],
    *,
    title: str = "",
    labels: Any = None,
    predictions: Any = None,
    classes: Sequence[str] | None = None,
    titles: Sequence[str] | None = None,
    masks: Any = None,
    row_notes: Sequence[Sequence[str]] | None = None,
    anchors: Sequence[float] | None = None,
    value_range: tuple[float, float] = ATTENTION_RANGE,
    image_range: tuple[float, float] = IMAGE_RANGE,
    cmap: str = "viridis",
    colorbar_label: str = "attention",
) -> Figure:
    """Images in the first row, then one row per family of maps in ``rows`` (same count each).

    ``labels``/``predictions``/``classes`` title each image with its class (and, in red, the
    prediction when it is wrong); ``titles`` replaces those titles. ``masks`` (image-sized) are
    outlined on the images (red) and on the maps (white). ``row_notes[i][j]`` is a short note
    under map ``j`` of row ``i`` (a score). ``anchors`` are marked on the colour bar (a quantised
    map takes only those values). Every map is drawn on ``value_range`` with one colour bar.
    """
    n = len(images)
    if n == 0:
        raise ValueError("map_grid: no images")
    if len(row_names) != len(rows) or any(len(r) != n for r in rows):
        raise ValueError(f"map_grid: {len(rows)} rows of maps, {len(row_names)} row names; each row needs "
                         f"{n} maps")
    fig, axes = _grid(n, 1 + len(rows), title=bool(title), colorbar=bool(rows))
    lo, hi = image_range
    for j in range(n):
        image = _square(images[j])
        viz.fixed_scale_imshow(axes[0, j], image, vmin=lo, vmax=hi, cmap="gray")
        text, colour = _image_title(j, labels, predictions, classes, titles)
        if text:
            axes[0, j].set_title(text, fontsize=8.5, color=colour)
        if masks is not None:
            axes[0, j].contour(_square(masks[j]) > 0.5, levels=[0.5], colors="tab:red", linewidths=0.7)
        for i, family in enumerate(rows, start=1):
            shown = enlarge(family[j], image.shape) if masks is not None else _square(family[j])
            viz.fixed_scale_imshow(axes[i, j], shown, vmin=value_range[0], vmax=value_range[1], cmap=cmap)
            if masks is not None:
                axes[i, j].contour(_square(masks[j]) > 0.5, levels=[0.5], colors="w", linewidths=0.6)
            if row_notes is not None and row_notes[i - 1][j]:
                axes[i, j].set_xlabel(row_notes[i - 1][j], fontsize=8, labelpad=1)
    for i, name in enumerate(["image", *row_names]):
        axes[i, 0].set_ylabel(name, fontsize=9)
    if rows:
        cbar = viz.fixed_colorbar(fig, axes[1:, :], vmin=value_range[0], vmax=value_range[1], cmap=cmap,
                                  label=colorbar_label, cax=_colorbar_axes(fig, axes[1:, -1]))
        cbar.ax.tick_params(labelsize=8)
        cbar.ax.yaxis.label.set_size(9)
        for value in anchors or ():
            if value_range[0] <= value <= value_range[1]:
                cbar.ax.axhline(value, color="w", lw=0.6)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
