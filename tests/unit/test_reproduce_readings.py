"""aibnb.reproduce.readings: the first reading of a tier, families joined, verdicts compared."""

from pathlib import Path

from aibnb import runs
from aibnb.reproduce import readings
from aibnb.reproduce.claims import interval_text
from aibnb.reproduce.evidence import Tier
from aibnb.reproduce.plan import (
    TABLE1_FIRST_BASELINE_SEEDS,
    TABLE1_FIRST_MAIN_SEEDS,
    added_after_reading,
    plan,
)
from aibnb.reproduce.stats import decide, paired_claim


def _config(model, seed, **more):
    return {"model": model, "seed": seed, "dataset": "fashion_mnist", **more}


def test_the_table1_seeds_added_after_the_first_reading_are_known():
    assert not added_after_reading(_config("vgg", TABLE1_FIRST_MAIN_SEEDS - 1))
    assert added_after_reading(_config("vgg", TABLE1_FIRST_MAIN_SEEDS))
    assert not added_after_reading(_config("vgg_gap", TABLE1_FIRST_BASELINE_SEEDS - 1))
    assert added_after_reading(_config("vgg_gap", TABLE1_FIRST_BASELINE_SEEDS))
    assert not added_after_reading(_config("vgg", 7, train_eval=True))  # the ladder's seeds were planned
    assert not added_after_reading({**_config("vgg", 7), "dataset": "cluttered_fashion"})
    lab = plan("lab")
    added = [r for r in lab if added_after_reading(r.kwargs("lab"))]
    table1 = [r for r in lab if r.group == "table1"]
    assert len(added) == 18 and added == table1[-len(added):]  # the last table1 runs of the plan


def test_the_first_reading_leaves_the_added_seeds_out():
    records = [runs.RunRecord(path=Path("."), config=_config(m, s))
               for m, s in (("vgg", 0), ("vgg", 6), ("vgg_att2", 4), ("vgg_att2", 2))]
    first = readings.first_reading(Tier("lab", Path("."), records))
    assert [(r.config["model"], r.config["seed"]) for r in first.records] == [("vgg", 0), ("vgg_att2", 2)]
    assert first.profile == "lab"


def test_verdict_changes_name_each_claim_whose_verdict_moved():
    five = {s: 10.0 + 0.4 * (s % 2) for s in range(5)}
    early = decide([paired_claim("c", "a", "b", five, {s: v + 0.3 for s, v in five.items()})])
    eight = {s: 10.0 + 0.1 * (s % 2) for s in range(8)}
    late = decide([paired_claim("c", "a", "b", eight, {s: v + 2.0 for s, v in eight.items()})])
    assert early[0].verdict != late[0].verdict
    text = readings.verdict_changes(early, late, {"a": "A", "b": "B"})
    assert text.startswith("1 verdict changed: A below B: ") and f"{early[0].verdict} at 5 seeds" in text
    assert f"{late[0].verdict} at 8 (" in text and interval_text(late[0]) in text
    assert readings.verdict_changes(early, late, relation="above").startswith("1 verdict changed: a above b")
    assert readings.verdict_changes(late, late) == "No verdict changed."


def test_one_family_names_each_part_and_runs_holm_over_all():
    a = paired_claim("c", "a", "b", {s: 10.0 for s in range(4)}, {s: 12.0 + 0.1 * s for s in range(4)})
    b = paired_claim("c", "a", "b", {s: 10.0 for s in range(4)}, {s: 11.0 + 0.2 * s for s in range(4)})
    family = readings.one_family({"raw maps": [a], "min-max maps": [b]})
    assert [r.claim for r in family] == ["c (raw maps)", "c (min-max maps)"]
    assert sorted(r.level for r in family) == [0.025, 0.05]
