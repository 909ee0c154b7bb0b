"""Readings of a tier's claims: the evidence as it stood when the verdicts were first read, claims
decided apart joined into one family, and what changed between two readings of the same claims.

Seeds added to a tier after its verdicts had been read are *optional stopping*: adding seeds until a
comparison turns significant inflates the rate of false verdicts. The lab tier's added seeds were
fixed once, for every claim at once (:func:`~aibnb.reproduce.plan.added_after_reading`), and the
chapters show the verdicts of the first reading beside the current ones (:func:`first_reading`,
:func:`verdict_changes`), so that a reader sees what the added seeds did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aibnb.reproduce.claims import interval_text
from aibnb.reproduce.evidence import Tier
from aibnb.reproduce.plan import added_after_reading
from aibnb.reproduce.stats import ClaimResult, decide

__all__ = ["first_reading", "one_family", "verdict_changes"]


def first_reading(tier: Tier) -> Tier:
    """``tier`` without the ``table1`` seeds planned after its first verdicts had been read: the
    evidence those verdicts stood on."""
    return Tier(tier.profile, tier.path, [r for r in tier.records if not added_after_reading(r.config)])


def one_family(parts: Mapping[str, Sequence[ClaimResult]]) -> list[ClaimResult]:
    """Claims decided apart, ``{label: results}`` (e.g. one list per normalisation of the maps), joined
    into one family: each claim names its part (``"... (raw maps)"``) and Holm's correction runs over
    all of them at once. The results are updated in place and returned in the order given."""
    joined = []
    for label, results in parts.items():
        for r in results:
            r.claim = f"{r.claim} ({label})"
            joined.append(r)
    return decide(joined)


def verdict_changes(before: Sequence[ClaimResult], after: Sequence[ClaimResult],
                    names: dict[str, str] | None = None, *, relation: str = "below") -> str:
    """A Markdown sentence on what more seeds changed: each claim of ``after`` whose verdict differs
    from that of the same claim (text and models) in ``before``, with both seed counts and intervals;
    ``relation`` reads a comparison (``"below"``: a lower error, ``"above"``: a higher score)."""
    names = names or {}
    earlier = {(r.claim, r.a, r.b): r for r in before}
    changed = []
    for r in after:
        old = earlier.get((r.claim, r.a, r.b))
        if old is None or old.verdict == r.verdict:
            continue
        changed.append(f"{names.get(r.a, r.a)} {relation} {names.get(r.b, r.b)}: {old.verdict} at {old.n} "
                       f"seeds ({interval_text(old)}), {r.verdict} at {r.n} ({interval_text(r)})")
    if not changed:
        return "No verdict changed."
    return f"{len(changed)} verdict{'s' if len(changed) > 1 else ''} changed: " + "; ".join(changed) + "."
