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
* seeds 1-3 of the cluttered scenes, then seeds 1-2 of the sweeps. Four cluttered seeds, so that a
  run that collapses to chance (chapter 5 compares the maps of trained runs only:
  :func:`aibnb.reproduce.evidence.learned`, and counts the collapses on their own) still leaves three
  seeds of trained models to every comparison of maps.

* ``ladder``, the training-set ladder: VGG, VGG-DVIB and VGG-aib on Fashion-MNIST training sets of
  1,250, 2,500, 5,000 and 10,000 images, each trained for about 120,000 training images (96, 48, 24
  and 12 epochs, the cosine schedule stretched over each run), so that every run costs what a
  ``table1`` run costs while the smaller sets are trained far past their size: the regime where a
  bottleneck can regularise. Every ladder run validates 12 times (every ``epochs / 12`` epochs) on a
  fixed stratified 2,000 of the 5,000 validation images, so that validation (4 x 4 samples per image)
  stays a small share of a run, and stores its generalisation gap (``train_eval``). The ladder comes
  in **waves**: wave ``s`` is seed ``s`` of every model at every size, so each finished wave adds one
  paired seed to every cell. Eight waves of the three models on the three smaller sets come first
  (the regime the ladder is for), then eight on 10,000 images, then eight of VGG-aib-qt at every
  size. The seed count (:data:`LADDER_SEEDS`) is the one at which a paired t-test at Holm's strictest
  level over the ladder's claims detects, with 80 % power, about one point for VGG-aib - VGG given
  ``table1``'s paired spread (chapter 4 derives it with
  :func:`aibnb.reproduce.stats.detectable_difference`). The 10,000-image cell trains exactly as
  ``table1`` does (validation does not touch the training), so on a CPU of the same kind its
  last-epoch weights are ``table1``'s of the same seed; only the checkpoint selection sees fewer
  validation images.

* then, once the ladder is stored, the seeds that bring ``table1`` to the ladder's: seeds 3-4 of the
  other baselines and seeds 5-7 of the four main models (:data:`TABLE1_MAIN_SEEDS`,
  :data:`TABLE1_BASELINE_SEEDS`). They were planned after the five- and three-seed verdicts had been
  read (:func:`added_after_reading`), so chapter 4 shows those verdicts beside the new ones.

The WRN family does not fit the CPU budget of the lab tier (a WRN epoch costs about three VGG
epochs at equal width and its narrow versions train poorly); it belongs to the ``full`` tier.

``full`` (a GPU, width 1): the priority order of the lent GPU windows (VGG-aib and VGG first).

``ci`` (two epochs on 6,000 images, one thread per run): the sweeps that the chapters' ``ci``
sections draw, stored as a tier like ``lab`` so that one queue, one storage and one reader serve
every sweep. It is the sweeps' code path, not evidence: one seed per grid point, and three seeds at
the official setting only, whose spread is the chapters' yardstick at this profile.

