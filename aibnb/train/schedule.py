"""Learning-rate schedules of the official code, as a factor of the peak rate at a point in training.

The official schedules are defined per epoch for 200 epochs. Here a schedule is a function of the
*progress* ``t`` in epochs (fractional, updated every iteration) and of the run's length ``epochs``:
the official epoch index is ``floor(t * 200 / epochs)``, so a run of 200 epochs follows the official
schedule exactly and a shorter run (the ``ci`` profile, a shortened GPU run) follows the same shape
compressed in time. ``cosine`` is a modern option, not in the official code.

* ``vgg`` — ``V/cifar_va.py``: LambdaLR stepped at the start of each epoch. After ``warmup`` epochs
  at 1/10, 1/100 ... of the peak (1 warm-up epoch for VGG-aib whose ``--lr 0.01`` reaches 0.1 at
  epoch 1; 2 for VGG-aib-qt, ``--lr 0.001``), the rate is ``peak * 0.5 ** floor((e + 1) / 25)``:
  0.1 until epoch 23, 0.05 from 24, ..., 3.9e-4 at epoch 199.
* ``wrn`` — ``W/cifar_va.py``: ``peak * 0.2 ** (number of milestones 60, 120, 160 reached)``.
* ``exponential`` — ``C/solver.py``: ``peak * 0.97 ** floor(e / 2)`` (CUB, Adam).
* ``cosine`` — linear warm-up over ``warmup`` epochs (of the run, not compressed), then
  ``0.5 * (1 + cos(pi * t / epochs))``.
* ``constant`` — 1.
"""

from __future__ import annotations

import math

OFFICIAL_EPOCHS = 200


def official_epoch(t: float, epochs: int) -> int:
    """The official (200-epoch) epoch index at progress ``t`` of a run of ``epochs`` epochs."""
    return min(OFFICIAL_EPOCHS - 1, math.floor(t * OFFICIAL_EPOCHS / epochs + 1e-9))


def lr_factor(schedule: str, t: float, epochs: int, warmup_epochs: float = 0.0) -> float:
    """The factor multiplying the peak learning rate at progress ``t`` (epochs, fractional)."""
    if epochs < 1:
        raise ValueError(f"lr_factor: epochs must be >= 1, got {epochs}")
    if t < 0:
        raise ValueError(f"lr_factor: progress t must be >= 0, got {t}")
    if schedule == "vgg":
        e = official_epoch(t, epochs)
        warmup = round(warmup_epochs)
        if e < warmup:
            return 10.0 ** -(warmup - e)
        return 0.5 ** math.floor((e + 1) / 25)
    if schedule == "wrn":
        e = official_epoch(t, epochs)
        return 0.2 ** sum(e >= m for m in (60, 120, 160))
    if schedule == "exponential":
        return 0.97 ** math.floor(official_epoch(t, epochs) / 2)
    if schedule == "cosine":
        if warmup_epochs > 0 and t < warmup_epochs:
            return (t + 1e-3) / warmup_epochs
        return 0.5 * (1.0 + math.cos(math.pi * min(t, epochs) / epochs))
    if schedule == "constant":
        return 1.0
    raise ValueError(f"unknown schedule {schedule!r}; valid: vgg, wrn, exponential, cosine, constant")
