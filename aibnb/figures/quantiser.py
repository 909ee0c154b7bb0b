"""Chapter 3's figures and tables: the straight-through estimator, the anchors' cap, the anchors in training.

* :func:`ste_figure`: the hard quantiser and soft quantisers at several temperatures, their
  derivatives by finite differences, and the straight-through estimator's bias;
* :func:`map_bits_frame` and :func:`anchor_cap_figure`: what the stored quantised maps of each run
  use of the cap ``H·W·log2 K`` (:func:`aibnb.quantize.quantized_map_bits` on the run's stored maps),
  beside ``H·W·log2`` of the anchors' perplexity and the KL term of the code;
* :func:`anchor_diagnostics_figure`: the anchors' trajectories during training, their usage in the
  stored maps, and the perplexity and dead anchors per epoch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from aibnb import viz
from aibnb.quantize import quantized_map_bits

__all__ = ["anchor_cap_figure", "anchor_diagnostics_figure", "map_bits_frame", "ste_figure"]


def ste_figure(grid: Any, anchors: Any, derivatives: Mapping[float, Any], *, spacing: float,
               soft_quantize: Any) -> Figure:
    """Left: the hard quantiser (Eq. 9), soft quantisers at each temperature of ``derivatives`` and
    the STE's view (slope 1); middle: their derivatives (finite differences, ``derivatives[T]``);
    right: the STE's bias ``1 − dâ/da`` against the distance to the nearest anchor."""
    temps = list(derivatives)
    colours = {t: plt.cm.viridis(i / max(len(temps) - 1, 1)) for i, t in enumerate(temps)}
    fig, axes = plt.subplots(1, 3, figsize=(9.0, 2.9), layout="constrained")
    hard = anchors[(grid[:, None] - anchors).abs().argmin(dim=1)]
    distance = (grid[:, None] - anchors).abs().min(dim=1).values / spacing
    order = torch.argsort(distance)
    axes[0].plot(grid, hard, color="k", lw=1, label="hard (Eq. 9)")
    for t in temps:
        axes[0].plot(grid, soft_quantize(grid, anchors, t), color=colours[t], label=f"T = {t:g}")
        axes[1].plot(grid, derivatives[t], color=colours[t])
        axes[2].plot(distance[order], (1 - derivatives[t])[order], ".", ms=1.5, color=colours[t])
    axes[0].plot(grid, grid, ":", color="C3", lw=1, label="STE's view (slope 1)")
    axes[1].axhline(1.0, color="C3", ls=":", lw=1.2, label="STE: 1")
    axes[2].axhline(0.0, color="0.5", lw=0.8)
    for ax in axes[1:]:
        ax.set_yscale("symlog", linthresh=1.0)
    axes[0].set(title="quantiser", xlabel="a", ylabel="â")
    axes[1].set(title="derivative dâ/da (finite differences)", xlabel="a")
    axes[2].set(title="STE bias 1 − dâ/da", xlabel="distance to the nearest anchor / Δ")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig


def map_bits_frame(points: Sequence[Any]) -> pd.DataFrame:
    """One row per stored run of the points (a :class:`aibnb.figures.explorer.Point` per K): the
    bits its stored quantised maps use (pooled and per image), the cap, ``H·W·log2`` of its test
    perplexity, its KL term and test error."""
    rows = []
    for p in points:
        for seed, r in sorted(p.records.items()):
            maps = r.attention_samples()["attention"]
            bits = quantized_map_bits(maps, r.final["anchors"])
            pixels = maps.shape[-1] * maps.shape[-2]
            rows.append({"K": int(p.value), "seed": seed, "pooled bits": bits["pooled"],
                         "per-image bits": bits["per_image"], "cap H·W·log2 K": bits["cap"],
                         "H·W·log2 perplexity": pixels * math.log2(max(r.final["test_perplexity"], 1.0)),
                         "KL term (bits)": r.final["test_info_bits"],
                         "test error (%)": r.final["test_error"]})
    return pd.DataFrame(rows)


def anchor_cap_figure(bits: pd.DataFrame) -> Figure:
    """The cap ``H·W·log2 K`` against K, with each run's pooled usage bits, ``H·W·log2`` of its
    perplexity and the official KL term of its code (log axes)."""
    ks = np.array(sorted(bits["K"].unique()), dtype=float)
    fig, ax = plt.subplots(figsize=(5.6, 3.3), layout="constrained")
    pixels = bits["cap H·W·log2 K"].iloc[0] / math.log2(ks[0]) if ks[0] > 1 else 256
    fine = np.geomspace(ks.min(), ks.max(), 100)
    ax.plot(fine, pixels * np.log2(fine), "k-", lw=1, label="cap H·W·log2 K")
    ax.plot(bits["K"], bits["pooled bits"], "o", color="C0", alpha=0.7, ms=4,
            label="pooled usage bits (32 maps)")
    ax.plot(bits["K"], bits["H·W·log2 perplexity"], "s", mfc="none", color="C1", ms=5,
            label="H·W·log2 perplexity (test)")
    ax.plot(bits["K"], bits["KL term (bits)"], "^", color="C2", ms=4, label="official KL term of Z")
    ax.set(xscale="log", yscale="log", xlabel="number of anchors K", ylabel="bits")
    viz.integer_log_axis(ax, ks)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return fig


def anchor_diagnostics_figure(trajectory: Any, usage: np.ndarray) -> Figure:
    """Left: each anchor's distance from its initial value (``linspace(0, 1, K)``) per epoch of
    ``trajectory`` (a run record with ``anchors`` per epoch); middle: ``usage``, the share of
    pixels per anchor; right: the run's perplexity and dead anchors per epoch."""
    k = len(trajectory.metrics[0]["anchors"])
    start = np.linspace(0, 1, k)
    path = np.array([start, *[m["anchors"] for m in trajectory.metrics]])
    fig, axes = plt.subplots(1, 3, figsize=(9.4, 2.9), layout="constrained")
    for i in range(k):
        colour = plt.cm.viridis(i / max(k - 1, 1))
        axes[0].plot(np.arange(len(path)), path[:, i] - start[i], "-", color=colour, lw=1)
    axes[0].set(xlabel="epoch (0: initialisation)", ylabel="anchor − initial value",
                title=f"anchor trajectories (K = {k}; colour: index)")
    axes[1].bar(np.arange(len(usage)), usage, color="C0")
    axes[1].set(xlabel="anchor index (sorted at initialisation)", ylabel="fraction of pixels",
                title="usage in 32 test maps (main run)")
    ep = trajectory.series("epoch")
    axes[2].plot(ep, trajectory.series("train_perplexity"), "o--", color="0.4", label="training perplexity")
    axes[2].plot(ep, trajectory.series("val_perplexity"), "s-", color="C0", label="validation perplexity")
    axes[2].plot(ep, trajectory.series("val_dead_anchors"), "^-", color="C3", label="validation dead anchors")
    axes[2].set(xlabel="epoch", title="perplexity and dead anchors per batch")
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig
