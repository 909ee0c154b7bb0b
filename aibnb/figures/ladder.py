"""The training-set ladder of chapter 4: its figure, its tables, its power plan and its cost.

The ladder (:mod:`aibnb.reproduce.plan`, group ``ladder``) trains VGG, VGG-DVIB and VGG-aib (then
VGG-aib-qt) on smaller and smaller training sets for the same number of training images, so that the
regime moves from underfitting (no gap between training and test error: a bottleneck can only cost
accuracy) to overfitting (a gap a regulariser might close). This module draws what it found:

* :func:`ladder_figure`: the training and test error of each model against the training-set size
  (the gap between them is the regime), and the paired differences of a family of comparisons with
  the intervals their verdicts are read from;
* :func:`ladder_table`: one row per size and comparison, with the verdict and its regime;
* :func:`power_frame`: the detectable difference against the number of seeds, from a spread,
  at the level the verdicts use (the plan's seed count);
* :func:`cost_frame`: the measured cost of the stored ladder runs and what the rest of the plan
  would take.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aibnb.figures.tables import MODEL_NAMES
from aibnb.reproduce import claims as claims_mod
from aibnb.reproduce.stats import ALPHA, ClaimResult, detectable_difference

__all__ = ["cost_frame", "ladder_figure", "ladder_sentence", "ladder_table", "power_frame"]

_COLOURS = {"vgg": "C0", "vgg_dvib": "C1", "vgg_aib": "C2", "vgg_aib_qt": "C3"}
_MARKERS = {"held": "^", "reversed": "v", "equivalent at this scale": "D", "undecided": "o"}


def _name(model: str) -> str:
    return MODEL_NAMES.get(model, model)


def comparison_label(r: ClaimResult) -> str:
    """``"VGG-aib − VGG"`` style label of a claim: A's advantage over B."""
    return f"{_name(r.a)} below {_name(r.b)}"


def ladder_figure(frame: pd.DataFrame, results: Sequence[ClaimResult], *, margin: float) -> Figure:
    """Two panels against the training-set size (log scale). Left: each model's mean test error
    (solid) and training error under the test's conditions (dashed): the gap between them is the
    regime. Right: the mean advantage of each comparison (points of test error, positive in the
    claim's direction) with the interval its verdict is read from; the band is ± ``margin``."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 4.0), layout="constrained")
    for model, rows in frame.groupby("model", sort=False):
        rows = rows.sort_values("train_size")
        colour = _COLOURS.get(model, "C7")
        left.plot(rows["train_size"], rows["test_error"], "-o", color=colour, label=f"{_name(model)}, test")
        left.plot(rows["train_size"], rows["train_error"], "--", marker=".", color=colour,
                  label=f"{_name(model)}, training")
    left.set_xscale("log", base=2)
    sizes = sorted(frame["train_size"].unique()) if len(frame) else []
    left.set_xticks(sizes, [f"{s:,}" for s in sizes])
    left.minorticks_off()
    left.set_xlabel("training images (each run sees about 120,000)")
    left.set_ylabel("error (%)")
    left.grid(alpha=0.3)
    left.legend(fontsize=7, ncol=2)
    left.set_title("training and test error: the gap is the regime")

    labels = list(dict.fromkeys(comparison_label(r) for r in results))
    offsets = {lab: (i - (len(labels) - 1) / 2) * 0.06 for i, lab in enumerate(labels)}
    right.axhspan(-margin, margin, color="0.85", zorder=0)
    right.axhline(0.0, color="0.4", lw=0.8)
    for i, label in enumerate(labels):
        chosen = [r for r in results if comparison_label(r) == label and r.testable]
        if not chosen:
            continue
        x = np.array([r.context.get("train_subset", np.nan) for r in chosen], dtype=float)
        x = x * 2 ** offsets[label]
        y = np.array([r.advantage for r in chosen])
        lo = np.array([r.ci_low if math.isfinite(r.ci_low) else r.advantage for r in chosen])
        hi = np.array([r.ci_high if math.isfinite(r.ci_high) else r.advantage for r in chosen])
        colour = f"C{4 + i}"
        right.errorbar(x, y, yerr=[y - lo, hi - y], fmt="none", ecolor=colour, capsize=3, lw=1.2)
        right.plot(x, y, "-", color=colour, lw=0.8, alpha=0.6)
        for xi, yi, r in zip(x, y, chosen, strict=True):
            right.plot(xi, yi, _MARKERS.get(r.verdict, "o"), color=colour, ms=6)
        right.plot([], [], "-o", color=colour, label=label)
    for verdict, marker in _MARKERS.items():
        right.plot([], [], marker, color="0.3", ls="none", label=verdict)
    right.set_xscale("log", base=2)
    right.set_xticks(sizes, [f"{s:,}" for s in sizes])
    right.minorticks_off()
    right.set_xlabel("training images")
    right.set_ylabel("advantage of A (points)")
    right.grid(alpha=0.3)
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4)  # off the bars
    right.set_title("paired differences, with the intervals the verdicts use")
    return fig


def ladder_sentence(frame: pd.DataFrame, results: Sequence[ClaimResult]) -> str:
    """What the ladder shows, in Markdown: the gap at each size, then each comparison's verdict and
    advantage size by size (the numbers of :func:`ladder_figure` and :func:`ladder_table`)."""
    if frame.empty or not results:
        return "No ladder run is stored yet."
    gaps = frame.groupby("train_size")["gap"].agg(["min", "max"])
    sizes = [f"{size:,} images, {row['min']:+.1f} to {row['max']:+.1f} points"
             for size, row in gaps.iterrows()]
    models = claims_mod.listed([_name(m) for m in frame["model"].unique()])
    parts = [f"The generalisation gap of {models}, by training-set size: {'; '.join(sizes)}."]
    for label in dict.fromkeys(comparison_label(r) for r in results):
        cells = [
            f"{r.context.get('train_subset', 0):,}: {r.verdict} ({claims_mod.interval_text(r)})"
            for r in results if comparison_label(r) == label and r.testable
        ]
        if cells:
            parts.append(f"*{label}*, by training images: {'; '.join(cells)}.")
    return " ".join(parts)


def ladder_table(results: Sequence[ClaimResult]) -> pd.DataFrame:
    """One row per training-set size and comparison: the decided claim's cells, with its regime."""
    frame = claims_mod.claims_frame(results, MODEL_NAMES)
    frame.insert(0, "training images", [f"{r.context.get('train_subset', 0):,}" for r in results])
    keep = ["training images", "seeds", "error (%) A", "error (%) B", "advantage of A, points [interval]",
            "confidence (Holm)", "detectable (points)", "survives dropping a seed", "pooled model",
            "regime", "verdict"]
    return frame[keep]


