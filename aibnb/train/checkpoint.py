"""A run's checkpoints: ``best.pt`` and ``last.pt``, written atomically, read safely, resumed from.

After every epoch ``fit`` writes ``last.pt`` (weights, optimiser state and :class:`Progress`, the
record of the epochs done) and, when the validation accuracy improved, ``best.pt`` (weights only).
Each is written to a temporary file and renamed, so a run killed at any point leaves the previous
checkpoint intact, and :func:`resume` continues from it. Files are read with
``torch.load(weights_only=True)``; a damaged one is a :class:`~aibnb.storage.DamagedFileError` that
says how to recover and is never deleted. :func:`load_model` rebuilds a stored run's model from
its ``config.json`` and loads either checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aibnb import runs, storage
from aibnb.models import build_model
from aibnb.storage import DamagedFileError, write_atomic
from aibnb.train.config import TrainConfig, model_kwargs
from aibnb.train.machine import select_device


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside a DistributedDataParallel and/or ``torch.compile`` wrapper."""
    model = getattr(model, "module", model)  # DDP
    return getattr(model, "_orig_mod", model)  # torch.compile


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file and an atomic rename: never a half-written checkpoint."""
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a corrupt file is a clear error (never deleted)."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:
        reason = (str(err).strip().splitlines() or [""])[0][:160]
        raise DamagedFileError(
            f"checkpoint {path} could not be read ({type(err).__name__}: {reason}). It is left in place. "
            f"To restart this run from scratch, move it away (e.g. `mv {path} {path}.bad`); to keep "
            "the results, restore it from a copy."
        ) from err


@dataclass
class Progress:
    """Where a run stands: the metrics rows of its finished epochs, the best validation accuracy
    so far (``{"epoch", "val_acc"}``, epoch -1 before the first) and the training time spent by
    the processes before this one (a resumed run's clock continues)."""

    metrics: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"epoch": -1, "val_acc": -1.0})
    epochs_done: int = 0
    elapsed_before: float = 0.0


def resume(
    path: Path, cfg: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device
) -> Progress | None:
    """Load ``last.pt`` at ``path`` into ``model`` and ``optimizer``; ``None`` when there is none.

    A checkpoint of another configuration is an error (it is never overwritten).
    """
    if not path.exists():
        return None
    state = load_checkpoint(path, device)
    if state.get("config_hash") != cfg.hash():
        raise FileExistsError(f"{path} belongs to another configuration; move it away to start afresh")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    for g, peak in zip(optimizer.param_groups, state["peak_lrs"]):
        g["peak_lr"] = peak
    return Progress(state["metrics"], state["best"], state["epoch"], state["elapsed_s"])


def save_best(path: Path, model: nn.Module, epoch: int) -> None:
    """``best.pt``: the weights after ``epoch`` (counted from 1)."""
    save_checkpoint(path, {"model": unwrap(model).state_dict(), "epoch": epoch})


def save_last(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: Progress,
    *,
    elapsed_s: float,
    config_hash: str,
) -> None:
    """``last.pt``: everything :func:`resume` needs to continue after ``progress.epochs_done``.

    ``elapsed_s``: the training time so far, this process's included.
    """
    save_checkpoint(
        path,
        {
            "model": unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "peak_lrs": [g["peak_lr"] for g in optimizer.param_groups],
            "epoch": progress.epochs_done,
            "metrics": progress.metrics,
            "best": progress.best,
            "elapsed_s": elapsed_s,
            "config_hash": config_hash,
        },
    )


def load_model(
    run: str | os.PathLike[str] | runs.RunRecord, which: str = "best", device: str | torch.device = "cpu"
) -> nn.Module:
    """Rebuild a run's model and load its ``best`` or ``last`` weights (eval mode).

    ``run``: a :class:`~aibnb.runs.RunRecord` or its folder. ``device``: a torch device, or a name
    as in :func:`~aibnb.train.machine.select_device` (``"auto"`` included).
    """
    if which not in ("best", "last"):
        raise ValueError(f"load_model: which must be 'best' or 'last', got {which!r}")
    device = select_device(device) if isinstance(device, str) else torch.device(device)
    run_dir = Path(run.path if isinstance(run, runs.RunRecord) else run)
    stored = storage.read_json_object(run_dir / "config.json", required=("config", "model"))
    cfg, info = TrainConfig.from_dict(stored["config"]), stored["model"]
    model = build_model(
        cfg.model,
        info["num_classes"],
        width=cfg.width,
        in_channels=info["in_channels"],
        image_size=info["image_size"],
        **model_kwargs(cfg),
    )
    path = run_dir / f"{which}.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run has no {which} checkpoint (did it finish?)")
    state = load_checkpoint(path, device)
    model.load_state_dict(state["model"])
    return model.to(device).eval()
