"""The paper's comparative claims, decided on a stored tier, as tables for the page.

:data:`TABLE1_CLAIMS` lists each claim as ``(text, a, b)`` = "model ``a`` has a lower test error
than model ``b``" (the paper's §4.1-4.3), with two the table implies but the text omits
(VGG-aib and VGG-aib-qt below VGG-GAP; WRN-aib below WRN-ABN), the paper's statements about
VGG-aib-qt (it, too, beats the backbone, DVIB and the attention baselines) and "the WRN variants beat
the VGG ones"; the WRN claims are decided only on the GPU tier. The training-set ladder, the cluttered
scenes' accuracy, the cross-domain, Table 2 (consistency), post-hoc and localisation claims of
chapters 4 and 5 follow it.
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

from aibnb.interpret.consistency import stability_levels
from aibnb.reproduce.stats import VERDICTS, ClaimResult

if TYPE_CHECKING:  # pandas is the book's extra: imported where a table is built
    import pandas as pd

__all__ = [
    "CLUTTERED_CLAIMS",
    "CROSS_DOMAIN_CLAIMS",
    "LADDER_CLAIMS",
    "LADDER_QT_CLAIMS",
    "LOCALISATION_CLAIMS",
    "LOCALISATION_MARGIN",
    "MAPS",
    "POSTHOC_CONSISTENCY_CLAIMS",
    "TABLE1_CLAIMS",
    "TABLE2_CLAIMS",
    "claim_cells",
    "claim_key",
    "claims_frame",
    "confidence_text",
    "consistency_excess",
    "consistency_per_image",
    "interval_text",
    "listed",
    "named",
    "pooled_sentence",
    "pooled_text",
    "posthoc_conditions",
    "robustness_text",
    "verdict_counts",
    "verdict_sentence",
    "verdict_summary",
]

TABLE1_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("AIB lowers the error of its backbone", "vgg_aib", "vgg"),
    ("AIB lowers the error of its backbone", "vgg_aib_qt", "vgg"),
    ("AIB lowers the error of its backbone", "wrn_aib", "wrn"),
    ("AIB lowers the error of its backbone", "wrn_aib_qt", "wrn"),
    ("quantisation lowers it further", "vgg_aib_qt", "vgg_aib"),
    ("quantisation lowers it further", "wrn_aib_qt", "wrn_aib"),
    ("AIB beats the information-bottleneck representation", "vgg_aib", "vgg_dvib"),
    ("AIB beats the information-bottleneck representation", "vgg_aib_qt", "vgg_dvib"),
    ("AIB beats the attention baselines", "vgg_aib", "vgg_att2"),
    ("AIB beats the attention baselines", "vgg_aib", "vgg_att3"),
    ("AIB beats the attention baselines", "vgg_aib", "vgg_gap"),
    ("AIB beats the attention baselines", "vgg_aib_qt", "vgg_att2"),
    ("AIB beats the attention baselines", "vgg_aib_qt", "vgg_att3"),
    ("AIB beats the attention baselines", "vgg_aib_qt", "vgg_gap"),
    ("AIB beats the attention baselines", "wrn_aib", "wrn_abn"),
    ("the wide ResNets beat the VGG models", "wrn_aib", "vgg_aib"),
)

#: The training-set ladder's decomposition of "VGG-aib below VGG" (chapter 4): the whole change,
#: the bottleneck head alone (VGG-DVIB is VGG with the same VIB head and no attention) and the
#: attention on top of the head. Decided at every training-set size of the ladder, in one family.
LADDER_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("AIB lowers the error of its backbone", "vgg_aib", "vgg"),
    ("the bottleneck head alone lowers it", "vgg_dvib", "vgg"),
    ("attention on top of the head lowers it", "vgg_aib", "vgg_dvib"),
)

#: The quantiser on the training-set ladder (chapter 4): VGG-aib-qt's ladder runs were planned after
#: the three models' waves, so its claims are a second family with its own Holm's correction, and the
#: first family keeps the levels its seed count was fixed for.
LADDER_QT_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("AIB lowers the error of its backbone", "vgg_aib_qt", "vgg"),
    ("quantisation lowers it further", "vgg_aib_qt", "vgg_aib"),
)

#: Accuracy on the cluttered scenes, where attention has a background to suppress: decided from the
#: per-image predictions of the runs trained on the scenes (chapter 4; their maps are chapter 5's).
CLUTTERED_CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("AIB lowers the error of its backbone on cluttered scenes", "vgg_aib", "vgg"),
    ("AIB beats the attention baseline on cluttered scenes", "vgg_aib", "vgg_att3"),
    ("quantisation lowers it further on cluttered scenes", "vgg_aib_qt", "vgg_aib"),
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
    pair alike, so the two differ slightly. None for a run whose ``scores.json`` has no per-image
    outcomes (scorer version < 4: re-score it with the queue)."""
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
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def confidence_text(r: ClaimResult) -> str:
    """The confidence of a decided claim's interval, ``"99.2 %"`` (its Holm level's complement)."""
    if not math.isfinite(r.level):
        return "–"
    c = 100.0 * (1.0 - r.level)
    return f"{c:.1f} %" if c < 99.95 else f"{c:.2f} %"


def _bracketed(value: float, low: float, high: float) -> str:
    return f"{_points(value, sign=True)} [{_points(low, sign=True)}, {_points(high, sign=True)}]"


def interval_text(r: ClaimResult) -> str:
    """``"+1.23 [+0.45, +2.01]"``: the mean advantage and the interval the verdict is read from."""
    return _bracketed(r.advantage, r.ci_low, r.ci_high) if r.testable else "–"


