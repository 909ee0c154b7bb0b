"""The resumable queue that trains a stored evidence tier and stores its run records.

A tier (``lab`` on a CPU, ``full`` on a GPU) is a list of planned runs (:mod:`aibnb.reproduce.plan`)
trained once and stored under ``book/results/<profile>/runs/<run>/`` as small files: the config,
the metrics per epoch, the final numbers, the per-image test predictions, a few attention maps,
chapter 5's scores and the provenance; never the checkpoints, which stay in the run cache
(``$AIBNB_RUNS``) so that an interrupted run resumes there.

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
  to add a run that differs (:class:`TierMismatchError`);
* every finished run is **exported** at once (written into a temporary folder, then renamed), and
  ``index.json`` lists the stored runs (one :func:`~aibnb.reproduce.run_rows.run_row` each).

On a GPU machine, ``--out DIR`` also packs every stored run of the tier into ``DIR/results.tar.gz``
after each run (what comes back from a lent machine), and :func:`unpack` brings such an archive
home, after checking that every run in it reads cleanly and has the tier's identity.
``python -m aibnb queue`` is the command line (:mod:`aibnb.reproduce.cli`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aibnb import runs, storage
from aibnb.locks import file_lock, is_locked, run_lock
from aibnb.models import spec
from aibnb.provenance import provenance
from aibnb.reproduce.claims import TABLE1_CLAIMS
from aibnb.reproduce.evidence import Tier
from aibnb.reproduce.plan import PlannedRun, plan
from aibnb.reproduce.run_rows import run_row
from aibnb.reproduce.run_scores import rescore_run, score_run
from aibnb.train import fit
from aibnb.train.config import TrainConfig
from aibnb.train.engine import TRAINING_CODE_VERSION, run_dir_for
from aibnb.train.machine import prepare
from aibnb.train.profiles import profile as get_profile

__all__ = [
    "KEEP",
    "TierMismatchError",
    "build_index",
    "check_archive",
    "expected_identity",
    "export_run",
    "pack",
    "planned_status",
    "store_dir",
    "unpack",
    "work",
]

KEEP = ("config.json", "metrics.jsonl", "final.json", "provenance.json", "attention.npz", "predictions.npz",
        "scores.json")  # fmt: skip
# rough seconds per epoch, to decide whether the next run can finish before a deadline (the queue
# measures the real times as it goes): a width-1 epoch on an H100 and a lab epoch on one CPU thread
EST_EPOCH_S = {"full": {"vgg": 11.0, "wrn": 34.0}, "lab": {"vgg": 40.0}, "ci": {"vgg": 5.0}}


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


def pack(store: Path, archive: Path) -> int:
    """Every stored run of ``store`` as one ``.tar.gz`` (written atomically); returns the count."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    dirs = stored_runs(store)

    def write(tmp: Path) -> None:
        with tarfile.open(tmp, "w:gz") as tar:
            for run_dir in dirs:
                for name in KEEP:
                    if (run_dir / name).exists():
                        tar.add(run_dir / name, arcname=f"{run_dir.name}/{name}")

    storage.write_atomic(archive, write)
    return len(dirs)


def unpack(archive: Path, store: Path, profile: str | None = None) -> list[str]:
    """Store the run records of an archive made by :func:`pack` (e.g. on a GPU machine).

    Every run of the archive is checked before anything is stored: its files are read as a run
    record is (a damaged one is a :class:`~aibnb.storage.DamagedFileError` naming it), it must be
    of the tier's ``profile`` (default: the one profile of the archive's runs) and have the
    tier's identity (:func:`expected_identity`, and the stored runs' own: :func:`check_tier`);
    else :class:`TierMismatchError` names the run and nothing is stored.
    """
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            parts = Path(member.name).parts
            if len(parts) != 2 or parts[1] not in KEEP or not member.isfile() or parts[0] in ("..", "."):
                raise ValueError(f"{archive}: unexpected member {member.name!r} (not a run record file)")
        with tempfile.TemporaryDirectory() as tmp:
            for member in members:
                parts = Path(member.name).parts
                (Path(tmp) / parts[0]).mkdir(exist_ok=True)
                (Path(tmp) / parts[0] / parts[1]).write_bytes(tar.extractfile(member).read())
            names = sorted(d.name for d in Path(tmp).iterdir() if (d / "final.json").exists())
            check_archive([Path(tmp) / name for name in names], store, profile, str(archive))
            for name in names:
                export_run(Path(tmp) / name, store)
    return names


def check_archive(run_dirs: Sequence[Path], store: Path, profile: str | None, what: str) -> None:
    """Refuse runs that would not belong to the tier in ``store`` (see :func:`unpack`)."""
    records = [runs.RunRecord.load(d) for d in run_dirs]  # content checked: a damaged file is named
    for d in run_dirs:
        for name in ("attention.npz", "predictions.npz"):
            if (d / name).exists():
                storage.read_npz(d / name)
    found = {r.config.get("profile") for r in records}
    if profile is None and len(found) > 1:
        raise TierMismatchError(f"{what} holds runs of several profiles ({sorted(map(str, found))})")
    profile = profile if profile is not None else (found.pop() if found else None)
    if profile is None:
        return
    identity = expected_identity(profile)
    for r in records:
        if r.config.get("profile") != profile:
            raise TierMismatchError(
                f"{what}: run {r.name} is of profile {r.config.get('profile')!r}, not {profile!r}; "
                "nothing was stored"
            )
        if tier_identity(r) != identity:
            version, threads = tier_identity(r)
            raise TierMismatchError(
                f"{what}: run {r.name} has training code version {version} with {threads} CPU "
                f"thread(s), but the {profile} tier holds version {identity[0]} with {identity[1]} "
                "thread(s) (this code's); nothing was stored. Re-train that run with this code, or "
                "store the archive with the code it was made with."
            )
    check_tier(store, identity, f"{what} (nothing was stored)")


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
