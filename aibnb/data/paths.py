"""Where datasets live on disk, and the error raised when one is missing.

The data root is resolved once per call, in this order: the ``root=`` argument, the
environment variable ``AIBNB_DATA``, then ``./data`` (relative to the working directory,
which is what ``make data`` fills). Every dataset keeps the directory layout of its
official distribution (the same layout torchvision's downloaders produce), so a copy
made by hand, by torchvision or by ``python -m aibnb data fetch`` is found alike.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

ENV_VAR = "AIBNB_DATA"
DEFAULT_ROOT = "data"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the data root: ``root`` if given, else ``$AIBNB_DATA``, else ``./data``."""
    if root is None:
        root = os.environ.get(ENV_VAR) or DEFAULT_ROOT
    return Path(root).expanduser()


def root_origin(root: str | os.PathLike[str] | None) -> str:
    """Say where :func:`data_root` took the root from (used in error messages)."""
    if root is not None:
        return "the root= argument"
    if os.environ.get(ENV_VAR):
        return f"the environment variable {ENV_VAR}"
    return f"the default ./{DEFAULT_ROOT} ({ENV_VAR} is not set)"


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not under the data root; the message says how to get them."""


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through ``write(tmp)`` on a temporary file in the same folder, then rename.

    Readers never see a half-written file, and an interrupted write leaves nothing behind
    under the final name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; data files are meant to be shared
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
