"""The paper's comparative claims, decided on a stored tier, as tables for the page.

:data:`TABLE1_CLAIMS` lists each claim as ``(text, a, b)`` = "model ``a`` has a lower test error
than model ``b``" (the paper's §4.1-4.3), with two the table implies but the text omits
(VGG-aib below VGG-GAP; WRN-aib below WRN-ABN, decided only where WRN runs exist); the cross-domain,
Table 2 (consistency), post-hoc and localisation claims of chapters 4 and 5 follow it.
:func:`consistency_excess` and :func:`consistency_per_image` read Table 2's measure from one run's
stored scores, per run and image by image. :func:`claims_frame` lays decided claims
(:class:`aibnb.reproduce.stats.ClaimResult`) out with readable headers and units;
:func:`verdict_counts` and :func:`verdict_sentence` give the numbers and the sentence the prose
quotes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from aibnb.reproduce.stats import VERDICTS, ClaimResult

if TYPE_CHECKING:  # pandas is the book's extra: imported where a table is built
    import pandas as pd

__all__ = [
    "CROSS_DOMAIN_CLAIMS",
    "LOCALISATION_CLAIMS",
    "LOCALISATION_MARGIN",
    "MAPS",
    "POSTHOC_CONSISTENCY_CLAIMS",
    "TABLE1_CLAIMS",
    "TABLE2_CLAIMS",
    "claim_cells",
    "claim_key",
    "claims_frame",
    "consistency_excess",
    "consistency_per_image",
    "posthoc_conditions",
    "verdict_counts",
    "verdict_sentence",
]

TABLE1_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("AIB lowers the error of its backbone", "vgg_aib", "vgg"),
    ("AIB lowers the error of its backbone", "wrn_aib", "wrn"),
    ("quantisation lowers it further", "vgg_aib_qt", "vgg_aib"),
    ("quantisation lowers it further", "wrn_aib_qt", "wrn_aib"),
    ("AIB beats the information-bottleneck representation", "vgg_aib", "vgg_dvib"),
    ("AIB beats the attention baselines", "vgg_aib", "vgg_att2"),
    ("AIB beats the attention baselines", "vgg_aib", "vgg_att3"),
    ("AIB beats the attention baselines", "vgg_aib", "vgg_gap"),
    ("AIB beats the attention baselines", "wrn_aib", "wrn_abn"),
)


#: The paper's cross-domain claim (Table 1's STL-10 columns): trained on one set, evaluated on a
#: shifted one without retraining, "the attention model outperforms other competitors on VGG".
#: Decided from each run's per-image outcomes on the shifted set (``scores.json``, ``cross_domain``).
CROSS_DOMAIN_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("AIB transfers better than its backbone", "vgg_aib", "vgg"),
    ("AIB transfers better than the information-bottleneck representation", "vgg_aib", "vgg_dvib"),
    ("AIB transfers better than the attention baselines", "vgg_aib", "vgg_att2"),
    ("AIB transfers better than the attention baselines", "vgg_aib", "vgg_att3"),
    ("AIB transfers better than the attention baselines", "vgg_aib", "vgg_gap"),
)


#: The paper's claims about Table 2 (§4.4): "a has more consistent maps than b". Decided on the
#: excess of the consistency score over the unrelated-pairs control (:func:`consistency_excess`).
TABLE2_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("AIB maps are more consistent than LTPA maps", "vgg_aib", "vgg_att3"),
    ("quantised maps are at least as consistent", "vgg_aib_qt", "vgg_aib"),
    ("AIB maps are more consistent than ABN maps", "wrn_aib", "wrn_abn"),
    ("quantised maps are at least as consistent", "wrn_aib_qt", "wrn_aib"),
)


#: Chapter 5's comparison of the learned map with post-hoc maps of the same trained VGG-aib:
#: "map a is more consistent than map b", keys ``"model:map"`` as in :data:`LOCALISATION_CLAIMS`;
#: both maps are averaged over the modifications the post-hoc maps were scored under.
POSTHOC_CONSISTENCY_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("the learned map is more stable than Grad-CAM", "vgg_aib:own", "vgg_aib:gradcam"),
    ("the learned map is more stable than the per-sample bottleneck", "vgg_aib:own", "vgg_aib:bottleneck"),
)


#: Chapter 5's localisation claims on the cluttered scenes: "map a points at the object more often
#: than map b" (and has more of its mass there), each map named ``"model:map"`` with a map of
#: :data:`MAPS`. The paper shows its maps on the object (Fig. 3) without measuring it; these are the
#: comparisons that make that a claim: AIB against the attention baseline it beats in Table 1, the
#: quantised map against the continuous one, and the learned map against post-hoc maps of a network
#: trained without it (Grad-CAM on VGG) and of the same network (the per-sample bottleneck).
LOCALISATION_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("AIB's map localises better than LTPA's", "vgg_aib:own", "vgg_att3:own"),
    ("the quantised map localises at least as well", "vgg_aib_qt:own", "vgg_aib:own"),
    ("AIB's learned map beats Grad-CAM on the plain backbone", "vgg_aib:own", "vgg:gradcam"),
    ("AIB's learned map beats a post-hoc bottleneck of the same network", "vgg_aib:own",
     "vgg_aib:bottleneck"),
)
#: The smallest localisation difference of interest (points of pointing rate or of relevance mass),
#: fixed before any cluttered lab run was seen: about two standard errors of a pointing rate on the
#: 200 scenes the post-hoc maps are scored on.
LOCALISATION_MARGIN = 2.0


def _part(scores: dict, map: str | None) -> dict | None:
    """The Table 2 part of a run's ``scores.json``: its own map's (``map=None``) or a post-hoc map's."""
    return scores.get("table2") if map is None else (scores.get("posthoc") or {}).get(map)


