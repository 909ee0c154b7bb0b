"""The ``ci`` tier read as the ``lab`` tier is: its sweeps through the explorer, the scenes' sweep
figure from the stored scores, the reproduction check of a chapter's run, the tier's Table 2.

A tiny fake tier (run folders made in the test: config, final numbers, provenance, scores) stands in
for ``book/results/ci``; nothing is trained.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from aibnb.figures import explorer, sweeps
from aibnb.figures import interpret as figures
from aibnb.reproduce.evidence import Tier
from aibnb.reproduce.pairing import default_latent_dim, run_setting
from aibnb.runs import RunRecord

DEVICE = "cpu (1 threads, x86_64, AVX2)"


def _localisation(pointing: float) -> dict[str, Any]:
    part = {"pointing": pointing, "pointing_ci": 0.05, "mass": 0.2, "mass_ci": 0.02, "iou": 0.1,
            "iou_ci": 0.01, "area": 0.14, "area_ci": 0.0}
    return {"area": 0.14, "own": {"kind": "mean", "accuracy": 0.3, "raw": part,
                                  "structure": {**part, "mass": 0.25},
                                  "per_image": {"pointing": [pointing] * 4, "mass": [0.25] * 4}}}


def _table2(model: str, seed: int) -> dict[str, Any]:
    rows = [{"model": model, "seed": seed, "condition": "color r=0.25", "normalize": "none", "tau": 0.9,
             "score": 80.0 + seed}]
    return {"taus": [0.9], "conditions": [{"kind": "occlusion"}], "rows": rows, "control": []}


def _run(base: Path, model: str, seed: int, error: float, *, dataset: str = "fashion_mnist",
         beta: float | None = None, num_anchors: int | None = None, latent_dim: int | None = None,
         scores: dict[str, Any] | None = None) -> RunRecord:
    name = f"{model}-{dataset}-{seed}-{beta}-{num_anchors}-{latent_dim}"
    path = base / "runs" / name
    path.mkdir(parents=True)
    config = {"model": model, "dataset": dataset, "profile": "ci", "seed": seed,
              "beta": 0.01 if beta is None else beta, "num_anchors": num_anchors, "latent_dim": latent_dim}
    final = {"test_error": error, "test_info_bits": 1.0 / (beta or 0.01), "test_izy_bits": 2.5,
             "num_anchors": (num_anchors or 20) if model.endswith("_qt") else None,
             "test_perplexity": 3.0, "test_att_mean": 0.5, "best_val_acc": 0.7, "best_epoch": 2}
    prov = {"device": DEVICE, "created": "2026-12-03T14:00:00+00:00", "commit": "abc"}
    files = {"config.json": {"hash": name, "config": config}, "final.json": final, "provenance.json": prov}
    for file, data in files.items():
        (path / file).write_text(json.dumps(data))
    if scores is not None:
        (path / "scores.json").write_text(json.dumps({"dataset": dataset, "run": name, **scores}))
    return RunRecord.load(path)


@pytest.fixture
def ci(tmp_path: Path) -> Tier:
    scenes = "cluttered_fashion"
    records = [_run(tmp_path, "vgg_aib", s, 24.0 + s, scores={"table2": _table2("vgg_aib", s)})
               for s in range(3)]
    records += [_run(tmp_path, "vgg_aib", 0, 22.0 + i, beta=b) for i, b in enumerate((1e-4, 1.0))]
    records += [_run(tmp_path, "vgg_aib", 0, 26.0, latent_dim=d) for d in (64, 1024)]
    records += [_run(tmp_path, "vgg_aib_qt", s, 25.0 + s) for s in range(3)]
    records += [_run(tmp_path, "vgg_aib_qt", 0, 27.0, num_anchors=k) for k in (2, 50)]
    records += [_run(tmp_path, "vgg_aib", 0, 70.0 + i, dataset=scenes, beta=b, scores={
        "localisation": _localisation(0.1 * (i + 1))}) for i, b in enumerate((1e-4, None, 1.0))]
    records += [_run(tmp_path, "vgg_aib_qt", 0, 71.0, dataset=scenes, num_anchors=k, scores={
        "localisation": _localisation(0.4)}) for k in (2, None)]
    records.append(_run(tmp_path, "vgg_aib_qt", 0, 72.0, dataset=scenes, num_anchors=5))  # not scored
    return Tier("ci", tmp_path, records)


def test_the_latent_size_of_a_run_resolves_to_its_profiles_default() -> None:
    assert default_latent_dim("vgg_aib", "ci") == 256 and default_latent_dim("vgg_aib", "lab") == 16
    assert default_latent_dim("vgg", "ci") is None and default_latent_dim("vgg_aib_qt", None) == 256


def test_the_sweeps_of_the_ci_tier_are_read_as_the_lab_tiers(ci: Tier) -> None:
    # the official runs are selected without the sweeps' runs, whatever setting they vary
    assert sorted(ci.select("vgg_aib")) == [0, 1, 2]
    assert all(r.config["latent_dim"] is None for r in ci.select("vgg_aib").values())
    beta = explorer.sweep_points(ci, "vgg_aib", explorer.BETA)
    assert [p.value for p in beta] == [1e-4, 0.01, 1.0] and [len(p.seeds) for p in beta] == [1, 3, 1]
    latent = explorer.sweep_points(ci, "vgg_aib", explorer.LATENT)
    assert [p.value for p in latent] == [64, 256, 1024] and latent[1].seeds == [0, 1, 2]
    assert {run_setting(r, "latent_dim") for p in latent for r in p.records.values()} == {64, 256, 1024}
    anchors = explorer.sweep_points(ci, "vgg_aib_qt", explorer.ANCHORS)
    assert [p.value for p in anchors] == [2, 20, 50]
    frame = explorer.points_frame(latent)
    assert list(frame["latent_dim"]) == [64, 256, 256, 256, 1024]
    columns = (explorer.ERROR, explorer.KL)
    table = explorer.points_table(latent, columns, caption="c", table_id="ci-latent").data
    assert list(table.index) == ["64", "256", "1024"] and table.loc["256", "seeds"] == "3"


def test_the_scenes_sweep_comes_from_the_stored_scores(ci: Tier) -> None:
    settings = figures.sweep_settings(ci)
    assert [(s["group"], s["value"]) for s in settings] == [
        ("beta", 1e-4), ("beta", 0.01), ("beta", 1.0), ("anchors", 2), ("anchors", 20)]  # K = 5: no scores
    official = next(s for s in settings if s["group"] == "beta" and s["beta"] == 0.01)
    assert official["pointing"] == pytest.approx(0.2) and official["mass_structure"] == 0.25
    assert official["test_error"] == 71.0 and official["num_images"] == 4 and official["device"] == DEVICE
    assert official["label"] == "β=0.01" and official["num_anchors"] is None
    fig = figures.sweep_localisation_figure(settings)
    assert [t.get_text() for t in fig.axes[1].get_xticklabels() if t.get_text()] == ["2", "20"]
    plt.close(fig)
    with pytest.raises(ValueError, match="no stored sweep"):
        figures.sweep_localisation_figure([])


def test_a_chapters_run_is_compared_with_the_stored_run_of_its_configuration(ci: Tier) -> None:
    stored = ci.select("vgg_aib").get(0)
    again = RunRecord.load(stored.path)
    repro = sweeps.reproduction(again, ci, ("test_error", "test_att_mean"))
    assert repro.diffs == {"test_error": 0.0, "test_att_mean": 0.0} and repro.same_kind
    assert repro.stored.name == stored.name and repro.largest == 0.0
    assert "the same run as" in repro.table.caption and "largest difference is 0.0e+00" in repro.summary
    assert sweeps.reproduction(again, Tier("ci", ci.path, []), ("test_error",)) is None  # not stored
    elsewhere = dataclasses.replace(again, provenance={**again.provenance, "device": "cpu (2 threads)"})
    other = sweeps.reproduction(elsewhere, ci, ("test_error",))
    assert not other.same_kind and "reported, not asserted" in other.summary


def test_the_tiers_table2_gathers_the_stored_scores_of_its_default_runs(ci: Tier, tmp_path: Path) -> None:
    table = ci.table2("fashion_mnist")
    assert sorted(r["seed"] for r in table["rows"]) == [0, 1, 2] and len(table["runs"]) == 3
    assert ci.table2("cifar10") is None
    assert Tier("full", tmp_path / "none", []).table2() is None
