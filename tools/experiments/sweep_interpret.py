#!/usr/bin/env python3
"""Recompute the stored results of chapter 5: the β/K failure-gallery sweep, and Table 2 at a profile.

``gallery`` (the default part) trains VGG-aib at several β and VGG-aib-qt at several K on
``cluttered_fashion`` (through ``aibnb.train.fit``, so runs are cached under ``$AIBNB_RUNS`` and
shared with the chapter, which trains the reference point β = 0.01 itself), scores each model's
attention against the object masks of the first ``--num-images`` test scenes, picks the failure
gallery at the reference point (VGG-aib, β = 0.01: confident predictions whose map misses the
object) and stores, for every setting, the summary metrics and the maps of the gallery images,
with a provenance stamp, in the book's one format for stored maps
(:func:`aibnb.runs.save_result_with_arrays`)::

    book/results/<profile>/interpret_sweep_cluttered_fashion.json   # the numbers; setting i has "index": i
    book/results/<profile>/interpret_sweep_cluttered_fashion.npz    # s<i>_gallery_maps: float16, N x 16 x 16

``table2`` trains (or loads from the cache) the Fashion-MNIST attention models of the chapter at
the profile, for three seeds, and scores them under the ten modifications of Table 2 with the
official evaluation (every test image of the profile, 4 x 4 samples), writing

    book/results/<profile>/table2_fashion_mnist.json

in the format of :mod:`aibnb.interpret.evaluation` (meant for ``--profile full`` on a GPU: the
chapter draws that file when it exists).

``collect`` builds the same file from the ``scores.json`` that ``tools/experiments/run_queue.py run`` computes
beside each full-profile run on the GPU machine (``aibnb.interpret.score_record``), once
``tools/experiments/run_queue.py`` has stored them into ``book/results/<profile>/runs/``.

Usage::

    python tools/experiments/sweep_interpret.py --profile ci   # gallery: about 9 runs x 20 s, one thread each
    python tools/experiments/sweep_interpret.py table2 --profile full   # a GPU: 18 full trainings
    python tools/experiments/sweep_interpret.py collect --profile full  # from exported runs with scores.json

The chapter (``book/05_interpretability.ipynb``) reads the files; the gallery gets one panel per setting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root (tools/experiments/..)

import numpy as np
import torch

from aibnb import interpret, runs, storage
from aibnb.provenance import provenance
from aibnb.train import fit, load_model, profiles

DATASET = "cluttered_fashion"
SEED = 0
BETAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
ANCHORS = (2, 5, 20, 50)
REFERENCE = {"model": "vgg_aib", "beta": 1e-2}
GALLERY_SIZE = 8
CONFIDENCE_QUANTILE = 0.75  # "confident": at least the 75th percentile of the reference's confidence
FILENAME = f"interpret_sweep_{DATASET}.json"


def settings() -> list[dict[str, Any]]:
    """The sweep: β for VGG-aib (K does not apply), then K for VGG-aib-qt at the default β."""
    out = [{"group": "beta", "model": "vgg_aib", "beta": b, "num_anchors": None, "label": f"β={b:g}"}
           for b in BETAS]
    # K = 20 is the model's default for 10 classes: leave it unset so the run is the chapter's own
    out += [{"group": "anchors", "model": "vgg_aib_qt", "beta": 1e-2, "num_anchors": None if k == 20 else k,
             "label": f"K={k}"} for k in ANCHORS]
    return out


def evaluate(record: runs.RunRecord, data: interpret.EvalData, attention: str) -> dict[str, Any]:
    """Localisation of one run's maps on ``data`` (raw and min-subtracted mass) and its decisions."""
    model = load_model(record)
    exp = interpret.explain(model, data.images, mean=data.mean, std=data.std, attention=attention, seed=SEED)
    return {"exp": exp, **interpret.raw_and_structure(exp.maps, data.masks, mode=exp.upsample_mode)}


def gallery_key(index: int) -> str:
    """The name of setting ``index``'s gallery maps in the ``.npz`` beside the JSON."""
    return f"s{index}_gallery_maps"


def rounded(array: np.ndarray, digits: int = 3) -> list:
    return np.round(np.asarray(array, dtype=np.float64), digits).tolist()


