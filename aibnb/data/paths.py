"""Where datasets live on disk, and the error raised when one is missing.

The data root is resolved once per call, in this order: the ``root=`` argument, the
environment variable ``AIBNB_DATA``, then ``data/`` at the project root (the folder holding
``_toc.yml`` and ``book/``, found from the working directory upwards, so a notebook running in
``book/`` finds what ``make data`` filled; outside a checkout, ``./data``). Every dataset keeps the
directory layout of its official distribution (the same layout torchvision's downloaders produce), so a copy
made by hand, by torchvision or by ``python -m aibnb data fetch`` is found alike.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "AIBNB_DATA"
DEFAULT_ROOT = "data"


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The checkout's root: the nearest folder at or above ``start`` (default: the working
    directory) that holds ``_toc.yml`` and ``book/``; the working directory when there is none."""
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "book").is_dir():
            return folder
    return here


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the data root: ``root`` if given, else ``$AIBNB_DATA``, else ``<project root>/data``."""
    if root is None:
        env = os.environ.get(ENV_VAR)
        return Path(env).expanduser() if env else project_root() / DEFAULT_ROOT
    return Path(root).expanduser()


def root_origin(root: str | os.PathLike[str] | None) -> str:
    """Say where :func:`data_root` took the root from (used in error messages)."""
    if root is not None:
        return "the root= argument"
    if os.environ.get(ENV_VAR):
        return f"the environment variable {ENV_VAR}"
    return f"the default {project_root() / DEFAULT_ROOT} ({ENV_VAR} is not set)"


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not under the data root; the message says how to get them."""
