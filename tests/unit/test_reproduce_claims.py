"""Tests of aibnb.reproduce.claims: the excess of a consistency score over its control, per map,
and the localisation claims decided from the per-scene scores stored beside each run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aibnb import runs, storage
from aibnb.reproduce import claims


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
    assert claims.consistency_excess(sc) == pytest.approx((90 + 80 + 60) / 3 - 50)
    assert claims.consistency_excess(sc, map="gradcam") == pytest.approx(55 - 20)
    assert claims.consistency_excess(sc, map="cam") is None  # not scored with that map
    assert claims.consistency_excess(sc, normalize="minmax") is None
    assert claims.consistency_excess({"table2": None}) is None


def test_maps_are_compared_on_the_modifications_they_share():
    sc = _scores()
    shared = claims.posthoc_conditions(sc)
    assert shared == ["colour r=0.25", "low-pass r=8"]
    assert claims.consistency_excess(sc, conditions=shared) == pytest.approx(70 - 50)
    assert claims.posthoc_conditions({"table2": None}) is None


def test_consistency_per_image_reads_the_stability_codes():
    # three taus (0.85, 0.9, 0.95): level 2 = the cosine exceeds 0.9; "-" = the prediction changed
    control = [{"tau": 0.9, "normalize": "none", "score": 10.0},
               {"tau": 0.95, "normalize": "none", "score": 0.0}]
    part = {"taus": [0.85, 0.9, 0.95], "rows": [], "control": control,
            "per_image": {"none": {"colour r=0.25": "32-1-", "low-pass r=8": "212--"}}}
    sc = {"table2": part}
    per_image = claims.consistency_per_image(sc)
    # image 0: stable under both (100 %); image 1: under one of two; image 2: its one kept prediction
    # is stable; image 3: kept once, unstable there (level 1 < 2); image 4: every prediction changed
    np.testing.assert_allclose(per_image[:4], [90.0, 40.0, 90.0, -10.0])
    assert np.isnan(per_image[4])
    only = claims.consistency_per_image(sc, conditions=["low-pass r=8"])
    np.testing.assert_allclose(only[:3], [90.0, -10.0, 90.0])
    assert np.isnan(only[3])
    np.testing.assert_allclose(claims.consistency_per_image(sc, tau=0.95)[:2], [50.0, 0.0])  # level 3 needed
    assert claims.consistency_per_image(sc, tau=0.8) is None  # not one of the scored taus
    assert claims.consistency_per_image(sc, normalize="minmax") is None
    assert claims.consistency_per_image(_scores()) is None  # scored before per-image outcomes were kept
    with pytest.raises(ValueError, match="re-score"):
        claims.consistency_per_image({"table2": {**part, "per_image": {"none": {"x": "3?"}}}})


def _t2_part(codes: dict[str, str], control: float) -> dict:
    """A Table 2 part whose rows agree with its stability codes (tau 0.9 of 0.85 / 0.9 / 0.95)."""
    from aibnb.interpret.consistency import stability_levels

    rows = []
    for name, code in codes.items():
        levels = stability_levels(code)
        kept = int((levels >= 0).sum())
        rows.append({"condition": name, "tau": 0.9, "normalize": "none",
                     "score": 100.0 * int((levels >= 2).sum()) / kept if kept else None})
    return {"taus": [0.85, 0.9, 0.95], "conditions": [{"name": n} for n in codes], "rows": rows,
            "control": [{"tau": 0.9, "normalize": "none", "score": control}], "per_image": {"none": codes}}


def test_consistency_claims_pair_maps_by_seed_and_image(tmp_path):
    from aibnb.reproduce.evidence import Tier
    from aibnb.reproduce.paper import table1_beta
    from aibnb.reproduce.readings import one_family

    rng = np.random.default_rng(0)
    stable = {"vgg_aib": 0.8, "vgg_att3": 0.5}
    records = []
    for model, rate in stable.items():
        for seed in (0, 1, 2):
            folder = tmp_path / f"{model}-{seed}"
            folder.mkdir()
            odds = [rate / 2, rate / 2, 0.9 - rate, 0.1]
            codes = {name: "".join(rng.choice(["3", "2", "1", "-"], p=odds) for _ in range(300))
                     for name in ("colour r=0.25", "low-pass r=8", "colour r=0.5")}
            few = {name: code[:40] for name, code in codes.items() if name != "colour r=0.5"}
            posthoc = {"num_images": 40, "gradcam": _t2_part(few, control=30.0)}
            if (model, seed) == ("vgg_aib", 0):  # the own map's scores on the post-hoc maps' images
                few_own, few_gradcam = _t2_part(few, control=20.0), posthoc["gradcam"]
            scores = {"table2": _t2_part(codes, control=20.0), "posthoc": posthoc}
            if model == "vgg_att3" and seed == 2:
                scores["table2"].pop("per_image")  # an older scorer: no per-image outcomes
            storage.write_json(folder / "scores.json", scores)
            cfg = {"model": model, "dataset": "fashion_mnist", "seed": seed, "beta": table1_beta(model)}
            records.append(runs.RunRecord(path=folder, config=cfg, final={"test_error": 10.0}))
    tier = Tier("lab", tmp_path, records)
    own = tier.consistency("vgg_aib")
    assert sorted(own) == [0, 1, 2] and len(own[0][1]) == 300
    assert own[0][0] == pytest.approx(claims.consistency_excess(tier.scores("vgg_aib", "fashion_mnist")[0]))
    shared = tier.consistency("vgg_aib:own", shared=True)
    assert len(shared[0][1]) == 300 and shared[0][0] != own[0][0]  # two of the three modifications
    assert tier.consistency("vgg_aib:cam") == {}
    pairs = [("AIB above LTPA", "vgg_aib", "vgg_att3"),
             ("own above Grad-CAM", "vgg_aib:own", "vgg_aib:gradcam"),
             ("no runs", "vgg_aib", "vgg_aib_qt")]
    results = tier.consistency_claims(pairs)
    assert [r.claim for r in results] == ["AIB above LTPA", "own above Grad-CAM"]
    aib_vs_ltpa, own_vs_gradcam = results
    assert aib_vs_ltpa.n == 3 and aib_vs_ltpa.advantage > 20
    # one seed of LTPA has no per-image outcomes: the image test pools the other two, and says so
    assert aib_vs_ltpa.image_seeds == [0, 1] and aib_vs_ltpa.p_images < 0.001
    row = claims.claims_frame([aib_vs_ltpa]).iloc[0]
    assert row["seeds"] == 3 and row["per image (description)"].endswith("(seeds 0, 1)")
    assert own_vs_gradcam.image_seeds == [0, 1, 2]
    assert own_vs_gradcam.p_images is not None and own_vs_gradcam.p_images_holm is not None
    # on the 40 images and two modifications both maps share, the scores are the same: only the
    # controls differ (20 against 30), so the per-image advantage is exactly 10 points everywhere
    advantage = (claims.consistency_per_image({"table2": few_own})
                 - claims.consistency_per_image({"table2": few_gradcam}))
    np.testing.assert_allclose(advantage[np.isfinite(advantage)], 10.0)
    assert own_vs_gradcam.p_images < 0.001
    # the seed-level excess of the own map is over all its 300 images, so it differs from that
    assert own_vs_gradcam.advantage != pytest.approx(10.0)
    # every normalisation in one family: the claims name theirs, Holm counts them all
    # the normalisations of the maps in one family: the claims name theirs, Holm counts them all (these
    # runs were scored on raw maps only: the min-max claims have no scores and are left out)
    family = one_family({f"{label} maps": tier.consistency_claims(pairs[:2], normalize=norm)
                         for norm, label in (("none", "raw"), ("minmax", "min-max"))})
    assert [r.claim for r in family] == ["AIB above LTPA (raw maps)", "own above Grad-CAM (raw maps)"]
    assert sorted(r.level for r in family) == pytest.approx([0.05 / 2, 0.05])


def test_localisation_claims_pair_maps_by_seed_and_scene(tmp_path):
    from aibnb.reproduce.evidence import Tier
    from aibnb.reproduce.paper import table1_beta

    rng = np.random.default_rng(0)
    hits = {"vgg_aib": 0.7, "vgg_att3": 0.5}
    records = []
    for model, rate in hits.items():
        for seed in (0, 1, 2):
            folder = tmp_path / f"{model}-{seed}"
            folder.mkdir()
            own = (rng.random(400) < rate).astype(float)
            posthoc = {"gradcam": {"per_image": {"pointing": own[:50].tolist(), "mass": own[:50].tolist()}}}
            mass = own / 2
            mass[:3] = np.nan  # maps with no mass on three scenes: no relevance mass there
            per_image = {"pointing": own.tolist(), "mass": mass.tolist()}
            storage.write_json(folder / "scores.json",
                               {"localisation": {"own": {"per_image": per_image}}, "posthoc": posthoc})
            cfg = {"model": model, "dataset": "cluttered_fashion", "seed": seed, "beta": table1_beta(model)}
            collapsed = (model, seed) == ("vgg_aib", 2)  # answers one class: at chance, 50 % here
            final = {"test_error": 50.0 if collapsed else 20.0,
                     "confusion": [[0, 50], [0, 50]] if collapsed else [[40, 10], [10, 40]]}
            records.append(runs.RunRecord(path=folder, config=cfg, final=final))
    tier = Tier("lab", tmp_path, records)
    assert list(tier.unlearned("vgg_aib", "cluttered_fashion")) == [2]
    assert sorted(tier.localisation("vgg_aib:own", learned_only=False)) == [0, 1, 2]
    assert sorted(tier.localisation("vgg_aib:own")) == [0, 1]  # a map of a collapsed run is no evidence
    assert len(tier.localisation("vgg_aib:gradcam")[0]) == 50
    assert tier.localisation("vgg_aib:bottleneck") == {}
    pairs = [("AIB above LTPA", "vgg_aib:own", "vgg_att3:own"),
             ("own above Grad-CAM", "vgg_aib:own", "vgg_aib:gradcam"),
             ("no runs", "vgg_aib:own", "vgg:gradcam")]
    results = tier.localisation_claims(pairs, margin=2.0)
    assert [r.claim for r in results] == ["AIB above LTPA", "own above Grad-CAM"]  # no vgg runs: left out
    aib_vs_ltpa, own_vs_gradcam = results
    assert aib_vs_ltpa.n == 2 and 10 < aib_vs_ltpa.advantage < 30 and aib_vs_ltpa.p_images < 0.001
    assert aib_vs_ltpa.image_seeds == [0, 1]
    assert own_vs_gradcam.advantage == 0.0  # the same scores on the 50 scenes both maps share
    mass = tier.localisation_claims(pairs[:1], metric="mass")[0]
    assert math.isfinite(mass.advantage) and math.isfinite(mass.p_images)  # the NaN scenes left out
    assert abs(mass.advantage - aib_vs_ltpa.advantage / 2) < 1.0


def test_a_run_learned_its_task_when_well_below_chance(tmp_path):
    from aibnb.reproduce.health import LEARNED_MARGIN, chance_error, learned

    def record(error: float, confusion: list[list[int]]) -> runs.RunRecord:
        return runs.RunRecord(path=tmp_path, config={}, final={"test_error": error, "confusion": confusion})

    # chance is the error of always answering the most frequent class: 60 % with 40 of 100 in one class
    skewed = [[40, 0, 0], [30, 0, 0], [30, 0, 0]]
    assert chance_error(record(60.0, skewed)) == pytest.approx(60.0)
    assert not learned(record(60.0, skewed))
    assert not learned(record(60.0 - LEARNED_MARGIN / 2, skewed))
    assert learned(record(60.0 - LEARNED_MARGIN, skewed))
    with pytest.raises(ValueError, match="confusion"):
        chance_error(runs.RunRecord(path=tmp_path / "run", config={}, final={"test_error": 5.0}))


def test_claim_keys_and_cells_are_what_the_front_page_quotes():
    from aibnb.reproduce.stats import decide, paired_claim

    r = decide([paired_claim("c", "β = 0.01", "β = 1", {0: 10.0, 1: 11.0}, {0: 12.0, 1: 12.5})])[0]
    assert claims.claim_key("beta", r.a, r.b, "verdict") == "beta_beta_0_01_beta_1_verdict"
    assert claims.claim_key("loc_pointing", "vgg_aib:own", "vgg:gradcam", "seeds") == (
        "loc_pointing_vgg_aib_own_vgg_gradcam_seeds")
    cells = claims.claim_cells(r)
    assert cells["seeds"] == "2" and cells["verdict"] == r.verdict
    assert cells["advantage"].startswith(f"{r.advantage:+.2f} [") and cells["advantage"].endswith("]")


def test_every_claim_the_front_page_quotes_is_one_its_chapter_decides():
    """book/intro.md quotes claims as {glue:text}`chapter::key`; each key must be one that the
    chapter glues (``glue_claims(prefix, ...)`` over the claims of these lists), else the book's
    build fails on a missing glue key."""
    import re
    from pathlib import Path

    from aibnb.reproduce.plan import LADDER_SIZES, SWEEP_BETAS, SWEEP_KS

    lists = {
        ("04_training", "t1"): claims.TABLE1_CLAIMS,
        ("04_training", "shift"): claims.CROSS_DOMAIN_CLAIMS,
        ("04_training", "scene"): claims.CLUTTERED_CLAIMS,
        **{("04_training", f"ladder{size}"): claims.LADDER_CLAIMS for size in LADDER_SIZES},
        **{("04_training", f"ladderqt{size}"): claims.LADDER_QT_CLAIMS for size in LADDER_SIZES},
        ("05_interpretability", "t2"): claims.TABLE2_CLAIMS,
        ("05_interpretability", "loc_pointing"): claims.LOCALISATION_CLAIMS,
        ("05_interpretability", "loc_mass"): claims.LOCALISATION_CLAIMS,
        ("02_vib_loss", "beta"): [("", "β = 0.01", f"β = {v:g}") for v in SWEEP_BETAS],
        ("03_ste_quantizer", "k"): [("", "K = 20", f"K = {v:g}") for v in SWEEP_KS],
    }
    glued = {(chapter, claims.claim_key(prefix, a, b, field))
             for (chapter, prefix), pairs in lists.items() for _, a, b in pairs
             for field in ("seeds", "advantage", "confidence", "verdict", "regime")}
    glued |= {("04_training", f"front_{k}") for k in ("t1", "ladder", "first")}  # the first screen's
    intro = (Path(__file__).resolve().parents[2] / "book" / "intro.md").read_text()
    # MyST-NB needs the file name (``chapter.ipynb``) and a format spec (``:s``): without one it
    # splits ``doc::key`` at its last colon
    refs = re.findall(r"\{glue:text\}`([^`]*)`", intro)
    assert len(refs) >= 30 and all(re.fullmatch(r"[0-9a-z_]+\.ipynb::[0-9A-Za-z_]+:s", r) for r in refs), refs
    quoted = {tuple(r.removesuffix(":s").replace(".ipynb", "").split("::")) for r in refs}
    assert quoted <= glued, sorted(quoted - glued)



def test_listed_joins_a_sentence_s_items():
    assert claims.listed([]) == "" and claims.listed(["a"]) == "a"
    assert claims.listed(["a", "b"]) == "a and b" and claims.listed(["a", "b", "c"]) == "a, b and c"
