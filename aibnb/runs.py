"""Run records, provenance, profiles and stored results.

A *run* is one training of one model: a folder with

* ``config.json``      the resolved :class:`~aibnb.train.TrainConfig` and its hash,
* ``metrics.jsonl``    one line per epoch (loss parts in bits, accuracies, KL, perplexity, LR, time),
* ``final.json``       test error with 4 x 4 samples, the best-validation epoch, attention statistics,
* ``provenance.json``  git commit, profile, seed, device, package versions, wall time,
* ``attention.npz``    a few test images with their attention maps (for figures),
* ``last.pt`` / ``best.pt`` checkpoints (``torch.save`` to a temporary file, then an atomic rename;
  loaded with ``weights_only=True``).

Profiles say how big a run is: ``ci`` fits two CPU cores inside a chapter's time budget (narrow
widths, subsets, a few epochs, the official schedule compressed to them); ``full`` is the paper's
setting (width 1, all the data, the official number of epochs), meant for a GPU. They live here,
in one place, and the notebooks only name them.
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

# ---------------------------------------------------------------------------------------------
# Profiles


@dataclass(frozen=True)
class Profile:
    """How large a run is. ``None`` means "the model's official recipe decides"."""

    name: str
    description: str
    width: dict[str, float]
    model_options: dict[str, dict[str, Any]]
    epochs: int | None
    train_subset: int | None
    val_subset: int | None
    test_subset: int | None
    batch_size: int | None = None
    eval_samples: int = 4
    # per backbone family: optimiser settings that replace the official recipe's (e.g. a schedule
    # that suits a two-epoch run); the book states every such departure where it shows results
    optimisation: dict[str, dict[str, Any]] = field(default_factory=dict)


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci",
        description=(
            "two CPU cores inside a chapter's time budget: widths 1/16 (VGG) and 1/20 with depth 10 "
            "(WRN), 6,000 training images, 2 epochs at batch 64 with a cosine decay of the learning "
            "rate (the official 200-epoch step schedules do not fit two epochs) from 0.02 for VGG and "
            "from the official 0.1 for WRN"
        ),
        width={"vgg": 0.0625, "wrn": 0.05, "cub": 0.0625},
        model_options={"wrn": {"depth": 10}},
        epochs=2,
        train_subset=6000,
        val_subset=500,
        test_subset=2000,
        batch_size=64,
        optimisation={
            "vgg": {"schedule": "cosine", "lr": 0.02, "warmup_epochs": 0.0},
            # WRN keeps the official 0.1: at 0.02 the narrow WRN reached only 24 % test accuracy in
            # two epochs (76.6 % error, seed 0), at 0.1 it reaches 60 % (40.0 % error)
            "wrn": {"schedule": "cosine", "lr": 0.1, "warmup_epochs": 0.0},
        },
    ),
    "full": Profile(
        name="full",
        description="the paper's settings: width 1, all the data, the official epochs and schedule (a GPU)",
        width={"vgg": 1.0, "wrn": 1.0, "cub": 1.0},
        model_options={},
        epochs=None,
        train_subset=None,
        val_subset=None,
        test_subset=None,
    ),
}


def profile(name: str) -> Profile:
    """The profile called ``name`` (``"ci"`` or ``"full"``)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return PROFILES[name]


def current_profile(default: str = "ci") -> str:
    """The profile a notebook runs at: ``$AIBNB_PROFILE`` if set (papermill sets the parameter)."""
    return os.environ.get("AIBNB_PROFILE", default)


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


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())


def read_jsonl(path: str | os.PathLike[str]) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


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
