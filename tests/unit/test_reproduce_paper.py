"""The paper's Tables 1, 3 and 4 as data, and our errors laid out beside Table 1."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from aibnb.reproduce import paper
from aibnb.runs import RunRecord

pytestmark = pytest.mark.usefixtures("isolated_runs")


def test_paper_json_holds_the_papers_tables():
    data = paper.load_paper()
    table = paper.paper_table1(data)
    assert len(table) == 12 and table.loc["VGG-aib", "cifar10"] == 4.28
    assert math.isnan(table.loc["WRN", "svhn"])  # a dash in the paper
    assert pd.isna(table.loc["VGG-PAN", "model"])  # no implementation here
    # every Table 1 model of the registry has a row, in the paper's order
    assert [m for m in table["model"] if isinstance(m, str)] == list(paper.TABLE1_MODELS)
    stars = paper.paper_table1(data, with_stars=True)
    assert stars.loc["VGG-DVIB", "cifar10"] == "4.64∗" and stars.loc["WRN-ABN", "cifar100"] == "18.12"
    assert paper.paper_error("wrn_aib_qt", "stl10_test", data) == 50.49
    assert paper.paper_error("vgg", "svhn", data) == 4.27
    with pytest.raises(ValueError, match="column must be one of"):
        paper.paper_error("vgg", "imagenet", data)


def test_load_paper_rejects_a_row_without_every_column(tmp_path):
    data = json.loads(paper.paper_file().read_text())
    del data["table1"]["rows"][0]["errors"]["svhn"]
    bad = tmp_path / "paper.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="must give every column"):
        paper.load_paper(bad)
    with pytest.raises(FileNotFoundError, match="paper's numbers"):
        paper.load_paper(tmp_path / "absent.json")


def test_paper_cost_table_is_tables_3_and_4_for_one_input_size():
    theirs = paper.paper_cost_table(paper.load_paper())
    assert {"paper parameters (M)", "paper convention", "paper 'FLOPs' (G)", "paper ms/frame"} <= set(theirs)
    assert "vgg_aib" in theirs.index and "wrn_aib" in theirs.index


def test_table1_beta_is_the_official_beta_of_a_bottleneck_and_zero_otherwise():
    from aibnb.models import spec

    assert paper.table1_beta("vgg_aib") == spec("vgg_aib").recipe["beta"] == 0.01
    assert paper.table1_beta("vgg_dvib") == 0.01 and paper.table1_beta("wrn_aib_qt") == 0.01
    assert paper.table1_beta("vgg") == 0.0 and paper.table1_beta("vgg_att3") == 0.0


def test_errors_by_model_reads_one_error_per_model_and_seed(tmp_path, make_record):
    recs = [make_record("vgg", s, 10.0 + s) for s in (0, 1)]
    recs.append(make_record("wrn", 0, 5.0))
    assert paper.errors_by_model(recs) == {"vgg": {0: 10.0, 1: 11.0}, "wrn": {0: 5.0}}
    with pytest.raises(ValueError, match="two runs of vgg with seed 0"):
        paper.errors_by_model([*recs, make_record("vgg", 0, 9.0)])
    unfinished = RunRecord(path=tmp_path / "x", config={"model": "vgg", "seed": 0})
    with pytest.raises(ValueError, match="has not finished"):
        paper.errors_by_model([unfinished])


def test_results_table_follows_table1_and_shows_the_papers_column():
    errors = {"vgg_aib": {0: 20.0, 1: 22.0, 2: 24.0}, "vgg": [30.0, 31.0], "wrn_abn": {0: 50.0}}
    table = paper.results_table(errors, column="cifar10")
    assert list(table.index) == ["vgg", "wrn_abn", "vgg_aib"]  # the paper's row order
    assert table.loc["vgg_aib", "ours (mean ± std)"] == "22.00 ± 2.00"
    assert table.loc["vgg_aib", "n"] == 3 and table.loc["vgg_aib", "seeds"] == "0, 1, 2"
    assert table.loc["wrn_abn", "paper CIFAR-10"] == "3.92∗"
    assert table.loc["vgg", "paper model"] == "VGG"
    with pytest.raises(ValueError, match="not models of the paper's Table 1"):
        paper.results_table({"vgg_aib_cub": [1.0]})


def test_paper_column_for_a_training_set_is_its_own_else_cifar10_as_context():
    assert paper.paper_column_for("svhn") == ("svhn", "")
    assert paper.paper_column_for("fashion_mnist") == ("cifar10", " (context: another dataset)")
