"""Figures and widgets shared by the chapters: static explorers, fixed colour scales, claim plots.

Two conventions of the book live here.

* **Interactivity that survives a static HTML page.** A Jupyter Book page has no kernel, so a
  Python callback (``interact``) cannot redraw a figure there. :func:`panel_explorer`
  precomputes one panel per setting (e.g. per β) and puts them in an ``ipywidgets.Stack``
  whose ``selected_index`` is linked *in the browser* (``ipywidgets.jslink``) to the ``index`` of
  a ``SelectionSlider``. Papermill saves the widget state in the notebook, the HTML widget
  manager restores it, and the slider flips panels without any kernel; in a live kernel the
  same link works and :func:`add_panel` can append new panels.
* **One fixed colour scale per figure family**, never per-image min-max:
  :func:`fixed_scale_imshow` requires explicit ``vmin``/``vmax`` and :func:`fixed_colorbar`
  draws one colour bar for a whole family of images.
* **Sharp at the size shown.** A panel's figure is rendered at ``scale`` (2) times the
  resolution it is displayed at (:func:`figure_html`), with an ``alt`` text that says what it shows.
* **Live-only controls.** Widgets that need a kernel (a "train a new β" box) carry
  :data:`LIVE_CLASS` (:func:`live_only`); the book's style sheet hides them in the static page.

The chapters' own figures, galleries, slider panels over stored runs and tables are built on top of
this module in :mod:`aibnb.figures`.

Every figure states the profile and seeds it was made with in its numbered caption
(:func:`aibnb.chapter.provenance_note`), never over the plot.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from ipywidgets.widgets.widget_link import Link
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator
from PIL import Image

__all__ = [
    "EXPLORER_CLASS",
    "LIVE_CLASS",
    "PANEL_ATTRIBUTE",
    "SLIDER_CLASS",
    "STACK_CLASS",
    "VERDICT_COLOURS",
    "PanelExplorer",
    "add_panel",
    "claims_forest",
    "figure_html",
    "figure_to_png",
    "fixed_colorbar",
    "fixed_scale_imshow",
    "integer_log_axis",
    "live_only",
    "panel_explorer",
    "sweep_figure",
]

EXPLORER_CLASS = "aibnb-explorer"
SLIDER_CLASS = "aibnb-explorer-slider"
STACK_CLASS = "aibnb-explorer-stack"
PANEL_CLASS = "aibnb-explorer-panel"
PANEL_ATTRIBUTE = "data-aibnb-panel"
TITLE_CLASS = "aibnb-explorer-title"
FOOTER_CLASS = "aibnb-explorer-footer"
#: widgets that need a live kernel; the book's style sheet (``book/_static/aibnb.css``) hides them
LIVE_CLASS = "aibnb-live-only"

Panel = Figure | str | widgets.Widget


def figure_to_png(fig: Figure, dpi: int = 100, *, palette: bool = False) -> bytes:
    """Render a matplotlib figure to PNG bytes (tight bounding box) at ``dpi``.

    ``palette=True`` quantises the image to an adaptive 256-colour palette, which for line and
    bar plots looks the same and is about three times smaller: what an explorer with one panel
    per setting needs to keep a page light. Leave it off for continuous images (heat maps).
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure; got {type(fig).__name__}.")
    if not dpi > 0:
        raise ValueError(f"dpi must be > 0; got {dpi!r}.")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if not palette:
        return buf.getvalue()
    buf.seek(0)
    with Image.open(buf) as image:
        rgb = Image.new("RGB", image.size, "white")
        rgb.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
    out = io.BytesIO()
    rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return out.getvalue()


def figure_html(
    fig: Figure, *, alt: str, dpi: int = 100, scale: int = 2, palette: bool = False
) -> str:
    """An ``<img>`` tag embedding ``fig`` as a base64 PNG, sharp at the size it is shown.

    The PNG is rendered at ``scale * dpi`` and displayed at ``dpi`` (its ``width`` attribute is
    the pixel width divided by ``scale``), so a high-density screen gets one image pixel per
    screen pixel; ``alt`` says what the figure shows (a screen reader reads it, and a browser
    shows it when the image cannot be drawn). The figure is not closed.
    """
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be an integer >= 1; got {scale!r}.")
    png = figure_to_png(fig, dpi=dpi * scale, palette=palette)
    with Image.open(io.BytesIO(png)) as image:
        width = max(1, round(image.size[0] / scale))
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{data}" width="{width}" alt="{html.escape(alt, quote=True)}" '
        'style="max-width:100%;height:auto;"/>'
    )


