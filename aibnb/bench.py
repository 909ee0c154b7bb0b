"""Benchmarks that print figures: ``python -m aibnb bench {models,train,paper} [options]``.

Speed targets are measured here, in one run, as ratios of times taken side by side on the same
device, never by timed tests (which flake).

* ``models`` — training-step images/s of every model at a given width and batch, and the step time of
  ``vgg_aib`` and ``vgg_aib_qt`` relative to ``vgg`` (target: the AIB head costs at most 10 %).
* ``train`` — the device-resident loader against torchvision's per-sample ``DataLoader`` path, and the
  training step with and without the engine's overheads (metric accumulation, schedule, progress
  bar; target: under 5 % of the step time).
* ``paper`` — ``vgg_aib`` (and ``vgg_aib_qt``) training throughput with this project's engine
  (device-resident data, bf16 autocast and channels-last on CUDA) against a reference-style pipeline
  (fp32, per-sample PIL ``DataLoader`` with workers) on the same device, the achieved TFLOP/s, and
  inference ms per image at batch 1 and 256 with 4 x 4 samples (the paper's Table 4). On CPU it runs
  at a small width; on a GPU at width 1.

``--json PATH`` also writes the figures with a provenance stamp (chapter 4 draws stored GPU results).

The two timers live in :mod:`aibnb.timing` (chapter 4 also calls them for its live cost table).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import torch
from tqdm.auto import tqdm

from aibnb import data, runs
from aibnb.models import available, build_model, count_macs, spec
from aibnb.provenance import device_description, provenance
from aibnb.timing import inference_ms_per_image, time_it
from aibnb.train.build import make_optimizer
from aibnb.train.config import TrainConfig, resolve
from aibnb.train.loop import train_one_epoch
from aibnb.train.machine import autocast, select_device
from aibnb.vib import aib_loss

# GPU peak dense bf16 throughput (TFLOP/s, no sparsity), from the vendors' data sheets
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "RTX 4090": 165.0}


def _model(name: str, width: float, num_classes: int = 10, in_channels: int = 3, **options: Any):
    fam = spec(name).family
    if fam == "wrn" and width < 1.0:
        options.setdefault("depth", 10)
    return build_model(name, num_classes, width=width, in_channels=in_channels, **options)


def train_step_fn(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, amp: bool
) -> Callable[[], None]:
    """One forward + backward + SGD step on a fixed batch (no data loading)."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model.train()
    return lambda: _sgd_step(model, opt, x, y, amp=amp)


def _sgd_step(
    model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, *, amp: bool
) -> None:
    """Forward (autocast when ``amp``), the AIB loss at the official β, backward, one optimiser step."""
    with autocast(x.device, amp):
        out = model(x)
    loss = aib_loss(out, y, 0.01).total
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


# ---------------------------------------------------------------------------------------------
# models


def bench_models(args: argparse.Namespace) -> dict[str, Any]:
    device = select_device(args.device)
    amp = device.type == "cuda"
    names = args.models or [n for n in available() if spec(n).family != "cub"]
    rows = []
    x = torch.randn(args.batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)
    cl = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    x = x.contiguous(memory_format=cl)
    for name in names:
        torch.manual_seed(0)
        model = _model(name, args.width).to(device, memory_format=cl)
        seconds = time_it(
            train_step_fn(model, x, y, amp=amp), device, warmup=args.warmup, repeats=args.repeats
        )
        rows.append({"model": name, "step_s": seconds, "images_per_s": args.batch / seconds})
        print(f"{name:12s} {args.batch / seconds:10.1f} img/s  ({seconds * 1e3:8.1f} ms/step)", flush=True)
    by_name = {r["model"]: r for r in rows}
    ratios = {}
    if "vgg" in by_name:
        for name in ("vgg_aib", "vgg_aib_qt"):
            if name in by_name:
                ratios[name] = by_name[name]["step_s"] / by_name["vgg"]["step_s"]
                verdict = "within" if ratios[name] <= 1.10 else "over"
                print(f"step time {name} / vgg = {ratios[name]:.3f} ({verdict} the 1.10 target)")
    return {
        "suite": "models",
        "width": args.width,
        "batch": args.batch,
        "device": device_description(device),
        "rows": rows,
        "ratios_to_vgg": ratios,
    }


# ---------------------------------------------------------------------------------------------
# train


