"""Run records, provenance and stored results.

A *run* is one training of one model: a folder with

* ``config.json``      the resolved :class:`~aibnb.train.TrainConfig` and its hash,
* ``metrics.jsonl``    one line per epoch (loss parts in bits, accuracies, KL, perplexity, LR, time),
* ``final.json``       test error with 4 x 4 samples, the best-validation epoch, attention statistics,
* ``provenance.json``  git commit, profile, seed, device, package versions, wall time,
* ``attention.npz``    a few test images with their attention maps (for figures),
* ``last.pt`` / ``best.pt`` checkpoints (``torch.save`` to a temporary file, then an atomic rename;
  loaded with ``weights_only=True``).

How big a run is (its *profile*: ``ci``, ``lab``, ``full``) is the training side's business and
lives in :mod:`aibnb.train.profiles`; ``aibnb.runs.PROFILES`` and ``aibnb.runs.profile`` still name it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

_MOVED = {"PROFILES", "Profile", "profile", "current_profile"}


def __getattr__(name: str) -> Any:
    """The profile names that used to live here, from :mod:`aibnb.train.profiles`."""
    if name in _MOVED:
        from aibnb.train import profiles

        return getattr(profiles, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------
# Paths and atomic files


def runs_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where run folders live: ``root``, else ``$AIBNB_RUNS``, else ``runs/`` at the project root
    (found upwards from the working directory, so notebooks running in ``book/`` share it)."""
    from aibnb.data.paths import project_root

    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("AIBNB_RUNS")
    return Path(env).expanduser() if env else project_root() / "runs"


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    A crash leaves either the old file or the new one, never a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically; NaN and infinities become ``null``."""
    text = json.dumps(_json_safe(obj), indent=2, sort_keys=False) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text))


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict]) -> None:
    """Write one JSON object per line, atomically."""
    text = "".join(json.dumps(_json_safe(r)) + "\n" for r in rows)
    write_atomic(path, lambda tmp: tmp.write_text(text))


class DamagedFileError(ValueError):
    """A stored file that exists but cannot be parsed; the message names the file."""


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse the JSON file ``path``; a damaged file is a :class:`DamagedFileError` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DamagedFileError(
            f"{path} is damaged ({err}); it is left in place: move it away to recompute it"
        ) from err


def read_jsonl(path: str | os.PathLike[str]) -> list[dict]:
    """One dict per line of ``path`` (``[]`` when it does not exist); a damaged line names the file."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DamagedFileError(
            f"{path} is damaged ({err}); it is left in place: move it away to recompute it"
        ) from err


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:  # numpy / torch scalars
        return _json_safe(obj.item())
    return obj


def config_hash(config: dict[str, Any]) -> str:
    """A stable hash of a resolved configuration (sorted-key JSON, SHA-256, 12 hex digits)."""
    text = json.dumps(_json_safe(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# Provenance


def git_commit(cwd: str | os.PathLike[str] | None = None) -> str:
    """The current git commit (with ``-dirty`` when the tree has changes), or ``"unknown"``."""
    try:
        top = Path(cwd) if cwd is not None else Path(__file__).resolve().parent.parent
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=top, capture_output=True, text=True, timeout=10, check=True
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
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
        isa = f", {capability()}" if capability is not None else ""
        return f"cpu ({torch.get_num_threads()} threads, {platform.machine()}{isa})"
    return device.type


def provenance(
    *,
    profile: str,
    seed: int | None,
    device: Any,
    wall_time_s: float | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The stamp every stored result carries: what made it, where, when, how long."""
    import numpy
    import torch
    import torchvision

    import aibnb

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
        "argv": [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else [],
    }
    if extra:
        stamp.update(extra)
    return stamp


# ---------------------------------------------------------------------------------------------
# Run records


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
        """Read the run folder ``path``; a clear error if it is not one."""
        path = Path(path)
        cfg = path / "config.json"
        if not cfg.exists():
            raise FileNotFoundError(
                f"{path} is not a run folder (no config.json); runs live under {runs_root()} "
                "(set AIBNB_RUNS to change it)"
            )
        final = path / "final.json"
        prov = path / "provenance.json"
        return cls(
            path=path,
            config=read_json(cfg)["config"],
            metrics=read_jsonl(path / "metrics.jsonl"),
            final=read_json(final) if final.exists() else None,
            provenance=read_json(prov) if prov.exists() else None,
        )

    def series(self, key: str) -> list[float | None]:
        """One metric over the epochs (``None`` where an epoch lacks it)."""
        return [m.get(key) for m in self.metrics]

    def attention_samples(self) -> dict[str, Any]:
        """The stored test images and attention maps (numpy arrays), if the run saved any."""
        import numpy as np

        f = self.path / "attention.npz"
        if not f.exists():
            return {}
        with np.load(f) as z:
            return {k: z[k] for k in z.files}

    def load_model(self, which: str = "best", device: str = "cpu"):
        """Rebuild the model and load its ``best`` (by validation accuracy) or ``last`` weights."""
        from aibnb.train.engine import load_model

        return load_model(self.path, which=which, device=device)


def find_runs(root: str | os.PathLike[str] | None = None, **match: Any) -> list[RunRecord]:
    """Finished runs under ``root`` whose config has every ``key=value`` in ``match``."""
    out = []
    base = runs_root(root)
    if not base.exists():
        return out
    for cfg in sorted(base.glob("*/config.json")):
        try:
            rec = RunRecord.load(cfg.parent)
        except (OSError, ValueError, KeyError):
            continue
        if rec.finished and all(rec.config.get(k) == v for k, v in match.items()):
            out.append(rec)
    return out


# ---------------------------------------------------------------------------------------------
# Stored results (book/results/...)


def results_dir(profile_name: str, base: str | os.PathLike[str] | None = None) -> Path:
    """``book/results/<profile>`` (or under ``base``): where sweeps and GPU results are stored."""
    from aibnb.data.paths import project_root

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
