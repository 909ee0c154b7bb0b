"""Judging one stored run before it is used as evidence: did it learn, did it settle, in which regime.

A comparison of two models is only evidence about the paper if both models learned the task
(:func:`learned`: a collapse to one class says nothing about accuracy or maps), and its verdict
means something different when the models underfit (training error equal to test error: a
regulariser such as the bottleneck can only cost accuracy) or overfit (a generalisation gap that a
bottleneck might close). :func:`regime` says which, from what the run stored: the training images'
error under the test's conditions where the run measured it (``train_eval``, the training-set
ladder), else the last epoch's training error in train mode (augmented, dropout and sampling on).
:func:`plateau` says whether the validation accuracy had flattened by the end of training.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from aibnb import runs
from aibnb.reproduce.stats import SMALLEST_EFFECT

__all__ = ["LEARNED_MARGIN", "Regime", "chance_error", "learned", "plateau", "regime"]

#: How many points below the chance error a run's test error must be for the run to count as having
#: learned its task. A collapsed run (one class for every image) sits at chance; a run that learned
#: is tens of points below it, so the verdict does not hinge on the exact margin.
LEARNED_MARGIN = 10.0


def plateau(record: runs.RunRecord, *, flat_points: float = SMALLEST_EFFECT) -> tuple[bool, str]:
    """Whether a run's validation accuracy was flat at the end of training, and why.

    Flat when the validations of the last fifth of its epochs (at least two) lie within
    ``flat_points`` points; otherwise the run is *schedule-limited*: its accuracy was still moving
    when the cosine schedule brought the learning rate to zero, so the flattening of the last
    epochs is forced by the schedule, not reached by the model.
    """
    rows = [(m["epoch"], 100.0 * m["val_acc"]) for m in record.metrics if m.get("val_acc") is not None]
    if not rows:
        return False, "no validation recorded"
    epochs = int(record.config.get("epochs") or rows[-1][0])
    start = epochs - max(1, math.ceil(epochs / 5))
    tail = [acc for epoch, acc in rows if epoch > start]
    if len(tail) < 2:
        tail = [acc for _, acc in rows[-2:]]
    spread = max(tail) - min(tail)
    if spread <= flat_points:
        return True, f"flat: within {spread:.2f} points over the last {len(tail)} validations"
    return False, f"schedule-limited: {spread:.2f} points over the last {len(tail)} validations"


def chance_error(record: runs.RunRecord) -> float:
    """The test error (%) of always answering the test set's most frequent class, from the run's
    confusion matrix (90 % on ten balanced classes)."""
    confusion = np.asarray((record.final or {}).get("confusion") or [], dtype=float)
    if confusion.size == 0:
        raise ValueError(f"{record.path}: final.json has no confusion matrix; cannot tell chance")
    rows = confusion.sum(axis=1)
    return float(100.0 * (1.0 - rows.max() / rows.sum()))


def learned(record: runs.RunRecord, *, margin: float = LEARNED_MARGIN) -> bool:
    """Whether a run learned to classify: its test error at least ``margin`` points below chance.

    A run that did not (a collapse: the classifier answers one class, its map is flat) is still
    evidence about accuracy and stability, but its map is not evidence about where a classifier
    looks, so the map comparisons of chapter 5 leave it out and count it on its own.
    """
    return float(record.final["test_error"]) <= chance_error(record) - margin


@dataclass(frozen=True)
class Regime:
    """The training regime of a set of runs: mean training and test error (%) and the gap (points).

    ``measured`` is True when the training error is the training images' error under the test's
    conditions (``train_eval``), False when it is the last epoch's train-mode error (augmented,
    with dropout and sampling), which over-states the training error a little.
    """

    train_error: float
    test_error: float
    measured: bool
    runs: int

    @property
    def gap(self) -> float:
        return self.test_error - self.train_error

    @property
    def label(self) -> str:
        """``"overfit"`` (a gap of more than 2 points), ``"underfit"`` (within 1 point) or ``"mild gap"``."""
        if self.gap > 2.0:
            return "overfit"
        return "underfit" if abs(self.gap) <= 1.0 else "mild gap"

    def describe(self) -> str:
        """One phrase for a table cell: ``"overfit: gap +6.1 (train 3.2 %, test 9.3 %)"``."""
        how = "" if self.measured else ", train mode"
        return (f"{self.label}: gap {self.gap:+.1f} (train {self.train_error:.1f} %{how}, "
                f"test {self.test_error:.1f} %)")


def _train_error(record: runs.RunRecord) -> tuple[float, bool] | None:
    final = record.final or {}
    if final.get("train_eval_error") is not None:
        return float(final["train_eval_error"]), True
    acc = [m["train_acc"] for m in record.metrics if m.get("train_acc") is not None]
    return (100.0 * (1.0 - acc[-1]), False) if acc else None


def regime(records: Iterable[runs.RunRecord]) -> Regime | None:
    """The :class:`Regime` of ``records`` (e.g. both models' runs of a comparison); None without any
    training error recorded. Runs that measured their training error are preferred when some did."""
    found = [(r, _train_error(r)) for r in records]
    found = [(r, t) for r, t in found if t is not None and (r.final or {}).get("test_error") is not None]
    if not found:
        return None
    if any(t[1] for _, t in found):
        found = [(r, t) for r, t in found if t[1]]
    return Regime(
        train_error=float(np.mean([t[0] for _, t in found])),
        test_error=float(np.mean([float(r.final["test_error"]) for r, _ in found])),
        measured=found[0][1][1],
        runs=len(found),
    )
