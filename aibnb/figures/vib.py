"""Chapter 2's figures and tables: gradient variances, learning curves, the information plane.

* :func:`estimator_variance_figure`: the per-pixel variance of the pathwise and score-function
  gradient estimators against the attention noise σ;
* :func:`learning_curves_figure`: accuracy and cross-entropy per epoch of a few runs;
* :func:`training_plane_figure`: one run's path in the plane of the two bounds (textbook KL
  against log2 C − CE), beside the end points of the stored ``lab`` runs over β;
* :func:`run_table`: the stored numbers of a few runs as one table row each.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

__all__ = ["estimator_variance_figure", "learning_curves_figure", "run_table", "training_plane_figure"]

_STYLES = {"pathwise": ("C0", "o-"), "score": ("C3", "s--"), "score + baseline": ("C1", "^:")}


def estimator_variance_figure(variance: pd.DataFrame, sigmas: Sequence[float]) -> Figure:
    """``variance`` (rows ``(gradient, σ)``, one column per estimator) on log-log axes, one panel
    per gradient (w.r.t. μ and σ)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.0), layout="constrained", sharey=True)
    for ax, wrt in zip(axes, ("μ", "σ"), strict=True):
        for name, (colour, style) in _STYLES.items():
            ax.loglog(sigmas, [variance.loc[(wrt, s), name] for s in sigmas], style, color=colour, label=name)
        ax.set(xlabel="attention standard deviation σ", title=f"gradient w.r.t. {wrt}")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("variance per pixel")
    axes[0].legend(fontsize=7)
    return fig


def learning_curves_figure(records: Mapping[str, Any]) -> Figure:
    """Accuracy and cross-entropy (bits) per epoch of each named run: validation solid, training
    (a running mean over the epoch) dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(7.6, 2.8), layout="constrained")
    epochs: list[Any] = []
    for i, (name, rec) in enumerate(records.items()):
        epochs = rec.series("epoch")
        for ax, key in ((axes[0], "acc"), (axes[1], "class_bits")):
            ax.plot(epochs, rec.series(f"train_{key}"), "o--", color=f"C{i}", alpha=0.6)
            ax.plot(epochs, rec.series(f"val_{key}"), "o-", color=f"C{i}", label=name)
    axes[0].set_ylabel("accuracy")
    axes[1].set_ylabel("cross-entropy (bits)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.set_xticks(epochs)
    axes[0].legend(fontsize=7, title="solid: validation · dashed: training", title_fontsize=7)
    return fig


def training_plane_figure(plane: pd.DataFrame, lab: pd.DataFrame, *, num_classes: int = 10) -> Figure:
    """Left: ``plane`` (one row per epoch: ``{train,val}_{info,izy}_bits``) as a path coloured by
    epoch. Right: ``lab`` (one row per stored run: ``beta``, ``seed``, ``kl_bits``, ``izy_bits``)
    coloured by β, the official KL term against the I(Z;Y) bound."""
    fig, axes = plt.subplots(1, 2, figsize=(8.2, 3.3), layout="constrained")
    ax = axes[0]
    scatter = None
    for split, style, colour in (("train", "o--", "0.4"), ("val", "s-", "C0")):
        x, y = plane[f"{split}_info_bits"], plane[f"{split}_izy_bits"]
        ax.plot(x, y, style, color=colour, label="training" if split == "train" else "validation", zorder=1)
        scatter = ax.scatter(x, y, c=plane["epoch"], cmap="viridis", zorder=2, s=22)
    fig.colorbar(scatter, ax=ax, label="epoch")
    ax.set(xscale="log", xlabel="textbook KL (bits)  ≥ I(Z;X,A)", ylabel="log2 C − CE (bits)  ≤ I(Z;Y)",
           title=f"one run, textbook KL, {int(plane['epoch'].max())} epochs")
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[1]
    norm = LogNorm(vmin=lab["beta"].min(), vmax=lab["beta"].max())
    ax.scatter(lab["kl_bits"], lab["izy_bits"], c=lab["beta"], cmap="plasma", norm=norm, s=26)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="plasma"), ax=ax, label="β")
    ax.set(xscale="log", xlabel="official KL term (bits), not a bound", ylabel="log2 C − CE (bits)",
           title="stored lab runs over β (test set, every seed)")
    for ax in axes:
        ax.axhline(math.log2(num_classes), color="0.5", ls=":", lw=1, label="H(Y) = log2 C")
        ax.grid(alpha=0.3, which="both")
    return fig


def run_table(records: Mapping[str, Any], columns: Mapping[str, str | Callable[[Any], Any]], *,
              index: str = "run") -> pd.DataFrame:
    """One row per named run: each column a key of its ``final.json`` or a function of the record
    (a missing key shows as a missing value)."""
    rows = []
    for name, rec in records.items():
        row: dict[str, Any] = {index: name}
        for header, key in columns.items():
            row[header] = key(rec) if callable(key) else (rec.final or {}).get(key)
        rows.append(row)
    return pd.DataFrame(rows).set_index(index)