def power_frame(spreads: Mapping[str, float], seeds: Sequence[int], *, family: int,
                alpha: float = ALPHA) -> pd.DataFrame:
    """The smallest advantage a paired t-test detects with 80 % power, for each comparison's
    measured spread (points) and each number of seeds, at Holm's strictest level over a family of
    ``family`` claims (``alpha / family``: the level the first claim of the family is tested at)."""
    level = alpha / family
    rows = {label: {f"{n} seeds": detectable_difference(sd, n, alpha=level) for n in seeds}
            for label, sd in spreads.items()}
    frame = pd.DataFrame(rows).T
    frame.insert(0, "spread over seeds (sd, points)", [spreads[k] for k in frame.index])
    return frame


def cost_frame(records: Sequence[Any], planned: Mapping[tuple[str, int], int], *, workers: int = 2
               ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The measured cost of stored ladder runs, per training-set size and machine, and the plan's
    estimate for the runs not stored yet.

    ``records``: the stored ladder runs; ``planned``: ``{(model, size): planned runs}``. A run's
    cost is the sum of its epochs' times (training and validation; complete across a resumed
    run) plus its final evaluation, in minutes. Returns the table and ``{"left": runs not stored,
    "hours": estimated wall-clock hours with ``workers`` single-thread workers at the median cost
    of the runs made on the machine that made most of them, "machine": that machine, "progress":
    the sentence a chapter prints about them}``.
    """
    rows = []
    for r in records:
        minutes = sum(float(m.get("epoch_time_s") or 0.0) for m in r.metrics) / 60.0
        rows.append({"training images": int(r.config["train_subset"]), "model": r.config["model"],
                     "machine": (r.provenance or {}).get("device", "unrecorded"), "minutes": minutes})
    frame = pd.DataFrame(rows, columns=["training images", "model", "machine", "minutes"])
    done: dict[tuple[str, int], int] = {}
    for row in rows:
        key = (row["model"], row["training images"])
        done[key] = done.get(key, 0) + 1
    left = sum(max(n - done.get(key, 0), 0) for key, n in planned.items())
    if frame.empty:
        return frame, {"left": left, "hours": math.nan, "machine": None,
                       "progress": f"none is stored yet ({left} to train)"}
    machine = frame["machine"].value_counts().index[0]
    median = float(frame.loc[frame["machine"] == machine, "minutes"].median())
    table = (frame.groupby(["training images", "machine"])["minutes"]
             .agg(runs="count", median="median", max="max").reset_index())
    hours = left * median / 60.0 / workers
    progress = ("every one is stored" if left == 0 else f"{left} remain; at that cost they take about "
                f"{hours:.1f} hours of {workers} single-thread workers")
    return table, {"left": left, "hours": hours, "machine": machine, "median_minutes": median,
                   "progress": progress}
