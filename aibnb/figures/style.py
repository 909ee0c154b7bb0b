"""The book's figure style: legible fonts, figures twice as sharp as shown, shared colour ranges.

Every chapter calls :func:`use_book_style` once in its set-up cell. It sets the font sizes (no
text below 7 pt at the size a figure is shown) and asks the notebook's inline backend for PNGs at
twice the resolution they are displayed at ("retina": the image carries its display width and
height, so a high-density screen or a zoomed page stays sharp). The explorers' panels are drawn the
same way by :func:`aibnb.viz.figure_html`.

The ranges are the book's fixed colour scales (never per-image min-max): attention maps on
``ATTENTION_RANGE``, images on ``IMAGE_RANGE`` (stored as 8-bit) or ``UNIT_RANGE`` (floats).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

__all__ = [
    "ATTENTION_RANGE",
    "BOOK_RC",
    "IMAGE_RANGE",
    "LTPA_RANGE",
    "UNIT_RANGE",
    "use_book_style",
]

#: attention maps (sigmoid means, samples, quantised maps): one scale for every figure of the book
ATTENTION_RANGE = (0.0, 1.0)
#: LTPA's map is a softmax over the positions; drawn as H·W·a, 1 = uniform
LTPA_RANGE = (0.0, 4.0)
#: images stored as 8-bit grey levels (the run records' attention.npz)
IMAGE_RANGE = (0.0, 255.0)
#: images as floats in [0, 1] (the evaluation data of chapter 5)
UNIT_RANGE = (0.0, 1.0)

#: the matplotlib settings of every figure of the book
BOOK_RC: dict[str, Any] = {
    "figure.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "figure.titlesize": 10,
}


def use_book_style(*, retina: bool = True) -> None:
    """Apply :data:`BOOK_RC`; in a notebook, also render inline figures at twice their shown size.

    Outside IPython (a script, the tests) only the settings apply.
    """
    plt.rcParams.update(BOOK_RC)
    if not retina:
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the book's extra
        return
    if get_ipython() is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("retina")
