"""Which runs each stored evidence tier holds, in the order they are trained.

A :class:`PlannedRun` is one call of :func:`aibnb.train.fit` (model, dataset, seed and the
settings that differ from the profile). :func:`plan` lists a tier's runs in priority order: the
runs that decide the most claims of the paper first, then the first seed of every other group, so
that a queue stopped early has stored the most useful evidence.

``lab`` (CPU, one thread per run), in this order:

* ``table1`` seeds 0-1: Fashion-MNIST, the four models of the main comparison (VGG, VGG-aib,
  VGG-aib-qt, VGG-DVIB) and the other baselines (VGG-GAP, LTPA att3 / att2);
* seed 0 of the sweeps: ``beta``, VGG-aib at beta in {1e-4, 1e-3, 1e-1, 1} (1e-2, the official
  value, is the ``table1`` run; the paper's Fig. 4(a)) and ``k``, VGG-aib-qt at K in {2, 5, 10, 50}
  (20 is the ``table1`` run; Fig. 4(c));
* ``table1`` seed 2 of every model, then seeds 3-4 of the four main models;
* ``cluttered`` seed 0: VGG, VGG-aib, VGG-aib-qt and LTPA att3 on the cluttered scenes, with twice
  the epochs (the scenes are harder: the object is small and surrounded by fragments);
* seeds 1-3 of the cluttered scenes, then seeds 1-2 of the sweeps. The fourth cluttered seed was
  added after seed 2 of VGG-aib collapsed to chance (its KL term fell to zero in the second epoch and
  the classifier never learned): a map of a model that does not classify says nothing about
  localisation, so chapter 5 compares the maps of trained runs only
  (:func:`aibnb.reproduce.evidence.learned`) and counts the collapses on their own; with seed 3 every
  comparison of maps keeps three seeds of trained models.

The WRN family does not fit the CPU budget of the lab tier (a WRN epoch costs about three VGG
epochs at equal width and its narrow versions train poorly); it belongs to the ``full`` tier.

``full`` (a GPU, width 1): the priority order of the lent GPU windows (VGG-aib and VGG first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["GROUPS", "PlannedRun", "plan"]

FM, CLUTTER = "fashion_mnist", "cluttered_fashion"
MAIN = ("vgg", "vgg_aib", "vgg_aib_qt", "vgg_dvib")
OTHER_BASELINES = ("vgg_gap", "vgg_att3", "vgg_att2")
SWEEP_BETAS = (1e-4, 1e-3, 1e-1, 1.0)
SWEEP_KS = (2, 5, 10, 50)
CLUTTERED_MODELS = ("vgg", "vgg_aib", "vgg_aib_qt", "vgg_att3")
GROUPS = ("table1", "cluttered", "beta", "k")


@dataclass(frozen=True)
class PlannedRun:
    """One run of a tier: the group it belongs to and the :func:`~aibnb.train.fit` arguments."""

    group: str
    model: str
    dataset: str
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)

    def kwargs(self, profile: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The keyword arguments of ``fit`` for this run at ``profile`` (``extra`` last)."""
        return {
            "model": self.model,
            "dataset": self.dataset,
            "profile": profile,
            "seed": self.seed,
            "quiet": True,
            **self.overrides,
            **(extra or {}),
        }

    @property
    def label(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in sorted(self.overrides.items()) if k != "epochs")
        return f"{self.group}: {self.model} on {self.dataset}, seed {self.seed}" + (
            f" ({extra})" if extra else ""
        )


def _lab() -> list[PlannedRun]:
    def table1(seeds: range, models: tuple[str, ...]) -> list[PlannedRun]:
        return [PlannedRun("table1", m, FM, seed) for seed in seeds for m in models]

    def sweeps(seeds: range) -> list[PlannedRun]:
        out = []
        for seed in seeds:
            out += [PlannedRun("beta", "vgg_aib", FM, seed, {"beta": b}) for b in SWEEP_BETAS]
            out += [PlannedRun("k", "vgg_aib_qt", FM, seed, {"num_anchors": k}) for k in SWEEP_KS]
        return out

    def cluttered(seeds: range) -> list[PlannedRun]:
        return [
            PlannedRun("cluttered", m, CLUTTER, s, {"epochs": 24}) for s in seeds for m in CLUTTERED_MODELS
        ]

    # every group gets its first seeds early, so that a queue stopped half-way has evidence for each
    # chapter; then the seeds that narrow the intervals
    return (
        table1(range(2), MAIN + OTHER_BASELINES)
        + sweeps(range(1))
        + table1(range(2, 3), MAIN + OTHER_BASELINES)
        + table1(range(3, 5), MAIN)
        + cluttered(range(1))
        + cluttered(range(1, 4))
        + sweeps(range(1, 3))
    )


def _full() -> list[PlannedRun]:
    runs = [PlannedRun("table1", m, FM, 0) for m in MAIN]
    runs += [PlannedRun("table1", m, FM, seed) for seed in (1, 2) for m in ("vgg_aib", "vgg")]
    runs += [PlannedRun("table1", m, FM) for m in OTHER_BASELINES]
    runs += [PlannedRun("cluttered", m, CLUTTER) for m in ("vgg_aib", "vgg_aib_qt", "vgg_att3")]
    runs += [PlannedRun("beta", "vgg_aib", FM, 0, {"beta": b}) for b in SWEEP_BETAS]
    runs += [PlannedRun("k", "vgg_aib_qt", FM, 0, {"num_anchors": k}) for k in SWEEP_KS]
    runs += [PlannedRun("table1", m, FM) for m in ("wrn_aib", "wrn_aib_qt", "wrn", "wrn_abn")]
    runs += [PlannedRun("cluttered", m, CLUTTER) for m in ("wrn_aib", "wrn_abn")]
    return runs


def _ci() -> list[PlannedRun]:
    return [r for r in _lab() if r.seed == 0]


_PLANS = {"lab": _lab, "full": _full, "ci": _ci}


def plan(profile: str, groups: tuple[str, ...] | list[str] | None = None) -> list[PlannedRun]:
    """The runs of the tier ``profile`` in priority order (only ``groups`` when given).

    ``ci`` is the ``lab`` plan's first seed at the ``ci`` profile's size: a dry run of the same queue.
    """
    if profile not in _PLANS:
        raise ValueError(f"plan: no stored tier for profile {profile!r}; valid: {', '.join(_PLANS)}")
    unknown = sorted(set(groups or ()) - set(GROUPS))
    if unknown:
        raise ValueError(f"plan: unknown group(s) {', '.join(unknown)}; valid: {', '.join(GROUPS)}")
    runs = _PLANS[profile]()
    return [r for r in runs if not groups or r.group in groups]
