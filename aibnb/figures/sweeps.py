"""A chapter's live run against the stored run of the same configuration in the ``ci`` tier.

The ``ci`` tier (``book/results/ci/``, stored by the queue as ``lab`` is: :mod:`aibnb.reproduce.plan`)
holds the sweeps that the chapters' ``ci`` sections draw with the readers the ``lab`` sections use
(:mod:`aibnb.figures.explorer`); at two epochs on 6,000 images they show the code path and decide
nothing. Its official points are the very configurations a chapter's main runs train, so a chapter
checks that its live run reproduces the stored one: :func:`reproduction` compares the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pandas.io.formats.style import Styler

from aibnb.figures.tables import comparison_table

__all__ = ["Reproduction", "reproduction"]


@dataclass(frozen=True)
class Reproduction:
    """A run beside the stored run of its configuration: the table, ``|run - stored|`` per key,
    and whether both ran on the same kind of machine (same device description: same instruction set
    and thread count, where CPU training is deterministic, so the differences must vanish); ``stored``
    is the stored run record."""

    stored: Any
    table: Styler
    diffs: dict[str, float]
    same_kind: bool

    @property
    def largest(self) -> float:
        """The largest absolute difference."""
        return max(self.diffs.values(), default=0.0)

    @property
    def summary(self) -> str:
        """One line for the reader: what was compared and what it showed."""
        if self.same_kind:
            return f"same kind of machine: the largest difference is {self.largest:.1e}"
        return ("another instruction set or thread count: the differences are reported, not asserted "
                f"(largest {self.largest:.2g})")


def reproduction(record: Any, tier: Any, keys: Sequence[str]) -> Reproduction | None:
    """A run's numbers against the run of the same configuration (the same run name) stored in
    ``tier`` (a :class:`~aibnb.reproduce.evidence.Tier`); None when the tier holds no such run (another
    profile, seed or setting than the stored sweeps)."""
    stored = next((r for r in tier.records if r.name == record.name), None)
    if stored is None:
        return None
    diffs = {k: abs(record.final[k] - stored.final[k]) for k in keys}
    device, stored_device = (record.provenance or {}).get("device"), (stored.provenance or {}).get("device")
    fresh = (record.provenance or {}).get("created") != (stored.provenance or {}).get("created")
    how = "trained separately from" if fresh else "the same run as"
    table = comparison_table(stored.final, record.final, keys, caption=(
        f"The chapter's run ({how} the stored one) against the stored {tier.profile} tier: stored on "
        f"{stored_device}, now on {device}"))
    return Reproduction(stored, table, diffs, device == stored_device)
