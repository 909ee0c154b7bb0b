"""aibnb.locks: a run's lock is exclusive between processes, re-entrant within a thread, waited for
with the holder's pid, released when its holder dies, and checked without being taken."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from aibnb import locks

REPO = Path(__file__).resolve().parents[2]


def _holder_process(root: Path, name: str, seconds: float) -> subprocess.Popen:
    """A real process that takes run ``name``'s lock, says so on stdout, and holds it ``seconds``."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from aibnb.locks import run_lock
        with run_lock({name!r}, {str(root)!r}) as mine:
            print("held" if mine else "refused", flush=True)
            time.sleep({seconds})
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def _try_in_process(root: Path, name: str) -> str:
    code = f"from aibnb.locks import run_lock\nwith run_lock({name!r}, {str(root)!r}) as m: print(m)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    ).stdout.strip()


def test_a_run_lock_is_re_entrant_in_its_thread_and_exclusive_elsewhere(tmp_path):
    with locks.run_lock("r1", tmp_path) as first:
        assert first
        with locks.run_lock("r1", tmp_path) as again:  # the queue holds it and calls fit: no deadlock
            assert again
        assert locks.holder("r1", tmp_path) is not None  # the inner release kept the outer hold
        assert _try_in_process(tmp_path, "r1") == "False"  # another process is refused

        seen = []
        other = threading.Thread(target=lambda: seen.append(_hold_briefly(tmp_path)))
        other.start()
        other.join(timeout=5)
        assert seen == [False]  # another thread of this process is refused too
        with locks.run_lock("r2", tmp_path) as unrelated:
            assert unrelated
    assert not locks.is_locked("r1", tmp_path)
    assert _try_in_process(tmp_path, "r1") == "True"
    assert (tmp_path / ".locks" / "r1.lock").read_text() == ""  # the pid is cleared on release


def _hold_briefly(root: Path) -> bool:
    with locks.run_lock("r1", root) as mine:
        return mine


def test_the_check_never_takes_the_lock_and_names_a_live_holder(tmp_path, monkeypatch):
    """``status`` and ``plan`` look at every run's lock: taking it, even for an instant, makes a
    worker that tries it at that instant skip its run. The check must only look."""
    from aibnb.reproduce import queue

    proc = _holder_process(tmp_path, "busy", 30)
    try:

        def no_flock(*args, **kwargs):
            raise AssertionError("the check took a lock")

        with monkeypatch.context() as patch:
            patch.setattr(fcntl, "flock", no_flock)
            assert locks.holder("busy", tmp_path) == proc.pid
            assert locks.is_locked("busy", tmp_path) and queue.is_locked("busy", tmp_path)
            assert not queue.is_locked("free", tmp_path)
    finally:
        proc.kill()
        proc.wait()
    assert locks.holder("busy", tmp_path) is None  # killed: released by the OS (its pid is left)


def test_waiting_names_the_holder_and_goes_on_when_it_ends(tmp_path):
    proc = _holder_process(tmp_path, "run", 2)
    waited = []
    start = time.monotonic()
    try:
        with locks.run_lock("run", tmp_path, wait=True, on_wait=waited.append) as mine:
            assert mine and locks.holder("run", tmp_path) is not None
    finally:
        proc.wait(timeout=60)
    assert waited == [proc.pid] and time.monotonic() - start > 0.5
    with locks.run_lock("run", tmp_path) as mine:
        assert mine


def test_the_queue_names_the_same_lock():
    from aibnb.reproduce import queue

    assert queue.run_lock is locks.run_lock and queue.is_locked is locks.is_locked
    with pytest.raises(TypeError):
        locks.lock_path()  # a run's lock is always named