def bench_train(args: argparse.Namespace) -> dict[str, Any]:
    device = select_device(args.device)
    tensors = data.load_tensors(args.dataset, "train")
    n = min(args.images, len(tensors))
    tensors = tensors.subset(n, seed=0)

    # 1. loaders: the same images, the same augmentation, two pipelines
    device_loader = data.DeviceLoader(tensors, args.batch, device=device, train=True, seed=0)

    def run_device() -> None:
        for x, _ in device_loader:
            x.sum()  # touch the batch

    per_sample = data.load(args.dataset, "train")
    per_sample = torch.utils.data.Subset(per_sample, list(range(n)))
    dl = torch.utils.data.DataLoader(
        per_sample,
        batch_size=args.batch,
        shuffle=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
    )

    def run_dataloader() -> None:
        for x, _ in dl:
            x.to(device, non_blocking=True).sum()

    t_dev = time_it(run_device, device, warmup=1, repeats=args.repeats)
    t_dl = time_it(run_dataloader, device, warmup=1, repeats=args.repeats)
    print(f"device-resident loader: {n / t_dev:12.0f} img/s")
    print(f"per-sample DataLoader ({args.workers} workers): {n / t_dl:12.0f} img/s")
    print(f"loader speed-up: {t_dl / t_dev:.1f}x")

    # 2. the training step, bare and inside the engine's epoch loop (same batches, same model)
    cfg = resolve(
        TrainConfig(
            model=args.model,
            dataset=args.dataset,
            width=args.width,
            epochs=1,
            batch_size=args.batch,
            quiet=True,
        )
    )
    in_channels = tensors.images.shape[1]
    amp = device.type == "cuda"

    def fresh():
        torch.manual_seed(0)
        return _model(args.model, args.width, tensors.num_classes, in_channels, **cfg.model_options).to(
            device
        )

    batches = list(data.DeviceLoader(tensors, args.batch, device=device, train=True, seed=0, drop_last=True))

    def bare_epoch(model, opt) -> None:
        model.train()
        for x, y in batches:
            with autocast(device, amp):
                out = model(x)
            loss = aib_loss(out, y, cfg.beta, info_factor=cfg.info_factor or 1.0).total
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    class Batches:
        def __len__(self):
            return len(batches)

        def __iter__(self):
            return iter(batches)

    def engine_epoch(model, opt) -> None:
        bar = tqdm(total=len(batches), leave=False, mininterval=0.5, file=sys.stderr)
        train_one_epoch(model, Batches(), opt, cfg, 0, device, amp=amp, progress=bar)
        bar.close()

    results = {}
    for label, fn in (("bare", bare_epoch), ("engine", engine_epoch), ("bare_again", bare_epoch)):
        model = fresh()
        opt = make_optimizer(model, cfg)
        results[label] = time_it(
            lambda fn=fn, model=model, opt=opt: fn(model, opt), device, warmup=1, repeats=args.repeats
        )
    bare = min(results["bare"], results["bare_again"])
    images = len(batches) * args.batch
    overhead = results["engine"] / bare - 1.0
    print(f"training step, bare loop:   {images / bare:10.1f} img/s")
    print(f"training step, engine loop: {images / results['engine']:10.1f} img/s")
    verdict = "within" if overhead < 0.05 else "over"
    print(f"engine overhead: {100 * overhead:+.1f} % of the step time ({verdict} the 5 % target)")
    return {
        "suite": "train",
        "device": device_description(device),
        "images": n,
        "batch": args.batch,
        "device_loader_images_per_s": n / t_dev,
        "dataloader_images_per_s": n / t_dl,
        "dataloader_workers": args.workers,
        "bare_images_per_s": images / bare,
        "engine_images_per_s": images / results["engine"],
        "engine_overhead": overhead,
    }


# ---------------------------------------------------------------------------------------------
# paper


def _peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in name:
            return value
    return None


def bench_paper(args: argparse.Namespace) -> dict[str, Any]:
    device = select_device(args.device)
    cuda = device.type == "cuda"
    width = args.width if args.width is not None else (1.0 if cuda else 0.125)
    tensors = data.load_tensors(args.dataset, "train")
    n = min(args.images, len(tensors))
    tensors = tensors.subset(n, seed=0)
    out: dict[str, Any] = {
        "suite": "paper",
        "device": device_description(device),
        "width": width,
        "batch": args.batch,
        "images": n,
        "dataset": args.dataset,
        "models": {},
    }
    for name in args.models or ["vgg_aib", "vgg_aib_qt"]:
        row = _paper_one(name, args, device, tensors, width)
        out["models"][name] = row
        cuda = device.type == "cuda"
        print(f"{name} at width {width} on {out['device']}:")
        kind = "bf16 + channels-last" if cuda else "fp32"
        print(f"  engine (device-resident, {kind}): {row['engine_images_per_s']:10.1f} img/s")
        print(
            f"  reference-style (fp32, per-sample DataLoader, {args.workers} workers): "
            f"{row['reference_images_per_s']:10.1f} img/s"
        )
        peak = row["fraction_of_bf16_peak"]
        print(
            f"  speed-up: {row['speedup']:.2f}x;  achieved {row['achieved_tflops']:.2f} TFLOP/s"
            + (f" = {100 * peak:.1f} % of the bf16 peak" if peak else "")
        )
        print(f"  a 50,000-image epoch: {row['epoch_50k_s']:.1f} s")
        infer = row["inference_ms_per_image"]
        print(
            f"  inference with 4 x 4 samples: {infer['batch_1']:.2f} ms/image at batch 1, "
            f"{infer['batch_256']:.3f} ms/image at batch 256"
        )
    return out


