"""aibnb.figures.explorer: a slider over one stored setting whose panels and table share their runs.

A small fake tier (run folders made in the test: config, final numbers, stored maps, scores) stands
in for ``book/results/lab``; nothing is trained.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from bs4 import BeautifulSoup

from aibnb import viz
from aibnb.figures import explorer
from aibnb.reproduce.evidence import Tier
from aibnb.runs import RunRecord

CLASSES = [f"class {i}" for i in range(10)]


def _run(
    base: Path,
    model: str,
    seed: int,
    error: float,
    *,
    beta: float = 0.01,
    num_anchors: int | None = None,
    dataset: str = "fashion_mnist",
    ladder: bool = False,
) -> RunRecord:
    name = f"{model}-{dataset}-{seed}-{beta:g}-{num_anchors}-{int(ladder)}"
    path = base / "runs" / name
    path.mkdir(parents=True)
    config = {
        "model": model,
        "dataset": dataset,
        "seed": seed,
        "beta": beta,
        "epochs": 12,  # K = 20: the default
        "num_anchors": None if num_anchors in (None, 20) else num_anchors,
        "train_subset": 1250 if ladder else 10000,
    }
    if ladder:
        config["train_eval"] = True
    (path / "config.json").write_text(json.dumps({"config": config, "model": {"classes": CLASSES}}))
    final = {
        "test_error": error,
        "test_info_bits": 5.0 + seed,
        "test_izy_bits": 2.8,
        "num_anchors": num_anchors,
        "test_perplexity": 3.0 if num_anchors else 0.0,
        "best_epoch": 12,
    }
    (path / "final.json").write_text(json.dumps(final))
    rng = np.random.default_rng(seed)
    maps = rng.random((32, 1, 16, 16)).astype(np.float16)
    np.savez(
        path / "attention.npz",
        images=rng.integers(0, 255, (32, 1, 32, 32), dtype=np.uint8),
        labels=np.arange(32) % 10,
        predictions=(np.arange(32) + seed) % 10,
        attention=maps,
        attention_mean=maps,
        masks=np.ones((32, 1, 32, 32), dtype=bool),
    )
    scores = {"localisation": {"own": {"per_image": {"pointing": [1.0, 0.0, 1.0, 1.0], "mass": [0.5] * 4}}}}
    (path / "scores.json").write_text(json.dumps(scores))
    return RunRecord(path=path, config=config, metrics=[], final=final)


@pytest.fixture
def tier(tmp_path: Path) -> Tier:
    records = [
        _run(tmp_path, "vgg_aib", 0, 13.0),
        _run(tmp_path, "vgg_aib", 1, 14.0),
        _run(tmp_path, "vgg_aib", 2, 15.0),
        _run(tmp_path, "vgg_aib", 0, 16.0, beta=1.0),
        _run(tmp_path, "vgg_aib", 1, 18.0, beta=1.0),
        _run(tmp_path, "vgg_aib", 0, 40.0, ladder=True),  # the training-set ladder: not a β point
        _run(tmp_path, "vgg_aib_qt", 0, 12.0, num_anchors=2),
        _run(tmp_path, "vgg_aib_qt", 0, 13.5, num_anchors=20),
    ]
    return Tier("lab", tmp_path, records)


def test_sweep_points_select_each_value_as_the_tables_do(tier: Tier) -> None:
    points = explorer.sweep_points(tier, "vgg_aib", explorer.BETA)
    assert [p.label for p in points] == ["0.01", "1"]
    assert points[0].seeds == [0, 1, 2], "the ladder run (train_eval) must not join the official β"
    assert points[0].records == tier.select("vgg_aib", "fashion_mnist", beta=0.01)
    anchors = explorer.sweep_points(tier, "vgg_aib_qt", explorer.ANCHORS)
    assert [p.label for p in anchors] == ["2", "20"]
    ladder = explorer.sweep_points(tier, "vgg_aib", explorer.TRAIN_SIZE)
    assert [p.label for p in ladder] == ["1,250"] and ladder[0].seeds == [0]


def test_cells_are_mean_sd_interval_and_means(tier: Tier) -> None:
    point = explorer.sweep_points(tier, "vgg_aib", explorer.BETA)[0]
    cells = explorer.panel_cells(point, explorer.STANDARD_COLUMNS)
    assert cells["seeds"] == "3"
    assert cells["test error (%)"] == "14.00 ± 1.00"
    low, high = (float(v) for v in cells["95 % interval (%)"].split(" to "))
    assert low < 14.0 < high and high - 14.0 == pytest.approx(14.0 - low)
    assert cells["KL term (bits)"] == "6.000"
    one = explorer.sweep_points(tier, "vgg_aib_qt", explorer.ANCHORS)[0]
    cells = explorer.panel_cells(one, explorer.STANDARD_COLUMNS)
    assert cells["95 % interval (%)"] == "–"  # one seed has no interval


def test_a_panel_prints_the_table_row_of_its_setting(tier: Tier) -> None:
    """The property the book's HTML test checks on the built pages: panel numbers == table cells."""
    points = explorer.sweep_points(tier, "vgg_aib", explorer.BETA)
    table = BeautifulSoup(explorer.points_table(points, caption="c", table_id="t").to_html(), "html.parser")
    assert table.find("table")["data-aibnb-table"] == "t"
    headers = [th.get_text(strip=True) for th in table.select("thead tr")[0].find_all("th")][1:]
    rows = {
        tr.find("th").get_text(strip=True): [td.get_text(strip=True) for td in tr.find_all("td")]
        for tr in table.select("tbody tr")
    }
    widget = explorer.stored_explorer(points, table_id="t", title="t", footer="f", initial=1.0, dpi=30)
    assert widget.slider.index == 1
    for child in widget.stack.children:
        panel = BeautifulSoup(child.value, "html.parser")
        label = panel.find(attrs={viz.PANEL_ATTRIBUTE: True})[viz.PANEL_ATTRIBUTE]
        numbers = panel.find(attrs={"data-aibnb-table": "t"})
        stats = {
            s["data-aibnb-stat"]: s.get_text(strip=True)
            for s in numbers.find_all(attrs={"data-aibnb-stat": True})
        }
        assert [stats[h] for h in headers] == rows[label]
        alt = panel.find("img")["alt"]
        assert label in alt and "test error" in alt and not alt.endswith(".png")


