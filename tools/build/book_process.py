"""Run papermill so that nothing it started outlives it: its process group, its kernel, the
kernel's training workers.

Papermill runs in a process group of its own, and Jupyter starts its kernel in a session of its
own (so that an interrupt reaches the kernel's whole group), with the chapter's training workers
below the kernel. Killing papermill's group alone therefore orphans the kernel, which goes on
training. :func:`run` terminates the whole tree (:func:`terminate_tree`) when the run is killed
for time, and when this process gets Ctrl-C, SIGTERM or SIGHUP (``kill``, a closed terminal, a
cancelled CI job); after a signal it exits with 128 + the signal's number.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["STOP_SIGNALS", "alive", "descendants", "run", "terminate_tree"]


class _Signalled(BaseException):
    """SIGTERM or SIGHUP arrived while a chapter ran (raised by the handler :func:`run` installs)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


#: The signals that stop :func:`run` and everything it started (Ctrl-C is KeyboardInterrupt)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def run(
    command: list[str], *, env: dict[str, str], cwd: Path, kill_after: float | None
) -> tuple[int, bool]:
    """Run ``command`` (in a new session) streaming its output; returns (exit code, killed after
    ``kill_after`` seconds). Killed for time, or on Ctrl-C, SIGTERM or SIGHUP, its whole tree is
    terminated (see the module doc); after a signal this process exits with 128 + its number.
    """

    def stop(signum: int, _frame: Any) -> None:
        raise _Signalled(signum)

    in_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS} if in_main else {}
    proc = None
    try:
        proc = subprocess.Popen(command, env=env, cwd=cwd, start_new_session=True)
        return proc.wait(timeout=kill_after), False
    except subprocess.TimeoutExpired:
        terminate_tree(proc)
        return proc.returncode, True
    except (KeyboardInterrupt, _Signalled) as exc:
        # a second signal (or Ctrl-C) must not interrupt the clean-up
        stopping = (*STOP_SIGNALS, signal.SIGINT) if in_main else ()
        quiet = {sig: signal.signal(sig, signal.SIG_IGN) for sig in stopping}
        try:
            if proc is not None:
                terminate_tree(proc)
        finally:
            for sig, handler in quiet.items():
                signal.signal(sig, handler)
        if isinstance(exc, _Signalled):
            name = signal.Signals(exc.signum).name
            print(f"\n{name}: stopped papermill, its kernel and their workers", file=sys.stderr)
            raise SystemExit(128 + exc.signum) from None
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def terminate_tree(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM ``proc`` (a process-group leader), its group and every process below it, the ones
    in other sessions included (a Jupyter kernel and its workers); SIGKILL what is left after
    ``grace_s`` seconds. The descendants are listed before anything is signalled: once papermill
    is gone its kernel is no longer its child."""
    family = descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    for pid in family:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if proc.poll() is not None and not [p for p in family if alive(p)]:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in family:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    proc.wait()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children ...), from ``/proc`` (or psutil)."""
    children: dict[int, list[int]] = {}
    proc_dir = Path("/proc")
    if proc_dir.is_dir():
        for entry in proc_dir.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (comm) state"
            children.setdefault(ppid, []).append(int(entry.name))
    else:  # pragma: no cover - macOS
        try:
            import psutil
        except ImportError:
            return []
        with contextlib.suppress(psutil.Error):
            return [c.pid for c in psutil.Process(pid).children(recursive=True)]
        return []
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no /proc
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
