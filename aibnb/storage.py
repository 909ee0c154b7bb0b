"""Files written atomically and read with clear errors: the one home of the library's storage.

Every result of this book (run records, stored tiers, sweeps, checkpoints, cached data) is written
through :func:`write_atomic`: into a temporary file beside the target, then renamed over it, so a
reader never sees half a file and a crash leaves the old file or the new one. :func:`read_json`
and :func:`read_jsonl` name the file when it is damaged (:class:`DamagedFileError`), and so do
:func:`read_json_object` (valid JSON of the wrong shape) and :func:`read_npz`.

Arrays (attention maps, images, predictions) are stored as compressed ``.npz`` files
(:func:`write_npz`, :func:`read_npz`); :func:`arrays_digest` is a hash of their content (names,
dtypes, shapes, bytes) that does not depend on the zip's metadata.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TEMP_PATTERN",
    "DamagedFileError",
    "arrays_digest",
    "json_safe",
    "read_json",
    "read_json_object",
    "read_jsonl",
    "read_npz",
    "remove_stale_temps",
    "write_atomic",
    "write_json",
    "write_jsonl",
    "write_npz",
]


# the temporary files of write_atomic: ``.<target name>.<8 random characters of mkstemp>.tmp``
TEMP_PATTERN = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    A crash leaves either the old file or the new one, never a half-written file (a process
    killed with ``SIGKILL`` may leave the temporary file, named as :data:`TEMP_PATTERN` says:
    :func:`remove_stale_temps` removes those).
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


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files :func:`write_atomic` left in ``folder`` when its process was
    killed (only files named as :data:`TEMP_PATTERN` says, never a subfolder); returns them.

    Call it only while no other process writes into ``folder`` (a run's folder, under its lock).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if TEMP_PATTERN.match(p.name) and p.is_file() and not p.is_symlink()]
    for p in stale:
        p.unlink(missing_ok=True)
    return sorted(stale)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically; NaN and infinities become ``null``."""
    text = json.dumps(json_safe(obj), indent=2, sort_keys=False) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text))


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict]) -> None:
    """Write one JSON object per line, atomically."""
    text = "".join(json.dumps(json_safe(r)) + "\n" for r in rows)
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


def read_json_object(path: str | os.PathLike[str], required: Sequence[str] = ()) -> dict[str, Any]:
    """Parse the JSON file ``path``, which must hold an object with every key of ``required``;
    anything else (``[1, 2]``, ``{}`` where keys are required) is a :class:`DamagedFileError`
    naming the file: valid JSON of the wrong shape is as damaged as a truncated file."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise DamagedFileError(
            f"{path} is damaged (a JSON object was expected, it holds a {type(data).__name__}); it is "
            "left in place: move it away to recompute it"
        )
    missing = [key for key in required if key not in data]
    if missing:
        raise DamagedFileError(
            f"{path} is damaged (it lacks {', '.join(repr(k) for k in missing)}); it is left in place: "
            "move it away to recompute it"
        )
    return data


def read_jsonl(path: str | os.PathLike[str]) -> list[dict]:
    """One dict per line of ``path`` (``[]`` when it does not exist); a damaged line, or a line
    that is not a JSON object, names the file."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DamagedFileError(
            f"{path} is damaged ({err}); it is left in place: move it away to recompute it"
        ) from err
    if not all(isinstance(row, dict) for row in rows):
        raise DamagedFileError(
            f"{path} is damaged (a line is not a JSON object); it is left in place: move it away to "
            "recompute it"
        )
    return rows


def json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:  # numpy / torch scalars
        return json_safe(obj.item())
    return obj


def write_npz(path: str | os.PathLike[str], arrays: dict[str, Any]) -> None:
    """Write numpy arrays as a compressed ``.npz``, atomically."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    write_atomic(path, write)


def read_npz(path: str | os.PathLike[str], required: Sequence[str] = ()) -> dict[str, Any]:
    """Every array of the ``.npz`` file ``path``, loaded into memory (numpy arrays by name).

    ``required``: arrays that must be there, one entry per row of the same table (the same
    length along their first axis), e.g. ``("predictions", "targets")``. A file that cannot be
    read (truncated, not a zip, a damaged member) or that lacks them is a
    :class:`DamagedFileError` naming it; a missing file is a ``FileNotFoundError``.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (FileNotFoundError, IsADirectoryError):
        raise
    except Exception as err:  # BadZipFile, zlib.error, EOFError, ValueError (shape, pickled data) ...
        reason = (str(err).strip().splitlines() or [""])[0][:160]
        raise DamagedFileError(
            f"{path} is damaged ({type(err).__name__}: {reason}); it is left in place: move it away "
            "to recompute it"
        ) from err
    missing = [key for key in required if key not in arrays]
    lengths = {len(arrays[key]) if arrays[key].ndim else None for key in required if key in arrays}
    if missing or len(lengths) > 1 or None in lengths:
        what = f"it lacks {', '.join(missing)}" if missing else f"{', '.join(required)} differ in length"
        raise DamagedFileError(
            f"{path} is damaged ({what}); it is left in place: move it away to recompute it"
        )
    return arrays


def arrays_digest(arrays: dict[str, Any]) -> str:
    """A SHA-256 of the arrays' names, dtypes, shapes and bytes, independent of zip metadata."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