def test_points_frame_and_model_points(tier: Tier) -> None:
    frame = explorer.points_frame(explorer.sweep_points(tier, "vgg_aib", explorer.BETA))
    assert sorted(frame.columns) == sorted(
        ["beta", "seed", "test_error", "kl_bits", "izy_bits", "perplexity"]
    )
    assert len(frame) == 5 and 40.0 not in set(frame["test_error"])
    models = explorer.model_points(
        tier, ["vgg_aib", "vgg_aib_qt", "vgg_att3"], keep=lambda r: r.final["test_error"] < 15
    )
    assert [p.label for p in models] == ["VGG-aib", "VGG-aib-qt"]  # no VGG-att3 run; K = 2 is not the default
    assert models[0].seeds == [0, 1] and models[1].records[0].final["num_anchors"] == 20


def test_localisation_column_reads_the_stored_scores(tier: Tier) -> None:
    column = explorer.Column("pointing (%)", explorer.localisation_value("pointing"))
    point = explorer.sweep_points(tier, "vgg_aib", explorer.BETA)[0]
    assert column.cell(point.records.values()) == "75.00 ± 0.00"
    assert explorer.localisation_value("pointing", "gradcam")(point.records[0]) is None


def test_maps_panel_draws_one_row_per_seed(tier: Tier) -> None:
    point = explorer.sweep_points(tier, "vgg_aib", explorer.BETA)[0]
    fig = explorer.maps_panel(point, num_images=4, max_seeds=2, masks=True)
    image_axes = [ax for ax in fig.axes if ax.get_images()]
    assert len(image_axes) == 4 * 3  # images + two seeds
    names = {ax.get_ylabel() for ax in fig.axes}
    assert "seed 0\n13.0 %" in names and "seed 1\n14.0 %" in names


def test_live_trainer_is_marked_live_only_and_adds_a_panel(tier: Tier) -> None:
    import ipywidgets as widgets

    points = explorer.sweep_points(tier, "vgg_aib", explorer.BETA)
    widget = explorer.stored_explorer(points, table_id="t", title="t", footer="f", dpi=30)
    box = widgets.FloatText(value=0.5)
    live = tier.records[0]
    trainer = explorer.live_trainer(widget, box, lambda value: live, explorer.BETA)
    assert viz.LIVE_CLASS in trainer._dom_classes
    trainer.children[1].click()
    assert widget.labels[-1] == "0.5" and len(widget.stack.children) == 3
    text = html.unescape(widget.stack.children[-1].value)
    assert re.search(r"β = 0\.5", text)
    with pytest.raises(ValueError, match="no stored runs"):
        explorer.stored_explorer([], table_id="t", title="t", footer="f")
