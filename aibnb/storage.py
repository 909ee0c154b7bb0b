"""Files written atomically and read with clear errors: the one home of the library's storage.

Every result of this book (run records, stored tiers, sweeps, checkpoints, cached data) is written
through :func:`write_atomic`: into a temporary file beside the target, then renamed over it, so a
reader never sees half a file and a crash leaves the old file or the new one. :func:`read_json`
and :func:`read_jsonl` name the file when it is damaged (:class:`DamagedFileError`).

Arrays (attention maps, images, predictions) are stored as compressed ``.npz`` files
(:func:`write_npz`, :func:`read_npz`); :func:`arrays_digest` is a hash of their content (names,
dtypes, shapes, bytes) that does not depend on the zip's metadata, so a JSON file that names an
``.npz`` can also say which arrays it belongs with (:func:`aibnb.runs.save_result_with_arrays`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "DamagedFileError",
    "arrays_digest",
    "json_safe",
    "read_json",
    "read_jsonl",
    "read_npz",
    "write_atomic",
    "write_json",
    "write_jsonl",
    "write_npz",
]


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
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    write_atomic(path, write)


def read_npz(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Every array of the ``.npz`` file ``path``, loaded into memory (numpy arrays by name)."""
    import numpy as np

    with np.load(Path(path)) as z:
        return {k: z[k] for k in z.files}


def arrays_digest(arrays: dict[str, Any]) -> str:
    """A SHA-256 of the arrays' names, dtypes, shapes and bytes, independent of zip metadata."""
    import numpy as np

    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
