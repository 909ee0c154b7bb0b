"""A stored evidence tier read back: run records, errors by model and seed, per-image outcomes.

The queue (:mod:`aibnb.reproduce.queue`) stores each finished run of a tier under
``book/results/<profile>/runs/<run>/``; :class:`Tier` reads them (``Tier.load("lab")``) and answers
what the chapters ask: the errors of a model over seeds at given settings, the per-image outcomes
of a run on the shared test set, the stored chapter-5 scores, and the claims of a table decided
with :mod:`aibnb.reproduce.stats`. Everything here only reads; nothing trains.

Every family of claims goes through one mechanism (:meth:`Tier.decide`): for each claim, the
paired values of its two models (or the reason it is not testable: a model that did not learn the
task, a model this tier does not train), the regime its runs were trained in
(:func:`aibnb.reproduce.health.regime`), then Holm's procedure over the family and, for the
accuracy tables, the pooled model as a cross-check. The families differ only in where the paired
values come from: test errors, errors on a shifted test set, consistency or localisation scores.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aibnb import runs
from aibnb.interpret import table2_from_scores
from aibnb.reproduce import stats
from aibnb.reproduce.claims import consistency_excess, consistency_per_image, posthoc_conditions
from aibnb.reproduce.health import learned, regime
from aibnb.reproduce.pairing import (
    Paired,
    default_latent_dim,
    errors,
    gpu_only,
    map_scores,
    not_learned,
    outcomes,
    run_setting,
    setting_label,
    stored_scores,
)
from aibnb.reproduce.paper import table1_beta
from aibnb.reproduce.pooled import decide_pooled, pooled_contrasts
from aibnb.storage import read_npz

if TYPE_CHECKING:  # pandas is the book's extra: imported where a table is built
    import pandas as pd

__all__ = ["GPU_ONLY", "Tier"]

FM = "fashion_mnist"  # the training-set ladder's dataset

#: Why a claim about a WRN model has no verdict on a CPU tier
GPU_ONLY = "GPU tier only: the WRN family is trained in the full tier, not on a CPU"

@dataclass
class Tier:
    """The stored runs of one profile (``lab``, ``full`` or the ``ci`` sweeps)."""

    profile: str
    path: Path
    records: list[runs.RunRecord] = field(default_factory=list)

    @classmethod
    def load(cls, profile: str, base: str | os.PathLike[str] | None = None) -> Tier:
        """Read ``book/results/<profile>/runs/*`` (an empty tier when nothing is stored yet)."""
        path = Path(base) if base is not None else runs.results_dir(profile)
        records = [runs.RunRecord.load(f.parent) for f in sorted((path / "runs").glob("*/final.json"))]
        return cls(profile, path, records)

    def __len__(self) -> int:
        return len(self.records)

    def select(
        self, model: str, dataset: str = "fashion_mnist", **settings: Any
    ) -> dict[int, runs.RunRecord]:
        """``{seed: record}`` of ``model`` on ``dataset`` whose config has every ``settings`` value.

        Without ``beta``, ``num_anchors`` or ``latent_dim``, the model's defaults are meant (the
        official beta, the default K, the profile's code size), so that the runs of the sweeps are
        not mixed into Table 1; and without ``train_eval``, the runs of the training-set ladder
        (which measure their gap) are left out (:meth:`ladder` reads them).
        """
        found = [r for r in self.records if r.config["model"] == model and r.config["dataset"] == dataset]
        if "beta" not in settings and found:
            settings["beta"] = table1_beta(model)
        default_k = "num_anchors" not in settings
        default_latent = "latent_dim" not in settings
        settings.setdefault("train_eval", False)
        out: dict[int, runs.RunRecord] = {}
        for r in found:
            if default_k and r.config.get("num_anchors") is not None:
                continue
            if default_latent and run_setting(r, "latent_dim") != default_latent_dim(
                model, r.config.get("profile")
            ):
                continue
            if all(run_setting(r, k) == v for k, v in settings.items()):
                out[int(r.config["seed"])] = r
        return out

    def values(
        self, model: str, dataset: str = "fashion_mnist", key: str = "test_error", **settings: Any
    ) -> dict[int, float]:
        """``{seed: final[key]}`` of the selected runs."""
        return {s: float(r.final[key]) for s, r in self.select(model, dataset, **settings).items()}

    def correct(self, record: runs.RunRecord) -> np.ndarray | None:
        """Per test image, whether the run's stored prediction is right (None if not stored)."""
        f = record.path / "predictions.npz"
        if not f.exists():
            return None
        z = read_npz(f, required=("predictions", "targets"))
        return z["predictions"] == z["targets"]

    def scores(self, model: str, dataset: str, **settings: Any) -> dict[int, dict[str, Any]]:
        """``{seed: scores.json}`` of the selected runs that have chapter 5's scores."""
        out = {}
        for seed, r in self.select(model, dataset, **settings).items():
            found = stored_scores(r)
            if found is not None:
                out[seed] = found
        return out

    def table2(self, dataset: str = "fashion_mnist") -> dict[str, Any] | None:
        """The Table 2 of the own maps of the tier's models on ``dataset`` at their default settings
        (:meth:`select`: no sweep runs), gathered from the scores the queue stored beside each run
        (:func:`aibnb.interpret.table2_from_scores`: ``taus``, ``conditions``, ``rows``,
        ``control``), with the runs it holds (``runs``); None when no run has Table 2 scores."""
        models = sorted({r.config["model"] for r in self.records if r.config["dataset"] == dataset})
        scored = [s for m in models for s in self.scores(m, dataset).values() if s.get("table2")]
        if not scored:
            return None
        return {**table2_from_scores(scored, dataset), "runs": [s.get("run") for s in scored]}

    # -----------------------------------------------------------------------------------------
    # Deciding families of claims: one mechanism

    def decide(
        self,
        items: Sequence[tuple[str, str, str, Paired | str | None]],
        *,
        margin: float = stats.SMALLEST_EFFECT,
        lower_is_better: bool = True,
        pooled: dict[str, dict[int, float]] | None = None,
    ) -> list[stats.ClaimResult]:
        """Decide one family of claims ``(text, a, b, paired)``: ``paired`` holds the paired values
        of ``a`` and ``b`` (:class:`Paired`), or the reason the claim is not testable at this scale
        (a string), or None (no runs of both: left out). Holm's procedure runs over the testable
        claims; ``pooled`` (every run of the table, ``{model: {seed: value}}``) adds the pooled
        model's contrast to each claim as a cross-check."""
        results = []
        for text, a, b, got in items:
            if got is None:
                continue
            if isinstance(got, str):
                results.append(stats.untestable(text, a, b, got, margin=margin))
                continue
            r = stats.paired_claim(text, a, b, got.values_a, got.values_b, lower_is_better=lower_is_better,
                                   margin=margin, **got.images)
            if got.reason is not None:
                r = stats.untestable(text, a, b, got.reason, n=r.n, margin=margin, mean_a=r.mean_a,
                                     mean_b=r.mean_b)
            found = regime(got.records)
            if found is not None:
                r.regime, r.gap = found.describe(), found.gap
            results.append(r)
        stats.decide(results)
        if pooled:
            pairs = [(r.a, r.b) for r in results if r.testable]
            contrasts = pooled_contrasts(pooled, pairs, lower_is_better=lower_is_better)
            decide_pooled(list(contrasts.values()), margin=margin)
            for r in results:
                r.pooled = contrasts.get((r.a, r.b)) if r.testable else None
        return results

    def _errors_paired(self, a: str, b: str, dataset: str, **settings: Any) -> Paired | str | None:
        """The paired test errors of ``a`` and ``b`` with their per-image outcomes, gated on learning."""
        ra, rb = self.select(a, dataset, **settings), self.select(b, dataset, **settings)
        if not ra or not rb:
            return GPU_ONLY if self.profile != "full" and gpu_only(a, b) else None
        if not set(ra) & set(rb):
            return None
        ea, eb = errors(ra), errors(rb)
        return Paired(ea, eb, [*ra.values(), *rb.values()],
                      {"correct_a": outcomes(self, ra), "correct_b": outcomes(self, rb)},
                      not_learned({a: (ea, ra), b: (eb, rb)}))

    def claims(
        self,
        claims: Sequence[tuple[str, str, str]],
        dataset: str = "fashion_mnist",
        *,
        margin: float = stats.SMALLEST_EFFECT,
        **settings: Any,
    ) -> list[stats.ClaimResult]:
        """Decide claims ``(text, a, b)`` = "a has a lower test error than b" on this tier.

        Paired by seed over the runs :meth:`select` finds with ``settings``; a claim about a model
        the tier does not train (the WRN family on a CPU tier) or whose model did not learn the task
        is not testable; the pooled model over every run of the claims' models is the cross-check.
        """
        items = [(t, a, b, self._errors_paired(a, b, dataset, **settings)) for t, a, b in claims]
        return self.decide(items, margin=margin, pooled=self._pooled_errors(items, dataset, **settings))

    def _pooled_errors(self, items: Sequence[tuple[str, str, str, Paired | str | None]], dataset: str,
                       **settings: Any) -> dict[str, dict[int, float]]:
        """Every run's error of the models the testable ``items`` compare: the pooled model's data."""
        models = {m for _, a, b, got in items if isinstance(got, Paired) for m in (a, b)}
        return {m: errors(self.select(m, dataset, **settings)) for m in sorted(models)}

    def ladder_sizes(self, model: str = "vgg") -> list[int]:
        """The training-set sizes of the training-set ladder that hold runs of ``model``."""
        sizes = {int(r.config["train_subset"]) for r in self.records
                 if r.config["model"] == model and run_setting(r, "train_eval")}
        return sorted(sizes)

    def ladder_claims(
        self,
        claims: Sequence[tuple[str, str, str]],
        sizes: Sequence[int] | None = None,
        *,
        margin: float = stats.SMALLEST_EFFECT,
    ) -> list[stats.ClaimResult]:
        """Decide ``claims`` at every training-set size of the ladder (one family: Holm's procedure
        runs over all sizes at once, as the ladder's power computation assumed). Each result's
        ``claim`` names its size; the pooled model is fitted size by size."""
        items, cells, pooled = [], [], []
        for size in sizes if sizes is not None else self.ladder_sizes():
            cell = {"train_subset": size, "train_eval": True}
            found = [(f"{t} ({size:,} training images)", a, b, self._errors_paired(a, b, FM, **cell))
                     for t, a, b in claims]
            items += found
            cells += [size for *_, got in found if got is not None]
            data = self._pooled_errors(found, FM, **cell)
            pairs = [(a, b) for _, a, b, got in found if isinstance(got, Paired) and got.reason is None]
            pooled.append({(a, b, size): c for (a, b), c in pooled_contrasts(data, pairs).items()})
        family = self.decide(items, margin=margin)  # Holm over every size at once
        contrasts = {k: c for by_size in pooled for k, c in by_size.items()}
        decide_pooled(list(contrasts.values()), margin=margin)  # the pooled model's too, size by size
        for r, size in zip(family, cells, strict=True):
            r.context = {"train_subset": size}
            r.pooled = contrasts.get((r.a, r.b, size)) if r.testable else None
        return family

    def ladder_frame(self, models: Sequence[str]) -> pd.DataFrame:
        """One row per (training-set size, model) of the ladder: runs, mean test error, mean training
        error (eval mode, no augmentation), the generalisation gap (points) and its spread."""
        import pandas as pd

        rows = []
        for size in self.ladder_sizes(models[0]):
            for m in models:
                recs = self.select(m, train_subset=size, train_eval=True)
                if not recs:
                    continue
                gaps = [float(r.final["generalisation_gap"]) for r in recs.values()]
                rows.append({
                    "train_size": size,
                    "model": m,
                    "runs": len(recs),
                    "epochs": int(next(iter(recs.values())).config["epochs"]),
                    "test_error": float(np.mean([r.final["test_error"] for r in recs.values()])),
                    "train_error": float(np.mean([r.final["train_eval_error"] for r in recs.values()])),
                    "gap": float(np.mean(gaps)),
                    "gap_sd": float(np.std(gaps, ddof=1)) if len(gaps) > 1 else math.nan,
                    "seeds": sorted(recs),
                })
        return pd.DataFrame(rows)

    def cross_domain(self, model: str, dataset: str = "fashion_mnist") -> dict[int, dict[str, Any]]:
        """``{seed: outcomes}`` of the selected runs on their shifted test set, where the queue stored
        them (:func:`aibnb.reproduce.cross_domain.shifted_outcomes`)."""
        found = self.scores(model, dataset).items()
        return {s: sc["cross_domain"] for s, sc in found if sc.get("cross_domain")}

    def cross_domain_claims(
        self,
        claims: Sequence[tuple[str, str, str]],
        dataset: str = "fashion_mnist",
        *,
        margin: float = stats.SMALLEST_EFFECT,
    ) -> list[stats.ClaimResult]:
        """Decide claims ``(text, a, b)`` = "a has a lower error than b on the shifted test set".

        From the per-image outcomes the queue stored beside each run (``scores.json``,
        ``cross_domain``), paired by seed. A claim whose models' errors on the shifted set lie within
        :data:`~aibnb.reproduce.health.LEARNED_MARGIN` points of chance is not testable: models that
        do not recognise the shifted images cannot show which transfers better.
        """
        outcomes = {m: self.cross_domain(m, dataset) for _, a, b in claims for m in (a, b)}

        def paired(a: str, b: str) -> Paired | None:
            oa, ob = outcomes[a], outcomes[b]
            if not (set(oa) & set(ob)):
                return None
            ea = {s: float(o["error"]) for s, o in oa.items()}
            eb = {s: float(o["error"]) for s, o in ob.items()}
            ra, rb = self.select(a, dataset), self.select(b, dataset)
            gate = {a: (ea, {s: ra[s] for s in ea if s in ra}), b: (eb, {s: rb[s] for s in eb if s in rb})}
            images = {"correct_a": {s: np.asarray(o["correct"], dtype=bool) for s, o in oa.items()},
                      "correct_b": {s: np.asarray(o["correct"], dtype=bool) for s, o in ob.items()}}
            return Paired(ea, eb, [*ra.values(), *rb.values()], images,
                          not_learned(gate, where="on the shifted test set"))

        return self.decide([(t, a, b, paired(a, b)) for t, a, b in claims], margin=margin)

    def consistency(self, key: str, *, tau: float = 0.9, normalize: str = "none", shared: bool = False,
                    dataset: str = "fashion_mnist") -> dict[int, tuple[float, np.ndarray | None]]:
        """``{seed: (excess, per-image excess)}`` of the map ``key`` = ``"model"`` or ``"model:map"``
        (``own``, ``gradcam``, ``bottleneck``, ``cam``): Table 2's consistency score over the
        unrelated-pairs control in points (:func:`~aibnb.reproduce.claims.consistency_excess`) and
        image by image (:func:`~aibnb.reproduce.claims.consistency_per_image`; None for runs scored
        without per-image outcomes). ``shared``: average over the modifications the run's post-hoc
        maps were scored under, so that a model's own map and its post-hoc maps are compared alike."""
        model, _, name = key.partition(":")
        map_name = None if name in ("", "own") else name
        out = {}
        for seed, sc in self.scores(model, dataset).items():
            conditions = posthoc_conditions(sc) if shared else None
            if shared and conditions is None:
                continue
            options = {"tau": tau, "normalize": normalize, "map": map_name, "conditions": conditions}
            value = consistency_excess(sc, **options)
            if value is not None:
                out[seed] = (value, consistency_per_image(sc, **options))
        return out

    def consistency_claims(
        self,
        claims: Sequence[tuple[str, str, str]],
        *,
        tau: float = 0.9,
        normalize: str = "none",
        dataset: str = "fashion_mnist",
        margin: float = stats.SMALLEST_EFFECT,
    ) -> list[stats.ClaimResult]:
        """Decide claims ``(text, a, b)`` = "map a is more consistent than map b" (:meth:`consistency`,
        in points of excess over the control).

        Paired by seed; per image, the paired bootstrap on the images both maps were scored on (the
        post-hoc maps on the first images of the same list), pooled over the seeds whose runs both
        carry per-image outcomes (runs scored by a scorer older than version 4 have none; the result
        names the seeds, ``image_seeds``); Holm's correction across the claims. A claim with a
        post-hoc map compares both maps on the modifications the post-hoc maps were scored under.
        """
        def paired(a: str, b: str) -> Paired | None:
            shared = any(":" in key and not key.endswith(":own") for key in (a, b))
            options = {"tau": tau, "normalize": normalize, "shared": shared, "dataset": dataset}
            va, vb = self.consistency(a, **options), self.consistency(b, **options)
            seeds = sorted(set(va) & set(vb))
            if not seeds:
                return None
            per_image = [s for s in seeds if va[s][1] is not None and vb[s][1] is not None]
            n = {s: min(len(va[s][1]), len(vb[s][1])) for s in per_image}
            advantage = {s: va[s][1][: n[s]] - vb[s][1][: n[s]] for s in per_image} or None
            return Paired({s: va[s][0] for s in seeds}, {s: vb[s][0] for s in seeds},
                          self._records_of(dataset, a, b), {"image_advantage": advantage})

        return self.decide([(t, a, b, paired(a, b)) for t, a, b in claims], margin=margin,
                           lower_is_better=False)

    def _records_of(self, dataset: str, *keys: str) -> list[runs.RunRecord]:
        """The runs of the models named by ``keys`` (``"model"`` or ``"model:map"``)."""
        return [r for key in keys for r in self.select(key.partition(":")[0], dataset).values()]

    def unlearned(self, model: str, dataset: str = "fashion_mnist", **settings: Any
                  ) -> dict[int, runs.RunRecord]:
        """``{seed: record}`` of the selected runs that did not learn their task (:func:`learned`)."""
        return {s: r for s, r in self.select(model, dataset, **settings).items() if not learned(r)}

    def localisation(self, key: str, metric: str = "pointing", dataset: str = "cluttered_fashion",
                     *, learned_only: bool = True) -> dict[int, np.ndarray]:
        """``{seed: per-scene scores}`` of the map ``key`` = ``"model:map"`` (``map`` one of
        ``own``, ``gradcam``, ``bottleneck``, ``cam``) on the cluttered test scenes, from the scores
        the queue stored beside each run; ``metric`` is ``"pointing"`` (the pointing game, ties
        shared) or ``"mass"`` (the relevance mass of the map minus its minimum), as fractions.
        ``learned_only``: leave out the runs that did not learn to classify (:meth:`unlearned`),
        whose maps say nothing about where a classifier looks."""
        model, _, name = key.partition(":")
        skip = set(self.unlearned(model, dataset)) if learned_only else set()
        out = {}
        for seed, sc in self.scores(model, dataset).items():
            if seed in skip:
                continue
            part = map_scores(sc, name)
            if "per_image" in part:
                out[seed] = np.asarray(part["per_image"][metric], dtype=float)
        return out

    def localisation_claims(
        self,
        claims: Sequence[tuple[str, str, str]],
        metric: str = "pointing",
        dataset: str = "cluttered_fashion",
        *,
        margin: float = stats.SMALLEST_EFFECT,
    ) -> list[stats.ClaimResult]:
        """Decide claims ``(text, a, b)`` = "map a scores higher than map b" on the cluttered scenes
        (:meth:`localisation`; in points, i.e. percent of scenes or of mass).

        Paired by seed, over the seeds in which both models learned to classify (:meth:`localisation`);
        per image, the paired bootstrap on the scenes both maps were scored on (the post-hoc maps on
        the first scenes of the same list) and both have a score for (a map with no mass has no
        relevance mass); Holm's correction across the claims.
        """
        def paired(a: str, b: str) -> Paired | None:
            va, vb = self.localisation(a, metric, dataset), self.localisation(b, metric, dataset)
            seeds = sorted(set(va) & set(vb))
            if not seeds:
                return None
            n = {s: min(len(va[s]), len(vb[s])) for s in seeds}
            # a scene counts where both maps have a score (a map with no mass has none: NaN)
            both = {s: np.isfinite(va[s][: n[s]]) & np.isfinite(vb[s][: n[s]]) for s in seeds}
            return Paired(
                {s: 100 * float(va[s][: n[s]][both[s]].mean()) for s in seeds},
                {s: 100 * float(vb[s][: n[s]][both[s]].mean()) for s in seeds},
                self._records_of(dataset, a, b),
                {"image_advantage": {s: 100 * (va[s][: n[s]] - vb[s][: n[s]]) for s in seeds}},
            )

        return self.decide([(t, a, b, paired(a, b)) for t, a, b in claims], margin=margin,
                           lower_is_better=False)

    def setting_claims(
        self,
        text: str,
        model: str,
        setting: str,
        official: float,
        others: Sequence[float],
        dataset: str = "fashion_mnist",
    ) -> list[stats.ClaimResult]:
        """Decide "the official ``setting`` gives a lower test error than each of ``others``".

        The official value is fixed in advance (not the best one found), so the comparison does not
        select on its own outcome. Paired by seed, McNemar per image, Holm across ``others``.
        """
        base = self.select(model, dataset, **({setting: official} if setting == "beta" else {}))
        items = []
        for value in others:
            other = self.select(model, dataset, **{setting: value})
            got = None
            if set(base) & set(other):
                ea, eb = errors(base), errors(other)
                a, b = setting_label(setting, official), setting_label(setting, value)
                got = Paired(ea, eb, [*base.values(), *other.values()],
                             {"correct_a": outcomes(self, base), "correct_b": outcomes(self, other)},
                             not_learned({a: (ea, base), b: (eb, other)}))
            items.append((text, setting_label(setting, official), setting_label(setting, value), got))
        return self.decide(items)