def live_only(widget: widgets.Widget) -> widgets.Widget:
    """Mark ``widget`` as needing a live kernel (hidden in the static page); returns it."""
    widget.add_class(LIVE_CLASS)
    return widget


def _panel_html(label: str, inner: str) -> str:
    return f'<div class="{PANEL_CLASS}" {PANEL_ATTRIBUTE}="{html.escape(label, quote=True)}">{inner}</div>'


def _as_panel_widget(
    label: str, panel: Panel, dpi: int, palette: bool, description: str = "", scale: int = 2
) -> widgets.Widget:
    """One panel as a widget whose HTML root carries ``data-aibnb-panel="<label>"``.

    Figures become a base64 PNG ``<img>`` at ``scale`` times the shown resolution, with the alt
    text "<description> = <label>" (and are closed, so they do not also print below the cell);
    strings are taken as HTML; widgets are wrapped in a box under a small HTML header that
    carries the attribute.
    """
    if isinstance(panel, Figure):
        alt = f"{description} = {label}" if description else label
        img = figure_html(panel, alt=alt, dpi=dpi, scale=scale, palette=palette)
        plt.close(panel)
        return widgets.HTML(value=_panel_html(label, img))
    if isinstance(panel, str):
        return widgets.HTML(value=_panel_html(label, panel))
    if isinstance(panel, widgets.Widget):
        header = widgets.HTML(value=_panel_html(label, f"<b>{html.escape(label)}</b>"))
        box = widgets.VBox([header, panel])
        box.add_class(PANEL_CLASS)
        return box
    raise TypeError(
        f"panel for label {label!r} must be a matplotlib Figure, an HTML string or an ipywidget; "
        f"got {type(panel).__name__}."
    )


class PanelExplorer(widgets.VBox):
    """The box returned by :func:`panel_explorer`: [title] · slider · stack of panels · [footer].

    ``slider``, ``stack`` and ``link`` are the parts (the link is front-end only: it runs in the
    browser, with or without a kernel).
    """

    def __init__(
        self,
        slider: widgets.SelectionSlider,
        stack: widgets.Stack,
        link: Link,
        title: str | None,
        footer: str | None,
        dpi: int,
        palette: bool,
        scale: int = 2,
    ) -> None:
        children: list[widgets.Widget] = []
        if title:
            head = widgets.HTML(value=f"<b>{html.escape(title)}</b>")
            head.add_class(TITLE_CLASS)
            children.append(head)
        children += [slider, stack]
        if footer:
            foot = widgets.HTML(value=f"<small>{html.escape(footer)}</small>")
            foot.add_class(FOOTER_CLASS)
            children.append(foot)
        super().__init__(children=children)
        self.add_class(EXPLORER_CLASS)
        self.slider = slider
        self.stack = stack
        self.link = link
        self.dpi = dpi
        self.palette = palette
        self.scale = scale

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.slider.options)


def _labels(labels: Sequence[Any]) -> list[str]:
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise TypeError("labels must be a sequence of strings (one per panel), e.g. ['β=0.1', 'β=1'].")
    out = [str(lab) for lab in labels]
    if not out:
        raise ValueError("labels is empty: an explorer needs at least one panel.")
    dup = sorted({lab for lab in out if out.count(lab) > 1})
    if dup:
        raise ValueError(f"labels must be unique; repeated: {dup}.")
    return out


