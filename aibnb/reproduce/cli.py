"""``python -m aibnb queue ...``: the queue that trains and stores a tier of evidence.

=========================================================== =========================================
``queue plan --profile lab``                                the runs in priority order, estimated
``queue run --profile lab --jobs 2 --time-limit 36000``     train, score and store the runs that fit
``queue status --profile lab``                              stored / running / resumable / pending
``queue export --profile full RESULTS.tar.gz``              a GPU machine's runs, stored and indexed
=========================================================== =========================================

``run`` is resumable: stop it (or let ``--time-limit`` stop it) and run it again; every finished run
is stored under ``book/results/<profile>/runs/`` at once. ``--jobs 2`` starts two single-thread
workers (each one ``python -m aibnb queue run --jobs 1 ...``); a lock per run keeps two workers, or
two invocations, off the same run. On a lent GPU machine, ``run --profile full --epochs 15 --out
$OUT`` also packs the stored runs into ``$OUT/results.tar.gz`` after every run. The logic lives in
:mod:`aibnb.reproduce.queue`.
"""

from __future__ import annotations

import argparse
import math
import sys
import tarfile
import time
from pathlib import Path

from aibnb.models import spec
from aibnb.reproduce import archive, queue, stored_tier
from aibnb.reproduce.plan import GROUPS
from aibnb.train.cli import parse_option

FULL_EPOCHS = 15  # the full tier's default: the official 200-epoch step schedule compressed

