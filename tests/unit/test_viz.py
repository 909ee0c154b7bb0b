"""Tests of aibnb.viz: the static panel explorer, provenance stamps and fixed colour scales."""

from __future__ import annotations

import base64
import io
import re

import ipywidgets as widgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from ipywidgets.embed import embed_data
from ipywidgets.widgets.widget_link import Link

from aibnb import viz

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _figure(slope: float) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, slope])
    return fig


def _png_from_html(value: str) -> bytes:
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', value)
    assert match, "panel HTML has no embedded base64 PNG"
    return base64.b64decode(match.group(1))


def test_explorer_structure_classes_and_link():
    labels = ["β=0.01", "β=0.1", "β=1"]
    exp = viz.panel_explorer(labels, [_figure(s) for s in (1, 2, 3)], title="Title", footer="foot")
    assert isinstance(exp, widgets.VBox)
    assert viz.EXPLORER_CLASS in exp._dom_classes
    assert viz.SLIDER_CLASS in exp.slider._dom_classes
    assert viz.STACK_CLASS in exp.stack._dom_classes
    assert isinstance(exp.slider, widgets.SelectionSlider)
    assert isinstance(exp.stack, widgets.Stack)
    assert exp.slider in exp.children and exp.stack in exp.children
    assert list(exp.slider.options) == labels
    assert len(exp.stack.children) == len(labels)
    # the browser-side link: slider.index <-> stack.selected_index
    assert isinstance(exp.link, Link)
    assert exp.link.source == (exp.slider, "index")
    assert exp.link.target == (exp.stack, "selected_index")
    assert exp.slider.index == exp.stack.selected_index == 0
    assert exp.slider.description == "β"


def test_each_panel_carries_its_label_and_embeds_a_png():
    labels = ["a", 'b "quoted" & <odd>']
    exp = viz.panel_explorer(labels, [_figure(1), _figure(2)])
    for label, child in zip(labels, exp.stack.children, strict=True):
        assert isinstance(child, widgets.HTML)
        escaped = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
        assert f'{viz.PANEL_ATTRIBUTE}="{escaped}"' in child.value
        assert _png_from_html(child.value).startswith(PNG_MAGIC)
    # the two panels are different images
    assert _png_from_html(exp.stack.children[0].value) != _png_from_html(exp.stack.children[1].value)


def test_figures_are_closed_after_embedding():
    fig = _figure(1)
    num = fig.number
    viz.panel_explorer(["only"], [fig])
    assert not plt.fignum_exists(num)


def test_html_string_and_widget_panels():
    inner = widgets.IntSlider(value=3)
    exp = viz.panel_explorer(["html", "widget"], ["<p>hello</p>", inner])
    html_panel, widget_panel = exp.stack.children
    assert "<p>hello</p>" in html_panel.value and 'data-aibnb-panel="html"' in html_panel.value
    assert isinstance(widget_panel, widgets.Box) and inner in widget_panel.children
    header = widget_panel.children[0]
    assert isinstance(header, widgets.HTML) and 'data-aibnb-panel="widget"' in header.value


def test_mismatch_and_bad_input_are_clear_errors():
    with pytest.raises(ValueError, match="2 labels but 1 panels"):
        viz.panel_explorer(["a", "b"], [_figure(1)])
    with pytest.raises(ValueError, match="unique"):
        viz.panel_explorer(["a", "a"], ["<p/>", "<p/>"])
    with pytest.raises(ValueError, match="empty"):
        viz.panel_explorer([], [])
    with pytest.raises(TypeError, match="sequence of strings"):
        viz.panel_explorer("ab", ["<p/>", "<p/>"])
    with pytest.raises(TypeError, match="must be a matplotlib Figure, an HTML string or an ipywidget"):
        viz.panel_explorer(["a"], [42])
    with pytest.raises(ValueError, match="initial must be an index"):
        viz.panel_explorer(["a"], ["<p/>"], initial=3)


def test_initial_panel_selects_both_ends():
    exp = viz.panel_explorer(["a", "b", "c"], ["1", "2", "3"], initial=2)
    assert exp.slider.index == exp.stack.selected_index == 2
    assert exp.slider.value == "c"


def test_add_panel_extends_slider_and_stack():
    exp = viz.panel_explorer(["a", "b"], ["<p>1</p>", "<p>2</p>"])
    exp.slider.index = 1
    viz.add_panel(exp, "c", _figure(5))
    assert exp.labels == ("a", "b", "c")
    assert len(exp.stack.children) == 3
    assert exp.slider.index == exp.stack.selected_index == 2
    assert 'data-aibnb-panel="c"' in exp.stack.children[2].value
    viz.add_panel(exp, "d", "<p>4</p>", select=False)
    assert exp.slider.index == exp.stack.selected_index == 2
    assert len(exp.stack.children) == len(exp.slider.options) == 4
    with pytest.raises(ValueError, match="already in the explorer"):
        viz.add_panel(exp, "a", "<p/>")
    with pytest.raises(TypeError, match="panel_explorer"):
        viz.add_panel(widgets.VBox(), "x", "<p/>")


