"""A stored evidence tier read back: run records, errors by model and seed, per-image outcomes.

The queue (:mod:`aibnb.reproduce.queue`) stores each finished run of a tier under
``book/results/<profile>/runs/<run>/``; :class:`Tier` reads them (``Tier.load("lab")``) and answers
what the chapters ask: the errors of a model over seeds at given settings, the per-image outcomes
of a run on the shared test set, the stored chapter-5 scores, and the claims of a table decided
with :mod:`aibnb.reproduce.stats`. Everything here only reads; nothing trains.
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
from aibnb.reproduce import stats
from aibnb.reproduce.claims import consistency_excess, consistency_per_image, posthoc_conditions
from aibnb.reproduce.paper import table1_beta

if TYPE_CHECKING:  # pandas is the book's extra: imported where a table is built
    import pandas as pd

__all__ = ["LEARNED_MARGIN", "Tier", "chance_error", "learned", "plateau"]

#: How many points below the chance error a run's test error must be for the run to count as having
#: learned its task. Fixed when the first collapsed run (seed 2 of VGG-aib on the cluttered scenes, at
#: chance throughout) was seen; every other stored run is 60 or more points below chance.
LEARNED_MARGIN = 10.0


def plateau(record: runs.RunRecord, *, flat_points: float = stats.SMALLEST_EFFECT) -> tuple[bool, str]:
    """Whether a run trained to a plateau, and why.

    Yes when its best validation epoch came before the last one, or when its validation accuracy
    moved by at most ``flat_points`` points over the last fifth of its epochs (at least two).
    """
    acc = [100.0 * a for a in record.series("val_acc") if a is not None]
    epochs = len(acc)
    best = int((record.final or {}).get("best_epoch") or 0)
    if epochs == 0:
        return False, "no epochs recorded"
    if best < epochs:
        return True, f"best validation epoch {best} of {epochs}"
    tail = acc[-max(2, math.ceil(epochs / 5)) :]
    spread = max(tail) - min(tail)
    if spread <= flat_points:
        return True, f"validation accuracy within {spread:.2f} points over the last {len(tail)} epochs"
    return False, f"still rising: {spread:.2f} points over the last {len(tail)} epochs"


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


@dataclass
class Tier:
    """The stored runs of one profile (``lab`` or ``full``)."""

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

        Without ``beta`` or ``num_anchors``, the model's defaults are meant (the official beta,
        the default K), so that the runs of the beta and K sweeps are not mixed into Table 1; and
        without ``train_eval``, the runs of the training-set ladder (which measure their gap) are
        left out (:meth:`ladder` reads them).
        """
        found = [r for r in self.records if r.config["model"] == model and r.config["dataset"] == dataset]
        if "beta" not in settings and found:
            settings["beta"] = table1_beta(model)
        default_k = "num_anchors" not in settings
        settings.setdefault("train_eval", False)
        out: dict[int, runs.RunRecord] = {}
        for r in found:
            if default_k and r.config.get("num_anchors") is not None:
                continue
            if all(_setting(r, k) == v for k, v in settings.items()):
                out[int(r.config["seed"])] = r
        return out

    def values(
        self, model: str, dataset: str = "fashion_mnist", key: str = "test_error", **settings: Any
    ) -> dict[int, float]:
        """``{seed: final[key]}`` of the selected runs."""
        return {s: float(r.final[key]) for s, r in self.select(model, dataset, **settings).items()}

    def errors_frame(self) -> pd.DataFrame:
        """One row per stored run: model, dataset, seed, the swept settings, errors, best epoch."""
        import pandas as pd

        rows = []
        for r in self.records:
            cfg, final = r.config, r.final or {}
            rows.append(
                {
                    "model": cfg["model"],
                    "dataset": cfg["dataset"],
                    "seed": cfg["seed"],
                    "beta": cfg.get("beta"),
                    "num_anchors": _setting(r, "num_anchors"),
                    "epochs": cfg["epochs"],
                    "test_error": final.get("test_error"),
                    "best_epoch": final.get("best_epoch"),
                    "plateau": plateau(r)[0],
                    "run": r.name,
                }
            )
        return pd.DataFrame(rows)

    def correct(self, record: runs.RunRecord) -> np.ndarray | None:
        """Per test image, whether the run's stored prediction is right (None if not stored)."""
        f = record.path / "predictions.npz"
        if not f.exists():
            return None
        with np.load(f) as z:
            return z["predictions"] == z["targets"]

    def scores(self, model: str, dataset: str, **settings: Any) -> dict[int, dict[str, Any]]:
        """``{seed: scores.json}`` of the selected runs that have chapter 5's scores."""
        out = {}
        for seed, r in self.select(model, dataset, **settings).items():
            f = r.path / "scores.json"
            if f.exists():
                out[seed] = runs.read_json(f)
        return out

    def claims(
        self,
        claims: Sequence[tuple[str, str, str]],
        dataset: str = "fashion_mnist",
        *,
        margin: float = stats.SMALLEST_EFFECT,
    ) -> list[stats.ClaimResult]:
        """Decide claims ``(text, a, b)`` = "a has a lower test error than b" on this tier.

        Pairs by seed, with the per-image McNemar test on the stored predictions; Holm's
        correction runs over the claims that have runs of both models (the others are left out).
        """
        results = []
        for text, a, b in claims:
            ra, rb = self.select(a, dataset), self.select(b, dataset)
            if not (set(ra) & set(rb)):
                continue
            results.append(
                stats.paired_claim(
                    text,
                    a,
                    b,
                    {s: float(r.final["test_error"]) for s, r in ra.items()},
                    {s: float(r.final["test_error"]) for s, r in rb.items()},
                    correct_a=_outcomes(self, ra),
                    correct_b=_outcomes(self, rb),
                    margin=margin,
                )
            )
        return stats.decide(results)

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
        ``cross_domain``): paired by seed, McNemar per image, Holm's correction across the claims.
        """
        outcomes = {m: self.cross_domain(m, dataset) for _, a, b in claims for m in (a, b)}
        results = []
        for text, a, b in claims:
            oa, ob = outcomes[a], outcomes[b]
            if not (set(oa) & set(ob)):
                continue
            results.append(
                stats.paired_claim(
                    text, a, b,
                    {s: float(o["error"]) for s, o in oa.items()},
                    {s: float(o["error"]) for s, o in ob.items()},
                    correct_a={s: np.asarray(o["correct"], dtype=bool) for s, o in oa.items()},
                    correct_b={s: np.asarray(o["correct"], dtype=bool) for s, o in ob.items()},
                    margin=margin,
                )
            )
        return stats.decide(results)

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
        carry per-image outcomes (runs scored before the scorer kept them have none; the result
        names the seeds, ``image_seeds``); Holm's correction across the claims. A claim with a
        post-hoc map compares both maps on the modifications the post-hoc maps were scored under.
        """
        results = []
        for text, a, b in claims:
            shared = any(":" in key and not key.endswith(":own") for key in (a, b))
            options = {"tau": tau, "normalize": normalize, "shared": shared, "dataset": dataset}
            va, vb = self.consistency(a, **options), self.consistency(b, **options)
            seeds = sorted(set(va) & set(vb))
            if not seeds:
                continue
            per_image = [s for s in seeds if va[s][1] is not None and vb[s][1] is not None]
            n = {s: min(len(va[s][1]), len(vb[s][1])) for s in per_image}
            advantage = {s: va[s][1][: n[s]] - vb[s][1][: n[s]] for s in per_image} or None
            results.append(
                stats.paired_claim(
                    text, a, b, {s: va[s][0] for s in seeds}, {s: vb[s][0] for s in seeds},
                    image_advantage=advantage, lower_is_better=False, margin=margin,
                )
            )
        return stats.decide(results)

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
            parts = sc.get("localisation") if name == "own" else sc.get("posthoc")
            part = (parts or {}).get(name)
            if part and "per_image" in part:
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
        results = []
        for text, a, b in claims:
            va, vb = self.localisation(a, metric, dataset), self.localisation(b, metric, dataset)
            seeds = sorted(set(va) & set(vb))
            if not seeds:
                continue
            n = {s: min(len(va[s]), len(vb[s])) for s in seeds}
            # a scene counts where both maps have a score (a map with no mass has none: NaN)
            both = {s: np.isfinite(va[s][: n[s]]) & np.isfinite(vb[s][: n[s]]) for s in seeds}
            results.append(
                stats.paired_claim(
                    text, a, b,
                    {s: 100 * float(va[s][: n[s]][both[s]].mean()) for s in seeds},
                    {s: 100 * float(vb[s][: n[s]][both[s]].mean()) for s in seeds},
                    image_advantage={s: 100 * (va[s][: n[s]] - vb[s][: n[s]]) for s in seeds},
                    lower_is_better=False,
                    margin=margin,
                )
            )
        return stats.decide(results)

    def sweep_frame(self, model: str, setting: str, dataset: str = "fashion_mnist") -> pd.DataFrame:
        """Every stored run of ``model`` along a swept ``setting`` (``"beta"`` or ``"num_anchors"``):
        one row per run with the setting's value, the seed, the test error, the KL term and the
        I(Z;Y) bound (bits, test set), the anchors' perplexity where there is one, and the plateau."""
        import pandas as pd

        if setting not in ("beta", "num_anchors"):
            raise ValueError(f"setting must be 'beta' or 'num_anchors', got {setting!r}")
        rows = []
        for r in self.records:
            if r.config["model"] != model or r.config["dataset"] != dataset:
                continue
            final = r.final or {}
            rows.append(
                {
                    setting: _setting(r, setting),
                    "seed": int(r.config["seed"]),
                    "test_error": final.get("test_error"),
                    "kl_bits": final.get("test_info_bits"),
                    "izy_bits": final.get("test_izy_bits"),
                    "perplexity": final.get("test_perplexity"),
                    "plateau": plateau(r)[0],
                }
            )
        return pd.DataFrame(rows)

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
        results = []
        for value in others:
            other = self.select(model, dataset, **{setting: value})
            if not (set(base) & set(other)):
                continue
            results.append(
                stats.paired_claim(
                    text,
                    _label(setting, official),
                    _label(setting, value),
                    {s: float(r.final["test_error"]) for s, r in base.items()},
                    {s: float(r.final["test_error"]) for s, r in other.items()},
                    correct_a=_outcomes(self, base),
                    correct_b=_outcomes(self, other),
                )
            )
        return stats.decide(results)


def _label(setting: str, value: Any) -> str:
    return f"{'β' if setting == 'beta' else 'K'} = {value:g}"


def _outcomes(tier: Tier, records: dict[int, runs.RunRecord]) -> dict[int, np.ndarray] | None:
    out = {s: tier.correct(r) for s, r in records.items()}
    return {s: c for s, c in out.items() if c is not None} or None


def _setting(record: runs.RunRecord, key: str) -> Any:
    if key == "num_anchors":
        return (record.final or {}).get("num_anchors")
    if key == "train_eval":  # runs stored before the field existed did not measure their gap
        return bool(record.config.get(key, False))
    return record.config.get(key)
