#!/usr/bin/env python3
"""Compute the stored sweeps of chapters 2 and 3 and write them to ``book/results/<profile>/``.

Usage (``make sweep PROFILE=ci`` calls the first line)::

    python tools/experiments/sweep.py --profile ci                  # every sweep, the profile's seeds
    python tools/experiments/sweep.py --profile ci --only beta k    # some sweeps
    python tools/experiments/sweep.py --profile ci --seeds 0        # other seeds
    python tools/experiments/sweep.py --profile full                # the same grids at the paper's size
    python tools/experiments/sweep.py --profile ci --dry-run        # the grid points, which are cached

The sweeps (:data:`GRIDS`):

========= ============= =========================================================================
name      model         grid
========= ============= =========================================================================
``beta``  ``vgg_aib``   β ∈ {1e-4, 1e-3, 1e-2, 1e-1, 1} (paper Fig. 4(a))
``latent``  ``vgg_aib`` latent dimension K ∈ {64, 256, 1024} at the official β (Fig. 4(b))
``k``     ``vgg_aib_qt`` anchors N_q ∈ {2, 5, 10, 20, 50} at the official β (Fig. 4(c)); plus,
                        for the first seed only, β ∈ {1e-4, 1e-3, 1e-1, 1} at N_q = 20 (chapter 3
                        compares the anchors' cap on the map's bits with the KL term as β varies)
========= ============= =========================================================================

Every grid point is one :func:`aibnb.train.fit` call on Fashion-MNIST at the profile, so runs are
cached by configuration hash and shared with the chapters (the β = 1e-2 point of ``beta`` is the
main ``vgg_aib`` run of chapter 2; the N_q = 20 point of ``k`` the main ``vgg_aib_qt`` run of
chapter 3). Every run trains on the profile's thread count (one at ``ci``), as the chapters' own runs
do, so that a chapter re-running a grid point on the same kind of machine reproduces the stored
numbers, and one stored tier holds one thread count.

Each sweep is written as two files (no checkpoints), in the book's one format for stored maps
(:func:`aibnb.runs.save_result_with_arrays`; :func:`aibnb.runs.load_result_with_arrays` reads them):

* ``<name>_sweep.json``: a provenance stamp (commit, profile, seeds, device, versions, wall time
  of the runs), the grid, per point the resolved settings, the final test metrics, the per-epoch
  curves (loss parts in bits, accuracy, attention statistics, perplexity, anchors) and the bits
  of the quantised maps, and per grid value the mean and standard deviation over seeds;
* ``<name>_sweep.npz``: the first :data:`NUM_MAPS` test images (``images``, ``labels``, shared
  by all points: every run of a profile sees the same test subset) and, for the points of the
  first seed, their maps as float16: ``p<i>_attention`` (the map that modulated the features:
  a sample, quantised for ``-qt``), ``p<i>_attention_mean`` (mu_a) and ``p<i>_predictions``,
  where ``i`` is the point's ``index`` in the JSON.

The script is idempotent: cached runs are not retrained, and a file whose content would not
change is not rewritten (its provenance stamp, date included, stays as it was).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]  # tools/experiments/ -> the repository root
if str(ROOT) not in sys.path:  # run from anywhere, before the editable install
    sys.path.insert(0, str(ROOT))

from aibnb import runs  # noqa: E402
from aibnb.provenance import device_description, provenance  # noqa: E402
from aibnb.quantize import quantized_map_bits  # noqa: E402
from aibnb.reproduce.stats import summarize  # noqa: E402
from aibnb.storage import json_safe  # noqa: E402
from aibnb.train.profiles import PROFILES  # noqa: E402

#: Test images (and their maps) stored per grid point of the first seed.
NUM_MAPS = 8
#: Seeds per grid value when ``--seeds`` is not given.
DEFAULT_SEEDS: dict[str, tuple[int, ...]] = {"ci": (0, 1, 2), "full": (0,)}
#: What the chapters read from ``record.final`` (test split, best-validation weights).
FINAL_KEYS = (
    "test_error", "test_acc", "best_val_acc", "best_epoch", "test_error_last", "test_total",
    "test_class_bits", "test_info_bits", "test_izy_bits", "test_codebook", "test_commitment",
    "test_perplexity", "test_dead_anchors", "test_att_mean", "test_att_std", "test_att_outside",
    "anchors", "num_anchors", "wall_time_s",
)
#: Per-epoch series kept from ``record.metrics`` (each for ``train_`` and ``val_``).
CURVE_KEYS = (
    "total", "class_bits", "info_bits", "izy_bits", "acc", "perplexity", "dead_anchors",
    "att_mean", "att_std", "att_outside",
)
#: Numbers averaged over seeds in each sweep's ``summary``.
SUMMARY_KEYS = (
    "test_error", "best_val_acc", "test_info_bits", "test_izy_bits", "test_class_bits",
    "test_perplexity", "test_dead_anchors", "test_att_mean", "test_att_std", "test_att_outside",
    "map_bits_per_image", "map_bits_pooled", "wall_time_s",
)
SETTING_KEYS = ("model", "dataset", "profile", "seed", "beta", "latent_dim", "num_anchors")


@dataclass(frozen=True)
class Grid:
    """One sweep: a model, the config field that varies and its values (x every seed).

    ``cross`` holds extra points (config overrides) trained for the first seed only. ``default``
    is the value of ``axis`` that the model takes when the field is unset: that grid value is
    passed unset, so its run has the same configuration hash as a chapter's plain
    ``fit(model=...)`` and is shared with it.
    """

    name: str
    model: str
    axis: str
    values: tuple[Any, ...]
    description: str
    fixed: dict[str, Any] = field(default_factory=dict)
    cross: tuple[dict[str, Any], ...] = ()
    default: Any = None

    @property
    def stem(self) -> str:
        return f"{self.name}_sweep"

    def points(self, seeds: Sequence[int]) -> list[dict[str, Any]]:
        """The grid as config overrides: every value for every seed, then the cross points."""
        seeds = check_seeds(seeds)
        out = [
            {"model": self.model, **self.fixed, self.axis: value, "seed": seed, "role": "grid"}
            for value in self.values
            for seed in seeds
        ]
        out += [{"model": self.model, **self.fixed, **extra, "seed": seeds[0], "role": "cross"}
                for extra in self.cross]
        return out

    def overrides(self, point: dict[str, Any]) -> dict[str, Any]:
        """The ``fit`` keyword arguments of a point (the axis left unset at its default value)."""
        out = {k: v for k, v in point.items() if k != "role"}
        if self.default is not None and out.get(self.axis) == self.default:
            del out[self.axis]
        return out


GRIDS: dict[str, Grid] = {
    "beta": Grid(
        "beta", "vgg_aib", "beta", (1e-4, 1e-3, 1e-2, 1e-1, 1.0),
        "VGG-aib on Fashion-MNIST for five values of β (paper Fig. 4(a)); everything else official",
    ),
    "latent": Grid(
        "latent", "vgg_aib", "latent_dim", (64, 256, 1024),
        "VGG-aib on Fashion-MNIST for three latent dimensions K at the official β (paper Fig. 4(b))",
        default=256,
    ),
    "k": Grid(
        "k", "vgg_aib_qt", "num_anchors", (2, 5, 10, 20, 50),
        "VGG-aib-qt on Fashion-MNIST for five numbers of anchors N_q at the official β (paper "
        "Fig. 4(c)); plus β in {1e-4, 1e-3, 1e-1, 1} at N_q = 20 for the first seed",
        cross=tuple({"num_anchors": 20, "beta": b} for b in (1e-4, 1e-3, 1e-1, 1.0)),
        default=20,
    ),
}


# ---------------------------------------------------------------------------------------------
# Checks


def check_seeds(seeds: Iterable[int]) -> list[int]:
    """Seeds as a list of distinct integers >= 0 (a clear error otherwise)."""
    out = list(seeds)
    if not out:
        raise ValueError("seeds: give at least one seed, e.g. --seeds 0 1 2")
    bad = [s for s in out if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        raise ValueError(f"seeds: need integers >= 0, got {bad}")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds: repeated seeds in {out}; give each seed once")
    return out


def select_grids(only: Sequence[str] | None) -> list[Grid]:
    """The grids named in ``only`` (all when ``None``), in the order of :data:`GRIDS`."""
    if not only:
        return list(GRIDS.values())
    unknown = sorted(set(only) - set(GRIDS))
    if unknown:
        raise ValueError(f"--only: unknown sweep(s) {unknown}; choose from {', '.join(GRIDS)}")
    return [g for name, g in GRIDS.items() if name in only]


# ---------------------------------------------------------------------------------------------
# From a run record to the stored numbers


def summarize_run(
    record: runs.RunRecord, num_maps: int = NUM_MAPS
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The numbers one grid point stores, and its first ``num_maps`` maps (float16 arrays).

    Raises a clear error when the run did not finish (no ``final.json``).
    """
    if not record.finished:
        raise ValueError(f"run {record.path} has not finished (no final.json); re-run the sweep to finish it")
    cfg, final = record.config, record.final or {}
    point: dict[str, Any] = {key: json_safe(cfg.get(key)) for key in SETTING_KEYS}
    point["run"] = record.name
    point["model_options"] = cfg.get("model_options", {})
    point["final"] = {key: json_safe(final.get(key)) for key in FINAL_KEYS}
    curves: dict[str, list[Any]] = {"epoch": [m.get("epoch") for m in record.metrics]}
    for split in ("train", "val"):
        for key in CURVE_KEYS:
            curves[f"{split}_{key}"] = [json_safe(m.get(f"{split}_{key}")) for m in record.metrics]
    if any("anchors" in m for m in record.metrics):
        curves["anchors"] = [m.get("anchors") for m in record.metrics]
    point["curves"] = curves
    prov = record.provenance or {}
    point["provenance"] = {k: prov.get(k) for k in ("commit", "device", "created", "wall_time_s")}

    samples = record.attention_samples()
    maps: dict[str, np.ndarray] = {}
    bits = {"map_bits_per_image": None, "map_bits_pooled": None, "map_bits_cap": None, "anchors_used": None}
    if "attention" in samples:
        if final.get("anchors"):
            q = quantized_map_bits(samples["attention"], final["anchors"])
            bits = {
                "map_bits_per_image": q["per_image"],
                "map_bits_pooled": q["pooled"],
                "map_bits_cap": q["cap"],
                "anchors_used": q["used"],
            }
        n = min(num_maps, len(samples["attention"]))
        maps["attention"] = samples["attention"][:n, 0].astype(np.float16)
        maps["attention_mean"] = samples["attention_mean"][:n, 0].astype(np.float16)
    if "images" in samples:
        n = min(num_maps, len(samples["images"]))
        maps["images"] = samples["images"][:n]
        maps["labels"] = samples["labels"][:n]
        maps["predictions"] = samples["predictions"][:n]
    point["map_stats"] = {**bits, "num_images": len(samples.get("attention", []))}
    return point, maps


