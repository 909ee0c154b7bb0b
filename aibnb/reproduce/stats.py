"""Statistics over seeds: the mean ± std the tables show, and the paired tests that decide a claim.

:func:`summarize` is the book's one mean ± standard deviation over seeds (:class:`Summary`: the
sample standard deviation, ``ddof=1``, and always the count), used by the chapters' tables and the
stored sweeps alike.

A claim says that model A is better than model B (a lower test error, or a higher score). The
models are trained with the same seeds, and a seed fixes the data order and the initialisation
stream, so the runs are compared **in pairs**: the *advantage* of A in seed s is
``error_B(s) - error_A(s)`` (or ``score_A(s) - score_B(s)``), positive when the seed agrees with
the claim. For each claim the book reports

* the mean advantage over seeds with its 95 % t-interval (the variation that matters most at this
  scale is between trainings, and the seeds sample it);
* a **per-image paired test** on the shared test set: McNemar's exact test on the images that
  exactly one of the two models gets right, summed over the seeds (stratified by seed); it sees the
  test-set sampling noise only, so it is a second necessary condition, never the only one;
* **Holm's correction** across the claims of a table, applied to both tests;
* the **power**: the smallest advantage the seed-level test detects with 80 % probability at the
  observed spread (:func:`detectable_difference`);
* an **equivalence test** (two one-sided t-tests, TOST) against a smallest effect of interest
  fixed before looking at the results (:data:`SMALLEST_EFFECT`, 0.5 points).

The verdict (:func:`verdict`), one of :data:`VERDICTS`:

* ``equivalent at this scale``: the 90 % interval lies inside ± the smallest effect of interest
  (TOST at 5 %), i.e. any true difference is too small to matter at this scale (this comes first:
  a difference that is significant but smaller than the effect of interest is not a win);
* ``held``: both Holm-adjusted tests reject "no difference" and the advantage is positive;
* ``reversed``: both reject, and the advantage is negative (B is better);
* ``undecided``: none of these; the power says how large a difference could have gone unseen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "ALPHA",
    "SMALLEST_EFFECT",
    "VERDICTS",
    "ClaimResult",
    "Summary",
    "detectable_difference",
    "holm",
    "mcnemar",
    "paired_bootstrap_p",
    "paired_claim",
    "paired_interval",
    "summarize",
    "tost",
    "verdict",
]

VERDICTS = ("held", "reversed", "equivalent at this scale", "undecided")
ALPHA = 0.05
#: The smallest difference (points of test error or of a score) that this book treats as
#: meaningful, fixed before any lab result was seen: below it, a difference is "equivalent".
SMALLEST_EFFECT = 0.5


def _finite(name: str, values: Sequence[float]) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.ndim != 1 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a 1-d sequence of finite numbers, got {values!r}")
    return a


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (``ddof=1``; NaN for one value) and count."""

    mean: float
    std: float
    n: int

    def __str__(self) -> str:
        return self.format()

    def format(self, digits: int = 2) -> str:
        """``"23.95 ± 0.41"``; a single value has no spread: ``"23.95 (n=1)"``."""
        if self.n < 2 or not math.isfinite(self.std):
            return f"{self.mean:.{digits}f} (n={self.n})"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def summarize(values: Iterable[float]) -> Summary:
    """:class:`Summary` of ``values`` (finite numbers, e.g. one per seed; at least one)."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("summarize: values is empty; pass at least one number (one per seed)")
    bad = [v for v in vals if not math.isfinite(v)]
    if bad:
        raise ValueError(f"summarize: values must be finite numbers, got {bad}")
    a = np.asarray(vals, dtype=float)
    std = float(a.std(ddof=1)) if len(a) > 1 else math.nan
    return Summary(mean=float(a.mean()), std=std, n=len(a))


def paired_interval(diffs: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean of the paired differences and its two-sided t-interval at ``level``.

    With one pair, or pairs without spread, the interval is the mean alone (no information on the
    spread: the caller says so) or infinite for one pair.
    """
    d = _finite("diffs", diffs)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    if len(d) == 0:
        raise ValueError("diffs is empty: pass one difference per seed")
    mean = float(d.mean())
    if len(d) < 2:
        return mean, -math.inf, math.inf
    half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return mean, mean - half, mean + half


