"""Units of information: :mod:`aibnb.bounds` computes in nats, the paper's loss is in bits.

Every entropy and mutual information in :mod:`aibnb.bounds` is in nats (natural logarithms keep the
Gaussian closed forms free of constants), while the paper states its training loss in bits (Eq. (8),
App. (20); :func:`aibnb.vib.aib_loss` follows it). The two differ by the factor ln 2; the functions
here convert the toy's values for comparison with the paper's.
"""

from __future__ import annotations

import math
from typing import Any

LN2 = math.log(2.0)


def nats_to_bits(value: Any) -> Any:
    """Convert an information value (float or array) from nats to bits (divide by ln 2)."""
    return value / LN2


def bits_to_nats(value: Any) -> Any:
    """Convert an information value (float or array) from bits to nats (multiply by ln 2)."""
    return value * LN2
