"""Provenance: what made a stored result, where and when (commit, device, versions, wall time).

Every stored result carries :func:`provenance`'s stamp. :func:`device_description` names what
changes floating-point results (the GPU model, or a CPU's thread count and instruction set), so
that two results with equal descriptions can be expected to agree bit for bit;
:func:`devices_phrase` reads those descriptions back as a short phrase for a table cell.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy
import torch
import torchvision

import aibnb
from aibnb.data.paths import project_root

__all__ = ["device_description", "devices_phrase", "git_commit", "provenance"]


def git_commit(cwd: str | os.PathLike[str] | None = None, *, short: bool = False) -> str:
    """The current git commit (with ``-dirty`` when tracked files differ), or ``"unknown"``.

    ``cwd``: a folder of the checkout (default: this library's); ``short``: 12 hex digits.
    """
    try:
        top = Path(cwd) if cwd is not None else Path(__file__).resolve().parent.parent
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12" if short else "--verify", "HEAD"],
            cwd=top, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=top,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_description(device: Any) -> str:
    """A short, machine-neutral description of a torch device: the GPU model, or for a CPU the
    thread count, the architecture and the vector instruction set torch dispatches its kernels to.

    Two runs with equal descriptions are expected to agree bit for bit (the chapters assert it),
    so the description names what changes floating-point results: a CPU run with another thread
    count or on a CPU with another instruction set (AVX2 instead of AVX512) sums in another order.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
        isa = f", {capability()}" if capability is not None else ""
        return f"cpu ({torch.get_num_threads()} threads, {platform.machine()}{isa})"
    return device.type


def devices_phrase(records: Iterable[Any]) -> str:
    """The devices some runs trained on (their provenance's :func:`device_description`), short:
    ``"cpu, 1 or 2 threads"`` when every run was a CPU's, else the descriptions themselves."""
    devices = sorted({(getattr(r, "provenance", None) or {}).get("device", "?") for r in records})
    found = [re.match(r"cpu \((\d+) threads", d) for d in devices]
    if found and all(found):
        threads = sorted({m.group(1) for m in found if m}, key=int)
        return f"cpu, {' or '.join(threads)} thread{'s' if threads != ['1'] else ''}"
    return "; ".join(devices)


def provenance(
    *,
    profile: str,
    seed: int | None,
    device: Any,
    wall_time_s: float | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The stamp every stored result carries: what made it, where, when, how long."""
    stamp = {
        "commit": git_commit(),
        "profile": profile,
        "seed": seed,
        "device": device_description(device),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "numpy": numpy.__version__,
            "aibnb": aibnb.__version__,
        },
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": wall_time_s,
        "argv": [Path(sys.argv[0]).name, *map(_portable, sys.argv[1:])] if sys.argv else [],
    }
    if extra:
        stamp.update(extra)
    return stamp




def _portable(arg: str) -> str:
    """A command-line argument without the machine's folders: an absolute path inside the project
    becomes relative to its root, any other absolute path its last component."""
    if not arg.startswith("/"):
        return arg
    path = Path(arg)
    try:
        return str(path.relative_to(project_root()))
    except ValueError:
        return path.name
