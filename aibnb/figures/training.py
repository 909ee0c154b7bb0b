"""Chapter 4's figures and tables: Table 1 at each tier, the training curves, the galleries, the costs.

The chapter decides the claims (:mod:`aibnb.reproduce.claims`); this module draws the runs they are
decided from. Every function takes run records (:class:`aibnb.runs.RunRecord`, grouped
``{model: {seed: record}}`` in Table 1's order) or numbers read from them, and returns a figure or a
frame for :func:`aibnb.figures.tables.book_table`:

* :func:`lab_table1_frame`: the ``lab`` tier's Table 1, one row per model (error, seeds, best
  epoch, plateau, regime, the paper's column as context);
* :func:`lab_curves_figure` and :func:`live_curves_figure`: the validation accuracy per epoch of
  the stored and of the live runs;
* :func:`run_log_frame`, :func:`grouped_departures_frame`: what the live runs were and how they
  depart from the official recipe;
* :func:`table1_figure`: our errors beside the paper's column, as bars;
* :func:`attention_gallery`: the attention maps of every model on the same random test images
  (:func:`aibnb.figures.grids.map_grid`, one fixed scale per family of maps);
* :func:`confusion_matrices`, :func:`confusion_figure`, :func:`most_confused`: the confusion
  matrices summed over seeds (checked against the stored accuracy) and their largest confusion;
* :func:`shift_frame`: the cross-domain errors beside the in-domain ones;
* :func:`speed_frame`: inference time and training throughput of the live runs;
* :func:`full_tier_frame` and :func:`full_tier_figure`: the stored GPU runs beside the live ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from aibnb import viz
from aibnb.chapter import seeds_phrase
from aibnb.figures.grids import map_grid
from aibnb.figures.style import ATTENTION_RANGE
from aibnb.models import spec
from aibnb.provenance import devices_phrase
from aibnb.reproduce.health import plateau, regime
from aibnb.reproduce.paper import paper_error
from aibnb.reproduce.stats import summarize
from aibnb.runs import RunRecord
from aibnb.timing import inference_ms_per_image
from aibnb.train import departures, load_model

__all__ = [
    "AIB_KINDS",
    "SOFTMAX_MODELS",
    "SPEED_FORMATS",
    "attention_gallery",
    "confusion_figure",
    "confusion_matrices",
    "full_tier_figure",
    "full_tier_frame",
    "grouped_departures_frame",
    "lab_curves_figure",
    "lab_table1_frame",
    "live_curves_figure",
    "most_confused",
    "run_log_frame",
    "shift_frame",
    "short_class_names",
    "speed_frame",
    "table1_figure",
]

RecordsByModel = Mapping[str, Mapping[int, RunRecord]]

#: the model kinds the paper proposes (drawn in red, solid lines)
AIB_KINDS = ("aib", "aib_qt")
#: the LTPA models, whose softmax maps sum to one over space
SOFTMAX_MODELS = ("vgg_att2", "vgg_att3")
#: the formats of :func:`speed_frame`'s columns
SPEED_FORMATS = {
    "width": "{:g}",
    "parameters (k)": "{:.1f}",
    "ms/image, batch 1": "{:.2f}",
    "ms/image, batch 256": "{:.3f}",
    "training images/s": "{:.0f}",
}


def _sd(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def short_class_names(classes: Sequence[str]) -> list[str]:
    """One word per class, for tick labels: ``"Ankle boot"`` -> ``"Boot"``, ``"T-shirt/top"`` ->
    ``"T-shirt"``."""
    return [c.split("/")[0].split(" ")[-1].capitalize() for c in classes]


def lab_table1_frame(records: RecordsByModel, paper_context: Mapping[str, float],
                     names: Mapping[str, str]) -> pd.DataFrame:
    """Table 1 at the ``lab`` tier, one row per model (its display name from ``names``): the test
    error over seeds, the seeds, the median best epoch, how many runs were flat at the end
    (:func:`~aibnb.reproduce.health.plateau`), the regime and the paper's ``paper_context`` cell."""
    rows = []
    for model, by_seed in records.items():
        recs = list(by_seed.values())
        reg = regime(recs)
        rows.append({
            "model": names.get(model, model),
            "test error (%), mean ± sd": summarize(r.final["test_error"] for r in recs).format(),
            "seeds": seeds_phrase(by_seed).removeprefix("seeds ").removeprefix("seed "),
            "best epoch (median)": f"{np.median([r.final['best_epoch'] for r in recs]):.0f} of "
                                   f"{recs[0].config['epochs']}",
            "flat at the end": f"{sum(plateau(r)[0] for r in recs)} of {len(recs)}",
            "regime": reg.describe() if reg is not None else "–",
            "paper, CIFAR-10 (%, context)": f"{paper_context[model]:.2f}" if model in paper_context else "–",
        })
    return pd.DataFrame(rows).set_index("model")


