"""The stored ``ci`` sweeps drawn against their setting (β or the number of anchors K).

The ``ci`` sweeps (``book/results/ci/*_sweep.json``, two epochs on 6,000 images per run) show
that the sweep's code path runs end to end and let a chapter check that its own live run
reproduces a stored point; they decide nothing (the ``lab`` tier does,
:mod:`aibnb.figures.explorer`). :func:`ci_sweep_figure` draws one of them: each stored quantity
against the setting, the mean ± sd over seeds as a line, every run as a grey dot;
:func:`stored_point` and :func:`reproduction` compare a chapter's live run with the stored point of
the same configuration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from aibnb import viz

__all__ = ["ci_sweep_figure", "reproduction", "stored_point"]


def ci_sweep_figure(
    sweep: dict[str, Any],
    setting: str,
    panels: Sequence[tuple[str, str]],
    *,
    log_y: Sequence[str] = (),
    diagonal: str | None = None,
) -> Figure:
    """One panel per ``(key, label)`` of ``panels``: the sweep's mean ± sd over seeds of
    ``final[key]`` against ``setting`` (log axis), each grid run a grey dot. ``log_y``: keys drawn
    on a log axis; ``diagonal``: the key of a panel that gets the line y = setting (e.g. the
    perplexity, at most K)."""
    summary = pd.DataFrame(sweep["summary"]).set_index(setting)
    grid = [p for p in sweep["points"] if p.get("role", "grid") == "grid"]
    integer = setting == "num_anchors"
    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels), 2.9), layout="constrained",
                             squeeze=False)
    for ax, (key, label) in zip(axes[0], panels, strict=True):
        ax.errorbar(summary.index, summary[f"{key}_mean"], yerr=summary[f"{key}_std"].fillna(0), fmt="o-",
                    capsize=3, color="C0", label="mean ± sd over seeds")
        ax.plot([p[setting] for p in grid], [p["final"][key] for p in grid], ".", color="0.5", alpha=0.7,
                label="one run")
        if key == diagonal:
            ax.plot(summary.index, summary.index, "k:", lw=1, label=f"{setting.replace('num_anchors', 'K')}")
        ax.set_xscale("log")
        if key in log_y:
            ax.set_yscale("log")
        if integer:
            viz.integer_log_axis(ax, summary.index)
            if key == diagonal:
                viz.integer_log_axis(ax, summary.index, axis="y")
        ax.set(xlabel="β" if setting == "beta" else "number of anchors K", ylabel=label)
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].legend(fontsize=7)
    if diagonal:
        axes[0, -1].legend(fontsize=7)
    return fig


def stored_point(sweep: dict[str, Any], *, seed: int, role: str = "grid", **settings: Any
                 ) -> dict[str, Any] | None:
    """The stored sweep's point of ``seed`` with every ``settings`` value (floats compared with a
    relative tolerance) and no model options, or None."""
    for p in sweep["points"]:
        if p["seed"] != seed or p.get("role", "grid") != role or p.get("model_options"):
            continue
        if all(math.isclose(p[k], v) if isinstance(v, float) else p[k] == v for k, v in settings.items()):
            return p
    return None


def reproduction(record: Any, point: dict[str, Any], keys: Sequence[str]
                 ) -> tuple[Styler, dict[str, float], bool]:
    """A run's numbers against the stored point of the same configuration: the table, the absolute
    differences, and whether both ran on the same kind of machine (same device description: same
    instruction set and thread count, where CPU training is deterministic)."""
    from aibnb.figures.tables import comparison_table

    diffs = {k: abs(record.final[k] - point["final"][k]) for k in keys}
    same_kind = point["provenance"]["device"] == record.provenance["device"]
    fresh = record.provenance["created"] != point["provenance"]["created"]
    how = "trained separately from" if fresh else "the same cached run as"
    table = comparison_table(point["final"], record.final, keys, caption=(
        f"The chapter's run ({how} the stored point) against the stored ci sweep: stored on "
        f"{point['provenance']['device']}, now on {record.provenance['device']}"))
    return table, diffs, same_kind
