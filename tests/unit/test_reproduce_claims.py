"""Tests of aibnb.reproduce.claims: the excess of a consistency score over its control, per map,
and the localisation claims decided from the per-scene scores stored beside each run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aibnb import runs
from aibnb.reproduce import claims as C


def _part(scores_by_condition: dict[str, float], control: float, tau: float = 0.9) -> dict:
    rows = [{"condition": name, "tau": tau, "normalize": "none", "score": score}
            for name, score in scores_by_condition.items()]
    rows.append({"condition": "low-pass r=8", "tau": 0.85, "normalize": "none", "score": 0.0})  # other tau
    return {"conditions": [{"name": name} for name in scores_by_condition], "rows": rows,
            "control": [{"tau": tau, "normalize": "none", "score": control}]}


def _scores() -> dict:
    own = _part({"colour r=0.125": 90.0, "colour r=0.25": 80.0, "low-pass r=8": 60.0}, control=50.0)
    return {"table2": own,
            "posthoc": {"num_images": 4,
                        "gradcam": _part({"colour r=0.25": 70.0, "low-pass r=8": 40.0}, control=20.0),
                        "bottleneck": _part({"colour r=0.25": 30.0, "low-pass r=8": 30.0}, control=25.0)}}


def test_consistency_excess_is_the_mean_score_minus_the_control():
    sc = _scores()
    assert C.consistency_excess(sc) == pytest.approx((90 + 80 + 60) / 3 - 50)
    assert C.consistency_excess(sc, map="gradcam") == pytest.approx(55 - 20)
    assert C.consistency_excess(sc, map="cam") is None  # not scored with that map
    assert C.consistency_excess(sc, normalize="minmax") is None
    assert C.consistency_excess({"table2": None}) is None


def test_maps_are_compared_on_the_modifications_they_share():
    sc = _scores()
    shared = C.posthoc_conditions(sc)
    assert shared == ["colour r=0.25", "low-pass r=8"]
    assert C.consistency_excess(sc, conditions=shared) == pytest.approx(70 - 50)
    excess = C.map_excess({"vgg_aib": {0: sc, 1: sc}, "vgg": {0: {"table2": None}}})
    assert set(excess) == {("vgg_aib", "own"), ("vgg_aib", "gradcam"), ("vgg_aib", "bottleneck")}
    assert excess["vgg_aib", "own"] == {0: pytest.approx(20.0), 1: pytest.approx(20.0)}
    assert excess["vgg_aib", "bottleneck"][0] == pytest.approx(5.0)
    assert C.posthoc_conditions({"table2": None}) is None


def test_localisation_claims_pair_maps_by_seed_and_scene(tmp_path):
    from aibnb.reproduce.evidence import Tier
    from aibnb.reproduce.paper import table1_beta

    rng = np.random.default_rng(0)
    hits = {"vgg_aib": 0.7, "vgg_att3": 0.5}
    records = []
    for model, rate in hits.items():
        for seed in (0, 1):
            folder = tmp_path / f"{model}-{seed}"
            folder.mkdir()
            own = (rng.random(400) < rate).astype(float)
            posthoc = {"gradcam": {"per_image": {"pointing": own[:50].tolist(), "mass": own[:50].tolist()}}}
            mass = own / 2
            mass[:3] = np.nan  # maps with no mass on three scenes: no relevance mass there
            per_image = {"pointing": own.tolist(), "mass": mass.tolist()}
            runs.write_json(folder / "scores.json",
                            {"localisation": {"own": {"per_image": per_image}}, "posthoc": posthoc})
            cfg = {"model": model, "dataset": "cluttered_fashion", "seed": seed, "beta": table1_beta(model)}
            records.append(runs.RunRecord(path=folder, config=cfg, final={"test_error": 50.0}))
    tier = Tier("lab", tmp_path, records)
    assert sorted(tier.localisation("vgg_aib:own")) == [0, 1]
    assert len(tier.localisation("vgg_aib:gradcam")[0]) == 50
    assert tier.localisation("vgg_aib:bottleneck") == {}
    claims = [("AIB above LTPA", "vgg_aib:own", "vgg_att3:own"),
              ("own above Grad-CAM", "vgg_aib:own", "vgg_aib:gradcam"),
              ("no runs", "vgg_aib:own", "vgg:gradcam")]
    results = tier.localisation_claims(claims, margin=2.0)
    assert [r.claim for r in results] == ["AIB above LTPA", "own above Grad-CAM"]  # no vgg runs: left out
    aib_vs_ltpa, own_vs_gradcam = results
    assert aib_vs_ltpa.n == 2 and 10 < aib_vs_ltpa.advantage < 30 and aib_vs_ltpa.p_images < 0.001
    assert own_vs_gradcam.advantage == 0.0  # the same scores on the 50 scenes both maps share
    mass = tier.localisation_claims(claims[:1], metric="mass")[0]
    assert math.isfinite(mass.advantage) and math.isfinite(mass.p_images)  # the NaN scenes left out
    assert abs(mass.advantage - aib_vs_ltpa.advantage / 2) < 1.0
