"""The resumable queue that trains a stored evidence tier and stores its run records.

A tier (``ci`` and ``lab`` on a CPU, ``full`` on a GPU) is a list of planned runs
(:mod:`aibnb.reproduce.plan`) trained once and stored as small run records
(:mod:`aibnb.reproduce.stored_tier`); the checkpoints stay in the run cache (``$AIBNB_RUNS``) so that
an interrupted run resumes there.

The queue is meant to advance in the background over several working sessions:

* **workers** walk the plan in priority order and train the first run that is neither stored nor
  taken; ``--jobs N`` starts N single-thread worker processes (two single-thread processes deliver
  about 1.3 times one two-thread process on two cores);
* **a lock per run** (an OS file lock in the run cache, released when its process dies:
  :mod:`aibnb.locks`, the lock ``fit`` itself holds while it trains) makes sure that two workers,
  two invocations of the queue, or a chapter beside them, never train the same run; ``status``
  and ``plan`` look at the locks without taking them;
* **a time limit** stops each worker cleanly between epochs; the run resumes bit-identically from
  its last checkpoint the next time;
* **one tier, one training code**: a stored tier holds runs of one
  :data:`~aibnb.train.engine.TRAINING_CODE_VERSION` and one CPU thread count, and the queue refuses
  to add a run that differs (:class:`~aibnb.reproduce.stored_tier.TierMismatchError`);
* every finished run is **exported** at once (written into a temporary folder, then renamed), and
  ``index.json`` lists the stored runs (one :func:`~aibnb.reproduce.run_rows.run_row` each).

On a GPU machine, ``--out DIR`` also packs every stored run of the tier into ``DIR/results.tar.gz``
after each run (what comes back from a lent machine; :mod:`aibnb.reproduce.archive` brings it home).
``python -m aibnb queue`` is the command line (:mod:`aibnb.reproduce.cli`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aibnb import runs, storage
from aibnb.locks import is_locked, run_lock
from aibnb.models import spec
from aibnb.reproduce.archive import pack
from aibnb.reproduce.plan import PlannedRun, plan
from aibnb.reproduce.run_scores import rescore_run, score_run
from aibnb.reproduce.stored_tier import (
    build_index,
    check_tier,
    current_identity,
    export_run,
    is_stored,
    tier_identity,
)
from aibnb.train import fit
from aibnb.train.config import TrainConfig
from aibnb.train.engine import run_dir_for
from aibnb.train.machine import prepare
from aibnb.train.profiles import profile as get_profile

__all__ = ["EST_EPOCH_S", "RunState", "planned_status", "spawn_workers", "work"]

# rough seconds per epoch, to decide whether the next run can finish before a deadline (the queue
# measures the real times as it goes): a width-1 epoch on an H100, a lab and a ci epoch (6,000
# images; 15-30 s measured) on one thread of the slower CPU kind
EST_EPOCH_S = {"full": {"vgg": 11.0, "wrn": 34.0}, "lab": {"vgg": 40.0}, "ci": {"vgg": 20.0}}


# ---------------------------------------------------------------------------------------------
# Status


@dataclass
class RunState:
    """Where one planned run stands."""

    planned: PlannedRun
    name: str
    state: str  # "stored" | "finished" | "running" | "resumable" | "pending"
    epochs_done: int
    epochs: int
    epoch_scale: float = 1.0  # an epoch's cost against one of the profile's size (:func:`epoch_scale`)


def planned_status(
    profile: str, store: Path, groups: Sequence[str] | None = None, extra: dict[str, Any] | None = None
) -> list[RunState]:
    """Every planned run of ``profile`` with its state (stored, running, resumable, pending)."""
    out = []
    for run in plan(profile, groups):
        cfg, _ = prepare(**run.kwargs(profile, extra))
        path = run_dir_for(cfg)
        done = epochs_done(path)
        if is_stored(store, path.name):
            state, done = "stored", cfg.epochs
        elif is_locked(path.name):
            state = "running"
        elif (path / "final.json").exists():
            state = "finished"
        elif (path / "last.pt").exists():
            state = "resumable"
        else:
            state = "pending"
        out.append(RunState(run, path.name, state, done, cfg.epochs, epoch_scale(cfg)))
    return out


def epochs_done(path: Path) -> int:
    """How many epochs the run in the cache folder ``path`` has recorded (0 before it starts)."""
    return len(storage.read_jsonl(path / "metrics.jsonl"))


# ---------------------------------------------------------------------------------------------
# Workers


def work(
    profile: str,
    *,
    deadline: float,
    store: Path,
    groups: Sequence[str] | None = None,
    extra: dict[str, Any] | None = None,
    partial: bool = False,
    device: str = "auto",
    out: Path | None = None,
    log: Any = print,
) -> int:
    """Train, score and store planned runs of ``profile`` until none is left or time is up.

    Returns the number of runs this worker stored. A run whose estimated time does not fit before
    ``deadline`` is skipped unless ``partial`` (then it is started and stops cleanly between epochs,
    to resume next time). ``out``: also pack the stored tier into ``out/results.tar.gz``.
    """
    check_tier(store, current_identity(profile, extra), "this code")
    per_epoch = dict(EST_EPOCH_S.get(profile, {}))  # seconds per epoch by family, measured as it goes
    stored = 0
    for run in plan(profile, groups):
        kwargs = run.kwargs(profile, {"device": device, **(extra or {})})
        cfg, _ = prepare(**kwargs)
        path = run_dir_for(cfg)
        if is_stored(store, path.name):
            if time.time() + 300 < deadline and rescore_stored(run, path, store, profile, device):
                log(f"re-scored {run.label} (scores.json brought up to the current scorer)")
            continue
        if time.time() + time_needed(cfg, path, per_epoch, partial) > deadline:
            continue
        with run_lock(path.name) as mine:  # `fit` takes the same lock again, re-entrantly
            if not mine or is_stored(store, path.name):  # another worker has it, or stored it meanwhile
                continue
            log(f"start {run.label} ({path.name})")
            record = fit(**kwargs, deadline=deadline)
            per_epoch.update(measured_epoch_s(record, cfg))
            if not record.finished:
                log(f"stopped (time limit): {run.label} after {len(record.metrics)}/{cfg.epochs} epochs")
                break
            store_run(record, run, store, profile, device)
            stored += 1
            log(
                f"stored {run.label}: test error {record.final['test_error']:.2f} % "
                f"({record.final['wall_time_s'] / 60:.1f} min)"
            )
            if out is not None:
                pack(store, out / "results.tar.gz")
    return stored


def rescore_stored(run: PlannedRun, path: Path, store: Path, profile: str, device: str) -> bool:
    """Bring the stored ``scores.json`` of a stored run up to the current scorer; whether it changed.

    Needs the run's best checkpoint in the cache (``path``) and its lock (a run another worker holds
    is left alone); the re-scored file is copied into the store and the index rewritten.
    """
    if not (path / "best.pt").exists():
        return False
    with run_lock(path.name) as mine:
        if not (mine and rescore_run(runs.RunRecord.load(path), profile, device, run.group)):
            return False
        scores = storage.read_json(path / "scores.json")
        storage.write_json(store / "runs" / path.name / "scores.json", scores)
        build_index(store, profile)
    return True


def time_needed(cfg: TrainConfig, path: Path, per_epoch: dict[str, float], partial: bool) -> float:
    """Seconds to set aside before starting the run of ``cfg`` (cache folder ``path``).

    The epochs it has left at the family's seconds per epoch (``per_epoch``, else 30 s) plus 20 s to
    score and store it; with ``partial``, one and a half epochs (it stops between epochs and resumes).
    """
    seconds = per_epoch.get(spec(cfg.model).family, 30.0) * epoch_scale(cfg)
    if partial:
        return seconds * 1.5
    return seconds * max(cfg.epochs - epochs_done(path), 1) + 20.0


def measured_epoch_s(record: runs.RunRecord, cfg: TrainConfig) -> dict[str, float]:
    """``{family: seconds}`` of an epoch of the profile's size, measured on ``record``'s slowest
    validated epoch (empty before an epoch finished): the next estimates of :func:`time_needed`."""
    if not record.metrics:
        return {}
    return {spec(cfg.model).family: max(m["epoch_time_s"] for m in record.metrics) / epoch_scale(cfg)}


def store_run(record: runs.RunRecord, run: PlannedRun, store: Path, profile: str, device: str) -> None:
    """Score a finished run (unless it is scored already), check it belongs to the tier, export it
    into ``store`` and rewrite the index and the claims."""
    if not (record.path / "scores.json").exists():
        scores = score_run(record, profile, device, run.group)
        if scores is not None:
            storage.write_json(record.path / "scores.json", scores)
    check_tier(store, tier_identity(record), record.name)
    export_run(record.path, store)
    build_index(store, profile)


def epoch_scale(cfg: TrainConfig) -> float:
    """How long an epoch of ``cfg`` takes against one of its profile's own size (the estimates of
    :data:`EST_EPOCH_S`): the ladder's small training sets have short epochs."""
    own = get_profile(cfg.profile).train_subset
    if own is None or cfg.train_subset is None:
        return 1.0
    return min(1.0, cfg.train_subset / own)


def spawn_workers(jobs: int, argv: list[str], log_dir: Path | None = None) -> int:
    """Start ``jobs`` single-thread worker processes, each the interpreter with the arguments
    ``argv`` (``-m aibnb queue run --jobs 1 ...``), and wait for them all.

    Each worker has ``OMP_NUM_THREADS=1`` (the tier's thread count is also fixed by its profile).
    Returns the number of workers that failed.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = []
    for i in range(jobs):
        out = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            out = open(log_dir / f"worker-{i}.log", "a")  # noqa: SIM115 - closed below
        procs.append((subprocess.Popen([sys.executable, *argv], env=env, stdout=out, stderr=out), out))
        time.sleep(2.0)  # let the first worker take its lock before the next one looks
    failed = 0
    for proc, out in procs:
        failed += proc.wait() != 0
        if out is not None:
            out.close()
    return failed
