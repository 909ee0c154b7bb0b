"""What the claim families of a tier share: the paired values of a claim's two models, and the
checks made before a claim is tested (:class:`Paired`, :func:`not_learned`, :func:`gpu_only`).

:class:`aibnb.reproduce.evidence.Tier` builds one :class:`Paired` per claim from test errors,
errors on a shifted test set, consistency or localisation scores, and decides the family with
:meth:`~aibnb.reproduce.evidence.Tier.decide`.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aibnb import runs, storage
from aibnb.models import spec
from aibnb.reproduce.health import LEARNED_MARGIN, chance_error
from aibnb.train.config import TrainConfig, resolve

__all__ = [
    "Paired",
    "default_latent_dim",
    "errors",
    "gpu_only",
    "map_scores",
    "not_learned",
    "outcomes",
    "run_setting",
    "setting_label",
    "stored_scores",
]


def setting_label(setting: str, value: Any) -> str:
    return f"{'β' if setting == 'beta' else 'K'} = {value:g}"


def outcomes(tier: Any, records: dict[int, runs.RunRecord]) -> dict[int, np.ndarray] | None:
    out = {s: tier.correct(r) for s, r in records.items()}
    return {s: c for s, c in out.items() if c is not None} or None


@functools.cache
def default_latent_dim(model: str, profile: str | None) -> int | None:
    """The dimension of ``model``'s code when a run leaves ``latent_dim`` unset: what the configuration
    resolves to at ``profile`` (:func:`aibnb.train.config.resolve`; the ``lab`` tier scales it with the
    width), else the model builder's own default; None for a model without a code."""
    params = inspect.signature(spec(model).builder).parameters
    if "latent_dim" not in params:
        return None
    resolved = resolve(TrainConfig(model=model, profile=profile)).latent_dim if profile is not None else None
    return resolved if resolved is not None else params["latent_dim"].default


def run_setting(record: runs.RunRecord, key: str) -> Any:
    """The value of setting ``key`` a run was trained with (``latent_dim`` resolved to its default)."""
    if key == "num_anchors":
        return (record.final or {}).get("num_anchors")
    if key == "train_eval":  # a run whose configuration lacks the field did not measure its gap
        return bool(record.config.get(key, False))
    if key == "latent_dim":
        found = record.config.get(key)
        return found if found is not None else default_latent_dim(record.config["model"],
                                                                   record.config.get("profile"))
    return record.config.get(key)


def stored_scores(record: runs.RunRecord) -> dict[str, Any] | None:
    """What the queue measured beside a run (its ``scores.json``), or None when it has none."""
    path = record.path / "scores.json"
    return storage.read_json(path) if path.exists() else None


def map_scores(scores: dict[str, Any] | None, map_name: str = "own") -> dict[str, Any]:
    """The scores of one map in a run's ``scores.json``: its own map's localisation (``"own"``) or
    a post-hoc map's (``"gradcam"``, ``"bottleneck"``, ``"cam"``); empty when it was not scored."""
    part = (scores or {}).get("localisation" if map_name == "own" else "posthoc") or {}
    return part.get(map_name) or {}


@dataclass
class Paired:
    """The paired values of one claim's two models (``{seed: value}``), the runs behind them (for
    the regime), the per-image data for :func:`~aibnb.reproduce.stats.paired_claim` and, where the
    claim is not testable at this scale, the reason."""

    values_a: dict[int, float]
    values_b: dict[int, float]
    records: list[runs.RunRecord]
    images: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


def errors(records: dict[int, runs.RunRecord]) -> dict[int, float]:
    return {s: float(r.final["test_error"]) for s, r in records.items()}


def gpu_only(*models: str) -> bool:
    return any(spec(m).family == "wrn" for m in models if not m.startswith(("β", "K")))


def not_learned(
    groups: dict[str, tuple[dict[int, float], dict[int, runs.RunRecord]]], *, where: str = ""
) -> str | None:
    """Why a comparison of errors is not testable: a model whose mean error over its paired runs is
    within :data:`~aibnb.reproduce.health.LEARNED_MARGIN` points of chance did not learn the task."""
    for name, (errors, records) in groups.items():
        if not errors or not records:
            continue
        chance = chance_error(next(iter(records.values())))
        mean = float(np.mean(list(errors.values())))
        if mean > chance - LEARNED_MARGIN:
            place = f"{where} " if where else ""
            return (f"{name}'s error {place}is {mean:.1f} % against a chance error of {chance:.0f} %: "
                    f"within {LEARNED_MARGIN:.0f} points of chance, it did not learn the task")
    return None

