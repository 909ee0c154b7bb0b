"""aibnb.figures.ladder: the ladder's figure, table, sentence, power plan and cost, on made-up runs."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from aibnb import runs
from aibnb.figures import ladder
from aibnb.reproduce import stats

matplotlib.use("Agg")


def _claims():
    out = []
    rng = np.random.default_rng(0)
    for size, shift in ((1250, 1.5), (2500, 0.2)):
        for a, b in (("vgg_aib", "vgg"), ("vgg_dvib", "vgg")):
            base = {s: 14.0 + rng.normal(0, 0.5) for s in range(8)}
            other = {s: v - shift + rng.normal(0, 0.3) for s, v in base.items()}
            r = stats.paired_claim(f"c ({size:,})", a, b, other, base)
            r.context = {"train_subset": size}
            out.append(r)
    return stats.decide(out)


def _frame():
    rows = [{"train_size": n, "model": m, "runs": 8, "epochs": 120000 // n, "test_error": 15.0 - n / 1000,
             "train_error": 3.0 + n / 1000, "gap": 12.0 - 2 * n / 1000, "gap_sd": 0.5,
             "seeds": list(range(8))}
            for n in (1250, 2500) for m in ("vgg", "vgg_dvib", "vgg_aib")]
    return pd.DataFrame(rows)


def test_figure_table_and_sentence_show_every_size_and_comparison():
    results = _claims()
    fig = ladder.ladder_figure(_frame(), results, margin=0.5)
    left, right = fig.axes
    assert len(left.lines) == 6  # test and training error of three models
    legend = [t.get_text() for t in right.get_legend().get_texts()]
    assert legend[:2] == ["VGG-aib below VGG", "VGG-DVIB below VGG"]
    table = ladder.ladder_table(results)
    assert list(table["training images"]) == ["1,250", "1,250", "2,500", "2,500"]
    assert set(table["verdict"]) <= set(stats.VERDICTS)
    text = ladder.ladder_sentence(_frame(), results)
    assert text.startswith("The generalisation gap of VGG, VGG-DVIB and VGG-aib, by training-set size:")
    assert "1,250 images, +9.5 to +9.5 points" in text
    one = _frame().query("model == 'vgg'")
    assert ladder.ladder_sentence(one, results).startswith("The generalisation gap of VGG, by")
    assert "*VGG-aib below VGG*, by training images: 1,250:" in text
    assert ladder.ladder_sentence(_frame().iloc[:0], []) == "No ladder run is stored yet."


def test_power_frame_is_the_detectable_difference_at_holm_s_first_level():
    frame = ladder.power_frame({"a below b": 1.0}, [5, 8], family=12)
    expected = stats.detectable_difference(1.0, 8, alpha=0.05 / 12)
    assert frame.loc["a below b", "8 seeds"] == pytest.approx(expected)
    assert frame.loc["a below b", "5 seeds"] > frame.loc["a below b", "8 seeds"]


def test_cost_counts_every_epoch_and_estimates_what_is_left(tmp_path):
    def record(size, minutes, machine="cpu A"):
        metrics = [{"epoch_time_s": 60.0 * minutes / 4} for _ in range(4)]
        return runs.RunRecord(path=tmp_path, config={"train_subset": size, "model": "vgg"}, metrics=metrics,
                              provenance={"device": machine})

    stored = [record(1250, 10.0), record(1250, 12.0), record(2500, 11.0), record(2500, 30.0, "cpu B")]
    table, estimate = ladder.cost_frame(stored, {("vgg", 1250): 8, ("vgg", 2500): 8})
    assert estimate["left"] == 12 and estimate["machine"] == "cpu A"
    assert estimate["median_minutes"] == pytest.approx(11.0)
    assert estimate["hours"] == pytest.approx(12 * 11.0 / 60 / 2)
    assert estimate["progress"] == ("12 remain; at that cost they take about 1.1 hours of 2 "
                                    "single-thread workers")
    _, complete = ladder.cost_frame(stored, {("vgg", 1250): 2, ("vgg", 2500): 2})
    assert complete["left"] == 0 and complete["progress"] == "every one is stored"
    assert set(table["machine"]) == {"cpu A", "cpu B"} and table["runs"].sum() == 4
    empty, none = ladder.cost_frame([], {("vgg", 1250): 8})
    assert empty.empty and none["left"] == 8 and math.isnan(none["hours"])
    assert none["progress"] == "none is stored yet (8 to train)"
