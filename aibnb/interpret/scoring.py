"""Everything chapter 5 asks of one finished run, computed where its checkpoint lives.

:func:`score_record` loads a run's best checkpoint and scores its maps on the run's own test
images. Two kinds of maps are scored with the same metrics:

* the model's **own** map (AIB's ``mu_a`` or quantised map, LTPA's map), where it has one;
* **post-hoc** maps of the same trained network: Grad-CAM (:mod:`~aibnb.interpret.gradcam`), the
  per-sample information bottleneck of Schulz et al. (2020) (:mod:`~aibnb.interpret.bottleneck`),
  and for VGG-GAP its class activation map (:mod:`~aibnb.interpret.cam`), all read at the layer
  where AIB's attention acts.

On an ordinary dataset the scores are the Table 2 rows (consistency under each modification, for
both normalisations), the unrelated-pairs control and each image's outcome under each modification
(``per_image``, a stability code per condition); on a cluttered one, localisation against the
object masks (pointing game, relevance mass of the raw map and of its structure, IoU). Both keep
the per-image values, so that two maps can be compared image by image. The queue stores the result
as ``scores.json`` beside the run; :func:`table2_from_scores` gathers those files into one Table 2.
``SCORER_VERSION`` names what a ``scores.json`` holds, so that older files can be re-scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from aibnb import models
from aibnb.data import cluttered
from aibnb.interpret.bottleneck import PerSampleBottleneck
from aibnb.interpret.cam import CAM_MODELS, CAMExplainer
from aibnb.interpret.consistency import DEFAULT_TAUS, Explainer, explain, unrelated_pairs_score
from aibnb.interpret.evaluation import (
    Condition,
    EvalData,
    load_eval_data,
    patch_source,
    table2_conditions,
    table2_outcomes,
)
from aibnb.interpret.gradcam import gradcam_explainer
from aibnb.interpret.localise import raw_and_structure
from aibnb.train import load_model

__all__ = ["POSTHOC_SAMPLES", "POSTHOC_STEPS", "SCORER_VERSION", "map_kind", "posthoc_conditions",
           "posthoc_explainers", "score_record", "table2_from_scores"]

#: 1: own maps and Grad-CAM; 2: adds the per-sample bottleneck, CAM and post-hoc Table 2 rows;
#: 3: the queue adds each Table 1 run's per-image outcomes on the shifted test set (``cross_domain``);
#: 4: every Table 2 part keeps each image's outcome under each modification (``per_image``)
SCORER_VERSION = 4
#: noise draws per optimisation step of the per-sample bottleneck when scoring (the paper's is 10:
#: one draw per step over 10 steps costs a tenth, which is what two CPU cores can afford)
POSTHOC_SAMPLES = 1
#: Adam steps of the per-sample bottleneck's mask (the paper's 10)
POSTHOC_STEPS = 10


def posthoc_conditions() -> list[Condition]:
    """The modifications the post-hoc maps are scored under: one occlusion of each fill at a quarter
    of the side, and both frequency bands (four of the ten conditions of the own maps, as the
    per-sample bottleneck fits a mask per image and condition)."""
    return [c for c in table2_conditions() if c.kind == "frequency" or c.r == 0.25]


def map_kind(model_name: str) -> str | None:
    """The map this book scores for a registered model: ``"quantised"`` for the ``-qt`` models,
    ``"mean"`` for the other attention models (mu_a, or LTPA's / ABN's own map), ``None`` without one."""
    kind = models.spec(model_name).kind
    if kind == "aib_qt":
        return "quantised"
    return "mean" if kind in ("aib", "attention") else None


def posthoc_explainers(model_name: str, data: EvalData, *, num_samples: int | None = None,
                       samples: int | None = None, steps: int | None = None) -> dict[str, Explainer]:
    """The post-hoc maps scored for ``model_name``: Grad-CAM, the per-sample bottleneck (its
    statistics from ``data``'s images; ``samples`` and ``steps`` default to :data:`POSTHOC_SAMPLES`
    and :data:`POSTHOC_STEPS`), and CAM for the global-average-pooling models."""
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    out: dict[str, Explainer] = {
        "gradcam": gradcam_explainer(num_samples=num_samples),
        "bottleneck": PerSampleBottleneck((data.images - mean) / std, samples=samples or POSTHOC_SAMPLES,
                                          steps=steps or POSTHOC_STEPS),
    }
    if model_name in CAM_MODELS:
        out["cam"] = CAMExplainer()
    return out


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in values]


def _localisation(model: Any, data: EvalData, methods: dict[str, str | Explainer], options: dict[str, Any]
                  ) -> dict[str, Any]:
    loc: dict[str, Any] = {"area": float(data.masks.flatten(1).float().mean(1).mean())}
    for name, attention in methods.items():
        exp = explain(model, data.images, mean=data.mean, std=data.std, attention=attention, **options)
        scores = raw_and_structure(exp.maps, data.masks, mode=exp.upsample_mode)
        loc[name] = {"kind": exp.kind, "accuracy": float((exp.predictions == data.labels).float().mean()),
                     **{part: result.summary() for part, result in scores.items()},
                     "per_image": {"correct": [int(v) for v in (exp.predictions == data.labels)],
                                   "pointing": _rounded(scores["raw"].pointing),
                                   "mass": _rounded(scores["structure"].mass)}}
    return loc


def _table2(model: Any, data: EvalData, conditions: list[Condition], attention: str | Explainer,
            labels: dict[str, Any], source: Tensor | None, options: dict[str, Any]) -> dict[str, Any]:
    original = explain(model, data.images, mean=data.mean, std=data.std, attention=attention, **options)
    rows, codes = table2_outcomes(model, data, conditions, attention=attention, normalize=("none", "minmax"),
                                  source=source, labels=labels, original=original, **options)
    control = [
        {**labels, "normalize": norm, "tau": tau, "score": score}
        for norm in ("none", "minmax")
        for tau, score in zip(
            DEFAULT_TAUS, unrelated_pairs_score(original.maps, DEFAULT_TAUS, normalize=norm), strict=True
        )
    ]
    return {"taus": list(DEFAULT_TAUS), "conditions": [c.to_dict() for c in conditions], "rows": rows,
            "control": control, "per_image": codes}


def score_record(
    record: Any,
    *,
    device: str | torch.device = "cpu",
    num_images: int | None = None,
    posthoc_images: int | None = None,
    source: Tensor | None = None,
    conditions: Sequence[Condition] | None = None,
    num_samples: int | None = None,
    seed: int = 0,
    own: bool = True,
) -> dict[str, Any]:
    """The scores of one finished run (see the module docstring), as a JSON-ready dict.

    ``num_images`` caps the evaluation images (the run's own test subset, in order);
    ``posthoc_images`` caps them further for the post-hoc maps, whose per-sample bottleneck
    optimises a mask per image (and per condition, under :func:`posthoc_conditions`); ``0`` scores
    the own map alone, ``own=False`` the post-hoc maps alone. Predictions use the model's
    evaluation default (``num_samples=None``: the official 4 x 4 samples).
    """
    cfg = record.config
    model_name, dataset, profile = cfg["model"], cfg["dataset"], cfg["profile"]
    model = load_model(record, "best", device=device)
    kind = map_kind(model_name)
    data = load_eval_data(dataset, num_images, profile=profile,
                          backbone="wrn" if model_name.startswith("wrn") else "vgg")
    out: dict[str, Any] = {
        "scorer": SCORER_VERSION, "model": model_name, "dataset": dataset, "profile": profile,
        "seed": cfg["seed"], "run": getattr(record, "name", None), "attention": kind,
        "num_images": len(data), "num_samples": num_samples, "table2": None, "localisation": None,
        "posthoc": None,
    }
    options = {"num_samples": num_samples, "seed": seed}
    few = data.first(posthoc_images)
    posthoc = posthoc_explainers(model_name, few, num_samples=num_samples) if posthoc_images != 0 else {}
    if dataset in cluttered.CLUTTERED:
        if kind is not None and own:
            out["localisation"] = _localisation(model, data, {"own": kind}, options)
        if posthoc:
            out["posthoc"] = {"num_images": len(few), **_localisation(model, few, dict(posthoc), options)}
        return out
    conditions = list(conditions) if conditions is not None else table2_conditions()
    labels = {"model": model_name, "seed": cfg["seed"]}
    if source is None and any(c.fill == "patch" for c in conditions + posthoc_conditions()):
        source = patch_source()
    if kind is not None and own:
        out["table2"] = _table2(model, data, conditions, kind, labels, source, options)
    if posthoc:
        out["posthoc"] = {
            "num_images": len(few),
            **{name: _table2(model, few, posthoc_conditions(), explainer, {**labels, "map": name}, source,
                             options)
               for name, explainer in posthoc.items()},
        }
    return out


def table2_from_scores(scores: Sequence[dict[str, Any]], dataset: str, *, map: str | None = None
                       ) -> dict[str, Any]:
    """Gather the Table 2 parts of :func:`score_record` results for ``dataset`` into one table.

    ``map=None``: the models' own maps; ``map="gradcam"`` / ``"bottleneck"`` / ``"cam"``: that
    post-hoc map. Returns ``{"taus", "conditions", "rows", "control"}`` (the rows of
    :func:`~aibnb.interpret.evaluation.table2_rows`, plus the control rows); a clear error
    when the runs used different conditions or thresholds.
    """
    if map is None:
        parts = [s["table2"] for s in scores if s.get("dataset") == dataset and s.get("table2")]
    else:
        parts = [s["posthoc"][map] for s in scores
                 if s.get("dataset") == dataset and map in (s.get("posthoc") or {})]
    if not parts:
        what = "own-map" if map is None else f"{map!r}"
        raise ValueError(
            f"no {what} Table 2 scores for dataset {dataset!r} among {len(scores)} score records"
        )
    first = parts[0]
    for part in parts[1:]:
        if part["conditions"] != first["conditions"] or part["taus"] != first["taus"]:
            raise ValueError("the score records used different conditions or taus; re-score them alike")
    return {
        "taus": first["taus"],
        "conditions": first["conditions"],
        "rows": [row for part in parts for row in part["rows"]],
        "control": [row for part in parts for row in part.get("control", [])],
    }