* ``beta``: VGG-aib at beta in {1e-4, 1e-3, 1e-2, 1e-1, 1} on Fashion-MNIST (seeds 0-2 at the
  official 1e-2; chapter 2) and on the cluttered scenes (chapter 5 scores the maps' localisation);
* ``k``: VGG-aib-qt at K in {2, 5, 10, 20, 50} on both datasets (seeds 0-2 at the default 20 on
  Fashion-MNIST; chapters 3 and 5);
* ``latent``: VGG-aib at the latent dimensions {64, 1024} on Fashion-MNIST (256, the default, is
  the ``beta`` group's official run; chapter 2, Fig. 4(b)).

The official points are left unset (``beta``, ``num_anchors`` and ``latent_dim`` at their
defaults), so that they are the very runs a chapter's plain ``fit(model=...)`` trains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CI_BETAS",
    "CI_KS",
    "CI_LATENTS",
    "CI_SEEDS",
    "GROUPS",
    "LADDER_IMAGES",
    "LADDER_MODELS",
    "LADDER_SEEDS",
    "LADDER_SIZES",
    "TABLE1_BASELINE_SEEDS",
    "TABLE1_FIRST_BASELINE_SEEDS",
    "TABLE1_FIRST_MAIN_SEEDS",
    "TABLE1_MAIN_SEEDS",
    "PlannedRun",
    "added_after_reading",
    "ladder_overrides",
    "plan",
]

FM, CLUTTER = "fashion_mnist", "cluttered_fashion"
MAIN = ("vgg", "vgg_aib", "vgg_aib_qt", "vgg_dvib")
OTHER_BASELINES = ("vgg_gap", "vgg_att3", "vgg_att2")
SWEEP_BETAS = (1e-4, 1e-3, 1e-1, 1.0)
SWEEP_KS = (2, 5, 10, 50)
CLUTTERED_MODELS = ("vgg", "vgg_aib", "vgg_aib_qt", "vgg_att3")
GROUPS = ("table1", "cluttered", "beta", "k", "latent", "ladder")
#: The ``ci`` tier's grids: the lab sweeps' values with the official point included, and the latent
#: dimensions of the paper's Fig. 4(b) (256, the default, is the official run)
CI_BETAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
CI_KS = (2, 5, 10, 20, 50)
CI_LATENTS = (64, 1024)
#: Seeds of the ``ci`` tier's official points (the yardstick of the seed spread at ``ci``)
CI_SEEDS = 3
OFFICIAL_BETA, DEFAULT_K = 1e-2, 20

#: The ladder's training-set sizes and its budget in training images per run (12 epochs of
#: ``table1``'s 10,000 images): the epochs of a cell are the budget divided by its size.
LADDER_SIZES = (1250, 2500, 5000, 10000)
LADDER_IMAGES = 120_000
LADDER_VALIDATIONS = 12
LADDER_VAL_IMAGES = 2000
LADDER_MODELS = ("vgg", "vgg_dvib", "vgg_aib")
LADDER_EXTRA_MODELS = ("vgg_aib_qt",)
#: Paired seeds per ladder cell, fixed before any ladder run from the spread of ``table1``'s paired
#: differences (see the module docstring; chapter 4 shows the computation).
LADDER_SEEDS = 8
#: ``table1``'s seeds when its verdicts were first read (the four main models, the other baselines)
TABLE1_FIRST_MAIN_SEEDS, TABLE1_FIRST_BASELINE_SEEDS = 5, 3
#: ``table1``'s seeds once the ladder is stored: the four main models at the ladder's seed count,
#: the other baselines at the main models' first five
TABLE1_MAIN_SEEDS, TABLE1_BASELINE_SEEDS = LADDER_SEEDS, TABLE1_FIRST_MAIN_SEEDS


def added_after_reading(config: dict[str, Any]) -> bool:
    """Whether the run of ``config`` (a run record's configuration) is one of the ``table1`` seeds
    planned after the first verdicts had been read: a Fashion-MNIST run of a Table 1 model, outside the
    ladder, at a seed beyond :data:`TABLE1_FIRST_MAIN_SEEDS` (main models) or
    :data:`TABLE1_FIRST_BASELINE_SEEDS` (the other baselines). No sweep or scene run has such a seed."""
    model = config.get("model")
    if config.get("dataset") != FM or config.get("train_eval") or model not in MAIN + OTHER_BASELINES:
        return False
    first = TABLE1_FIRST_MAIN_SEEDS if model in MAIN else TABLE1_FIRST_BASELINE_SEEDS
    return int(config.get("seed", 0)) >= first


def ladder_overrides(size: int) -> dict[str, Any]:
    """The ``fit`` settings of a ladder run on ``size`` training images (see the module docstring)."""
    if size not in LADDER_SIZES:
        raise ValueError(f"ladder_overrides: size must be one of {LADDER_SIZES}, got {size!r}")
    epochs = LADDER_IMAGES // size
    every = epochs // LADDER_VALIDATIONS
    out: dict[str, Any] = {
        "train_subset": size,
        "epochs": epochs,
        "val_subset": LADDER_VAL_IMAGES,
        "train_eval": True,
    }
    if every > 1:
        out["val_every"] = every
    return out


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
        hidden = ("epochs", "train_eval", "val_every", "val_subset")
        shown = {k: v for k, v in self.overrides.items() if k not in hidden}
        extra = " ".join(f"{k}={v}" for k, v in sorted(shown.items()))
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

    def ladder(seeds: range, models: tuple[str, ...], sizes: tuple[int, ...]) -> list[PlannedRun]:
        return [
            PlannedRun("ladder", m, FM, seed, ladder_overrides(size))
            for seed in seeds
            for size in sizes
            for m in models
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
        + ladder(range(LADDER_SEEDS), LADDER_MODELS, LADDER_SIZES[:-1])
        + ladder(range(LADDER_SEEDS), LADDER_MODELS, LADDER_SIZES[-1:])
        + ladder(range(LADDER_SEEDS), LADDER_EXTRA_MODELS, LADDER_SIZES)
        + table1(range(TABLE1_FIRST_BASELINE_SEEDS, TABLE1_BASELINE_SEEDS), OTHER_BASELINES)
        + table1(range(TABLE1_FIRST_MAIN_SEEDS, TABLE1_MAIN_SEEDS), MAIN)
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
    def point(group: str, model: str, dataset: str, seed: int, key: str, value: Any, official: Any
              ) -> PlannedRun:
        return PlannedRun(group, model, dataset, seed, {} if value == official else {key: value})

    runs = []
    for dataset in (FM, CLUTTER):
        runs += [point("beta", "vgg_aib", dataset, 0, "beta", b, OFFICIAL_BETA) for b in CI_BETAS]
        runs += [point("k", "vgg_aib_qt", dataset, 0, "num_anchors", k, DEFAULT_K) for k in CI_KS]
    runs += [PlannedRun("latent", "vgg_aib", FM, 0, {"latent_dim": d}) for d in CI_LATENTS]
    for seed in range(1, CI_SEEDS):  # the seed spread at the official settings
        runs += [PlannedRun("beta", "vgg_aib", FM, seed), PlannedRun("k", "vgg_aib_qt", FM, seed)]
    return runs


_PLANS = {"lab": _lab, "full": _full, "ci": _ci}


def plan(profile: str, groups: tuple[str, ...] | list[str] | None = None) -> list[PlannedRun]:
    """The runs of the tier ``profile`` in priority order (only ``groups`` when given).

    ``ci`` holds the sweeps the chapters' ``ci`` sections draw (see the module docstring).
    """
    if profile not in _PLANS:
        raise ValueError(f"plan: no stored tier for profile {profile!r}; valid: {', '.join(_PLANS)}")
    unknown = sorted(set(groups or ()) - set(GROUPS))
    if unknown:
        raise ValueError(f"plan: unknown group(s) {', '.join(unknown)}; valid: {', '.join(GROUPS)}")
    runs = _PLANS[profile]()
    return [r for r in runs if not groups or r.group in groups]
