"""What the queue computes beside each finished run, where its checkpoint still is.

The stored tier keeps no checkpoints, so every measurement a chapter makes of a trained model is
made here, once, by the worker that trained it, and stored as ``scores.json`` beside the run:

* chapter 5's scores of the maps (:func:`aibnb.interpret.score_record`): the model's own map and,
  for the runs of Table 1 and of the cluttered scenes, the post-hoc maps of the same network;
* for the runs of Table 1, their outcome on every image of the shifted test set
  (:func:`aibnb.reproduce.cross_domain.shifted_outcomes`), which chapter 4 needs to decide the
  paper's cross-domain claim image by image.

:func:`rescore_run` adds to an older ``scores.json`` what the current scorer computes
(:data:`aibnb.interpret.SCORER_VERSION`), without recomputing what it holds.
"""

from __future__ import annotations

from typing import Any

from aibnb import runs, storage
from aibnb.interpret import SCORER_VERSION, map_kind, score_record
from aibnb.reproduce.cross_domain import shifted_outcomes

__all__ = ["POSTHOC_GROUPS", "POSTHOC_IMAGES", "SCORE_IMAGES", "rescore_run", "score_images", "score_run"]

# test images scored per run for chapter 5 (None = the run's whole test set)
SCORE_IMAGES = {"ci": 200, "lab": 2000, "full": None}
# of those, the images the post-hoc maps (Grad-CAM, per-sample bottleneck, CAM) are scored on, for
# the groups that compare maps (Table 1's models and the cluttered scenes; the sweeps score own maps)
POSTHOC_IMAGES = {"ci": 50, "lab": 200, "full": 1000}
POSTHOC_GROUPS = ("table1", "cluttered")


def score_images(record: runs.RunRecord, profile: str) -> int | None:
    """How many test images a run is scored on: :data:`SCORE_IMAGES` of its profile, and never more
    than the run's own test subset (a dry run with ``test_subset=64`` is scored on 64)."""
    cap, own = SCORE_IMAGES.get(profile), record.config.get("test_subset")
    return own if cap is None else (cap if own is None else min(cap, own))


def score_run(record: runs.RunRecord, profile: str, device: str, group: str) -> dict[str, Any] | None:
    """Chapter 5's scores of a finished run, where its checkpoint is, and for Table 1's runs their
    outcomes on the shifted test set (chapter 4's cross-domain claim). None when there is nothing to
    score: a maps-free model of a sweep, or a run of the training-set ladder."""
    if group == "ladder":  # the ladder measures accuracy and the gap only (every run costs the same)
        return None
    posthoc = POSTHOC_IMAGES.get(profile) if group in POSTHOC_GROUPS else 0
    if posthoc == 0 and map_kind(record.config["model"]) is None:
        return None
    n = score_images(record, profile)
    scores = score_record(record, device=device, num_images=n, posthoc_images=posthoc)
    if group == "table1":
        scores["cross_domain"] = shifted_outcomes(record, n=n, device=device)
    return scores


def _without_per_image(part: Any) -> bool:
    """A stored Table 2 part without per-image outcomes (written by a scorer older than version 4)."""
    return isinstance(part, dict) and "rows" in part and "per_image" not in part


def rescore_run(record: runs.RunRecord, profile: str, device: str, group: str) -> bool:
    """Bring a stored run's older ``scores.json`` up to the current scorer: add what it lacks (the
    post-hoc maps, the shifted test set) and re-score the Table 2 parts that have no per-image
    outcomes (the same images, modifications and seed, so the rows are reproduced, with each
    image's outcome added); the rest is kept, not recomputed. False when there is nothing to add or
    no checkpoint."""
    path = record.path / "scores.json"
    old = storage.read_json(path) if path.exists() else None
    if group not in POSTHOC_GROUPS or (old or {}).get("scorer", 1) >= SCORER_VERSION:
        return False
    if not (record.path / "best.pt").exists():
        return False
    if old is None:
        new = score_run(record, profile, device, group)
    else:
        new, n = dict(old), score_images(record, profile)
        redo_own = _without_per_image(old.get("table2"))
        posthoc = old.get("posthoc") or {}
        redo_posthoc = not posthoc or any(_without_per_image(part) for part in posthoc.values())
        if redo_own or redo_posthoc:
            fresh = score_record(record, device=device, num_images=n, own=redo_own,
                                 posthoc_images=POSTHOC_IMAGES.get(profile) if redo_posthoc else 0)
            new.update({key: fresh[key] for key, redo in (("table2", redo_own), ("posthoc", redo_posthoc))
                        if redo})
        if group == "table1" and "cross_domain" not in old:
            new["cross_domain"] = shifted_outcomes(record, n=n, device=device)
    new["scorer"] = SCORER_VERSION
    storage.write_json(path, new)
    return True