def _epoch(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    batches: Any,
    device: torch.device,
    *,
    amp: bool,
    to_device: bool = False,
) -> None:
    """One training pass over ``batches`` (moved to ``device`` first when ``to_device``)."""
    model.train()
    for x, y in batches:
        if to_device:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        _sgd_step(model, opt, x, y, amp=amp)


def _paper_one(
    name: str, args: argparse.Namespace, device: torch.device, tensors: Any, width: float
) -> dict[str, Any]:
    cuda = device.type == "cuda"
    n, in_channels = len(tensors), tensors.images.shape[1]
    macs = count_macs(
        _model(name, width, tensors.num_classes, in_channels).to(device), (1, in_channels, 32, 32)
    )
    fmt = torch.channels_last if cuda else torch.contiguous_format
    torch.manual_seed(0)
    model = _model(name, width, tensors.num_classes, in_channels).to(device, memory_format=fmt)
    if args.compile:
        model = torch.compile(model)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loader = data.DeviceLoader(
        tensors, args.batch, device=device, train=True, seed=0, drop_last=True, channels_last=cuda
    )
    images = len(loader) * args.batch
    t_engine = time_it(
        lambda: _epoch(model, opt, loader, device, amp=cuda), device, warmup=1, repeats=args.repeats
    )

    torch.manual_seed(0)
    ref_model = _model(name, width, tensors.num_classes, in_channels).to(device)
    ref_opt = torch.optim.SGD(ref_model.parameters(), lr=1e-3, momentum=0.9)
    per_sample = torch.utils.data.Subset(data.load(args.dataset, "train"), list(range(n)))
    dl = torch.utils.data.DataLoader(
        per_sample,
        batch_size=args.batch,
        shuffle=True,
        drop_last=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
        pin_memory=cuda,
    )
    t_ref = time_it(
        lambda: _epoch(ref_model, ref_opt, dl, device, amp=False, to_device=True),
        device,
        warmup=1,
        repeats=args.repeats,
    )
    engine_ips, ref_ips = images / t_engine, images / t_ref
    tflops = engine_ips * macs * 2 * 3 / 1e12  # forward + backward ~ 3 forwards, 2 FLOPs per MAC
    peak = _peak_tflops(device)
    infer = {
        f"batch_{b}": inference_ms_per_image(
            model, b, in_channels=in_channels, warmup=3, repeats=args.repeats * 3, device=device,
            memory_format=fmt,
        )
        for b in (1, 256)
    }
    return {
        "macs_per_image": macs,
        "engine_images_per_s": engine_ips,
        "reference_images_per_s": ref_ips,
        "speedup": engine_ips / ref_ips,
        "achieved_tflops": tflops,
        "fraction_of_bf16_peak": (tflops / peak) if peak else None,
        "epoch_50k_s": 50_000 / engine_ips,
        "inference_ms_per_image": infer,
    }


# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` suites (models, train, paper) and their options to ``parser``."""
    sub = parser.add_subparsers(dest="suite", required=True, metavar="SUITE")
    m = sub.add_parser("models", help="training-step images/s per model, AIB overhead over vgg")
    m.add_argument("--width", type=float, default=0.25)
    m.add_argument("--batch", type=int, default=128)
    m.add_argument("--models", nargs="*", default=None)
    m.add_argument("--warmup", type=int, default=2)
    m.add_argument("--repeats", type=int, default=5)
    t = sub.add_parser("train", help="loader and engine-overhead figures")
    t.add_argument("--dataset", default="fashion_mnist")
    t.add_argument("--model", default="vgg_aib_qt")
    t.add_argument("--width", type=float, default=0.0625)
    t.add_argument("--images", type=int, default=4096)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--workers", type=int, default=2)
    t.add_argument("--repeats", type=int, default=3)
    p = sub.add_parser("paper", help="engine vs reference-style pipeline, TFLOP/s, inference ms (Table 4)")
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--models", nargs="*", default=None)
    p.add_argument("--width", type=float, default=None, help="default: 1 on a GPU, 0.125 on CPU")
    p.add_argument("--images", type=int, default=10_240)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--compile", action="store_true")
    for s in (m, t, p):
        s.add_argument("--device", default="auto")
        s.add_argument("--json", default=None, help="also write the figures (with provenance) to this file")


def run(args: argparse.Namespace) -> int:
    """Run the suite, print its figures and, with ``--json``, write them with a provenance stamp."""
    suites = {"models": bench_models, "train": bench_train, "paper": bench_paper}
    result = suites[args.suite](args)
    if args.json:
        stamp = provenance(profile="bench", seed=0, device=select_device(args.device))
        runs.save_result(args.json, result, stamp=stamp)
        print(f"wrote {args.json}")
    return 0
