"""The chapters' shared helpers: parameters, provenance phrases, figures of claims and sweeps."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from aibnb import chapter, viz
from aibnb.reproduce import stats


def test_as_list_reads_papermill_text():
    assert chapter.as_list("[0, 1]") == [0, 1]
    assert chapter.as_list("vgg,vgg_aib") == ["vgg", "vgg_aib"]
    assert chapter.as_list(3) == [3] and chapter.as_list(("a", "b")) == ["a", "b"]


def test_seeds_and_provenance_phrases():
    assert chapter.seeds_phrase([2, 0, 1]) == "seeds 0–2"
    assert chapter.seeds_phrase([0]) == "seed 0"
    assert chapter.seeds_phrase([0, 2, 5]) == "seeds 0, 2, 5"
    assert chapter.seeds_phrase([]) == "no seeds"
    assert chapter.provenance_note("lab", [0, 1, 2]) == "Profile `lab`, seeds 0–2."
    assert chapter.provenance_note("ci", None, "Fashion-MNIST") == "Profile `ci`, Fashion-MNIST."


def test_claims_forest_draws_one_row_per_claim_in_its_verdict_colour():
    results = stats.decide(
        [
            stats.paired_claim("a", "x", "y", {0: 9.0, 1: 9.1, 2: 8.9}, {0: 11.0, 1: 11.2, 2: 10.9}),
            stats.paired_claim("b", "x", "z", {0: 9.0, 1: 9.1, 2: 8.9}, {0: 9.5, 1: 8.6, 2: 9.4}),
        ]
    )
    fig, ax = plt.subplots()
    viz.claims_forest(ax, results, ["x below y", "x below z"], margin=0.5, xlabel="advantage")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x below z", "x below y"]  # first claim on top
    assert {t.get_text() for t in ax.texts} == {r.verdict for r in results}
    with pytest.raises(ValueError, match="one label each"):
        viz.claims_forest(ax, results, ["only one"], margin=0.5, xlabel="x")
    plt.close(fig)


def test_sweep_figure_draws_runs_and_means_and_says_when_empty():
    frame = pd.DataFrame(
        {
            "beta": [1e-3, 1e-3, 1e-2, 1e-2],
            "seed": [0, 1, 0, 1],
            "test_error": [12.0, 12.4, 11.0, 11.2],
            "kl_bits": [30.0, 31.0, 9.0, 9.5],
        }
    )
    fig = viz.sweep_figure(frame, "beta", official=0.01, second="kl_bits", second_label="KL (bits)")
    mean_line = fig.axes[0].lines[1]
    assert list(mean_line.get_ydata()) == pytest.approx([12.2, 11.1])
    plt.close(fig)
    empty = viz.sweep_figure(pd.DataFrame(), "beta", official=0.01, second="kl_bits", second_label="KL")
    assert "no stored run yet" in empty.axes[0].texts[0].get_text()
    plt.close(empty)


def test_run_options_give_beta_and_k_only_to_the_models_that_have_them(monkeypatch):
    common = {"dataset": "fashion_mnist", "profile": "ci", "seed": 1, "beta": 0.1, "num_anchors": 5}
    assert "beta" not in chapter.run_options("vgg", **common)
    aib = chapter.run_options("vgg_aib", **common)
    assert aib["beta"] == 0.1 and "num_anchors" not in aib and aib["quiet"] and aib["seed"] == 1
    assert chapter.run_options("vgg_aib_qt", **common)["num_anchors"] == 5
    assert chapter.run_options("vgg_aib", **{**common, "beta": None}).get("beta") is None
    assert chapter.run_options("vgg_aib", **common, epochs=3)["epochs"] == 3
    asked = []
    monkeypatch.setattr("aibnb.chapter.fit_many", lambda specs: asked.extend(specs) or [])
    scenes = {"dataset": "cluttered_fashion", "beta": 1.0}
    chapter.train_many([("vgg_aib", {}), ("vgg_aib", scenes)], **common)
    assert asked == [chapter.run_options("vgg_aib", **common),
                     chapter.run_options("vgg_aib", **{**common, **scenes})]


def test_chosen_models_and_seeds_check_the_parameters():
    allowed = ("vgg", "vgg_dvib", "vgg_aib")
    assert chapter.chosen_models(None, allowed) == list(allowed)
    assert chapter.chosen_models("vgg_aib,vgg", allowed) == ["vgg", "vgg_aib"]  # the allowed order
    for bad in (["resnet"], [], "vgg,nope"):
        with pytest.raises(ValueError, match=r"^models: .*choose among"):
            chapter.chosen_models(bad, allowed)
    assert chapter.chosen_seeds(None, [1, 0]) == [0, 1]
    assert chapter.chosen_seeds("[2, 0, 2]", [0]) == [0, 2]
    assert chapter.chosen_seeds(3, [0]) == [3]
    for bad in ([], [-1], "x"):
        with pytest.raises(ValueError, match=r"^seeds: need non-negative integers"):
            chapter.chosen_seeds(bad, [0])


def test_glue_ladder_claims_glues_each_size_under_its_own_prefix(monkeypatch):
    from aibnb.reproduce import claims
    from aibnb.reproduce.stats import decide, paired_claim

    glued = {}
    monkeypatch.setattr("myst_nb.glue", lambda name, value, display=True: glued.setdefault(name, value))
    results = []
    for size in (2500, 1250):
        r = paired_claim("c", "vgg_aib", "vgg", {s: 10.0 + s for s in range(3)},
                         {s: 11.0 + s for s in range(3)})
        r.context = {"train_subset": size}
        results.append(r)
    decide(results)
    chapter.glue_ladder_claims("ladder", results, {"vgg": "VGG"})
    for size, r in ((1250, results[1]), (2500, results[0])):
        assert glued[claims.claim_key(f"ladder{size}", "vgg_aib", "vgg", "verdict")] == r.verdict
        assert glued[claims.claim_key(f"ladder{size}", "vgg_aib", "vgg", "seeds")] == "3"
    assert len(glued) == 2 * len(claims.claim_cells(results[0]))
