"""``python -m aibnb train``: one option per :class:`~aibnb.train.TrainConfig` field."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import math
import os
import sys
import time
import typing

from aibnb import models
from aibnb.train.config import DEVICES, OPTIMIZERS, SCHEDULES, TrainConfig
from aibnb.train.engine import TrainingDivergedError, fit, summarize

HELP = {
    "model": "model name (see `python -m aibnb train --list-models`)",
    "dataset": "dataset name (see `python -m aibnb data info`)",
    "profile": "ci (2 CPU cores, minutes), lab (the stored CPU tier) or full (the paper's settings: "
    "a GPU; refused on a CPU without --allow-cpu-full)",
    "beta": "the information trade-off beta (default: the official 1e-2 for VIB models)",
    "num_anchors": "K, the number of anchors of a quantised model (default: 20 for 10 classes, 50 for 100)",
    "latent_dim": "dimension of the latent z (default: 256 for VGG, 512 for WRN)",
    "width": "multiplies every channel count (1 = the paper; default from the profile)",
    "train_subset": "number of training images (stratified subset, at least one batch and at most the "
    "split; default from the profile)",
    "val_subset": "number of validation images (default from the profile)",
    "test_subset": "number of test images (default from the profile)",
    "epochs": "number of epochs (default from the profile / the official 200)",
    "batch_size": "batch size (default 128)",
    "optimizer": f"one of {', '.join(OPTIMIZERS)} (default: the model's recipe)",
    "lr": "peak learning rate (default: the model's recipe, 0.1 for VGG/WRN)",
    "momentum": "SGD momentum in [0, 1) (default 0.9)",
    "weight_decay": "weight decay (default 5e-4)",
    "schedule": f"one of {', '.join(SCHEDULES)} (default: the model's official schedule)",
    "warmup_epochs": "warm-up epochs of the schedule (official: 1 for VGG-aib, 2 for VGG-aib-qt)",
    "anchor_lr": "anchors' learning rate: base (official VGG), ratio (official WRN) or frozen (official CUB)",
    "anchor_lr_ratio": "anchors' LR = lr x this when --anchor-lr ratio (official 1e-4)",
    "info_factor": "extra factor on the KL (official: 0.5 for VGG, 1 for WRN/CUB)",
    "loss_units": "bits (official AIB) or nats",
    "codebook_weight": "weight of the codebook loss (official 0.4)",
    "commitment_weight": "weight of the commitment loss (official 0.1)",
    "eval_samples": "attention samples x latent samples at evaluation (official 4 -> 4 x 4)",
    "val_every": "validate every N epochs and after the last (default: every epoch)",
    "train_eval": "also test the best weights on the training images, unaugmented (the generalisation gap)",
    "seed": "random seed (runs with the same config and seed give the same numbers on CPU)",
    "device": f"one of {', '.join(DEVICES)}",
    "amp": "bf16 autocast (default: on for CUDA)",
    "channels_last": "channels-last memory format (default: on, except on Apple MPS)",
    "compile": "torch.compile the model",
    "num_threads": "CPU threads for torch (default: torch's choice)",
    "save_attention": "number of test images whose attention maps are stored",
    "out_dir": "run folder (default: $AIBNB_RUNS/<model>-<dataset>-<config hash>)",
    "quiet": "no progress bars or per-epoch lines",
    "model_options": "extra model option KEY=VALUE (repeatable), e.g. --option residual=False",
}


def _scalar_type(annotation: str):
    for name, typ in (("int", int), ("float", float), ("str", str)):
        if name in annotation:
            return typ
    return str


def parse_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as a Python literal when it is one (``False``, ``0.3``, ``'clamp'``)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        parsed: object = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    return key.strip(), parsed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument(
        "--list-models", action="store_true", help="list the models and their options, then exit"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop cleanly (checkpoint written) after the last epoch that ends within SECONDS; "
        "run the same command again to resume",
    )
    parser.add_argument(
        "--allow-cpu-full",
        action="store_true",
        help="train the full profile (the paper's settings: weeks on a CPU) on a machine without a GPU "
        "all the same (also: AIBNB_ALLOW_CPU_FULL=1)",
    )
    hints = typing.get_type_hints(TrainConfig)
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        annotation = str(hints[f.name])
        if f.name == "model_options":
            parser.add_argument(
                "--option",
                dest="model_options",
                action="append",
                type=parse_option,
                default=[],
                metavar="KEY=VALUE",
                help=HELP[f.name],
            )
        elif "bool" in annotation:
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=getattr(defaults, f.name),
                help=HELP[f.name],
            )
        else:
            parser.add_argument(
                flag,
                dest=f.name,
                type=_scalar_type(annotation),
                default=getattr(defaults, f.name),
                help=HELP[f.name],
            )


def run(args: argparse.Namespace) -> int:
    if args.list_models:
        print(models.describe())
        return 0
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    values["model_options"] = dict(args.model_options)
    if args.time_limit is not None and not (math.isfinite(args.time_limit) and args.time_limit > 0):
        print(f"error: --time-limit must be a finite number of seconds > 0, got {args.time_limit}",
              file=sys.stderr)
        return 2
    try:
        deadline = None if args.time_limit is None else time.time() + args.time_limit
        record = fit(TrainConfig(**values), deadline=deadline, allow_cpu_full=args.allow_cpu_full)
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except TrainingDivergedError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") == "0":  # one summary under torchrun
        if record.finished:
            print(summarize(record))
        else:
            print(f"unfinished: {len(record.metrics)} of {record.config['epochs']} epochs done")
        print(f"run folder: {record.path}")
    return 0 if record.finished else 3