def panel_explorer(
    labels: Sequence[Any],
    panels: Sequence[Panel],
    *,
    description: str = "β",
    title: str | None = None,
    footer: str | None = None,
    initial: int = 0,
    dpi: int = 100,
    palette: bool = True,
    scale: int = 2,
) -> PanelExplorer:
    """A slider over ``labels`` that shows one precomputed panel per label, also in static HTML.

    Parameters
    ----------
    labels:
        one string per panel, shown on the slider (unique).
    panels:
        matplotlib Figures (embedded as PNG at ``dpi``, then closed), HTML strings, or ipywidgets.
    description:
        the slider's caption, e.g. ``"β"``.
    title, footer:
        optional text above and below (state the profile and seed there or in each figure).
    initial:
        index of the panel shown first.
    dpi, palette, scale:
        how figures are rendered (:func:`figure_html`): shown at ``dpi``, drawn at ``scale``
        times that; the 256-colour palette keeps a page with many panels light.

    The slider's ``index`` is ``jslink``-ed to the ``Stack``'s ``selected_index``. CSS classes
    ``aibnb-explorer`` (box), ``aibnb-explorer-slider`` and ``aibnb-explorer-stack``, and the
    ``data-aibnb-panel="<label>"`` attribute on each panel's HTML root, let a browser test find
    the parts.
    """
    labs = _labels(labels)
    if isinstance(panels, str | Figure | widgets.Widget) or not isinstance(panels, Sequence):
        raise TypeError("panels must be a sequence (list) of panels, one per label.")
    if len(panels) != len(labs):
        raise ValueError(
            f"got {len(labs)} labels but {len(panels)} panels; pass exactly one panel per label."
        )
    if int(initial) != initial or not 0 <= initial < len(labs):
        raise ValueError(f"initial must be an index in 0..{len(labs) - 1}; got {initial!r}.")
    children = [
        _as_panel_widget(lab, pan, dpi, palette, description, scale)
        for lab, pan in zip(labs, panels, strict=True)
    ]
    slider = widgets.SelectionSlider(
        options=labs,
        index=int(initial),
        description=description,
        continuous_update=True,
        readout=True,
        layout=widgets.Layout(width="min(100%, 520px)"),
        style={"description_width": "initial"},
    )
    slider.add_class(SLIDER_CLASS)
    stack = widgets.Stack(children=children, selected_index=int(initial))
    stack.add_class(STACK_CLASS)
    link = widgets.jslink((slider, "index"), (stack, "selected_index"))
    return PanelExplorer(slider, stack, link, title, footer, dpi, palette, scale)


def add_panel(explorer: PanelExplorer, label: Any, panel: Panel, *, select: bool = True) -> None:
    """Append a panel to an explorer in a live kernel (e.g. after training a new β) and show it."""
    if not isinstance(explorer, PanelExplorer):
        raise TypeError(f"explorer must come from panel_explorer(); got {type(explorer).__name__}.")
    lab = str(label)
    if lab in explorer.labels:
        raise ValueError(f"label {lab!r} is already in the explorer; labels must be unique.")
    old_index = explorer.slider.index
    widget = _as_panel_widget(
        lab, panel, explorer.dpi, explorer.palette, explorer.slider.description, explorer.scale
    )
    explorer.stack.children = (*explorer.stack.children, widget)
    explorer.slider.options = (*explorer.labels, lab)  # resets index to 0 ...
    new_index = len(explorer.labels) - 1 if select else old_index
    explorer.slider.index = new_index  # ... so restore it; set both ends (jslink is front-end only)
    explorer.stack.selected_index = new_index


def _check_range(vmin: float, vmax: float) -> tuple[float, float]:
    lo, hi = float(vmin), float(vmax)
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise ValueError(
            f"vmin and vmax must be finite with vmin < vmax; got vmin={vmin!r}, vmax={vmax!r}. "
            "Pick one range for the whole figure family (e.g. 0 and 1 for attention maps)."
        )
    return lo, hi


