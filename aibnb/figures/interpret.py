"""Chapter 5's figures and tables: Figure 3 and Table 2 re-done, localisation on cluttered scenes.

* :func:`figure3`: one image, its modifications, and every attention model's map of each;
* :func:`table2_figure`, :func:`paper_comparison`: the consistency scores per modification with
  Wilson intervals, and the chapter's scores beside the paper's Table 2 rows;
* :func:`localisation_row`, :func:`localisation_figure`, :func:`four_maps_figure`: the
  localisation scores of one map family on the scenes, all of them as bars, and a few scenes
  explained four ways;
* :func:`scene_error_table`, :func:`collapse_sentence`: the ``lab`` runs on the scenes by seed, and
  what one that did not learn to classify looked like;
* :func:`sweep_settings`, :func:`sweep_localisation_figure`: a stored tier's β and K sweeps on the
  scenes, read from its runs and their ``scores.json``, and drawn against the setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aibnb import interpret as interp
from aibnb import viz
from aibnb.figures import explorer
from aibnb.figures.style import ATTENTION_RANGE, LTPA_RANGE
from aibnb.figures.tables import display_name
from aibnb.reproduce.pairing import map_scores, run_setting, stored_scores

__all__ = [
    "collapse_sentence",
    "figure3",
    "four_maps_figure",
    "localisation_figure",
    "localisation_row",
    "paper_comparison",
    "scene_error_table",
    "sweep_localisation_figure",
    "sweep_settings",
    "table2_figure",
]


def figure3(models: Mapping[str, Any], modified: Mapping[str, Any], data: Any, map_kind: Mapping[str, Any], *,
            num_samples: int | None) -> Figure:
    """Rows: each image of ``modified`` (name -> a 1-image batch); columns: the image, then each
    model's map of it (upsampled to the image, LTPA's softmax as H·W·a on its own scale), the
    prediction under each map written below it."""
    fig, axes = plt.subplots(len(modified), 1 + len(models), figsize=(8.6, 6.6), layout="constrained")
    for i, (label, image) in enumerate(modified.items()):
        viz.fixed_scale_imshow(axes[i, 0], image[0, 0].numpy(), vmin=0, vmax=1, cmap="gray")
        axes[i, 0].set_ylabel(label)
        for j, (m, model) in enumerate(models.items(), start=1):
            e = interp.explain(model, image, mean=data.mean, std=data.std, attention=map_kind[m],
                               num_samples=num_samples)
            up = interp.upsample(e.maps, image.shape[-1], e.upsample_mode)[0, 0].numpy()
            if m in ("vgg_att2", "vgg_att3"):
                viz.fixed_scale_imshow(axes[i, j], up * up.size, vmin=LTPA_RANGE[0], vmax=LTPA_RANGE[1],
                                       cmap="magma")
            else:
                viz.fixed_scale_imshow(axes[i, j], up, vmin=ATTENTION_RANGE[0], vmax=ATTENTION_RANGE[1])
            axes[i, j].set_xlabel(data.classes[int(e.predictions[0])], fontsize=7, labelpad=1)
            if i == 0:
                kind = map_kind[m] if m in ("vgg_aib", "wrn_aib") else "map"
                axes[i, j].set_title(f"{display_name(m)}\n({kind})")
    axes[0, 0].set_title(f"input\n(label: {data.classes[int(data.labels[0])]})")
    viz.fixed_colorbar(fig, axes[:, 2:], vmin=0, vmax=1, label="attention (AIB, AIB-qt, ABN)", shrink=0.6,
                       extend="both")
    viz.fixed_colorbar(fig, axes[-1, 1], vmin=LTPA_RANGE[0], vmax=LTPA_RANGE[1], cmap="magma",
                       label="H·W·a (LTPA)", location="bottom", extend="max")
    return fig


def table2_figure(at_tau: pd.DataFrame, order: Sequence[str], conditions: Sequence[str],
                  norms: Mapping[str, str], *, tau: float) -> Figure:
    """One panel per normalisation (``norms``: name -> label): the score at ``tau`` per modification
    and model, seeds pooled, with its 95 % Wilson interval; lines join the sizes of one fill."""
    colours = dict(zip(order, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    fig, axes = plt.subplots(1, len(norms), figsize=(10.2, 3.7), sharey=True, layout="constrained")
    xpos = np.arange(len(conditions))
    for ax, (norm, norm_label) in zip(axes, norms.items(), strict=True):
        sub = at_tau[at_tau["normalize"] == norm]
        for k, m in enumerate(order):
            counts = ["num_attention_consistent", "num_consistent"]
            pooled = sub[sub["model"] == m].groupby("condition")[counts].sum().reindex(conditions)
            score = 100 * pooled["num_attention_consistent"] / pooled["num_consistent"].clip(lower=1)
            ci = np.array([interp.wilson_interval(int(a), int(n)) for a, n in pooled.to_numpy()]) * 100
            offset = (k - len(order) / 2) * 0.06
            ax.errorbar(xpos + offset, score, yerr=[score - ci[:, 0], ci[:, 1] - score], fmt="o", ms=3,
                        capsize=2, color=colours[m], label=display_name(m))
            for part in (slice(0, 4), slice(4, 8)):  # lines only along the sizes of one fill
                ax.plot((xpos + offset)[part], score.to_numpy()[part], "-", lw=1, color=colours[m])
        ax.set_xticks(xpos, conditions, rotation=45, ha="right")
        ax.set(title=f"{norm_label} maps", ylim=(-3, 103))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"score at τ={tau} (%), seeds pooled, 95% Wilson CI")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=7, frameon=False)
    return fig


def paper_comparison(at_tau: pd.DataFrame, paper_rows: Sequence[Mapping[str, Any]], models: Sequence[str],
                     norms: Mapping[str, str], conditions: Sequence[str]) -> pd.DataFrame:
    """Rows ``(model, source)``: the chapter's mean score per modification under each
    normalisation, then the paper's CIFAR-10 and CIFAR-100 rows of Table 2 (its frequency columns
    read as high-pass in its "color" rows and low-pass in its "svhn" rows, as ``paper.json`` records)."""
    band = {"HF": "high", "LF": "low"}
    means = {}
    for norm in norms:
        shown = at_tau[at_tau["normalize"] == norm]
        means[norm] = shown.groupby(["model", "condition"])["score"].mean().unstack()
    rows = []
    for m in models:
        for norm, label in norms.items():
            rows.append({"model": display_name(m), "source": f"ours, {label}",
                         **means[norm].loc[m].to_dict()})
        by_pert = {r["perturbation"]: r for r in paper_rows if r["model"] == m}
        for k, short in enumerate(("C10", "C100")):
            entry: dict[str, Any] = {"model": display_name(m), "source": f"paper, {short}"}
            for pert, fill in (("color", "colour"), ("svhn", "patch")):
                scores = by_pert[pert]["scores"]
                entry.update(zip([c for c in conditions if c.startswith(fill)], scores[4 * k : 4 * k + 4],
                                 strict=False))
                kind = band[by_pert[pert]["frequency_label_guess"]]
                entry[next(c for c in conditions if c.startswith(kind))] = scores[8 + k]
            rows.append(entry)
    return pd.DataFrame(rows).set_index(["model", "source"])[list(conditions)]


def localisation_row(model: str, method: str, maps: Any, masks: Any, mode: str, accuracy: float, seed: int
                     ) -> tuple[dict[str, Any], Any]:
    """The localisation scores of one family of maps on the scenes (pointing, mass raw and minus the
    minimum, IoU, with their 95 % intervals over scenes) as one row, and the raw per-scene result."""
    scores = interp.raw_and_structure(maps, masks, mode=mode)
    raw = scores["raw"]
    r, st = raw.summary(), scores["structure"].summary()
    for key in ("pointing", "mass", "iou"):  # scores are fractions
        if not (0 <= r[key] <= 1 and 0 <= st[key] <= 1):
            raise ValueError(f"{model} / {method}: {key} is not a fraction ({r[key]}, {st[key]})")
    row = {"model": model, "map": method, "seed": seed, "accuracy": accuracy,
           "pointing": r["pointing"], "pointing_ci": r["pointing_ci"], "mass (raw)": r["mass"],
           "mass (structure)": st["mass"], "mass_ci": st["mass_ci"], "IoU": r["iou"], "IoU_ci": r["iou_ci"]}
    return row, raw


def localisation_figure(loc: pd.DataFrame, area: float) -> Figure:
    """Bars of the pointing game, the relevance mass minus the minimum and the IoU per map (own
    maps blue, Grad-CAM orange, baselines grey) with their intervals; the area fraction dashed."""
    fig, axes = plt.subplots(1, 3, figsize=(9.2, 3.9), sharey=True, layout="constrained")
    summary = loc.groupby(["model", "map"], sort=False).mean(numeric_only=True).reset_index()
    ypos = np.arange(len(summary))[::-1]
    colours = ["0.6" if m == "baseline" else ("C1" if "Grad" in mp else "C0")
               for m, mp in zip(summary["model"], summary["map"], strict=True)]
    panels = [("pointing", "pointing_ci", "pointing game"),
              ("mass (structure)", "mass_ci", "relevance mass (map − min)"),
              ("IoU", "IoU_ci", "IoU, top-k = mask area")]
    for ax, (key, ci_key, title) in zip(axes, panels, strict=True):
        ax.barh(ypos, summary[key], xerr=summary[ci_key], color=colours, capsize=2)
        if key != "IoU":
            ax.axvline(area, color="C3", ls="--", lw=1)
            ax.text(area + 0.01, ypos[0] + 0.6, "area fraction", color="C3", fontsize=7, va="bottom")
        ax.set(title=title, xlim=(0, 1))
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(ypos, [f"{a} · {b}" for a, b in zip(summary["model"], summary["map"], strict=True)])
    fig.supxlabel("score (fraction)", fontsize=8)
    return fig


def four_maps_figure(scenes: Any, maps: Mapping[Any, Any], columns: Sequence[tuple[str, Any]],
                     scene_ids: Sequence[int]) -> Figure:
    """Rows: the scenes ``scene_ids`` (object outlined); columns: the scene, then each ``(title,
    key)`` of ``columns`` drawn from ``maps[key]`` (an explanation), each map on its own scale."""
    fig, axes = plt.subplots(len(scene_ids), len(columns) + 1, figsize=(8.6, 1.5 * len(scene_ids)),
                             layout="constrained", squeeze=False)
    for r, i in enumerate(scene_ids):
        mask = scenes.masks[i, 0].numpy()
        for c, (title, key) in enumerate([("scene", None), *columns]):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if key is None:
                ax.imshow(scenes.images[i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_ylabel(scenes.classes[int(scenes.labels[i])], fontsize=8)
            else:
                exp = maps[key]
                up = interp.upsample(exp.maps[i : i + 1], tuple(mask.shape), exp.upsample_mode)[0, 0].numpy()
                ax.imshow(up, cmap="magma")
            ax.contour(mask, levels=[0.5], colors="tab:cyan", linewidths=0.7)
            if r == 0:
                ax.set_title(title, fontsize=8)
    return fig


def scene_error_table(runs_by_model: Mapping[str, Mapping[int, Any]],
                      unlearned: Mapping[str, Mapping[int, Any]], seeds: Sequence[int]) -> pd.DataFrame:
    """The test error (%) of each model's stored run on the scenes by seed ("–" where the tier holds
    none), a run that did not learn to classify marked so."""
    cells = {}
    for s in seeds:
        column = {}
        for m, by_seed in runs_by_model.items():
            if s not in by_seed:
                column[display_name(m)] = "–"
                continue
            text = f"{by_seed[s].final['test_error']:.2f}"
            column[display_name(m)] = text + (" (did not learn)" if s in unlearned.get(m, {}) else "")
        cells[f"seed {s}"] = column
    return pd.DataFrame(cells).rename_axis("model")


def collapse_sentence(model: str, seed: int, record: Any) -> str:
    """What a run that did not learn looked like: its error, the share of its most frequent answer,
    its KL term in the first and the last epoch."""
    confusion = np.asarray(record.final["confusion"])
    share = 100 * confusion.sum(axis=0).max() / confusion.sum()
    first, last = record.metrics[0]["train_info_bits"], record.metrics[-1]["train_info_bits"]
    return (f"{display_name(model)} seed {seed} ends at {record.final['test_error']:.1f} % error and gives "
            f"one class to {share:.0f} % of the scenes, its KL term {first:.2f} bits in the first epoch and "
            f"{last:.4f} bits in the last")


#: The sweeps of the scenes: (group, model, setting) as :func:`sweep_settings` reads them
SCENE_SWEEPS = (("beta", "vgg_aib", explorer.BETA), ("anchors", "vgg_aib_qt", explorer.ANCHORS))


def sweep_settings(tier: Any, dataset: str = "cluttered_fashion") -> list[dict[str, Any]]:
    """The tier's β sweep of VGG-aib and K sweep of VGG-aib-qt on ``dataset``, one dict per value
    (the run of its first seed, selected as the chapters' tables select them,
    :func:`aibnb.figures.explorer.sweep_points`): its test error and the localisation of its own
    map that the queue stored beside it (``scores.json``: pointing, relevance mass of the raw map
    and of the map minus its minimum, IoU, each with its 95 % interval over the scored scenes).
    Values whose run has no stored localisation are left out."""
    out = []
    for group, model, setting in SCENE_SWEEPS:
        for point in explorer.sweep_points(tier, model, setting, dataset):
            seed = point.seeds[0]
            record = point.records[seed]
            own = map_scores(stored_scores(record))
            if "raw" not in own:
                continue
            raw, structure = own["raw"], own["structure"]
            out.append({
                "group": group, "model": model, "value": point.value,
                "label": f"{setting.symbol}={point.label}", "seed": seed, "run": record.name,
                "beta": float(record.config["beta"]), "num_anchors": run_setting(record, "num_anchors"),
                "device": (record.provenance or {}).get("device"),
                "test_error": float(record.final["test_error"]), "eval_accuracy": own.get("accuracy"),
                "num_images": len(own.get("per_image", {}).get("pointing", [])),
                "pointing": raw["pointing"], "pointing_ci": raw["pointing_ci"],
                "mass": raw["mass"], "mass_ci": raw["mass_ci"],
                "mass_structure": structure["mass"], "mass_structure_ci": structure["mass_ci"],
                "iou": raw["iou"], "iou_ci": raw["iou_ci"], "area": raw["area"],
            })
    return out


def sweep_localisation_figure(settings: Sequence[Mapping[str, Any]]) -> Figure:
    """A tier's sweeps of the scenes (:func:`sweep_settings`) against β (VGG-aib) and K (VGG-aib-qt):
    pointing, relevance mass minus the minimum and IoU with their intervals, the test accuracy dashed."""
    if not settings:
        raise ValueError("sweep_localisation_figure: no stored sweep of the scenes to draw")
    fig, axes = plt.subplots(1, 2, figsize=(8.6, 2.9), layout="constrained")
    for ax, group in ((axes[0], "beta"), (axes[1], "anchors")):
        chosen = [s for s in settings if s["group"] == group]
        if not chosen:
            ax.text(0.5, 0.5, "no stored runs", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        xs = [float(s["value"]) for s in chosen]
        metrics = (("pointing", "pointing_ci", "C0"), ("mass_structure", "mass_structure_ci", "C2"),
                   ("iou", "iou_ci", "C4"))
        for metric, ci, colour in metrics:
            ax.errorbar(xs, [s[metric] for s in chosen], yerr=[s[ci] for s in chosen], fmt="o-", color=colour,
                        capsize=2, label=metric.replace("_structure", " (map − min)").replace("iou", "IoU"))
        ax.plot(xs, [1 - s["test_error"] / 100 for s in chosen], "k--", lw=1, label="test accuracy")
        ax.axhline(chosen[0]["area"], color="C3", ls=":", lw=1, label="area fraction")
        ax.set_xscale("log")
        viz.integer_log_axis(ax, xs)
        ax.set(xlabel="β" if group == "beta" else "number of anchors K", ylim=(0, 1), ylabel="fraction")
        ax.grid(alpha=0.3)
    axes[0].set_title("VGG-aib against β")
    axes[1].set_title("VGG-aib-qt against K (β = 0.01)")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
