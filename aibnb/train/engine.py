"""The training engine: one ``fit(config)`` for notebooks, papermill and the shell.

What it does, in order: resolve and validate the configuration for the machine
(:func:`~aibnb.train.machine.prepare`); return the cached record when a finished run with the same
hash exists; refuse the ``full`` profile on a CPU unless asked to insist
(:func:`~aibnb.train.machine.check_cpu_budget`); take the run's lock (:mod:`aibnb.locks`) for the
whole training, waiting for another process that holds it, and remove the temporary files a
killed writer left in the run folder; load the data onto the training device and build the model
and the optimiser (:mod:`aibnb.train.build`); resume from ``last.pt`` if there is one
(:mod:`aibnb.train.checkpoint`); train with the official schedule, the anchors' own learning-rate
group, bf16 autocast and channels-last on CUDA (:mod:`aibnb.train.loop`), stopping with an error
when the training loss becomes NaN or infinite; evaluate on the validation split every epoch, or
every ``val_every`` epochs and after the last (model selection never sees the test set);
checkpoint atomically after every epoch; and finally evaluate the best-validation weights on the
test split with 4 x 4 samples, and on the training images where ``train_eval`` asks for the
generalisation gap (:mod:`aibnb.train.final`); and stamp the run's provenance with
:data:`TRAINING_CODE_VERSION`.

Determinism: the data order and augmentation of epoch ``e`` are a function of ``(seed, e)`` (the
loader), and the global RNG (dropout, attention and latent sampling) is re-seeded from
``(seed, e, rank)`` at the start of every epoch. A run killed at any point resumes from its last
checkpoint and, on CPU, ends with exactly the metrics of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from aibnb import runs, storage
from aibnb.locks import run_lock
from aibnb.provenance import provenance
from aibnb.storage import remove_stale_temps
from aibnb.train.build import build, describe, load_data, make_optimizer
from aibnb.train.checkpoint import Progress, resume, save_best, save_last, unwrap
from aibnb.train.config import TrainConfig, as_config
from aibnb.train.final import write_final
from aibnb.train.loop import evaluate, train_one_epoch
from aibnb.train.machine import (
    Distributed,
    check_cpu_budget,
    epoch_seed,
    fixed_threads,
    prepare,
    seed_everything,
)

__all__ = [
    "TRAINING_CODE_VERSION",
    "TrainingDivergedError",
    "finished_run",
    "fit",
    "run_dir",
    "run_dir_for",
    "summarize",
]

# The version of what training computes, stored in every run's provenance. A stored evidence tier
# (``book/results/lab``) holds runs of one version only, and its queue refuses to mix versions.
# Bump it when a change alters any number a run produces; a refactor that keeps every number
# bit-identical (checked by re-running a stored run's first epoch) keeps it, and so does an
# option that is off by default and, when on, adds numbers without changing any other
# (``val_every``, ``train_eval``: tests/unit/train/test_train_engine.py checks it).
TRAINING_CODE_VERSION = 1


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite: the run stops, without a ``final.json``."""