def _control(part: dict, tau: float, normalize: str) -> float | None:
    """The unrelated-pairs control score of a Table 2 part at ``tau`` (None where not scored)."""
    found = [r["score"] for r in part.get("control", []) if r["tau"] == tau and r["normalize"] == normalize]
    return found[0] if found else None


def consistency_excess(
    scores: dict,
    *,
    tau: float = 0.9,
    normalize: str = "none",
    map: str | None = None,
    conditions: Sequence[str] | None = None,
) -> float | None:
    """From one run's stored chapter-5 scores (``scores.json``): the Table 2 score at ``tau``,
    averaged over the modifications, minus the score that pairs of *unrelated* images get (the
    control). A map that is no more stable than two arbitrary maps scores 0 or less.

    ``map=None``: the model's own map; ``"gradcam"``, ``"bottleneck"`` or ``"cam"``: that post-hoc
    map of the same model (``None`` when the run was not scored with it). ``conditions``: average
    over these modifications only (by name, e.g. ``"colour r=0.25"``), so that maps scored under
    different lists can be compared on the ones they share.
    """
    part = _part(scores, map)
    if not part:
        return None
    rows = [
        r for r in part["rows"] if r["tau"] == tau and r["normalize"] == normalize and r["score"] is not None
        and (conditions is None or r["condition"] in conditions)
    ]
    control = _control(part, tau, normalize)
    if not rows or control is None:
        return None
    return sum(r["score"] for r in rows) / len(rows) - control


def consistency_per_image(
    scores: dict,
    *,
    tau: float = 0.9,
    normalize: str = "none",
    map: str | None = None,
    conditions: Sequence[str] | None = None,
) -> np.ndarray | None:
    """:func:`consistency_excess` image by image: for each scored image, the share (%) of the
    modifications that kept its prediction under which its map also stayed above ``tau``, minus the
    same control; NaN for an image whose prediction every modification changed. The per-image
    values a paired test over images needs (two maps of the same images, image by image); their
    mean weights every image alike, where the table's score weights every prediction-consistent
    pair alike, so the two differ slightly. None for a run scored before the scorer kept per-image
    outcomes (``scores.json`` version < 4: re-score it with the queue)."""
    from aibnb.interpret.consistency import stability_levels

    part = _part(scores, map)
    codes = ((part or {}).get("per_image") or {}).get(normalize)
    if not codes or tau not in part["taus"]:
        return None
    control = _control(part, tau, normalize)
    if control is None:
        return None
    names = list(codes) if conditions is None else [c for c in codes if c in conditions]
    if not names:
        return None
    levels = np.stack([stability_levels(codes[c]) for c in names])  # modifications x images
    need = sum(t <= tau for t in part["taus"])  # the level at which the cosine exceeds tau
    kept = (levels >= 0).sum(axis=0)
    stable = (levels >= need).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(kept > 0, 100.0 * stable / kept, np.nan)
    return share - control