def summarize_values(points: Sequence[dict[str, Any]], axis: str) -> list[dict[str, Any]]:
    """Mean and sample standard deviation over seeds of :data:`SUMMARY_KEYS`, per grid value
    (:func:`aibnb.reproduce.stats.summarize`)."""
    values: list[Any] = []
    for p in points:
        if p.get("role") == "grid" and p[axis] not in values:
            values.append(p[axis])
    rows = []
    for value in values:
        group = [p for p in points if p.get("role") == "grid" and p[axis] == value]
        row: dict[str, Any] = {axis: value, "seeds": [p["seed"] for p in group]}
        for key in SUMMARY_KEYS:
            source = "map_stats" if key.startswith("map_") else "final"
            xs = [float(x) for x in (p[source].get(key) for p in group) if x is not None]
            s = summarize(xs) if xs else None
            row[f"{key}_mean"] = s.mean if s else None
            row[f"{key}_std"] = s.std if s and s.n > 1 else None
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Running a sweep


def fit_point(overrides: dict[str, Any], profile: str) -> runs.RunRecord:
    """Train (or load from the cache) one grid point, given its ``fit`` overrides."""
    from aibnb.train import fit

    return fit(dataset="fashion_mnist", profile=profile, quiet=True, **overrides)


def is_cached(overrides: dict[str, Any], profile: str) -> bool:
    """Whether the point's run has finished in the run cache (no training needed)."""
    from dataclasses import replace

    from aibnb.train import TrainConfig, resolve, run_dir_for, select_device

    cfg = resolve(TrainConfig(dataset="fashion_mnist", profile=profile, quiet=True, **overrides))
    device = select_device(cfg.device)
    cfg = replace(
        cfg,
        amp=cfg.amp if cfg.amp is not None else device.type == "cuda",
        channels_last=cfg.channels_last if cfg.channels_last is not None else device.type != "mps",
    )
    return (run_dir_for(cfg) / "final.json").exists()


