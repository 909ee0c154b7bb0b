"""Tests of aibnb.reproduce.run_scores: how many images a run is scored on, and re-scoring an older
``scores.json`` up to the current scorer without changing what it already held."""

from __future__ import annotations

from aibnb import storage
from aibnb.interpret import SCORER_VERSION
from aibnb.reproduce.run_scores import rescore_run, score_images, score_run


def test_score_images_is_capped_by_the_runs_own_test_subset(make_record):
    assert score_images(make_record("vgg_aib", 0, 10.0), "lab") == 2000
    assert score_images(make_record("vgg_aib", 0, 10.0, test_subset=64), "lab") == 64
    assert score_images(make_record("vgg_aib", 0, 10.0, test_subset=64), "full") == 64
    assert score_images(make_record("vgg_aib", 0, 10.0), "full") is None


def _strip_per_image(scores: dict) -> dict:
    """What a version-3 scorer stored: the same rows, without each image's outcomes."""
    old = {**scores, "scorer": 3}
    old["table2"] = {k: v for k, v in scores["table2"].items() if k != "per_image"}
    old["posthoc"] = {name: {k: v for k, v in part.items() if k != "per_image"} if isinstance(part, dict)
                      else part for name, part in scores["posthoc"].items()}
    return old


def test_rescoring_adds_per_image_outcomes_and_keeps_the_rows(scorable_run, one_thread):
    record = scorable_run("vgg_aib", "fashion_mnist")
    scores = score_run(record, "ci", "cpu", "table1")
    assert scores["scorer"] == SCORER_VERSION and "per_image" in scores["table2"]
    old = _strip_per_image(scores)
    storage.write_json(record.path / "scores.json", old)
    assert rescore_run(record, "ci", "cpu", "table1")
    new = storage.read_json(record.path / "scores.json")
    assert new["scorer"] == SCORER_VERSION
    assert new["table2"]["rows"] == old["table2"]["rows"]  # the same images, modifications and seed
    assert new["table2"]["per_image"] == scores["table2"]["per_image"]
    assert new["posthoc"]["gradcam"]["rows"] == old["posthoc"]["gradcam"]["rows"]
    assert "per_image" in new["posthoc"]["bottleneck"] and new["cross_domain"] == old["cross_domain"]
    assert not rescore_run(record, "ci", "cpu", "table1")  # up to date: nothing to add
    assert not rescore_run(record, "ci", "cpu", "beta")  # a sweep's runs are not re-scored


def test_rescoring_a_scene_run_only_moves_its_version(scorable_run, one_thread):
    record = scorable_run("vgg_aib", "cluttered_fashion")
    scores = score_run(record, "ci", "cpu", "cluttered")
    storage.write_json(record.path / "scores.json", {**scores, "scorer": 3})
    assert rescore_run(record, "ci", "cpu", "cluttered")
    storage.write_json(record.path / "expected.json", scores)  # the file, as NaN != NaN in a dict
    assert (record.path / "scores.json").read_text() == (record.path / "expected.json").read_text()