def robustness_text(r: ClaimResult) -> str:
    """``"yes"``, or ``"no: without seed 3, undecided"``: does the verdict survive dropping any seed."""
    if not r.testable or r.robust is None or not r.leave_one_out:
        return "–"
    if r.robust:
        return "yes"
    changed = [(s, v) for s, v in sorted(r.leave_one_out.items()) if v != r.verdict]
    s, v = changed[0]
    more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
    return f"no: without seed {s}, {v}{more}"


def pooled_text(r: ClaimResult) -> str:
    """The pooled model's estimate, interval and verdict: the cross-check beside the paired one."""
    c = r.pooled
    if c is None:
        return "–"
    return f"{_bracketed(c.advantage, c.ci_low, c.ci_high)}: {c.verdict}"


def _images_text(r: ClaimResult) -> str:
    """The per-image description: the discordant images (McNemar) or the bootstrap p, with seeds."""
    if r.p_images is None:
        return "–"
    text = "" if r.only_a_right is None else f"{r.only_a_right:,} / {r.only_b_right:,}, "
    text += f"p {_p(r.p_images)}"
    seeds = r.image_seeds or []
    if 0 < len(seeds) < r.n:
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
    The interval is the one the verdict is read from (at the claim's level in Holm's procedure,
    whose confidence is given); the per-image column describes the test images and takes no part in
    the verdict; a claim that is not testable gives its reason instead of numbers.
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
                "seeds": r.n if r.n else "–",
                f"{measure} A": _points(r.mean_a),
                f"{measure} B": _points(r.mean_b),
                "advantage of A, points [interval]": interval_text(r),
                "confidence (Holm)": confidence_text(r),
                "detectable (points)": _points(r.detectable) if r.testable else "–",
                "survives dropping a seed": robustness_text(r),
                "pooled model": pooled_text(r),
                "per image (description)": _images_text(r),
                "regime": r.regime or "–",
                "verdict": r.verdict if r.testable else f"{r.verdict}: {named(r.reason or '', names)}",
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


def named(text: str, names: dict[str, str] | None) -> str:
    """``text`` with each model name of ``names`` (e.g. ``vgg_aib``) replaced by its display name."""
    for key in sorted(names or {}, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(key)}(?![\w-])", names[key], text)
    return text


def pooled_sentence(results: Sequence[ClaimResult], names: dict[str, str] | None = None) -> str:
    """How the pooled model's verdicts compare with the paired ones, in one sentence."""
    both = [r for r in results if r.testable and r.pooled is not None]
    if not both:
        return ""
    names = names or {}
    differ = [r for r in both if r.pooled.verdict != r.verdict]
    head = (f"The pooled model (test error = model + seed, over every run of the table, "
            f"{both[0].pooled.df} residual degrees of freedom) agrees with {len(both) - len(differ)} of the "
            f"{len(both)} paired verdicts")
    if not differ:
        return head + "."
    items = "; ".join(
        f"{names.get(r.a, r.a)} below {names.get(r.b, r.b)}: {r.pooled.verdict} "
        f"({_bracketed(r.pooled.advantage, r.pooled.ci_low, r.pooled.ci_high)} points) where the pairs say "
        f"{r.verdict}"
        for r in differ
    )
    return f"{head}; it differs on {items}."


def claim_cells(r: ClaimResult, names: dict[str, str] | None = None) -> dict[str, str]:
    """A decided claim as the plain-text cells of the front page's summary: the number of paired
    seeds, the mean advantage with the interval its verdict is read from and that interval's
    confidence, the verdict, and the regime it was measured in."""
    return {
        "seeds": str(r.n) if r.n else "–",
        "advantage": interval_text(r) if r.testable else "–",
        "confidence": confidence_text(r),
        "verdict": r.verdict,
        "regime": (r.regime or "–") if r.testable else named(r.reason or "–", names),
    }


def verdict_counts(results: Sequence[ClaimResult]) -> dict[str, int]:
    """How many claims got each verdict (every verdict present, zero included)."""
    return {v: sum(r.verdict == v for r in results) for v in VERDICTS}


def listed(items: Sequence[str]) -> str:
    """``"a, b and c"``: the items of a sentence's list (``""`` for none)."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def verdict_summary(results: Sequence[ClaimResult]) -> str:
    """``"2 held, 1 reversed and 8 undecided"``: the verdicts of the testable claims, counted (only
    the verdicts that occur), followed by the number not testable at this scale, if any."""
    counts = verdict_counts(results)
    parts = [f"{n} {v}" for v, n in counts.items() if n and v != VERDICTS[-1]]
    text = listed(parts) or "none decided"
    untestable = counts[VERDICTS[-1]]
    return text + (f" ({untestable} not testable at this scale)" if untestable else "")


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
        if v == VERDICTS[-1]:  # one reason often covers several claims: say it once
            reasons: dict[str, list[str]] = {}
            for r in chosen:
                label = f"{names.get(r.a, r.a)} {relation} {names.get(r.b, r.b)}"
                reasons.setdefault(named(r.reason or "", names), []).append(label)
            items = "; ".join(f"{', '.join(labels)} ({reason})" for reason, labels in reasons.items())
        else:
            items = ", ".join(
                f"{names.get(r.a, r.a)} {relation} {names.get(r.b, r.b)} "
                f"({interval_text(r)} points, {confidence_text(r)} interval)"
                for r in chosen
            )
        parts.append(f"**{v}**: {items}")
    return "; ".join(parts) + "." if parts else "No claim has runs of both of its models yet."