def run_grid(grid: Grid, profile: str, seeds: Sequence[int], out_dir: Path) -> Path:
    """Fit every point of ``grid`` (cached runs are reused) and write its two files."""
    from aibnb.train import select_device

    points, arrays, first_seed = [], {}, check_seeds(seeds)[0]
    seen: set[str] = set()
    here = device_description(select_device("auto"))
    start = time.perf_counter()
    for spec in grid.points(seeds):
        t0 = time.perf_counter()
        record = fit_point(grid.overrides(spec), profile)
        if record.name in seen:  # a cross point that resolves to a grid point
            continue
        seen.add(record.name)
        point, maps = summarize_run(record)
        point["index"], point["role"] = len(points), spec["role"]
        for key, value in spec.items():  # the grid's values: an axis left unset is not None
            if key in SETTING_KEYS and value is not None:
                point[key] = value
        if "images" in maps and "images" not in arrays:
            arrays["images"], arrays["labels"] = maps["images"], maps["labels"]
        if point["seed"] == first_seed:
            for key in ("attention", "attention_mean", "predictions"):
                if key in maps:
                    arrays[f"p{point['index']}_{key}"] = maps[key]
        points.append(point)
        if point["provenance"]["device"] != here:  # e.g. a cached run trained with another thread count
            print(f"  note: {record.name} was trained on {point['provenance']['device']!r}, not {here!r}; "
                  "CPU results depend on the thread count, so it is not bit-reproducible here", flush=True)
        f = point["final"]
        print(
            f"  [{grid.name}] {grid.axis}={point[grid.axis]} seed={point['seed']} ({spec['role']}): "
            f"test error {f['test_error']:.2f} %, KL {f['test_info_bits'] or float('nan'):.3f} bits "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    devices = sorted({p["provenance"]["device"] for p in points if p["provenance"]["device"]})
    run_seconds = sum(p["final"]["wall_time_s"] or 0.0 for p in points)
    stamp = provenance(
        profile=profile,
        seed=first_seed if len(seeds) == 1 else None,
        device=select_device("auto"),
        wall_time_s=run_seconds,
        extra={
            "seeds": list(seeds),
            "device": devices[0] if len(devices) == 1 else devices,
            "sweep_script_s": time.perf_counter() - start,
            "wall_time_note": "wall_time_s sums the training runs' own wall times (cached runs included)",
        },
    )
    data = {
        "sweep": grid.name,
        "description": grid.description,
        "model": grid.model,
        "dataset": "fashion_mnist",
        "profile": profile,
        "axis": grid.axis,
        "values": list(grid.values),
        "seeds": list(seeds),
        "num_maps": NUM_MAPS,
        "points": points,
        "summary": summarize_values(points, grid.axis),
    }
    changed = runs.save_result_with_arrays(out_dir / f"{grid.stem}.json", data, arrays, stamp=stamp)
    path = out_dir / f"{grid.stem}.json"
    print(f"{path}: {'written' if changed else 'unchanged'} ({len(points)} points)", flush=True)
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tools/experiments/sweep.py", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog="See the module doc for the grids.",
    )
    parser.add_argument("--profile", default="ci", choices=tuple(PROFILES), help="default: ci")
    parser.add_argument("--only", nargs="+", metavar="SWEEP", help=f"some of: {', '.join(GRIDS)}")
    parser.add_argument("--seeds", nargs="+", type=int, help="default: 0 1 2 at ci, 0 at full")
    parser.add_argument("--out", type=Path, help="output folder (default: book/results/<profile>)")
    parser.add_argument("--dry-run", action="store_true", help="list the points and whether each is cached")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        grids = select_grids(args.only)
        seeds = check_seeds(args.seeds if args.seeds else DEFAULT_SEEDS.get(args.profile, (0,)))
    except ValueError as err:
        print(f"tools/experiments/sweep.py: error: {err}", file=sys.stderr)
        return 2
    out_dir = args.out if args.out is not None else runs.results_dir(args.profile)
    for grid in grids:
        if args.dry_run:
            for spec in grid.points(seeds):
                state = "cached" if is_cached(grid.overrides(spec), args.profile) else "to train"
                shown = {k: v for k, v in spec.items() if k not in ("model", "role")}
                print(f"{grid.name}: {grid.model} {shown} ({spec['role']}): {state}")
            continue
        print(f"sweep {grid.name!r}: {grid.description}", flush=True)
        run_grid(grid, args.profile, seeds, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
