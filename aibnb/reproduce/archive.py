"""A tier's runs as one archive: what comes back from a lent GPU machine, and how it is brought home.

:func:`pack` writes every stored run of a tier into one ``.tar.gz`` (the queue's ``--out DIR`` does
it after each run); :func:`unpack` stores such an archive's runs in the tier at home, after
:func:`check_archive` has found that every run in it reads cleanly and has the tier's identity
(:mod:`aibnb.reproduce.stored_tier`): an archive either enters whole or not at all.
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aibnb import runs, storage
from aibnb.reproduce.stored_tier import (
    KEEP,
    TierMismatchError,
    check_tier,
    expected_identity,
    export_run,
    stored_runs,
    tier_identity,
)

__all__ = ["check_archive", "pack", "unpack"]


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

    Every run of the archive is checked before anything is stored (:func:`check_archive`); else
    :class:`~aibnb.reproduce.stored_tier.TierMismatchError` names the run and nothing is stored.
    """
    with tarfile.open(archive, "r:gz") as tar, tempfile.TemporaryDirectory() as tmp:
        for member in run_members(tar, archive):
            run_name, file_name = Path(member.name).parts
            (Path(tmp) / run_name).mkdir(exist_ok=True)
            (Path(tmp) / run_name / file_name).write_bytes(tar.extractfile(member).read())
        names = sorted(d.name for d in Path(tmp).iterdir() if (d / "final.json").exists())
        check_archive([Path(tmp) / name for name in names], store, profile, str(archive))
        for name in names:
            export_run(Path(tmp) / name, store)
    return names


def run_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """The archive's members, each a run record file ``<run>/<one of KEEP>``; anything else (a
    folder deeper down, a link, a path that climbs out) is refused before a byte is written."""
    members = tar.getmembers()
    for member in members:
        parts = Path(member.name).parts
        if len(parts) != 2 or parts[1] not in KEEP or not member.isfile() or parts[0] in ("..", "."):
            raise ValueError(f"{archive}: unexpected member {member.name!r} (not a run record file)")
    return members


def check_archive(run_dirs: Sequence[Path], store: Path, profile: str | None, what: str) -> None:
    """Refuse runs that would not belong to the tier in ``store``.

    Each run's files are read as a run record is (a damaged one is a
    :class:`~aibnb.storage.DamagedFileError` naming it); each run must be of the tier's ``profile``
    (default: the one profile of the runs) and have the identity of this code's runs of it
    (:func:`~aibnb.reproduce.stored_tier.expected_identity`) and of the runs stored already.
    """
    records = [read_run(d) for d in run_dirs]
    profile = archive_profile(records, profile, what)
    if profile is None:
        return
    identity = expected_identity(profile)
    for record in records:
        check_run(record, profile, identity, what)
    check_tier(store, identity, f"{what} (nothing was stored)")


def read_run(run_dir: Path) -> runs.RunRecord:
    """The run record of ``run_dir``, its arrays read too: a damaged file raises, naming it."""
    record = runs.RunRecord.load(run_dir)
    for name in ("attention.npz", "predictions.npz"):
        if (run_dir / name).exists():
            storage.read_npz(run_dir / name)
    return record


def archive_profile(records: Sequence[runs.RunRecord], profile: str | None, what: str) -> str | None:
    """``profile``, else the one profile of ``records`` (None for no runs); several is an error."""
    if profile is not None:
        return profile
    found = {r.config.get("profile") for r in records}
    if len(found) > 1:
        raise TierMismatchError(f"{what} holds runs of several profiles ({sorted(map(str, found))})")
    return found.pop() if found else None


def check_run(record: runs.RunRecord, profile: str, identity: tuple, what: str) -> None:
    """Refuse a run of another profile or of another training code / thread count than ``identity``."""
    if record.config.get("profile") != profile:
        raise TierMismatchError(
            f"{what}: run {record.name} is of profile {record.config.get('profile')!r}, not {profile!r}; "
            "nothing was stored"
        )
    if tier_identity(record) != identity:
        version, threads = tier_identity(record)
        raise TierMismatchError(
            f"{what}: run {record.name} has training code version {version} with {threads} CPU "
            f"thread(s), but the {profile} tier holds version {identity[0]} with {identity[1]} "
            "thread(s) (this code's); nothing was stored. Re-train that run with this code, or "
            "store the archive with the code it was made with."
        )
