"""Input checks shared by the toy models of :mod:`aibnb.bounds`, and the random-generator argument.

The closed forms take Cholesky factors and log-determinants, which fail with an opaque
``LinAlgError``, or silently return NaN, on a wrong shape, a non-finite entry or an indefinite
matrix. Every constructor and public function therefore checks its arguments here first, so that
the error names the argument and says how to fix it: matrices and vectors (shape, finiteness),
covariances (:func:`check_covariance`: symmetric, positive definite), index sets, and the
trade-off β of the paper's objective (finite, non-negative).

``Rng`` is what every ``sample`` method accepts: a ``numpy.random.Generator``, a seed, or None.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Rng = np.random.Generator | int | None


def _rng(rng: Rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _matrix(name: str, value: Any, shape: tuple[int | None, int | None] | None = None) -> np.ndarray:
    """A finite float64 2-D array, optionally of a given shape (None = any size on that axis)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix; got an array of shape {arr.shape}.")
    if shape is not None:
        for axis, want in enumerate(shape):
            if want is not None and arr.shape[axis] != want:
                raise ValueError(
                    f"{name} has shape {arr.shape}, but axis {axis} must have size {want} "
                    f"(expected shape {tuple('*' if s is None else s for s in shape)})."
                )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries.")
    return arr


def _vector(name: str, value: Any, size: int | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector; got an array of shape {arr.shape}.")
    if size is not None and arr.shape[0] != size:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected {size}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries.")
    return arr


def check_covariance(cov: Any, name: str = "cov", dim: int | None = None) -> np.ndarray:
    """Return ``cov`` as a symmetric positive-definite float64 matrix, or raise a clear error.

    Every log-determinant of :mod:`aibnb.bounds` needs strict positive definiteness, so a singular or
    indefinite matrix is rejected with its smallest eigenvalue in the message.
    """
    arr = _matrix(name, cov, (dim, dim))
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square; got shape {arr.shape}.")
    scale = max(1.0, float(np.max(np.abs(arr)))) if arr.size else 1.0
    if not np.allclose(arr, arr.T, rtol=0.0, atol=1e-9 * scale):
        raise ValueError(
            f"{name} must be symmetric; max |{name} - {name}.T| = {np.max(np.abs(arr - arr.T)):.3g}. "
            f"Symmetrise it with ({name} + {name}.T) / 2."
        )
    arr = 0.5 * (arr + arr.T)
    if arr.size:
        smallest = float(np.linalg.eigvalsh(arr)[0])
        if smallest <= 1e-12 * scale:
            raise ValueError(
                f"{name} must be positive definite; its smallest eigenvalue is {smallest:.3g}. "
                f"Add a small ridge (e.g. {name} + 1e-6 * I) or fix the matrix."
            )
    return arr


def _indices(name: str, idx: Any, dim: int) -> list[int]:
    out = [int(i) for i in np.atleast_1d(np.asarray(idx, dtype=int))] if idx is not None else []
    for i in out:
        if not 0 <= i < dim:
            raise ValueError(f"{name} contains index {i}, outside 0..{dim - 1} of cov_joint.")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} contains repeated indices: {out}.")
    return out


def _check_beta(beta: Any) -> float:
    b = float(beta)
    if not math.isfinite(b) or b < 0:
        raise ValueError(f"beta must be a finite number >= 0; got {beta!r}.")
    return b
