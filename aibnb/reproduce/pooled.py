"""The pooled model, the cross-check beside each paired verdict: ``value ~ model + seed`` over every
run of a table, fitted by least squares.

A paired claim estimates the spread between trainings from its own pairs only (four degrees of
freedom with five seeds). The pooled model estimates the seed effects from every model at once, so
its residual spread has many more degrees of freedom; where it and the paired test disagree, the
verdict rests on the seeds of one pair, and the chapter says so. Its contrasts go through the same
Holm procedure and the same reading of an interval as the paired claims
(:func:`aibnb.reproduce.stats.holm_levels`, :func:`~aibnb.reproduce.stats.verdict_of_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from aibnb.reproduce.stats import ALPHA, SMALLEST_EFFECT, holm, holm_levels, verdict_of_interval

__all__ = ["PooledContrast", "decide_pooled", "pooled_contrasts"]


@dataclass
class PooledContrast:
    """The pooled model's estimate of one claim: ``value ~ model + seed`` over all runs of a table."""

    advantage: float
    se: float
    ci_low: float
    ci_high: float
    p: float
    df: int
    p_holm: float = math.nan
    level: float = math.nan
    verdict: str = "undecided"


def pooled_contrasts(
    values: Mapping[str, Mapping[int, float]],
    pairs: Sequence[tuple[str, str]],
    *,
    lower_is_better: bool = True,
) -> dict[tuple[str, str], PooledContrast]:
    """The pooled model's contrast for each pair ``(a, b)`` (unadjusted: see :func:`decide_pooled`).

    ``values`` holds every run of a table, ``{model: {seed: value}}``; the model
    ``value = model + seed + noise`` is fitted by least squares (unbalanced designs allowed: some
    models have fewer seeds), and each contrast ``model_b - model_a`` (``a - b`` for scores) is
    tested with the residual variance on ``runs - models - seeds + 1`` degrees of freedom. A pair
    whose model has no run is left out.
    """
    models = sorted(m for m in values if values[m])
    seeds = sorted({s for m in models for s in values[m]})
    rows = [(m, s, float(v)) for m in models for s, v in sorted(values[m].items())]
    found = [(a, b) for a, b in pairs if a in models and b in models]
    if not rows or not found:
        return {}
    y = np.array([v for _, _, v in rows])
    x = np.zeros((len(rows), len(models) + len(seeds) - 1))
    for i, (m, s, _) in enumerate(rows):  # model indicators (no intercept), seeds 1.. as offsets
        x[i, models.index(m)] = 1.0
        if seeds.index(s) > 0:
            x[i, len(models) + seeds.index(s) - 1] = 1.0
    df = int(len(rows) - np.linalg.matrix_rank(x))
    if df < 1:
        return {}
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    cov = float(resid @ resid / df) * np.linalg.pinv(x.T @ x)
    sign = 1.0 if lower_is_better else -1.0
    out: dict[tuple[str, str], PooledContrast] = {}
    for a, b in found:
        c = np.zeros(x.shape[1])
        c[models.index(b)], c[models.index(a)] = sign, -sign
        est, se = float(c @ coef), math.sqrt(max(float(c @ cov @ c), 0.0))
        p = float(2 * stats.t.sf(abs(est) / se, df)) if se > 0 else (0.0 if est != 0 else 1.0)
        out[a, b] = PooledContrast(advantage=est, se=se, ci_low=math.nan, ci_high=math.nan, p=p, df=df)
    return out


def decide_pooled(
    contrasts: Sequence[PooledContrast], *, alpha: float = ALPHA, margin: float = SMALLEST_EFFECT
) -> None:
    """Holm's procedure over pooled contrasts (one family), then each one's interval at its level
    and its verdict, as :func:`decide` does for the paired claims (updated in place)."""
    levels = holm_levels([c.p for c in contrasts], alpha)
    for c, level, ph in zip(contrasts, levels, holm([c.p for c in contrasts]), strict=True):
        half = float(stats.t.ppf(1 - level / 2, c.df) * c.se)
        c.level, c.p_holm = level, ph
        c.ci_low, c.ci_high = c.advantage - half, c.advantage + half
        c.verdict = verdict_of_interval(c.ci_low, c.ci_high, margin)