def test_widget_state_is_embeddable_with_the_link():
    """The static HTML needs the link and the stack in the saved widget state."""
    exp = viz.panel_explorer(["a", "b"], ["<p>1</p>", "<p>2</p>"])
    state = embed_data(views=[exp])["manager_state"]["state"]
    models = {k: v for k, v in state.items()}
    link_states = [v["state"] for v in models.values() if v["model_name"] == "LinkModel"]
    wanted_source = ["IPY_MODEL_" + exp.slider.model_id, "index"]
    wanted_target = ["IPY_MODEL_" + exp.stack.model_id, "selected_index"]
    assert any(s["source"] == wanted_source and s["target"] == wanted_target for s in link_states)
    assert models[exp.stack.model_id]["model_name"] == "StackModel"


def test_palette_png_is_smaller_and_keeps_the_picture():
    from PIL import Image

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(np.linspace(0, 1, 50), np.sin(np.linspace(0, 6, 50)), color="C1")
    ax.set_title("a title")
    full = viz.figure_to_png(fig, dpi=100)
    small = viz.figure_to_png(fig, dpi=100, palette=True)
    plt.close(fig)
    assert small.startswith(PNG_MAGIC) and len(small) < len(full)
    with Image.open(io.BytesIO(full)) as a, Image.open(io.BytesIO(small)) as b:
        assert a.size == b.size and b.mode == "P"
        diff = np.abs(np.asarray(a.convert("RGB"), dtype=int) - np.asarray(b.convert("RGB"), dtype=int))
    assert diff.mean() < 2.0  # quantising to 256 colours changes the picture by < 1 % of the range


def test_figure_to_png_and_dpi():
    fig = _figure(1)
    small = viz.figure_to_png(fig, dpi=50)
    large = viz.figure_to_png(fig, dpi=150)
    plt.close(fig)
    assert small.startswith(PNG_MAGIC) and large.startswith(PNG_MAGIC)
    assert len(large) > len(small)
    with pytest.raises(TypeError):
        viz.figure_to_png("not a figure")


def test_fixed_scale_imshow_keeps_the_given_range():
    fig, axes = plt.subplots(1, 2)
    dim = np.full((4, 4), 0.2)
    bright = np.linspace(0.0, 0.9, 16).reshape(4, 4)
    ims = [
        viz.fixed_scale_imshow(a, img, vmin=0.0, vmax=1.0) for a, img in zip(axes, (dim, bright), strict=True)
    ]
    for im in ims:
        assert im.get_clim() == (0.0, 1.0)  # never the image's own min-max
        assert im.get_interpolation() == "nearest"
    cbar = viz.fixed_colorbar(fig, axes, vmin=0.0, vmax=1.0, label="attention")
    assert cbar.mappable.get_clim() == (0.0, 1.0)
    assert cbar.ax.get_ylabel() == "attention"
    with pytest.raises(ValueError, match="vmin < vmax"):
        viz.fixed_scale_imshow(axes[0], dim, vmin=1.0, vmax=1.0)
    with pytest.raises(ValueError, match="2-D"):
        viz.fixed_scale_imshow(axes[0], np.zeros(4), vmin=0.0, vmax=1.0)
    plt.close(fig)


def test_figure_html_is_twice_as_sharp_as_shown_and_says_what_it_shows():
    from PIL import Image

    fig = _figure(1)
    tag = viz.figure_html(fig, alt='β = 0.01: "maps"', dpi=50, scale=2)
    plt.close(fig)
    width = int(re.search(r'width="(\d+)"', tag).group(1))
    with Image.open(io.BytesIO(_png_from_html(tag))) as image:
        assert abs(image.size[0] - 2 * width) <= 1  # drawn at twice the width it is shown at
    assert 'alt="β = 0.01: &quot;maps&quot;"' in tag
    with pytest.raises(ValueError, match="scale"):
        viz.figure_html(_figure(1), alt="x", scale=0)


def test_explorer_panels_have_descriptive_alt_text():
    exp = viz.panel_explorer(["0.01", "0.1"], [_figure(1), _figure(2)], description="β")
    for label, child in zip(["0.01", "0.1"], exp.stack.children, strict=True):
        assert f'alt="β = {label}"' in child.value
    assert viz.TITLE_CLASS not in exp._dom_classes


def test_live_only_marks_a_widget_for_the_style_sheet():
    box = viz.live_only(widgets.HBox())
    assert viz.LIVE_CLASS in box._dom_classes


def test_integer_log_axis_labels_only_the_given_values():
    fig, ax = plt.subplots()
    ax.plot([2, 5, 10, 20, 50], [1, 2, 3, 4, 5])
    ax.set_xscale("log")
    viz.integer_log_axis(ax, [2, 5, 10, 20, 50])
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "5", "10", "20", "50"]
    assert ax.xaxis.get_minorticklocs().size == 0
    with pytest.raises(ValueError, match="axis"):
        viz.integer_log_axis(ax, [1], axis="z")
    plt.close(fig)
