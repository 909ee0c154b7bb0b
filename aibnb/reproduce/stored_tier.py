"""The files of a stored evidence tier: where it lives, its identity, and how a finished run enters it.

A tier is stored under ``book/results/<profile>/`` (:func:`store_dir`): ``runs/<run>/`` holds each
run's small files (:data:`KEEP`: the config, the metrics per epoch, the final numbers, the per-image
test predictions, a few attention maps, chapter 5's scores and the provenance; never the
checkpoints), ``index.json`` one row per run and ``claims_table1.json`` Table 1's claims decided on
them. A tier holds runs of one :data:`~aibnb.train.engine.TRAINING_CODE_VERSION` and one CPU thread
count (its **identity**); :func:`check_tier` refuses a run that would mix them. Every finished run is
exported whole or not at all (:func:`export_run`) and never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aibnb import runs, storage
from aibnb.locks import file_lock
from aibnb.provenance import provenance
from aibnb.reproduce.claims import TABLE1_CLAIMS
from aibnb.reproduce.evidence import Tier
from aibnb.reproduce.run_rows import run_row
from aibnb.train.engine import TRAINING_CODE_VERSION
from aibnb.train.machine import prepare
from aibnb.train.profiles import profile as get_profile

__all__ = [
    "KEEP",
    "TierMismatchError",
    "build_index",
    "check_tier",
    "current_identity",
    "expected_identity",
    "export_run",
    "is_stored",
    "store_dir",
    "stored_runs",
    "tier_identity",
    "write_claims",
]

#: the files of a run that a tier stores
KEEP = (
    "config.json", "metrics.jsonl", "final.json", "provenance.json", "attention.npz", "predictions.npz",
    "scores.json",
)  # fmt: skip


class TierMismatchError(RuntimeError):
    """A run that would mix training-code versions or thread counts inside one stored tier."""


def store_dir(profile: str, base: str | os.PathLike[str] | None = None) -> Path:
    """Where the tier ``profile`` is stored: ``book/results/<profile>`` (or ``base``)."""
    return Path(base) if base is not None else runs.results_dir(profile)


def stored_runs(store: Path) -> list[Path]:
    """The stored run folders of a tier (those with a ``final.json``), sorted by name."""
    return [f.parent for f in sorted((store / "runs").glob("*/final.json"))]


def is_stored(store: Path, name: str) -> bool:
    """Whether the run ``name`` is stored in the tier ``store`` (its ``final.json`` is there)."""
    return (store / "runs" / name / "final.json").exists()


# ---------------------------------------------------------------------------------------------
# The tier's identity


def tier_identity(record: runs.RunRecord) -> tuple[Any, Any]:
    """(training-code version, CPU thread count) of a run: what one tier never mixes."""
    return (record.provenance or {}).get("training_code"), record.config.get("num_threads")


def check_tier(store: Path, identity: tuple[Any, Any], what: str) -> None:
    """Refuse ``what`` when the stored tier holds runs of another identity."""
    for run_dir in stored_runs(store):
        stored = tier_identity(runs.RunRecord.load(run_dir))
        if stored != identity:
            raise TierMismatchError(
                f"{store} holds runs of training code version {stored[0]} with {stored[1]} CPU "
                f"thread(s) (e.g. {run_dir.name}); {what} has version {identity[0]} with "
                f"{identity[1]} thread(s). One tier holds one version and one thread count: re-run "
                "the tier, or restore the training code it was made with."
            )


def expected_identity(profile: str) -> tuple[Any, Any]:
    """The identity every run of a ``profile`` tier made by this code has, wherever it was made:
    this code's version and the profile's fixed thread count (``None`` for the GPU tier, whose
    runs record no CPU thread count)."""
    return TRAINING_CODE_VERSION, get_profile(profile).num_threads


def current_identity(profile: str, extra: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """The identity a run of ``profile`` made now by this code would have."""
    cfg, _ = prepare(model="vgg", profile=profile, **(extra or {}))
    return TRAINING_CODE_VERSION, cfg.num_threads


# ---------------------------------------------------------------------------------------------
# Export and index


def export_run(run_dir: Path, store: Path) -> Path:
    """Copy a finished run's small files into ``store/runs/<name>/`` (never its checkpoints).

    Written into a temporary folder and renamed, so the store never holds half a run; a run that
    is stored already is left as it is (stored results are never overwritten).
    """
    target = store / "runs" / run_dir.name
    if (target / "final.json").exists():
        return target
    if not (run_dir / "final.json").exists():
        raise ValueError(f"{run_dir} has not finished (no final.json); nothing to export")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{run_dir.name}."))
    try:
        for name in KEEP:
            if (run_dir / name).exists():
                shutil.copy2(run_dir / name, tmp / name)
        tmp.chmod(0o755)
        if target.exists():  # an incomplete folder from an older export: keep it aside, never delete
            target.rename(target.with_name(f"{target.name}.incomplete-{int(time.time())}"))
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def build_index(store: Path, profile: str) -> dict[str, Any]:
    """Rewrite ``store/index.json`` from the stored runs (under a lock: workers share it)."""
    with _store_lock(store):
        index = {
            "profile": profile,
            "description": get_profile(profile).description,
            "runs": [run_row(runs.RunRecord.load(d)) for d in stored_runs(store)],
        }
        storage.write_json(store / "index.json", index)
        write_claims(store, profile)
    return index


def write_claims(store: Path, profile: str) -> Path:
    """``store/claims_table1.json``: Table 1's claims decided on the stored runs, with provenance.

    Rewritten with the index after every stored run, so the verdicts on disk always match the runs.
    """
    tier = Tier.load(profile, store)
    results = tier.claims(TABLE1_CLAIMS)
    path = store / "claims_table1.json"
    runs.save_result(
        path,
        {
            "dataset": "fashion_mnist",
            "runs": sorted(r.name for r in tier.records),
            "claims": [r.to_dict() for r in results],
        },
        stamp=provenance(profile=profile, seed=None, device="cpu"),
    )
    return path


@contextlib.contextmanager
def _store_lock(store: Path) -> Iterator[None]:
    with file_lock(store / ".index.lock", wait=True):
        yield