TABLE2_MODELS = ("vgg_att3", "vgg_aib", "vgg_aib_qt", "wrn_abn", "wrn_aib", "wrn_aib_qt")
TABLE2_SEEDS = (0, 1, 2)


def table2(args: argparse.Namespace) -> int:
    """Score the Fashion-MNIST attention models under the Table 2 conditions and store the rows."""
    start = time.perf_counter()
    data = interpret.load_eval_data("fashion_mnist", args.num_images, profile=args.profile)
    source = interpret.patch_source("cluttered_digits")
    conditions = interpret.table2_conditions()
    taus = interpret.DEFAULT_TAUS
    rows, devices = [], set()
    for model_name in TABLE2_MODELS:
        attention = "quantised" if model_name.endswith("_qt") else "mean"
        for seed in TABLE2_SEEDS:
            record = fit(model=model_name, dataset="fashion_mnist", profile=args.profile, seed=seed,
                         quiet=True, num_threads=args.threads)
            devices.add((record.provenance or {}).get("device"))
            model = load_model(record, "best", device="cuda" if torch.cuda.is_available() else "cpu")
            rows += interpret.table2_rows(model, data, conditions, taus=taus, attention=attention,
                                          normalize=("none", "minmax"), source=source, seed=0,
                                          labels={"model": model_name, "seed": seed})
            print(f"{model_name} seed {seed}: scored ({time.perf_counter() - start:.0f} s)", flush=True)
    out = args.out or runs.results_dir(args.profile) / "table2_fashion_mnist.json"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    stamp = provenance(profile=args.profile, seed=None, device=device,
                       wall_time_s=time.perf_counter() - start,
                       extra={"script": "tools/experiments/sweep_interpret.py table2",
                              "seeds": list(TABLE2_SEEDS),
                              "training_devices": sorted(d for d in devices if d)})
    interpret.save_table2(out, rows, dataset="fashion_mnist", profile=args.profile, conditions=conditions,
                          taus=taus, stamp=stamp)
    print(f"wrote {out}")
    return 0