def _empty_figure(text: str) -> Figure:
    fig, ax = plt.subplots(figsize=(7.6, 1.2), layout="constrained")
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return fig


def lab_curves_figure(records: RecordsByModel, names: Mapping[str, str], *, ncols: int = 4) -> Figure:
    """One panel per model (titled with ``names``), the validation accuracy (%) after every epoch,
    one line per seed, on shared axes; a note instead when no run is stored."""
    if not records:
        return _empty_figure("no stored lab run yet")
    nrows = math.ceil(len(records) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 1.9 * nrows + 0.3), sharex=True,
                             sharey=True, squeeze=False, layout="constrained")
    accuracies = []
    for ax, (model, by_seed) in zip(axes.flat, records.items()):
        for seed, rec in sorted(by_seed.items()):
            acc = [100 * a for a in rec.series("val_acc") if a is not None]
            accuracies += acc
            ax.plot(range(1, len(acc) + 1), acc, lw=1.2, label=f"seed {seed}")
        ax.set_title(names.get(model, model), fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(records):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("validation accuracy (%)", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("epoch", fontsize=8)
    if accuracies:
        axes.flat[0].set_ylim(max(min(accuracies) - 1, 0), max(accuracies) + 0.5)
    axes.flat[0].legend(fontsize=7)
    return fig


def live_curves_figure(records: RecordsByModel) -> Figure:
    """The validation accuracy (%) per epoch, averaged over seeds, one panel per backbone family
    (VGG, WRN); the paper's AIB models solid, the baselines dashed."""
    families = {label: [m for m in records if spec(m).family == family]
                for label, family in (("VGG", "vgg"), ("WRN", "wrn"))}
    families = {k: v for k, v in families.items() if v}
    if not families:
        return _empty_figure("no live run")
    fig, axes = plt.subplots(1, len(families), figsize=(4.2 * len(families) + 1.6, 3.2), squeeze=False,
                             sharey=True, layout="constrained")
    for ax, (family, names) in zip(axes[0], families.items()):
        for k, name in enumerate(names):
            curves = np.array([[np.nan if v is None else 100 * v for v in r.series("val_acc")]
                               for r in records[name].values()])
            style = "-" if spec(name).kind in AIB_KINDS else "--"
            ax.plot(np.arange(1, curves.shape[1] + 1), np.nanmean(curves, 0), style, marker="o", ms=4,
                    color=f"C{k}", label=name)
        ax.set_title(f"{family} family", fontsize=10)
        ax.set_xlabel("epoch", fontsize=9)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    axes[0, 0].set_ylabel("validation accuracy (%)", fontsize=9)
    return fig


def run_log_frame(specs: Sequence[Mapping[str, Any]], records: Sequence[RunRecord],
                  cached: Sequence[bool]) -> pd.DataFrame:
    """One row per live run: what it was (``specs``, the arguments of ``fit``), its test error, best
    epoch and wall time, and whether it was trained now (not in the run cache before: ``cached``)."""
    if not len(specs) == len(records) == len(cached):
        raise ValueError(f"run_log_frame: {len(specs)} specs, {len(records)} records and {len(cached)} "
                         "cache flags; pass one of each per run")
    return pd.DataFrame([
        {
            "dataset": s["dataset"],
            "model": s["model"],
            "seed": s["seed"],
            "test error (%)": rec.final["test_error"],
            "best epoch": rec.final["best_epoch"],
            "run wall time (s)": rec.final["wall_time_s"],
            "trained now": not was_cached,
        }
        for s, rec, was_cached in zip(specs, records, cached)
    ])


def grouped_departures_frame(configs: Mapping[str, Any]) -> pd.DataFrame:
    """The settings of resolved configurations (``{model: TrainConfig}``) that depart from their
    official recipe (:func:`aibnb.train.departures`), one row per group of models that depart
    alike, one column per setting (``"value (official o)"``; empty where a group keeps it)."""
    groups: dict[tuple, list[str]] = {}
    for name, cfg in configs.items():
        dep = tuple((k, f"{v:g}" if isinstance(v, float) else str(v), str(o))
                    for k, (v, o) in departures(cfg).items())
        groups.setdefault(dep, []).append(name)
    rows = [{"models": ", ".join(names), **{k: f"{v} (official {o})" for k, v, o in dep}}
            for dep, names in groups.items()]
    return pd.DataFrame(rows).set_index("models").fillna("")


def table1_figure(errors: Mapping[str, Mapping[int, float]], paper_values: Mapping[str, float], *,
                  dataset: str, paper_label: str, profile: str, same_data: bool, rho: float) -> Figure:
    """Table 1 as bars: left our test error per model (mean ± sd over seeds, dots: the seeds), right
    the paper's ``paper_label`` column (``same_data``: the same dataset, else context); the paper's
    AIB models in red, the title gives the Spearman rank correlation ``rho`` of the two."""
    models = list(errors)
    fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.8), sharey=True, layout="constrained")
    ypos = np.arange(len(models))[::-1]
    colours = ["C3" if spec(m).kind in AIB_KINDS else "C0" for m in models]
    for y, name, colour in zip(ypos, models, colours):
        vals = np.array(list(errors[name].values()))
        axes[0].barh(y, vals.mean(), color=colour, alpha=0.35)
        axes[0].errorbar(vals.mean(), y, xerr=_sd(vals) if len(vals) > 1 else None, fmt="none", ecolor="k",
                         capsize=3)
        axes[0].plot(vals, np.full(len(vals), y), "o", ms=3.5, color=colour)
        value = paper_values.get(name, float("nan"))
        if math.isfinite(value):
            axes[1].barh(y, value, color=colour, alpha=0.6)
    axes[0].set_yticks(ypos, models)
    axes[0].set_xlabel(f"test error (%) on {dataset}")
    axes[0].set_title(f"ours: mean ± std over seeds (dots: seeds), profile {profile}")
    axes[1].set_xlabel(f"paper's test error (%) on {paper_label}")
    axes[1].set_title("paper, Table 1" + ("" if same_data else " (context: another dataset)"))
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Table 1 as a picture (red: the paper's AIB models); Spearman rank correlation {rho:.2f}")
    return fig


def _softmax_scale(a: np.ndarray) -> np.ndarray:
    """An LTPA map on the scale of a uniform one: log10 of the map times the number of positions."""
    return np.log10(np.maximum(a * a.size, 1e-3))


def attention_gallery(samples: Mapping[str, Mapping[str, np.ndarray]], pick: Sequence[int],
                      classes: Sequence[str], *, softmax: bool = False, title: str = "") -> Figure:
    """The stored test images ``pick`` of each run's ``attention_samples()`` (``{model: samples}``,
    every run the same images) with one row of maps per model, under each map that model's
    prediction (✗ when wrong). ``softmax``: LTPA maps, drawn as log10(map × positions) on
    [-2, 2] (0: the uniform weight); else maps on [0, 1] (values beyond are clipped). Colour images
    are drawn as their grey level."""
    names = list(samples)
    if not names:
        raise ValueError("attention_gallery: samples is empty; pass {model: run.attention_samples()}")
    reference = samples[names[0]]
    for name in names:  # the columns compare like with like
        if not np.array_equal(samples[name]["images"], reference["images"]):
            raise ValueError(f"attention_gallery: {name} stored other test images than {names[0]}")
    pick = list(pick)
    images = reference["images"][pick].astype(np.float32)
    if images.ndim == 4 and images.shape[1] > 1:
        images = images.mean(axis=1, keepdims=True)
    transform = _softmax_scale if softmax else (lambda a: a)
    rows = [[transform(samples[n]["attention"][i, 0].astype(np.float32)) for i in pick] for n in names]
    notes = [[("✗ " if samples[n]["predictions"][i] != samples[n]["labels"][i] else "")
              + classes[int(samples[n]["predictions"][i])] for i in pick] for n in names]
    return map_grid(images, rows, names, title=title, labels=reference["labels"][pick], classes=classes,
                    row_notes=notes, value_range=(-2.0, 2.0) if softmax else ATTENTION_RANGE,
                    cmap="RdBu_r" if softmax else "viridis",
                    colorbar_label="log10(a × positions)" if softmax else "attention a")


def confusion_matrices(records: RecordsByModel) -> dict[str, np.ndarray]:
    """Each model's confusion matrix (rows: true class, columns: prediction) summed over its seeds,
    after checking every run's: it counts every test image, and its diagonal is the stored accuracy."""
    out = {}
    for name, by_seed in records.items():
        total = 0.0
        for rec in by_seed.values():
            c = np.array(rec.final["confusion"], dtype=float)
            if c.sum() != rec.model_info["test_size"] or not math.isclose(
                    np.trace(c) / c.sum(), rec.final["test_acc"], abs_tol=1e-9):
                raise ValueError(f"{rec.path}: the stored confusion matrix disagrees with the test set's "
                                 "size or the stored accuracy; re-run it (delete the folder)")
            total = total + c
        out[name] = np.asarray(total)
    return out


def confusion_figure(matrices: Mapping[str, np.ndarray], classes: Sequence[str], *, title: str,
                     ncols: int = 4) -> Figure:
    """One heat map per model, each row normalised (the fraction of a true class predicted as each
    class), all on [0, 1] with one colour bar; class names on the outer axes only."""
    names = list(matrices)
    nrows = max(math.ceil(len(names) / ncols), 1)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.5 * ncols + 0.8, 2.45 * nrows), layout="constrained",
                             squeeze=False)
    for k, (ax, name) in enumerate(zip(axes.flat, names)):
        conf = matrices[name]
        bottom, left = k + ncols >= len(names), k % ncols == 0
        sns.heatmap(conf / conf.sum(axis=1, keepdims=True), ax=ax, vmin=0, vmax=1, cmap="viridis", cbar=False,
                    square=True, xticklabels=list(classes) if bottom else False,
                    yticklabels=list(classes) if left else False)
        ax.set_title(f"{name}: error {100 * (1 - np.trace(conf) / conf.sum()):.1f} %")
        ax.set_xlabel("predicted" if bottom else "", fontsize=7)
        ax.set_ylabel("true" if left else "", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    viz.fixed_colorbar(fig, axes, vmin=0, vmax=1, cmap="viridis", label="fraction of the true class",
                       shrink=0.6)
    fig.suptitle(title)
    return fig


def most_confused(matrices: Mapping[str, np.ndarray]) -> tuple[int, int, float]:
    """The most frequent confusion over all ``matrices`` summed: ``(true class, predicted class,
    share of the true class's images)``."""
    if not matrices:
        raise ValueError("most_confused: no confusion matrix given")
    total = np.sum(list(matrices.values()), axis=0)
    off = total.copy()
    np.fill_diagonal(off, 0)
    true_i, pred_i = np.unravel_index(np.argmax(off), off.shape)
    return int(true_i), int(pred_i), float(off[true_i, pred_i] / total[true_i].sum())


def shift_frame(in_domain: Mapping[str, Mapping[int, float]], shifted: Mapping[str, Mapping[int, float]],
                paper_context: Mapping[str, Any]) -> pd.DataFrame:
    """One row per model: its in-domain and shifted error over seeds (mean ± sd), the cost of the
    shift in points (the difference of the means) and the paper's STL-10 cell ``paper_context``."""
    rows = []
    for name, errors in shifted.items():
        inside, outside = summarize(in_domain[name].values()), summarize(errors.values())
        rows.append({
            "model": name,
            "in-domain error": inside.format(),
            "shifted error": outside.format(),
            "shift cost (points)": outside.mean - inside.mean,
            "paper STL-10 (context)": paper_context.get(name, "–"),
        })
    return pd.DataFrame(rows).set_index("model")


def speed_frame(records: Mapping[str, Sequence[RunRecord]], device: Any) -> pd.DataFrame:
    """Per model (its runs ``records``): width, parameters, inference ms per image at batch 1 and
    256 on ``device`` with the run's own evaluation samples (the first run's best weights, measured
    now), and the training throughput the runs recorded (mean over epochs and seeds) with the
    devices they trained on."""
    rows = []
    for name, recs in records.items():
        info = recs[0].model_info
        model = load_model(recs[0], device=str(device))
        size, channels = info["image_size"], info["in_channels"]
        rows.append({
            "model": name,
            "width": recs[0].config["width"],
            "parameters (k)": sum(p.numel() for p in model.parameters()) / 1e3,
            "ms/image, batch 1": inference_ms_per_image(model, 1, in_channels=channels, image_size=size,
                                                        repeats=3, device=device),
            "ms/image, batch 256": inference_ms_per_image(  # warmed up by the batch-1 calls
                model, 256, in_channels=channels, image_size=size, repeats=1, warmup=0, device=device),
            "training images/s": float(np.mean([m["train_images_per_s"] for r in recs for m in r.metrics])),
            "runs' device": devices_phrase(recs),
        })
    return pd.DataFrame(rows).set_index("model")


def _joined(values: Iterable[Any], digits: int | None = None) -> str:
    return "; ".join(sorted({str(v)[:digits] if digits else str(v) for v in values}))


def full_tier_frame(stored: Mapping[str, tuple[pd.DataFrame, Mapping[str, Any]]], models: Sequence[str],
                    live: Mapping[str, Mapping[str, Mapping[int, float]]], *, profile: str,
                    paper: Mapping[str, Any]) -> pd.DataFrame:
    """One row per dataset and model of the stored ``full`` runs (``{dataset: load_full_runs(...)}``):
    their error over seeds, epochs, devices and commits, beside this page's ``live`` errors
    (``{dataset: {model: {seed: error}}}``, empty when not comparable) and the paper's cell."""
    rows = []
    for ds, (frame, meta) in stored.items():
        frame = frame[frame["model"].isin(models)]
        for name, group in frame.groupby("model", sort=False):
            ours = live.get(ds, {}).get(name)
            cell = paper_error(name, ds, paper) if ds in paper["table1"]["columns"] else None
            rows.append({
                "dataset": ds,
                "model": name,
                "full (mean ± std)": summarize(group["test_error"]).format(),
                "n": len(group),
                "epochs": ", ".join(str(e) for e in sorted(set(group["epochs"].dropna().astype(int)))),
                "device": _joined(group["device"].dropna()),
                "commit": _joined(group["commit"].dropna(), 12),
                "file": meta["file"],
                f"{profile} here (mean ± std)": summarize(ours.values()).format() if ours else "–",
                "paper (same dataset)": "–" if cell is None else f"{cell:.2f}",
            })
    return pd.DataFrame(rows).set_index(["dataset", "model"]) if rows else pd.DataFrame()


def full_tier_figure(stored: Mapping[str, tuple[pd.DataFrame, Mapping[str, Any]]], models: Sequence[str],
                     live: Mapping[str, Mapping[str, Mapping[int, float]]], *, profile: str) -> Figure:
    """One panel per dataset of the stored ``full`` runs: their mean error ± sd per model (green)
    beside this page's ``live`` runs (blue, where given), titled with their devices and commits."""
    fig, axes = plt.subplots(1, len(stored), figsize=(4.6 * len(stored), 3.8), squeeze=False,
                             layout="constrained")
    for ax, (ds, (frame, _)) in zip(axes[0], stored.items()):
        names = [m for m in models if m in set(frame["model"])]
        y = np.arange(len(names))[::-1]
        bars = [("full (stored, GPU)", "C2", +0.2,
                 [frame.loc[frame["model"] == m, "test_error"].to_numpy() for m in names])]
        if ds in live:
            bars.append((f"{profile} (this page)", "C0", -0.2,
                         [np.array(list(live[ds][m].values())) for m in names]))
        for label, colour, offset, errors in bars:
            ax.barh(y + offset, [e.mean() for e in errors], height=0.4, color=colour, alpha=0.6,
                    xerr=[_sd(e) for e in errors], label=label)
        ax.set_yticks(y, names)
        ax.set_xlabel(f"test error (%) on {ds}")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7)
        commits = ", ".join(sorted({str(c)[:8] for c in frame["commit"].dropna()}))
        ax.set_title(f"{ds}: full on {_joined(frame['device'].dropna())} (commit {commits})", fontsize=8)
    fig.suptitle("stored full-profile results beside this page's (mean ± std over seeds)")
    return fig