def paired_t_p(diffs: Sequence[float]) -> float:
    """Two-sided p-value of the paired t-test of "mean difference = 0" (1.0 without spread)."""
    d = _finite("diffs", diffs)
    if len(d) < 2:
        return 1.0
    sd = d.std(ddof=1)
    if sd == 0:
        return 0.0 if d.mean() != 0 else 1.0
    t = d.mean() / (sd / math.sqrt(len(d)))
    return float(2 * stats.t.sf(abs(t), len(d) - 1))


def tost(diffs: Sequence[float], margin: float = SMALLEST_EFFECT) -> float:
    """p-value of the equivalence test "|mean difference| < margin" (two one-sided t-tests).

    Small p: the difference is inside ± ``margin``. Equivalent to the 90 % interval lying inside
    the margin when p < 0.05.
    """
    d = _finite("diffs", diffs)
    if margin <= 0:
        raise ValueError(f"margin must be > 0 (points), got {margin!r}")
    if len(d) < 2:
        return 1.0
    se = d.std(ddof=1) / math.sqrt(len(d))
    if se == 0:
        return 0.0 if abs(d.mean()) < margin else 1.0
    df = len(d) - 1
    p_low = stats.t.sf((d.mean() + margin) / se, df)
    p_high = stats.t.cdf((d.mean() - margin) / se, df)
    return float(max(p_low, p_high))


