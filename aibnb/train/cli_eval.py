"""``python -m aibnb eval RUN_DIR``: re-evaluate a run's best (or last) weights on its test split.

The evaluation's samples are drawn from a generator seeded by the run's seed, so evaluating a run
twice gives the same numbers (on the same machine and thread count).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

import torch

from aibnb import data, models, runs
from aibnb.train.build import SUBSET_SEED
from aibnb.train.checkpoint import load_model
from aibnb.train.config import TrainConfig
from aibnb.train.loop import evaluate
from aibnb.train.machine import epoch_seed, fixed_threads, select_device

#: the "epoch" of :func:`aibnb.train.machine.epoch_seed` that seeds ``eval`` (the attention maps
#: of a finished run use 10,000)
EVAL_SEED_EPOCH = 20_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run folder (with config.json and best.pt)")
    parser.add_argument("--which", choices=("best", "last"), default="best", help="which checkpoint")
    parser.add_argument("--split", choices=("val", "test"), default="test", help="which split")
    parser.add_argument(
        "--eval-samples",
        type=int,
        default=None,
        help="attention x latent samples (default: the run's, 4 -> 4 x 4)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")


def run(args: argparse.Namespace) -> int:
    try:
        record = runs.RunRecord.load(args.run_dir)
        device = select_device(args.device)
        model = load_model(record.path, which=args.which, device=device)
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cfg = TrainConfig.from_dict(record.config)
    if args.eval_samples is not None:
        if args.eval_samples < 1:
            print("error: --eval-samples must be >= 1", file=sys.stderr)
            return 2
        model.eval_samples = args.eval_samples
        cfg = replace(cfg, eval_samples=args.eval_samples)
    backbone = "wrn" if models.spec(cfg.model).family == "wrn" else "vgg"
    tensors = data.load_tensors(cfg.dataset, args.split, backbone=backbone)
    limit = cfg.val_subset if args.split == "val" else cfg.test_subset
    if limit is not None and limit < len(tensors):
        tensors = tensors.subset(limit, seed=SUBSET_SEED)
    loader = data.DeviceLoader(tensors, 256, device=device, train=False)
    # the test-time samples (4 x 4 attention and latent draws) are seeded, so that two evaluations
    # of one run agree; the thread count is the run's (CPU sums depend on it). fit's own final
    # evaluation is left as it was: it continues the run's generator, whatever that has drawn.
    torch.manual_seed(epoch_seed(cfg.seed, EVAL_SEED_EPOCH))
    with fixed_threads(cfg.num_threads if device.type == "cpu" else None):
        result = evaluate(model, loader, cfg, device, prefix=args.split)
    print(
        f"{record.name} ({args.which} weights): {args.split} error {result[f'{args.split}_error']:.2f}% "
        f"on {len(tensors)} images with {getattr(model, 'eval_samples', 1)} x "
        f"{getattr(model, 'eval_samples', 1)} samples"
    )
    if args.split == "test" and record.final and args.which == "best":
        print(f"stored test error: {record.final['test_error']:.2f}%")
    return 0
