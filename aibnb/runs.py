"""Run records and stored results.

A *run* is one training of one model: a folder with

* ``config.json``      the resolved :class:`~aibnb.train.TrainConfig` and its hash,
* ``metrics.jsonl``    one line per epoch (loss parts in bits, accuracies, KL, perplexity, LR, time),
* ``final.json``       test error with 4 x 4 samples, the best-validation epoch, attention statistics,
* ``provenance.json``  git commit, profile, seed, device, package versions, wall time
  (:func:`aibnb.provenance.provenance`),
* ``attention.npz``    a few test images with their attention maps (for figures),
* ``last.pt`` / ``best.pt`` checkpoints (``torch.save`` to a temporary file, then an atomic rename;
  loaded with ``weights_only=True``).

How big a run is (its *profile*: ``ci``, ``lab``, ``full``) is the training side's business and
lives in :mod:`aibnb.train.profiles`.

A *stored result* (``book/results/<profile>/...``) is a small JSON file with a provenance stamp
(:func:`aibnb.provenance.provenance`; :func:`save_result`, :func:`load_result`). Stored maps live in
the run records of a stored tier (``attention.npz``), written by the queue.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aibnb.data.paths import project_root
from aibnb.storage import (
    DamagedFileError,
    json_safe,
    read_json,
    read_json_object,
    read_jsonl,
    read_npz,
    write_json,
)

__all__ = [
    "RUN_CONFIG_KEYS",
    "RUN_FILE_KEYS",
    "RunRecord",
    "config_hash",
    "load_result",
    "results_dir",
    "runs_root",
    "save_result",
]


# ---------------------------------------------------------------------------------------------
# Paths


def runs_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where run folders live: ``root``, else ``$AIBNB_RUNS``, else ``runs/`` at the project root
    (found upwards from the working directory, so notebooks running in ``book/`` share it)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("AIBNB_RUNS")
    return Path(env).expanduser() if env else project_root() / "runs"


def config_hash(config: dict[str, Any]) -> str:
    """A stable hash of a resolved configuration (sorted-key JSON, SHA-256, 12 hex digits)."""
    text = json.dumps(json_safe(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# Run records

#: The keys each JSON file of a run folder must hold to count as one (checked when it is read)
RUN_FILE_KEYS: dict[str, tuple[str, ...]] = {"config.json": ("hash", "config"), "final.json": ("test_error",)}
#: The fields every stored configuration has (what the readers of a run record index by)
RUN_CONFIG_KEYS = ("model", "dataset", "seed")


@dataclass
class RunRecord:
    """A finished (or interrupted) run, read from its folder."""

    path: Path
    config: dict[str, Any]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.final is not None

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RunRecord:
        """Read the run folder ``path``; a clear error if it is not one.

        Each file is checked for its content, not only its syntax (:data:`RUN_FILE_KEYS`): a
        ``final.json`` that is ``{}`` or a list is a :class:`~aibnb.storage.DamagedFileError`
        naming it, never a finished run."""
        path = Path(path)
        cfg = path / "config.json"
        if not cfg.exists():
            raise FileNotFoundError(
                f"{path} is not a run folder (no config.json); runs live under {runs_root()} "
                "(set AIBNB_RUNS to change it)"
            )
        config = read_json_object(cfg, RUN_FILE_KEYS["config.json"])["config"]
        if not isinstance(config, dict) or not all(k in config for k in RUN_CONFIG_KEYS):
            raise DamagedFileError(
                f"{cfg} is damaged (its \"config\" is not a configuration with "
                f"{', '.join(RUN_CONFIG_KEYS)}); it is left in place: move it away to recompute it"
            )
        final = path / "final.json"
        prov = path / "provenance.json"
        return cls(
            path=path,
            config=config,
            metrics=read_jsonl(path / "metrics.jsonl"),
            final=read_json_object(final, RUN_FILE_KEYS["final.json"]) if final.exists() else None,
            provenance=read_json_object(prov) if prov.exists() else None,
        )

    @property
    def model_info(self) -> dict[str, Any]:
        """The facts about the model and its data that the run stored beside its configuration
        (``config.json``'s ``model`` part: classes, image size, test size, parameter count)."""
        return dict(read_json_object(self.path / "config.json", ("model",))["model"])

    def series(self, key: str) -> list[float | None]:
        """One metric over the epochs (``None`` where an epoch lacks it)."""
        return [m.get(key) for m in self.metrics]

    def attention_samples(self) -> dict[str, Any]:
        """The stored test images and attention maps (numpy arrays), if the run saved any."""
        f = self.path / "attention.npz"
        if not f.exists():
            return {}
        return read_npz(f, required=("images", "labels"))


# ---------------------------------------------------------------------------------------------
# Stored results (book/results/...)


def results_dir(profile_name: str, base: str | os.PathLike[str] | None = None) -> Path:
    """``book/results/<profile>`` (or under ``base``): where sweeps and GPU results are stored."""
    if base is None:
        base = project_root() / "book" / "results"
    return Path(base) / profile_name


def save_result(path: str | os.PathLike[str], data: dict[str, Any], *, stamp: dict[str, Any]) -> None:
    """Store a small result as JSON with its provenance stamp under ``"provenance"``."""
    write_json(path, {"provenance": stamp, **data})


def load_result(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A stored result, or ``None`` when there is none (the book then says so plainly)."""
    path = Path(path)
    return read_json(path) if path.exists() else None