def fixed_scale_imshow(
    ax: Axes,
    image: Any,
    *,
    vmin: float,
    vmax: float,
    cmap: str = "viridis",
    interpolation: str = "nearest",
    **kwargs: Any,
) -> AxesImage:
    """``imshow`` on a fixed colour range (no per-image min-max), with axis ticks removed.

    ``interpolation`` defaults to ``"nearest"`` so that upsampling is visible, not smoothed
    away; say so in the caption if you change it.
    """
    lo, hi = _check_range(vmin, vmax)
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ValueError(f"image must be 2-D (H, W) or 3-D (H, W, C); got shape {arr.shape}.")
    im = ax.imshow(arr, vmin=lo, vmax=hi, cmap=cmap, interpolation=interpolation, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def fixed_colorbar(
    fig: Figure,
    ax: Axes | Sequence[Axes] | np.ndarray,
    *,
    vmin: float,
    vmax: float,
    cmap: str = "viridis",
    label: str | None = None,
    **kwargs: Any,
) -> Any:
    """One colour bar for a family of axes drawn on the same fixed range ``[vmin, vmax]``."""
    lo, hi = _check_range(vmin, vmax)
    mappable = ScalarMappable(norm=Normalize(vmin=lo, vmax=hi), cmap=cmap)
    axes = list(np.ravel(ax)) if not isinstance(ax, Axes) else ax
    cbar = fig.colorbar(mappable, ax=axes, **kwargs)
    if label:
        cbar.set_label(label)
    return cbar


def integer_log_axis(ax: Axes, values: Sequence[float], axis: str = "x") -> None:
    """A log axis labelled at the given values only (``2, 5, 10, 20, 50``): no ``2×10⁰``-style
    minor labels that would overlap between close values."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y'; got {axis!r}.")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(sorted({float(v) for v in values})))
    target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())


#: one colour per verdict of :mod:`aibnb.reproduce.stats`, used by every claims figure of the book
VERDICT_COLOURS = {"held": "C2", "reversed": "C3", "equivalent at this scale": "C0", "undecided": "0.45",
                   "not testable at this scale": "0.75"}


def claims_forest(ax: Axes, results: Any, labels: list[str], *, margin: float, xlabel: str) -> None:
    """Each decided claim as its mean advantage with the 95 % interval, coloured by its verdict.

    ``results``: :class:`aibnb.reproduce.stats.ClaimResult` objects (top to bottom); ``labels``: one
    row label each; ``margin``: the smallest effect of interest, drawn as a grey band around 0.
    """
    results = list(results)
    if len(labels) != len(results):
        raise ValueError(
            f"claims_forest: {len(results)} results but {len(labels)} labels; give one label each"
        )
    ax.axvspan(-margin, margin, color="0.9", label=f"± {margin:g} (smallest effect of interest)")
    ax.axvline(0, color="0.3", lw=0.8)
    n = len(results)
    for k, r in enumerate(results):
        y = n - 1 - k
        lo = r.ci_low if math.isfinite(r.ci_low) else r.advantage
        hi = r.ci_high if math.isfinite(r.ci_high) else r.advantage
        colour = VERDICT_COLOURS[r.verdict]
        ax.errorbar(r.advantage, y, xerr=[[r.advantage - lo], [hi - r.advantage]], fmt="o", color=colour,
                    capsize=3)
        ax.annotate(r.verdict, (1.01, y), xycoords=("axes fraction", "data"), va="center", fontsize=9,
                    color=colour)
    ax.set_yticks(range(n), labels[::-1], fontsize=9)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.tick_params(axis="x", labelsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")


def sweep_figure(frame: Any, setting: str, *, official: float, second: str, second_label: str) -> Figure:
    """A stored sweep in two panels: the test error and ``second`` against ``setting`` (log axis),
    one grey dot per run, the mean over seeds as a line, the official value marked.

    ``frame``: rows with ``setting``, ``seed``, ``test_error`` and ``second`` (e.g.
    :func:`aibnb.figures.explorer.points_frame`).
    """
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.1), layout="constrained")
    label = "β" if setting == "beta" else "number of anchors K"
    if len(frame) == 0:  # nothing stored yet: say so in the figure rather than fail
        for ax in axes:
            ax.text(0.5, 0.5, "no stored run yet", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        return fig
    for ax, key, ylabel in ((axes[0], "test_error", "test error (%)"), (axes[1], second, second_label)):
        values = frame.dropna(subset=[key])
        ax.plot(values[setting], values[key], "o", color="0.55", ms=4, alpha=0.8, label="one run (seed)")
        mean = values.groupby(setting)[key].mean()
        ax.plot(mean.index, mean.to_numpy(), "-", color="C0", lw=1.5, label="mean over seeds")
        ax.axvline(official, color="C3", lw=1, ls="--", label=f"official {official:g}")
        ax.set_xscale("log")
        if setting == "num_anchors":  # few integer values, close together on a log axis
            integer_log_axis(ax, values[setting].dropna().unique())
        ax.set_xlabel(label, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    return fig
