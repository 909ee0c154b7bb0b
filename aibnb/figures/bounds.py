"""Chapter 1's tables and figures: bounds against the truth, and the information plane.

* :func:`truth_table`, :func:`rate_table`, :func:`decoder_table`: each exact value of a toy
  channel (:class:`aibnb.bounds.LinearGaussianChannel`) beside its Monte-Carlo estimate with a 95 %
  interval and its distance in standard errors, the numbers the chapter asserts on;
* :func:`bounds_figure`: the bounds of a family of priors and of decoders against the truth;
* :class:`InformationPlane`: the β sweep of linear VIB encoders on the exact Gaussian IB curve of
  Chechik et al., as one figure and as one explorer panel per β (the plane, the truth beside the
  bounds, and what the code pins down in input space).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

from aibnb.bounds import GaussianDensity, LinearGaussianChannel

__all__ = ["InformationPlane", "bounds_figure", "decoder_table", "rate_table", "truth_table"]

_QUANTITIES = (("zx", "I(Z;X)"), ("zxa", "I(Z;X,A)"), ("zy", "I(Z;Y)"))


def _interval(estimate: Any) -> str:
    lo, hi = estimate.interval()
    return f"[{lo:.4f}, {hi:.4f}]"


def truth_table(channel: Any, num_mc: int, rng: np.random.Generator, order: int | None = None
                ) -> tuple[dict[str, float], pd.DataFrame]:
    """The exact ``I(Z;X)``, ``I(Z;X,A)``, ``I(Z;Y)`` of ``channel`` (nats) and a table of them
    beside their Monte-Carlo estimates from ``num_mc`` joint samples (``|MC − exact| / SE``)."""
    kw = {} if order is None else {"order": order}
    exact = {"zx": channel.mi_zx(**kw), "zxa": channel.mi_zxa(**kw), "zy": channel.mi_zy(**kw)}
    est = channel.mi_mc(num_mc, rng)
    rows = [{"quantity": name, "exact": exact[key], "MC mean": est[key].mean, "95% CI": _interval(est[key]),
             "|MC − exact| / SE": abs(est[key].mean - exact[key]) / est[key].stderr}
            for key, name in _QUANTITIES]
    return exact, pd.DataFrame(rows).set_index("quantity")


def rate_table(channel: Any, priors: Mapping[str, Any], truth_xa: float, num_mc: int,
               rng: np.random.Generator, order: int) -> pd.DataFrame:
    """The rate bound ``E KL(p(z|x,a) || r)`` of each prior ``r``: exact (Gaussian priors only),
    by Monte Carlo with its standard error, its gap to ``I(Z;X,A)`` and the prior mismatch
    ``KL(p(z) || r)`` (which the gap must equal)."""
    rows = []
    for name, prior in priors.items():
        exact = channel.rate_upper_bound(prior) if isinstance(prior, GaussianDensity) else np.nan
        mc = channel.rate_upper_bound_mc(prior, num_mc, rng)
        rows.append({"prior r(z)": name, "exact bound": exact, "MC mean": mc.mean, "MC 95% CI": _interval(mc),
                     "SE": mc.stderr,
                     "gap = bound − I(Z;X,A)": (exact if np.isfinite(exact) else mc.mean) - truth_xa,
                     "KL(p(z) || r)": channel.prior_mismatch(prior, order=order)})
    return pd.DataFrame(rows).set_index("prior r(z)")


def decoder_table(channel: Any, decoders: Mapping[str, Any], num_mc: int, rng: np.random.Generator,
                  order: int) -> pd.DataFrame:
    """The decoder bound ``E log q(y|z) + H(Y)`` of each decoder: exact, by Monte Carlo with its
    standard error, and its gap below ``I(Z;Y)``."""
    truth = channel.mi_zy(order=order)
    rows = []
    for name, dec in decoders.items():
        exact = channel.decoder_lower_bound(dec, order=order)
        mc = channel.decoder_lower_bound_mc(dec, num_mc, rng)
        rows.append({"decoder q(y|z)": name, "exact bound": exact, "MC mean": mc.mean,
                     "MC 95% CI": _interval(mc), "SE": mc.stderr, "gap = I(Z;Y) − bound": truth - exact})
    return pd.DataFrame(rows).set_index("decoder q(y|z)")


def _bounds_panel(ax: Axes, table: pd.DataFrame, truths: Mapping[str, float], title: str) -> None:
    names = list(table.index)
    ypos = np.arange(len(names))[::-1]
    ax.errorbar(table["MC mean"], ypos, xerr=1.96 * table["SE"], fmt="o", ms=4, color="C0", capsize=3,
                label="MC estimate, 95% CI")
    exact = table["exact bound"].to_numpy()
    ok = np.isfinite(exact)
    ax.plot(exact[ok], ypos[ok], "D", mfc="none", mec="k", ms=7, label="exact bound")
    for (label, value), style in zip(truths.items(), ["-", "--"], strict=False):
        ax.axvline(value, color="C3", ls=style, lw=1.2, label=f"true {label}")
    ax.set_yticks(ypos, names)
    ax.set_xlabel("nats")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.margins(x=0.08)
    ax.legend(fontsize=7, loc="best")


def bounds_figure(rate: pd.DataFrame, decoder: pd.DataFrame, rate_truths: Mapping[str, float],
                  decoder_truths: Mapping[str, float], *, rate_title: str, decoder_title: str) -> Figure:
    """The rate bounds (top) and decoder bounds (bottom): Monte-Carlo estimates with their 95 %
    intervals (dots), exact values (diamonds), the true informations (red lines)."""
    fig, axes = plt.subplots(2, 1, figsize=(6.4, 5.3), layout="constrained")
    _bounds_panel(axes[0], rate, rate_truths, rate_title)
    _bounds_panel(axes[1], decoder, decoder_truths, decoder_title)
    return fig


def _ellipse(ax: Axes, cov: np.ndarray, **kw: Any) -> None:
    vals, vecs = np.linalg.eigh(cov)
    angle = math.degrees(math.atan2(vecs[1, -1], vecs[0, -1]))
    width, height = 2 * math.sqrt(vals[-1]), 2 * math.sqrt(vals[0])
    ax.add_patch(Ellipse((0, 0), width, height, angle=angle, fill=False, **kw))


@dataclass
class InformationPlane:
    """The β sweep of linear VIB fits (``fits``, their summary table ``sweep`` indexed by β)
    beside the exact curve ``gib`` (:class:`aibnb.bounds.GaussianIB`) of ``source``."""

    gib: Any
    source: Any
    fits: Sequence[Any]
    sweep: pd.DataFrame
    norm: Normalize = field(default_factory=lambda: LogNorm(vmin=0.01, vmax=1.0))
    cmap: Any = field(default_factory=lambda: plt.get_cmap("viridis"))

    def __post_init__(self) -> None:
        rate_max = max(self.sweep["rate_bound"].max(), self.gib.optimum(self.fits[0].beta)[0])
        self.curve = self.gib.curve(num=300, max_rate=1.15 * rate_max)
        self.xmax, self.ymax = self.curve[0][-1], 1.12 * self.source.mi_xy()
        self.bar_max = 1.05 * max(self.sweep["rate_bound"].max(), self.source.mi_xy())

    def colour(self, beta: float) -> Any:
        return self.cmap(self.norm(beta))

    def draw(self, ax: Axes, highlight: Any = None, legend: bool = True) -> None:
        """The curve, I(X;Y), and each fit: its true informations (dot) and its bounds (square)."""
        ax.plot(*self.curve, color="0.2", lw=1.5, label="Gaussian IB curve (Chechik et al.)")
        ax.axhline(self.source.mi_xy(), color="0.5", ls=":", lw=1, label="I(X;Y)")
        ax.plot(*self.gib.optimum(self.gib.critical_betas[1]), marker="|", color="0.2", ms=12, mew=1.5)
        for fit, row in zip(self.fits, self.sweep.itertuples(), strict=True):
            alpha = 1.0 if highlight is None or fit is highlight else 0.25
            ax.plot(row.mi_zx, row.mi_zy, "o", color=self.colour(fit.beta), alpha=alpha, ms=6)
            ax.plot(row.rate_bound, row.relevance_bound, "s", mfc="none", mec=self.colour(fit.beta),
                    alpha=alpha, ms=7)
        if highlight is not None:
            ax.plot(*self.gib.optimum(highlight.beta), "*", color="k", ms=11, label="optimum for this β")
        ax.plot([], [], "o", color="0.4", label="trained: true (I(Z;X), I(Z;Y))")
        ax.plot([], [], "s", mfc="none", mec="0.4", label="trained: (rate bound, decoder bound)")
        ax.set(xlim=(0, self.xmax), ylim=(0, self.ymax), xlabel="I(Z;X)  [nats]", ylabel="I(Z;Y)  [nats]")
        if legend:
            ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3)

    def figure(self) -> Figure:
        """The whole sweep in the plane, coloured by β."""
        fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        self.draw(ax)
        fig.colorbar(plt.cm.ScalarMappable(norm=self.norm, cmap=self.cmap), ax=ax, label="β")
        return fig

    def posterior_cov(self, channel: Any) -> np.ndarray:
        """Σ_{x|z} = Σ_x − Σ_x Cᵀ Σ_z⁻¹ C Σ_x: what the code leaves unknown about x (unchanged when
        z is rotated, unlike the encoder matrix itself)."""
        cx, c = self.source.cov_x, channel.effective_encoder
        sz = c @ cx @ c.T + channel.effective_noise_cov
        return cx - cx @ c.T @ np.linalg.solve(sz, c @ cx)

    def _bars(self, ax: Axes, fit: Any) -> None:
        row = self.sweep.loc[fit.beta]
        opt_rate, opt_rel = self.gib.optimum(fit.beta)
        names = ["I(Z;X)", "rate bound", "I(Z;Y)", "decoder bound", "optimal I(Z;X)", "optimal I(Z;Y)"]
        values = [row.mi_zx, row.rate_bound, row.mi_zy, row.relevance_bound, opt_rate, opt_rel]
        colour = self.colour(fit.beta)
        colours = [colour, "none", colour, "none", "0.8", "0.8"]
        bars = ax.barh(names[::-1], values[::-1], color=colours[::-1], edgecolor="k")
        for bar, value in zip(bars, values[::-1], strict=True):
            ax.text(min(value, self.bar_max) + 0.02, bar.get_y() + bar.get_height() / 2, f"{value:.3f}",
                    va="center", fontsize=7)
        ax.set(xlim=(0, self.bar_max * 1.2), xlabel="nats", title="truth and bounds")

    def _geometry(self, ax: Axes, fit: Any) -> None:
        _ellipse(ax, self.source.cov_x, color="0.6", lw=1.2, label="Σ_x")
        colour = self.colour(fit.beta)
        _ellipse(ax, self.posterior_cov(fit.channel), color=colour, lw=2.0, label="Σ_x|z trained")
        if self.gib.optimum(fit.beta)[0] > 0:
            optimal = LinearGaussianChannel(self.source, self.gib.optimal_encoder(fit.beta))
            _ellipse(ax, self.posterior_cov(optimal), color="k", ls="--", lw=1.0, label="Σ_x|z optimal")
        for i, v in enumerate(self.gib.eigenvectors.T):
            d = self.source.cov_x @ v
            d = 1.2 * d / np.linalg.norm(d)
            arrow = {"arrowstyle": "->", "color": "C3", "lw": 1.8 - 0.6 * i}
            ax.annotate("", xy=d, xytext=(0, 0), arrowprops=arrow)
            ax.text(*(1.12 * d), str(i + 1), color="C3", ha="center", va="center", fontsize=8)
        ax.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), aspect="equal", title="what the code pins down in x")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)

    def panel(self, fit: Any, subtitle: str) -> Figure:
        """One explorer panel: the plane with ``fit`` highlighted, its truth beside its bounds, and
        its posterior ellipse in input space against the optimal one."""
        fig = plt.figure(figsize=(7.6, 4.6), layout="constrained")
        grid = fig.add_gridspec(2, 2, width_ratios=[1.25, 1])
        plane = fig.add_subplot(grid[:, 0])
        self.draw(plane, highlight=fit, legend=False)
        plane.set_title("information plane")
        plane.text(0.97, 0.03, "dot: true (I(Z;X), I(Z;Y))\nsquare: (rate bound, decoder bound)\n"
                   "star: optimum for this β", transform=plane.transAxes, ha="right", va="bottom", fontsize=7)
        self._bars(fig.add_subplot(grid[0, 1]), fit)
        self._geometry(fig.add_subplot(grid[1, 1]), fit)
        fig.suptitle(f"β = {fit.beta:.3g}  ({subtitle})")
        return fig
