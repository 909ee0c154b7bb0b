"""Run locks: one OS file lock per run, so that two processes never train the same run.

A run's lock is an ``flock`` on ``<runs root>/.locks/<name>.lock`` (:func:`lock_path`); the file
holds the holder's pid while it is held. The OS releases the lock when its holder exits or is
killed, so a dead process never leaves a run blocked. It is taken by the training engine
(:func:`aibnb.train.fit` holds it for the whole training) and by the evidence queue
(:mod:`aibnb.reproduce.queue`), which both import it from here: this module depends on nothing
of either.

Two properties the callers rely on:

* **re-entrant within a thread**: ``flock`` conflicts between two open files even in one process,
  so a process that holds a run's lock (the queue) and calls ``fit`` on that run (which takes it
  again) would wait for itself; :func:`run_lock` counts the nested holds of a thread instead, and
  releases the lock when the outermost ends. Another thread of the same process waits like
  another process;
* **a check that never takes the lock**: :func:`holder` (and :func:`is_locked`) reads
  ``/proc/locks`` (Linux) or, elsewhere, the pid in the lock file, so that a status command
  looking at every run's lock never makes a worker that tries the lock at that instant skip it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aibnb.runs import runs_root

__all__ = ["LOCK_DIR", "file_lock", "holder", "is_locked", "lock_path", "run_lock"]

LOCK_DIR = ".locks"


@dataclass
class _Held:
    fd: int
    depth: int
    thread: int


# (st_dev, st_ino) of a lock file -> this process's hold on it
_HELD: dict[tuple[int, int], _Held] = {}
_GUARD = threading.Lock()


def lock_path(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The lock file of run ``name``: ``<root>/.locks/<name>.lock`` (root: the runs root)."""
    if root is None:
        root = runs_root()
    return Path(root) / LOCK_DIR / f"{name}.lock"


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, wait: bool) -> Iterator[int | None]:
    """A plain (not re-entrant) ``flock`` on ``path``: yields its descriptor, or ``None`` when
    another holder has it and ``wait`` is false. Released when the body ends or the holder dies."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_lock(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    wait: bool = False,
    on_wait: Callable[[int | None], None] | None = None,
) -> Iterator[bool]:
    """Take the lock of run ``name``; yields whether this thread holds it.

    Without ``wait`` a lock held elsewhere yields False at once. With ``wait`` it blocks until
    the holder releases it (or dies), first calling ``on_wait(pid)`` with the holder's pid
    (``None`` when unknown), and yields True. Nested holds by one thread are counted, not
    re-locked (see the module doc).
    """
    path = lock_path(name, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    st = os.fstat(fd)
    key, me = (st.st_dev, st.st_ino), threading.get_ident()
    with _GUARD:
        held = _HELD.get(key)
        if held is not None and held.thread == me:
            held.depth += 1
    if held is not None and held.thread == me:
        os.close(fd)
        try:
            yield True
        finally:
            _release(key)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = False
    except BlockingIOError:
        busy = True
    if busy and not wait:
        os.close(fd)
        yield False
        return
    if busy:
        try:
            if on_wait is not None:
                on_wait(holder(name, root))
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    with _GUARD:
        _HELD[key] = _Held(fd, 1, me)
    try:
        yield True
    finally:
        _release(key)


def _release(key: tuple[int, int]) -> None:
    """End one hold; the outermost clears the pid and releases the lock."""
    with _GUARD:
        held = _HELD[key]
        held.depth -= 1
        if held.depth > 0:
            return
        del _HELD[key]
    try:
        os.ftruncate(held.fd, 0)  # no pid: the check of a system without /proc/locks sees it free
        fcntl.flock(held.fd, fcntl.LOCK_UN)
    finally:
        os.close(held.fd)


def holder(name: str, root: str | os.PathLike[str] | None = None) -> int | None:
    """The pid of the process holding run ``name``'s lock, or ``None`` when it is free.

    Never takes the lock. On Linux the answer is ``/proc/locks``'s (the pid is the one the holder
    wrote in the lock file, or the kernel's); elsewhere a lock file whose pid is a live process
    counts as held (the holder clears its pid when it releases the lock).
    """
    path = lock_path(name, root)
    try:
        st = path.stat()
        text = path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    written = int(text) if text.isdigit() else None
    with _GUARD:
        if (st.st_dev, st.st_ino) in _HELD:
            return os.getpid()
    kernel = _proc_locks_holders()
    if kernel is not None:
        key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        if key not in kernel:
            return None
        return written or kernel[key]
    return written if written is not None and _alive(written) else None


def is_locked(name: str, root: str | os.PathLike[str] | None = None) -> bool:
    """Whether some process holds run ``name``'s lock now (see :func:`holder`; never takes it)."""
    return holder(name, root) is not None


def _proc_locks_holders() -> dict[str, int] | None:
    """``{"MAJ:MIN:INODE": pid}`` of the ``flock`` locks held now, from ``/proc/locks`` (Linux);
    ``None`` where the system has no such file."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    out: dict[str, int] = {}
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or "->" in fields or fields[1] != "FLOCK":  # "->": a waiter, not a holder
            continue
        pid, inode = fields[4], fields[5]
        out[inode] = int(pid) if pid.lstrip("-").isdigit() else 0
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