def detectable_difference(sd: float, n: int, *, alpha: float = ALPHA, power: float = 0.8) -> float:
    """The smallest true mean difference a two-sided paired t-test over ``n`` pairs with spread
    ``sd`` detects with probability ``power`` (exact, through the non-central t distribution).
    Infinite with fewer than two pairs."""
    if n < 2 or not math.isfinite(sd):
        return math.inf
    if sd == 0:
        return 0.0
    df = n - 1
    crit = stats.t.ppf(1 - alpha / 2, df)

    def power_at(delta: float) -> float:
        nc = delta / (sd / math.sqrt(n))
        return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))

    lo, hi = 0.0, sd * 50
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if power_at(mid) < power else (lo, mid)
    return hi


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[int, int, float]:
    """McNemar's exact test on paired per-image outcomes (``True`` = right).

    Arrays of shape ``(images,)`` or ``(seeds, images)``: the discordant images are summed over
    seeds. Returns ``(only_a_right, only_b_right, two-sided p)``.
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"mcnemar: the outcomes must be paired (same shape), got {a.shape} and {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    p = 1.0 if n == 0 else float(stats.binomtest(only_a, n, 0.5).pvalue)
    return only_a, only_b, p


def paired_bootstrap_p(diffs: Sequence[float], *, resamples: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value of "mean per-image difference = 0" by a paired bootstrap.

    For continuous or tied per-image scores (pointing game with ties, relevance mass), where
    McNemar does not apply: the differences are centred on zero (the null), resampled with
    replacement, and p is the share of resampled means at least as far from zero as the observed
    one (with the observed one counted, so p > 0).
    """
    d = _finite("diffs", diffs)
    if len(d) < 2:
        return 1.0
    observed = abs(float(d.mean()))
    centred = d - d.mean()
    rng = np.random.default_rng(seed)
    means = np.abs(centred[rng.integers(0, len(d), size=(resamples, len(d)))].mean(axis=1))
    return float((1 + np.count_nonzero(means >= observed)) / (resamples + 1))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (NaN stays NaN and does not count)."""
    p = np.asarray(pvalues, dtype=float)
    valid = np.flatnonzero(np.isfinite(p))
    out = np.full(len(p), np.nan)
    order = valid[np.argsort(p[valid], kind="stable")]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def verdict(
    mean: float, p_seeds: float, p_images: float | None, p_equivalence: float, *, alpha: float = ALPHA
) -> str:
    """One of :data:`VERDICTS` from the (Holm-adjusted) p-values and the sign of the advantage."""
    if p_equivalence < alpha:  # inside the smallest effect of interest: too small to matter,
        return "equivalent at this scale"  # even where the tests also call it significant
    images_ok = p_images is None or (math.isfinite(p_images) and p_images < alpha)
    if p_seeds < alpha and images_ok and mean != 0:
        return "held" if mean > 0 else "reversed"
    return "undecided"


@dataclass
class ClaimResult:
    """One claim decided: the paired advantage of ``a`` over ``b`` and everything behind the verdict."""

    claim: str
    a: str
    b: str
    n: int
    mean_a: float
    mean_b: float
    advantage: float
    ci_low: float
    ci_high: float
    p_seeds: float
    only_a_right: int | None
    only_b_right: int | None
    p_images: float | None
    p_equivalence: float
    detectable: float
    p_seeds_holm: float = math.nan
    p_images_holm: float | None = None
    verdict: str = "undecided"
    #: the seeds the per-image test pooled (None: no per-image test); fewer than ``n`` where some
    #: runs of the claim carry no per-image data
    image_seeds: list[int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_claim(
    claim: str,
    a: str,
    b: str,
    values_a: Mapping[int, float],
    values_b: Mapping[int, float],
    *,
    correct_a: Mapping[int, np.ndarray] | None = None,
    correct_b: Mapping[int, np.ndarray] | None = None,
    image_advantage: Mapping[int, np.ndarray] | None = None,
    lower_is_better: bool = True,
    margin: float = SMALLEST_EFFECT,
) -> ClaimResult:
    """Compare ``a`` with ``b`` over their common seeds (``{seed: value}``; values in points).

    ``correct_a`` / ``correct_b``: per seed, the per-image outcomes on the shared test set, for the
    McNemar test (left out when absent). ``image_advantage``: per seed, the per-image advantage of
    ``a`` (continuous scores, NaN where an image has no score); averaged over the seeds image by
    image and tested with :func:`paired_bootstrap_p` (used when there are no outcomes). Either may
    cover only some of the seeds: the result names the seeds the per-image test pooled
    (``image_seeds``). The verdict is filled in by :func:`decide`, which applies Holm's correction
    over a table of claims.
    """
    seeds = sorted(set(values_a) & set(values_b))
    if not seeds:
        raise ValueError(f"paired_claim: {a} and {b} share no seed; train both with the same seeds")
    va = np.array([values_a[s] for s in seeds], dtype=float)
    vb = np.array([values_b[s] for s in seeds], dtype=float)
    adv = (vb - va) if lower_is_better else (va - vb)
    mean, lo, hi = paired_interval(adv)
    only_a = only_b = p_img = None
    common: list[int] = []
    if correct_a is not None and correct_b is not None:
        common = [s for s in seeds if s in correct_a and s in correct_b]
        if common:
            only_a, only_b, p_img = mcnemar(
                np.stack([correct_a[s] for s in common]), np.stack([correct_b[s] for s in common])
            )
    elif image_advantage is not None:
        common = [s for s in seeds if s in image_advantage]
        if common:  # the mean over seeds image by image; NaN (no score for that image) left out
            stack = np.stack([np.asarray(image_advantage[s], dtype=float) for s in common])
            scored = np.isfinite(stack)
            counts = scored.sum(axis=0)
            per_image = np.where(scored, stack, 0.0).sum(axis=0)[counts > 0] / counts[counts > 0]
            p_img = paired_bootstrap_p(per_image)
    sd = float(adv.std(ddof=1)) if len(adv) > 1 else math.nan
    return ClaimResult(
        claim=claim,
        a=a,
        b=b,
        n=len(seeds),
        mean_a=float(va.mean()),
        mean_b=float(vb.mean()),
        advantage=mean,
        ci_low=lo,
        ci_high=hi,
        p_seeds=paired_t_p(adv),
        only_a_right=only_a,
        only_b_right=only_b,
        p_images=p_img,
        p_equivalence=tost(adv, margin),
        detectable=detectable_difference(sd, len(adv)),
        image_seeds=common or None,
    )


def decide(results: Sequence[ClaimResult], *, alpha: float = ALPHA) -> list[ClaimResult]:
    """Holm's correction across ``results`` (one table of claims), then each verdict."""
    p_seeds = holm([r.p_seeds for r in results])
    p_images = holm([r.p_images if r.p_images is not None else math.nan for r in results])
    for r, ps, pi in zip(results, p_seeds, p_images, strict=True):
        r.p_seeds_holm = ps
        r.p_images_holm = pi if r.p_images is not None else None
        r.verdict = verdict(r.advantage, ps, r.p_images_holm, r.p_equivalence, alpha=alpha)
    return list(results)