def fit(
    config: TrainConfig | dict[str, Any] | None = None,
    *,
    deadline: float | None = None,
    allow_cpu_full: bool = False,
    **overrides: Any,
) -> runs.RunRecord:
    """Train one model and return its :class:`~aibnb.runs.RunRecord` (cached by config hash).

    ``fit(TrainConfig(model="vgg_aib_qt", beta=0.01))`` or ``fit(model="vgg_aib_qt", beta=0.01)``;
    unset fields come from the profile and the model's official recipe (see
    :func:`aibnb.train.config.resolve`).

    ``deadline`` (a ``time.time()`` value) stops the run cleanly after the last epoch that ends
    before it, with its checkpoint written: the returned record is then unfinished
    (``record.finished`` is False) and the same call later resumes it. This is how long GPU runs
    are chunked into commands of limited length.

    The run's lock (:func:`aibnb.locks.run_lock`) is held for the whole training: a second
    process that asks for the same run waits for the first (one line names the run and the
    holder's pid) and then returns its finished record. The ``full`` profile is refused on a CPU
    unless ``allow_cpu_full`` (or ``$AIBNB_ALLOW_CPU_FULL=1``; see
    :func:`~aibnb.train.machine.check_cpu_budget`). A training loss that becomes NaN or infinite
    stops the run with :class:`TrainingDivergedError`.
    """
    cfg, device = prepare(as_config(config, overrides))
    if deadline is not None and (
        isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not math.isfinite(deadline)
    ):
        raise ValueError(f"fit: deadline must be a finite time.time() value or None, got {deadline!r}")
    dist_ = Distributed()
    out = run_dir_for(cfg)
    if (record := finished_run(cfg, out)) is not None:
        return record
    check_cpu_budget(cfg, device, allow=allow_cpu_full)
    with fixed_threads(cfg.num_threads):
        device = dist_.setup(device)
        try:
            with _run_lock(out, dist_):
                # the process this one waited for may have finished the run meanwhile
                done = finished_run(cfg, out) is not None if dist_.is_main else None
                if dist_.broadcast_object(done):
                    return runs.RunRecord.load(out)
                if dist_.is_main:
                    remove_stale_temps(out)
                run = _start(cfg, out, device, dist_)
                for epoch in range(run.progress.epochs_done, cfg.epochs):
                    row = _train_epoch(run, epoch)
                    _check_finite(run, epoch, row)
                    if dist_.is_main:
                        _record_epoch(run, epoch, row)
                    dist_.barrier()
                    if _out_of_time(run, epoch, row, deadline):
                        return runs.RunRecord.load(out)
                _finish(run)
                return runs.RunRecord.load(out)
        finally:
            dist_.teardown()


@contextlib.contextmanager
def _run_lock(out: Path, dist_: Distributed) -> Iterator[None]:
    """The run's lock, held by the main process for the whole training (waiting for another
    holder, with one line on stderr); re-entrant, so the queue that holds it may call ``fit``."""
    if not dist_.is_main:  # the main process holds it for every rank of a torchrun launch
        yield
        return

    def say(pid: int | None) -> None:
        who = f"process {pid}" if pid is not None else "another process"
        print(f"{out.name}: {who} is training this run; waiting for it to finish", file=sys.stderr,
              flush=True)

    with run_lock(out.name, out.parent, wait=True, on_wait=say):
        yield


def _check_finite(run: _Run, epoch: int, row: dict[str, Any]) -> None:
    """Stop a run whose training loss became NaN or infinite (every rank sees the same sum)."""
    loss = row.get("train_total")
    if loss is None or math.isfinite(loss):
        return
    if run.bar is not None:
        run.bar.close()
    cfg = run.cfg
    raise TrainingDivergedError(
        f"{run.out.name}: the training loss became {loss} in epoch {epoch + 1}/{cfg.epochs} (peak learning "
        f"rate {cfg.lr:g}): the learning rate is most likely too high - lower it (--lr); nothing of "
        "this epoch is kept and no final.json is written"
    )


def run_dir(config: TrainConfig | dict[str, Any] | None = None, **overrides: Any) -> Path:
    """The folder where ``fit(config, **overrides)`` keeps (or would keep) its run."""
    return run_dir_for(prepare(config, **overrides)[0])


def run_dir_for(cfg: TrainConfig) -> Path:
    """Where a fully prepared configuration's run lives (see :func:`~aibnb.train.machine.prepare`)."""
    if cfg.out_dir:
        return Path(cfg.out_dir)
    return runs.runs_root() / f"{cfg.model}-{cfg.dataset}-{cfg.hash()}"


def summarize(record: runs.RunRecord) -> str:
    """One line: model, dataset, profile, seed, test error."""
    f = record.final or {}
    err = f.get("test_error")
    err_s = f"{err:.2f}%" if isinstance(err, (int, float)) and math.isfinite(err) else "n/a"
    return (
        f"{record.config['model']} on {record.config['dataset']} ({record.config['profile']}, seed "
        f"{record.config['seed']}): test error {err_s} at best-val epoch {f.get('best_epoch')}"
    )


# ---------------------------------------------------------------------------------------------
# The steps of fit


