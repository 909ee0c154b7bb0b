"""Interpretability of attention maps: the paper's consistency test and ground-truth localisation.

The paper (§4.4, Table 2) calls an attention map interpretable when it stays the same under image
modifications that do not change the model's decision. This package re-implements that test (the
authors did not release it) with every unstated choice explicit, and adds what the
paper could not do on CIFAR: scoring the maps against exact object masks on cluttered scenes.

Modules:

* :mod:`~aibnb.interpret.modify` — seeded, batched occlusions (random colour or a patch of another
  dataset) and the radial Fourier filter of Wang et al. (2020);
* :mod:`~aibnb.interpret.consistency` — :func:`explain` (decision + attention map of a model, with an
  explicit choice of map), :func:`consistency_score`, cosine similarity, Wilson intervals;
* :mod:`~aibnb.interpret.localise` — pointing game, relevance mass, IoU, upsampling with an explicit
  mode, the "confidently wrong" selection of the failure gallery;
* :mod:`~aibnb.interpret.gradcam` — Grad-CAM through a forward hook (works with
  :class:`~aibnb.models.ModelOutput`), the post-hoc baseline;
* :mod:`~aibnb.interpret.cam` — the class activation map of VGG-GAP (Zhou et al., 2016);
* :mod:`~aibnb.interpret.bottleneck` — the per-sample information bottleneck of Schulz et al. (2020),
  AIB's idea applied after training, one image at a time;
* :mod:`~aibnb.interpret.evaluation` — evaluation images, the Table 2 conditions, scoring a model
  under all of them, and the stored format of ``book/results/<profile>/table2_<dataset>.json``;
* :mod:`~aibnb.interpret.scoring` — everything chapter 5 asks of one finished run (own and post-hoc
  maps, consistency or localisation), as stored beside each run.

Typical use::

    from aibnb import interpret
    from aibnb.train import load_model

    data = interpret.load_eval_data("fashion_mnist", 400)
    model = load_model(record)
    result = interpret.consistency_score(
        model, data.images, lambda x: interpret.occlude(x, 0.25, generator=0), (0.85, 0.9, 0.95),
        mean=data.mean, std=data.std, attention="mean",
    )
    result.scores, result.num_consistent, result.intervals()
"""

from __future__ import annotations

from aibnb.interpret.bottleneck import PerSampleBottleneck, bottleneck_kl, per_sample_bottleneck
from aibnb.interpret.cam import CAM_MODELS, CAMExplainer
from aibnb.interpret.consistency import (
    ATTENTION_KINDS,
    DEFAULT_TAUS,
    NORMALIZATIONS,
    ConsistencyResult,
    Explanation,
    check_taus,
    consistency_from_explanations,
    consistency_score,
    cosine_similarity,
    explain,
    has_attention,
    stability_levels,
    unrelated_pairs_score,
    wilson_interval,
)
from aibnb.interpret.evaluation import (
    TABLE2_KEYS,
    Condition,
    EvalData,
    load_eval_data,
    patch_source,
    table2_conditions,
    table2_outcomes,
    table2_rows,
)
from aibnb.interpret.gradcam import GradCAMExplainer, default_layer, find_layer, grad_cam, gradcam_explainer
from aibnb.interpret.localise import (
    UPSAMPLE_MODES,
    LocalisationResult,
    area_fraction,
    confident_failures,
    iou,
    localisation_scores,
    pointing_game,
    raw_and_structure,
    relevance_mass,
    round_robin,
    subtract_minimum,
    threshold_maps,
    upsample,
)
from aibnb.interpret.modify import (
    BANDS,
    FILLS,
    check_images,
    frequency_filter,
    make_generator,
    occlude,
    radial_mask,
    square_side,
    square_windows,
    window_mask,
)
from aibnb.interpret.scoring import (
    SCORER_VERSION,
    map_kind,
    posthoc_explainers,
    score_record,
    table2_from_scores,
)

__all__ = [
    "ATTENTION_KINDS",
    "BANDS",
    "CAM_MODELS",
    "DEFAULT_TAUS",
    "FILLS",
    "NORMALIZATIONS",
    "SCORER_VERSION",
    "TABLE2_KEYS",
    "UPSAMPLE_MODES",
    "CAMExplainer",
    "Condition",
    "ConsistencyResult",
    "EvalData",
    "Explanation",
    "GradCAMExplainer",
    "LocalisationResult",
    "PerSampleBottleneck",
    "area_fraction",
    "bottleneck_kl",
    "check_images",
    "check_taus",
    "confident_failures",
    "consistency_from_explanations",
    "consistency_score",
    "cosine_similarity",
    "default_layer",
    "explain",
    "find_layer",
    "frequency_filter",
    "grad_cam",
    "gradcam_explainer",
    "has_attention",
    "iou",
    "load_eval_data",
    "localisation_scores",
    "make_generator",
    "map_kind",
    "occlude",
    "patch_source",
    "per_sample_bottleneck",
    "pointing_game",
    "posthoc_explainers",
    "radial_mask",
    "raw_and_structure",
    "relevance_mass",
    "round_robin",
    "score_record",
    "square_side",
    "square_windows",
    "stability_levels",
    "subtract_minimum",
    "table2_conditions",
    "table2_from_scores",
    "table2_outcomes",
    "table2_rows",
    "threshold_maps",
    "unrelated_pairs_score",
    "upsample",
    "wilson_interval",
    "window_mask",
]