HELPS = {
    "plan": "list the planned runs with their state and estimated time",
    "status": "count the stored, running, resumable and pending runs",
    "run": "train, score and store the planned runs that fit the time limit",
    "export": "store the runs of a results.tar.gz (from a GPU machine) and re-index",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``queue`` actions (plan, status, run, export) to ``parser``."""
    sub = parser.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    parsers = {name: sub.add_parser(name, help=text, description=text) for name, text in HELPS.items()}
    for p in parsers.values():
        p.add_argument(
            "--profile",
            default="lab",
            choices=("lab", "full", "ci"),
            help="the tier (default lab; ci holds the small sweeps of the chapters' ci sections)",
        )
        p.add_argument("--store", default=None, help="default: book/results/<profile>")
    for name in ("plan", "status", "run"):
        p = parsers[name]
        p.add_argument("--group", action="append", default=None, choices=GROUPS, help="repeatable")
        p.add_argument(
            "--epochs",
            type=int,
            default=None,
            help=f"epochs per run (default: the profile's; full: {FULL_EPOCHS})",
        )
        p.add_argument(
            "--override",
            action="append",
            type=parse_option,  # KEY=VALUE, as `python -m aibnb train --option`
            default=[],
            metavar="KEY=VALUE",
            help="a TrainConfig field set for every run (dry runs: --override train_subset=256)",
        )
    r = parsers["run"]
    r.add_argument("--time-limit", type=float, required=True, help="seconds this command may take")
    r.add_argument("--jobs", type=int, default=1, help="single-thread worker processes (2 on two cores)")
    r.add_argument("--device", default="auto")
    r.add_argument("--out", default=None, help="also pack the stored tier into OUT/results.tar.gz")
    r.add_argument(
        "--partial",
        action="store_true",
        help="start a run even when it cannot finish in time (it resumes next time)",
    )
    r.add_argument("--log-dir", default=None, help="with --jobs > 1: one log file per worker here")
    parsers["export"].add_argument("archive", nargs="?", help="a results.tar.gz (omit to only re-index)")


def run(args: argparse.Namespace) -> int:
    """Run the action; return the exit status (2 on bad options or a run refused by the tier)."""
    if getattr(args, "jobs", 1) < 1:
        print("error: --jobs must be at least 1 (2 on two cores)", file=sys.stderr)
        return 2
    actions = {"plan": cmd_plan, "status": cmd_status, "run": cmd_run, "export": cmd_export}
    return actions[args.queue_command](args)


def cmd_plan(args: argparse.Namespace) -> int:
    """Print every planned run with its state and the minutes of one worker it still needs."""
    states = queue.planned_status(args.profile, _store(args), args.group, _extra(args))
    total = 0.0
    print(f"{'#':>3}  {'est. min':>8}  {'state':>9}  run (profile {args.profile})")
    for i, st in enumerate(states):
        per_epoch = queue.EST_EPOCH_S.get(args.profile, {}).get(spec(st.planned.model).family, 30.0)
        per_epoch *= st.epoch_scale
        est = per_epoch * (st.epochs - st.epochs_done) / 60 if st.state != "stored" else 0.0
        total += est
        print(f"{i:3d}  {est:8.1f}  {st.state:>9}  {st.planned.label}, {st.epochs} epochs")
    print(f"total: {total / 60:.1f} h of one worker left (estimates; `run` measures as it goes)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print the runs under way and the count of planned runs in each state."""
    states = queue.planned_status(args.profile, _store(args), args.group, _extra(args))
    counts: dict[str, int] = {}
    for st in states:
        counts[st.state] = counts.get(st.state, 0) + 1
        if st.state in ("running", "resumable", "finished"):
            print(f"{st.state:>9}  {st.planned.label}: {st.epochs_done}/{st.epochs} epochs ({st.name})")
    print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())) + f" of {len(states)} planned")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Work through the plan until ``--time-limit``: in this process, or in ``--jobs`` workers."""
    if not (math.isfinite(args.time_limit) and args.time_limit > 0):
        print(f"error: --time-limit must be a finite number of seconds > 0, got {args.time_limit}",
              file=sys.stderr)
        return 2
    deadline = time.time() + args.time_limit
    if args.jobs > 1:
        log_dir = Path(args.log_dir) if args.log_dir else None
        failed = queue.spawn_workers(args.jobs, worker_argv(args), log_dir)
        print(f"{args.jobs} workers ended ({failed} failed)")
        return 1 if failed else 0
    try:
        stored = queue.work(
            args.profile,
            deadline=deadline,
            store=_store(args),
            groups=args.group,
            extra=_extra(args),
            partial=args.partial,
            device=args.device,
            out=Path(args.out) if args.out else None,
            log=lambda msg: print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True),
        )
    except (stored_tier.TierMismatchError, ValueError) as err:  # a full-profile run on a CPU among them
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{stored} runs stored by this worker")
    return 0


def worker_argv(args: argparse.Namespace) -> list[str]:
    """The interpreter arguments of one single-thread worker of ``queue run --jobs N``: the same
    run with ``--jobs 1`` (``--out`` and ``--log-dir`` are the parent's alone)."""
    argv = ["-m", "aibnb", "queue", "run", "--jobs", "1", "--profile", args.profile,
            "--time-limit", str(args.time_limit), "--device", args.device]  # fmt: skip
    if args.store:  # the default store is found again by each worker: no machine path in argv
        argv += ["--store", args.store]
    for g in args.group or ():
        argv += ["--group", g]
    for k, v in args.override:
        argv += ["--override", f"{k}={v}"]
    if args.epochs is not None:
        argv += ["--epochs", str(args.epochs)]
    if args.partial:
        argv.append("--partial")
    return argv


def cmd_export(args: argparse.Namespace) -> int:
    """Store the runs of an archive (when given) and rewrite the tier's index and claims."""
    store = _store(args)
    # a damaged archive or run file (named in the message), or runs of another tier identity
    refused = (ValueError, OSError, EOFError, tarfile.TarError, stored_tier.TierMismatchError)
    if args.archive:
        try:
            names = archive.unpack(Path(args.archive), store, args.profile)
        except refused as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"stored {len(names)} run records in {store / 'runs'}")
    try:
        index = stored_tier.build_index(store, args.profile)
    except refused as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{store / 'index.json'}: {len(index['runs'])} runs")
    return 0


def _extra(args: argparse.Namespace) -> dict:
    extra = dict(args.override)
    if args.epochs is not None:
        extra["epochs"] = args.epochs
    elif args.profile == "full":
        extra["epochs"] = FULL_EPOCHS
    return extra


def _store(args: argparse.Namespace) -> Path:
    return stored_tier.store_dir(args.profile, args.store)