@dataclass
class _Run:
    """What the steps of one training process share."""

    cfg: TrainConfig
    out: Path
    device: torch.device
    dist_: Distributed
    splits: dict[str, Any]
    train_loader: Any
    eval_loaders: dict[str, Any]
    model: nn.Module  # the plain model: validated, tested and checkpointed
    train_model: nn.Module  # the model as trained: under DDP and/or torch.compile where asked
    optimizer: torch.optim.Optimizer
    progress: Progress
    bar: Any  # a tqdm progress bar, or None
    start_time: float  # time.perf_counter() when this process started the run

    def elapsed(self) -> float:
        """Training time so far, the processes' before this one included."""
        return self.progress.elapsed_before + time.perf_counter() - self.start_time


def finished_run(cfg: TrainConfig, out: Path) -> runs.RunRecord | None:
    """The record in ``out`` when the run of ``cfg`` has finished there; ``None`` when it is to be
    trained (or resumed). A folder that holds another run is an error: it is never overwritten."""
    config_file = out / "config.json"
    if config_file.exists():
        stored = storage.read_json_object(config_file, required=runs.RUN_FILE_KEYS["config.json"])
        if stored.get("hash") != cfg.hash():
            raise FileExistsError(
                f"{out} holds a different run (hash {stored.get('hash')}, this config {cfg.hash()}); "
                "choose another out_dir or move that folder away - it is never overwritten"
            )
        if (out / "final.json").exists():
            return runs.RunRecord.load(out)
    return None


def _start(cfg: TrainConfig, out: Path, device: torch.device, dist_: Distributed) -> _Run:
    """Seed, load the data, build the model and the optimiser; then resume from ``last.pt``, or
    write ``config.json`` for a new run."""
    start_time = time.perf_counter()
    seed_everything(cfg.seed)
    splits, train_loader, eval_loaders = load_data(cfg, device, dist_)
    if len(train_loader) == 0:  # e.g. a subset split over many ranks: validate() cannot see it
        raise ValueError(
            f"TrainConfig.train_subset: {len(splits['train'])} training images over {dist_.world_size} "
            f"process(es) make no full batch of batch_size {cfg.batch_size}, so nothing would be "
            "trained; use more training images or a smaller batch_size"
        )
    model = build(cfg, splits["train"]).to(device)
    build_info = describe(model, splits)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, cfg)
    progress = resume(out / "last.pt", cfg, model, optimizer, device)
    if progress is not None:
        if not cfg.quiet and dist_.is_main:
            print(f"resuming {out.name} after epoch {progress.epochs_done}")
    else:
        progress = Progress()
        if dist_.is_main:
            storage.write_json(
                out / "config.json", {"hash": cfg.hash(), "config": cfg.to_dict(), "model": build_info}
            )
    train_model = _wrap(model, cfg, dist_, device)  # after resume: DDP broadcasts rank 0's weights
    bar = _progress_bar(cfg, dist_, len(train_loader))
    return _Run(
        cfg=cfg,
        out=out,
        device=device,
        dist_=dist_,
        splits=splits,
        train_loader=train_loader,
        eval_loaders=eval_loaders,
        model=model,
        train_model=train_model,
        optimizer=optimizer,
        progress=progress,
        bar=bar,
        start_time=start_time,
    )


def _wrap(model: nn.Module, cfg: TrainConfig, dist_: Distributed, device: torch.device) -> nn.Module:
    """The model as trained: DistributedDataParallel under ``torchrun``, compiled if asked."""
    train_model: nn.Module = model
    if dist_.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.compile:
        train_model = torch.compile(train_model)
    return train_model


def _progress_bar(cfg: TrainConfig, dist_: Distributed, total: int) -> Any:
    if cfg.quiet or not dist_.is_main:
        return None
    return tqdm(total=total, unit="batch", leave=False, mininterval=0.5)