def posthoc_conditions(scores: dict) -> list[str] | None:
    """The names of the modifications a run's post-hoc maps were scored under (None: not scored)."""
    parts = [p for k, p in (scores.get("posthoc") or {}).items() if isinstance(p, dict) and "conditions" in p]
    return [c["name"] for c in parts[0]["conditions"]] if parts else None


#: the maps compared in chapter 5: the model's own, then the post-hoc maps of the same network
MAPS = ("own", "gradcam", "bottleneck", "cam")


def _points(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "no per-image data"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _p_images(r: ClaimResult) -> str:
    """The per-image p-value, naming its seeds where it pooled fewer than the claim's."""
    text = _p(r.p_images_holm)
    seeds = r.image_seeds or []
    if r.p_images_holm is not None and 0 < len(seeds) < r.n:
        text += f" (seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)})"
    return text


def claims_frame(
    results: Sequence[ClaimResult],
    names: dict[str, str] | None = None,
    *,
    measure: str = "error (%)",
    relation: str = "below",
) -> pd.DataFrame:
    """One row per decided claim, every number formatted with its unit, indexed by the comparison.

    ``measure`` names the compared quantity (``"error (%)"``, ``"score excess (points)"``);
    ``relation`` joins the two models in the row label ("below" for errors, "above" for scores).
    """
    import pandas as pd

    names = names or {}
    rows = []
    for r in results:
        a, b = names.get(r.a, r.a), names.get(r.b, r.b)
        rows.append(
            {
                "comparison": f"{a} {relation} {b}",
                "claim": r.claim,
                "seeds": r.n,
                f"{measure} A": _points(r.mean_a),
                f"{measure} B": _points(r.mean_b),
                "advantage of A (points, 95 % CI)": f"{_points(r.advantage, sign=True)} "
                f"[{_points(r.ci_low, sign=True)}, {_points(r.ci_high, sign=True)}]",
                "p over seeds (Holm)": _p(r.p_seeds_holm),
                "images only A / only B got right": "–"
                if r.only_a_right is None
                else f"{r.only_a_right:,} / {r.only_b_right:,}",
                "p per image (Holm)": _p_images(r),
                "detectable at 80 % power (points)": _points(r.detectable),
                "verdict": r.verdict,
            }
        )
    return pd.DataFrame(rows).set_index("comparison")


def claim_key(prefix: str, a: str, b: str, field: str) -> str:
    """The glue key of one field of a decided claim, e.g. ``t1_vgg_aib_vgg_verdict``: letters,
    digits and ``_`` only (``β`` becomes ``beta``), so that another page can quote it as
    ``{glue:text}`chapter.ipynb::key:s```."""
    def slug(text: str) -> str:
        return re.sub(r"[^0-9A-Za-z]+", "_", text.replace("β", "beta")).strip("_")

    return "_".join(slug(part) for part in (prefix, a, b, field))


def claim_cells(r: ClaimResult) -> dict[str, str]:
    """A decided claim as the three plain-text cells of the front page's summary: the number of
    paired seeds, the mean advantage with its 95 % interval (points) and the verdict."""
    return {
        "seeds": str(r.n),
        "advantage": f"{_points(r.advantage, sign=True)} [{_points(r.ci_low, sign=True)}, "
        f"{_points(r.ci_high, sign=True)}]",
        "verdict": r.verdict,
    }


def verdict_counts(results: Sequence[ClaimResult]) -> dict[str, int]:
    """How many claims got each verdict (every verdict present, zero included)."""
    return {v: sum(r.verdict == v for r in results) for v in VERDICTS}


def verdict_sentence(
    results: Sequence[ClaimResult], names: dict[str, str] | None = None, *, relation: str = "below"
) -> str:
    """A Markdown sentence per verdict that occurs: which comparisons got it, with their intervals."""
    names = names or {}
    parts = []
    for v in VERDICTS:
        chosen = [r for r in results if r.verdict == v]
        if not chosen:
            continue
        items = ", ".join(
            f"{names.get(r.a, r.a)} {relation} {names.get(r.b, r.b)} "
            f"({_points(r.advantage, sign=True)} points, 95 % CI [{_points(r.ci_low, sign=True)}, "
            f"{_points(r.ci_high, sign=True)}])"
            for r in chosen
        )
        parts.append(f"**{v}**: {items}")
    return "; ".join(parts) + "." if parts else "No claim has runs of both of its models yet."
