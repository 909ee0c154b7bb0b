"""Monte-Carlo means with their standard errors, the form of every sampled estimate in :mod:`aibnb.bounds`.

The paper estimates its objective by Monte Carlo (Eq. (6)–(7), App. (18)–(19)). Here every closed
form is checked against such an estimate, and a sampled value is comparable with an exact one only
together with its error: :class:`MCEstimate` carries the mean, the standard error
``std / sqrt(n)`` and ``n``, and :meth:`MCEstimate.contains` makes the comparison (within a
number of standard errors) that the tests and the book's chapter 1 assert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aibnb.bounds.units import nats_to_bits


@dataclass(frozen=True, eq=False)
class MCEstimate:
    """A Monte-Carlo mean with its standard error (``std / sqrt(n)``) and sample count."""

    mean: float
    stderr: float
    n: int

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """Normal-approximation confidence interval ``mean ± z·stderr`` (1.96 ≈ 95 %)."""
        return (self.mean - z * self.stderr, self.mean + z * self.stderr)

    def contains(self, value: float, num_se: float = 4.0) -> bool:
        """Whether ``value`` lies within ``num_se`` standard errors of the mean."""
        return abs(self.mean - value) <= num_se * self.stderr

    def bits(self) -> MCEstimate:
        """The same estimate converted from nats to bits."""
        return MCEstimate(nats_to_bits(self.mean), nats_to_bits(self.stderr), self.n)


def mc_estimate(samples: Any) -> MCEstimate:
    """Mean and standard error of i.i.d. samples of an estimator."""
    arr = np.asarray(samples, dtype=np.float64).ravel()
    if arr.size < 2:
        raise ValueError(f"mc_estimate needs at least 2 samples; got {arr.size}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("mc_estimate got NaN or infinite samples.")
    return MCEstimate(float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(arr.size)), arr.size)