def collect(args: argparse.Namespace) -> int:
    """Assemble ``table2_<dataset>.json`` from the ``scores.json`` files of exported runs."""
    root = runs.results_dir(args.profile) / "runs"
    files = sorted(root.glob("*/scores.json"))
    if not files:
        print(
            f"no scores.json under {root}; store full-profile runs first "
            "(tools/experiments/run_queue.py export --profile full ARCHIVE)"
        )
        return 1
    scores = [storage.read_json(f) for f in files]
    written = 0
    for dataset in sorted({s["dataset"] for s in scores if s.get("table2")}):
        table = interpret.table2_from_scores(scores, dataset)
        used = [s for s in scores if s.get("dataset") == dataset and s.get("table2")]
        stamp = provenance(
            profile=args.profile, seed=None, device="cpu", wall_time_s=None,
            extra={"script": "tools/experiments/sweep_interpret.py collect",
                   "runs": [s.get("run") for s in used],
                   "note": "scores computed where the checkpoints were (aibnb.interpret.score_record)"},
        )
        out = runs.results_dir(args.profile) / f"table2_{dataset}.json"
        conditions = [interpret.Condition(**{k: v for k, v in c.items() if k != "name"})
                      for c in table["conditions"]]
        interpret.save_table2(out, table["rows"], dataset=dataset, profile=args.profile,
                              conditions=conditions, taus=table["taus"], stamp=stamp)
        print(f"wrote {out} ({len(used)} runs)")
        written += 1
    return 0 if written else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="gallery", choices=("gallery", "table2", "collect"),
                        help="what to compute (default: gallery)")
    parser.add_argument("--profile", default="ci", choices=sorted(profiles.PROFILES))
    parser.add_argument("--num-images", type=int, default=None,
                        help="images scored per model (default: 500 scenes for gallery, all for table2)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: the profile's, else torch's)")
    parser.add_argument("--out", type=Path, default=None, help="output file (default: book/results/...)")
    args = parser.parse_args(argv)
    if args.threads is None:  # the profile's thread count, as its training runs use
        args.threads = profiles.profile(args.profile).num_threads
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.part == "table2":
        return table2(args)
    if args.part == "collect":
        return collect(args)
    if args.num_images is None:
        args.num_images = 500
    start = time.perf_counter()
    data = interpret.load_eval_data(DATASET, args.num_images, profile=args.profile)
    results = []
    for s in settings():
        t0 = time.perf_counter()
        record = fit(model=s["model"], dataset=DATASET, profile=args.profile, seed=SEED, beta=s["beta"],
                     num_anchors=s["num_anchors"], quiet=True, num_threads=args.threads)
        attention = "quantised" if s["model"].endswith("_qt") else "mean"
        ev = evaluate(record, data, attention)
        results.append((s, record, attention, ev))
        pointing = ev["raw"].summary()["pointing"]
        print(f"{s['label']:>10s} {s['model']:11s} test error {record.final['test_error']:.2f}% "
              f"pointing {pointing:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)

    reference = next(ev for s, _, _, ev in results
                     if s["model"] == REFERENCE["model"] and s["beta"] == REFERENCE["beta"])
    conf = reference["exp"].confidence.numpy()
    threshold = float(np.quantile(conf, CONFIDENCE_QUANTILE))
    ranked = interpret.confident_failures(conf, reference["structure"].pointing, reference["structure"].mass,
                                          reference["structure"].area, min_confidence=threshold)
    labels = data.labels.numpy()
    # several classes, most confident first
    gallery = interpret.round_robin(ranked, labels, limit=GALLERY_SIZE)
    stored, arrays = [], {}
    for index, (s, record, attention, ev) in enumerate(results):
        exp, raw, structure = ev["exp"], ev["raw"], ev["structure"]
        c = exp.confidence.numpy()
        failures = interpret.confident_failures(c, structure.pointing, structure.mass, structure.area,
                                                min_confidence=float(np.quantile(c, CONFIDENCE_QUANTILE)))
        summary_raw, summary_structure = raw.summary(), structure.summary()
        arrays[gallery_key(index)] = exp.maps[gallery, 0].numpy().astype(np.float16)
        stored.append({
            "index": index,
            **s,
            "attention": attention,
            "run": record.name,
            "test_error": record.final["test_error"],
            "eval_accuracy": float((exp.predictions.numpy() == labels).mean()),
            "pointing": summary_raw["pointing"], "pointing_ci": summary_raw["pointing_ci"],
            "mass": summary_raw["mass"], "mass_ci": summary_raw["mass_ci"],
            "mass_structure": summary_structure["mass"], "mass_structure_ci": summary_structure["mass_ci"],
            "iou": summary_raw["iou"], "iou_ci": summary_raw["iou_ci"],
            "area": summary_raw["area"],
            "num_confident_failures": len(failures),
            "num_confident": int((c >= float(np.quantile(c, CONFIDENCE_QUANTILE))).sum()),
            "map_min": float(exp.maps.min()), "map_max": float(exp.maps.max()),
            "anchors": record.final.get("anchors"),
            "gallery_prediction": exp.predictions[gallery].tolist(),
            "gallery_confidence": rounded(c[gallery]),
            "gallery_pointing": rounded(raw.pointing[gallery]),
            "gallery_mass_structure": rounded(structure.mass[gallery]),
        })
    out = args.out or runs.results_dir(args.profile) / FILENAME
    wall = time.perf_counter() - start
    stamp = provenance(profile=args.profile, seed=SEED, device="cpu", wall_time_s=wall,
                       extra={"script": "tools/experiments/sweep_interpret.py"})
    changed = runs.save_result_with_arrays(out, {
        "dataset": DATASET,
        "profile": args.profile,
        "seed": SEED,
        "num_images": len(data),
        "reference": REFERENCE,
        "gallery": gallery.tolist(),
        "gallery_labels": labels[gallery].tolist(),
        "gallery_rule": (
            f"reference model's confidence >= its {CONFIDENCE_QUANTILE:.0%} quantile ({threshold:.3f}), "
            "pointing miss and min-subtracted relevance mass below the mask's area fraction; "
            f"most confident first, cycling over the object classes, at most {GALLERY_SIZE}"
        ),
        "confidence_quantile": CONFIDENCE_QUANTILE,
        "settings": stored,
    }, arrays, stamp=stamp)
    print(f"{out}: {'written' if changed else 'unchanged'} ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
