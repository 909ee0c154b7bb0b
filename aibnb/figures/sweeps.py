"""A chapter's live run against the stored run of the same configuration in the ``ci`` tier.

The ``ci`` tier (``book/results/ci/``, stored by the queue as ``lab`` is: :mod:`aibnb.reproduce.plan`)
holds the sweeps that the chapters' ``ci`` sections draw with the readers the ``lab`` sections use
(:mod:`aibnb.figures.explorer`); at two epochs on 6,000 images they show the code path and decide
nothing. Its official points are the very configurations a chapter's main runs train, so a chapter
checks that its live run reproduces the stored one: :func:`reproduction` compares the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pandas.io.formats.style import Styler

__all__ = ["reproduction"]


def reproduction(record: Any, stored: Any, keys: Sequence[str]) -> tuple[Styler, dict[str, float], bool]:
    """A run's numbers against the stored run of the same configuration (two run records): the
    table, the absolute differences of ``final[key]``, and whether both ran on the same kind of
    machine (same device description: same instruction set and thread count, where CPU training is
    deterministic)."""
    from aibnb.figures.tables import comparison_table

    if record.name != stored.name:
        raise ValueError(f"reproduction: {record.name} and the stored {stored.name} are different "
                         "configurations; compare a run with the stored run of its own configuration")
    diffs = {k: abs(record.final[k] - stored.final[k]) for k in keys}
    device, stored_device = (record.provenance or {}).get("device"), (stored.provenance or {}).get("device")
    same_kind = device == stored_device
    fresh = (record.provenance or {}).get("created") != (stored.provenance or {}).get("created")
    how = "trained separately from" if fresh else "the same run as"
    table = comparison_table(stored.final, record.final, keys, caption=(
        f"The chapter's run ({how} the stored one) against the stored ci tier: stored on "
        f"{stored_device}, now on {device}"))
    return table, diffs, same_kind
