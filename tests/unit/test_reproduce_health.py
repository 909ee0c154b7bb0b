"""Judging a stored run: flat or schedule-limited, learned or collapsed, and its regime (the gap)."""

import pytest

from aibnb import runs
from aibnb.reproduce.health import Regime, plateau, regime


def _record(tmp_path, accs, *, epochs=None, final=None, train_acc=0.9):
    folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    rows = [{"epoch": i + 1, "val_acc": a, "train_acc": train_acc} for i, a in enumerate(accs)]
    return runs.RunRecord(path=folder, config={"epochs": epochs or len(accs)},
                          final=final or {"test_error": 10.0}, metrics=rows)


def test_plateau_asks_for_a_flat_last_fifth_and_names_the_schedule_otherwise(tmp_path):
    flat, why = plateau(_record(tmp_path, [0.5, 0.8, 0.85, 0.880, 0.881, 0.882, 0.880, 0.881, 0.882, 0.881]))
    assert flat and why == "flat: within 0.10 points over the last 2 validations"
    # the best epoch before the last is no longer enough: the last fifth rose by 2.2 points
    curve = [0.5, 0.7, 0.8, 0.83, 0.84, 0.85, 0.86, 0.85, 0.862, 0.882, 0.88]
    rising, why = plateau(_record(tmp_path, curve))
    assert not rising and why.startswith("schedule-limited: 2.00 points")
    # sparse validation (every 8 of 96 epochs): the validations inside the last fifth count
    sparse = _record(tmp_path, [0.7, 0.8], epochs=96)
    sparse.metrics[:] = [{"epoch": e, "val_acc": a} for e, a in ((72, 0.86), (80, 0.87), (88, 0.872),
                                                                  (96, 0.873))]
    flat, why = plateau(sparse)
    assert flat and why == "flat: within 0.30 points over the last 3 validations"
    assert plateau(_record(tmp_path, [])) == (False, "no validation recorded")


def test_regime_prefers_the_measured_training_error(tmp_path):
    measured = _record(tmp_path, [0.9], final={"test_error": 12.0, "train_eval_error": 3.0})
    train_mode = _record(tmp_path, [0.9], final={"test_error": 13.0}, train_acc=0.87)
    both = regime([measured, train_mode])
    assert both == Regime(train_error=3.0, test_error=12.0, measured=True, runs=1)
    assert both.gap == pytest.approx(9.0) and both.label == "overfit"
    only = regime([train_mode])
    assert not only.measured and only.train_error == pytest.approx(13.0) and only.label == "underfit"
    assert only.describe() == "underfit: gap +0.0 (train 13.0 %, train mode, test 13.0 %)"
    assert regime([]) is None
