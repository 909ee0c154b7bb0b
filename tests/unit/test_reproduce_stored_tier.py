"""A stored tier: finished runs exported whole and never overwritten, one identity per tier."""

import pytest
from fake_runs import fake_run

from aibnb import storage
from aibnb.reproduce import stored_tier


def test_export_copies_the_small_files_only_and_never_overwrites(tmp_path):
    src = fake_run(tmp_path / "cache" / "vgg-fm-1")
    store = tmp_path / "store"
    target = stored_tier.export_run(src, store)
    assert sorted(p.name for p in target.iterdir()) == [
        "config.json",
        "final.json",
        "metrics.jsonl",
        "provenance.json",
    ]
    storage.write_json(src / "final.json", {"test_error": 99.0})
    stored_tier.export_run(src, store)
    assert storage.read_json(target / "final.json")["test_error"] == 10.0  # stored results are kept
    index = stored_tier.build_index(store, "lab")
    assert [r["run"] for r in index["runs"]] == ["vgg-fm-1"] and index["runs"][0]["training_code"] == 1


def test_a_tier_refuses_another_training_code_or_thread_count(tmp_path):
    store = tmp_path / "store"
    stored_tier.export_run(fake_run(tmp_path / "c" / "a"), store)
    stored_tier.check_tier(store, (1, 1), "this code")
    with pytest.raises(stored_tier.TierMismatchError, match="version 1 with 1 CPU thread"):
        stored_tier.check_tier(store, (2, 1), "this code")
    with pytest.raises(stored_tier.TierMismatchError, match="one thread count"):
        stored_tier.check_tier(store, (1, 2), "this code")