def _train_epoch(run: _Run, epoch: int) -> dict[str, Any]:
    """Train epoch ``epoch`` (from 0) and validate (main process): the epoch's metrics row."""
    cfg, dist_, bar = run.cfg, run.dist_, run.bar
    t0 = time.perf_counter()
    torch.manual_seed(epoch_seed(cfg.seed, epoch, dist_.rank))
    run.train_loader.set_epoch(epoch)
    if bar is not None:
        bar.reset(total=len(run.train_loader))
        bar.set_description(f"{cfg.model} epoch {epoch + 1}/{cfg.epochs}")
    row: dict[str, Any] = {"epoch": epoch + 1}
    row.update(
        train_one_epoch(
            run.train_model,
            run.train_loader,
            run.optimizer,
            cfg,
            epoch,
            run.device,
            amp=cfg.amp,
            progress=bar,
            dist_=dist_,
        )
    )
    train_time = time.perf_counter() - t0
    if dist_.is_main and validates(cfg, epoch):
        row.update(evaluate(run.model, run.eval_loaders["val"], cfg, run.device, amp=cfg.amp, prefix="val"))
    quantizer = getattr(getattr(unwrap(run.model), "attention", None), "quantizer", None)
    if quantizer is not None:  # the anchor trajectories of chapter 3
        row["anchors"] = quantizer.anchors.detach().cpu().tolist()
    row["epoch_time_s"] = time.perf_counter() - t0
    row["train_images_per_s"] = (
        len(run.train_loader) * cfg.batch_size * dist_.world_size / max(train_time, 1e-9)
    )
    return row


def validates(cfg: TrainConfig, epoch: int) -> bool:
    """Whether epoch ``epoch`` (from 0) ends with a validation: every ``cfg.val_every`` epochs and
    always after the last, so that model selection always sees the end of the schedule."""
    every = cfg.val_every or 1
    return (epoch + 1) % every == 0 or epoch + 1 == cfg.epochs


def _record_epoch(run: _Run, epoch: int, row: dict[str, Any]) -> None:
    """Keep the row: ``best.pt`` if validation improved, ``last.pt``, ``metrics.jsonl``, a progress line."""
    cfg, progress = run.cfg, run.progress
    progress.metrics.append(row)
    if "val_acc" in row and row["val_acc"] > progress.best["val_acc"]:
        progress.best = {"epoch": epoch + 1, "val_acc": row["val_acc"]}
        save_best(run.out / "best.pt", run.model, epoch + 1)
    progress.epochs_done = epoch + 1
    save_last(
        run.out / "last.pt",
        run.model,
        run.optimizer,
        progress,
        elapsed_s=run.elapsed(),
        config_hash=cfg.hash(),
    )
    storage.write_jsonl(run.out / "metrics.jsonl", progress.metrics)
    val = f"{row['val_acc']:.3f}" if "val_acc" in row else "-"
    if run.bar is not None:
        run.bar.set_postfix(loss=f"{row['train_total']:.3f}", train=f"{row['train_acc']:.3f}", val=val)
    elif not cfg.quiet:
        print(
            f"{cfg.model} epoch {epoch + 1}/{cfg.epochs}: loss {row['train_total']:.3f} "
            f"train acc {row['train_acc']:.3f} val acc {val}"
        )


def _out_of_time(run: _Run, epoch: int, row: dict[str, Any], deadline: float | None) -> bool:
    """Whether to stop after ``epoch`` for the deadline: when another epoch (with a margin) would
    not end before it. Every rank gets the main process's answer."""
    cfg = run.cfg
    if deadline is None or epoch + 1 >= cfg.epochs:
        return False
    stop = run.dist_.broadcast_object(time.time() + 1.5 * row["epoch_time_s"] > deadline)
    if stop:
        if run.bar is not None:
            run.bar.close()
        if run.dist_.is_main and not cfg.quiet:
            print(
                f"{run.out.name}: stopped after epoch {epoch + 1}/{cfg.epochs} before the deadline; "
                "run the same command again to resume"
            )
    return stop


def _finish(run: _Run) -> None:
    """Test the best weights and write the final files, then the provenance (main process)."""
    if run.bar is not None:
        run.bar.close()
    if run.dist_.is_main:
        cfg, wall_time = run.cfg, run.elapsed()
        write_final(
            cfg,
            run.out,
            run.model,
            run.eval_loaders["test"],
            run.splits,
            run.device,
            run.progress.best,
            wall_time,
        )
        storage.write_json(
            run.out / "provenance.json",
            provenance(
                profile=cfg.profile,
                seed=cfg.seed,
                device=run.device,
                wall_time_s=wall_time,
                extra={"training_code": TRAINING_CODE_VERSION},
            ),
        )
    run.dist_.barrier()
