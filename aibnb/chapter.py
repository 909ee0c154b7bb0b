"""What every chapter notebook needs besides its science: glue, parameters, figure captions.

Kept here (and not copied into the notebooks) so that a chapter holds its derivation, its
measurements and its narrative, and nothing a second chapter would define again:

* :func:`glue_value` / :func:`glue_text`: numbers and phrases quoted in the prose, glued from the
  run (myst-nb); a numpy scalar is stored as a Python number so that ``{glue:text}`x:.2f``` works;
  :func:`glue_values`: several numbers in one call;
* :func:`as_list`: a list parameter, also when papermill's ``-p`` passed it as text;
  :func:`chosen_models`, :func:`chosen_seeds`: the ``models`` and ``seeds`` parameters checked
  (a clear error naming the parameter), in the order the chapter runs them;
* :func:`provenance_note`: the "profile, seeds" phrase a numbered figure's caption ends with
  (figures carry their provenance in the caption, never drawn over the plot);
* :func:`glue_figure`: a figure stored for a ``{glue:figure}`` directive (a numbered, captioned
  figure) and closed, so that it is not drawn a second time in the cell's output;
* :func:`train`: one cached training run of a chapter (``fit`` with the chapter's dataset, profile,
  seed, and its β / K parameters where the model has them); :func:`train_many`: all of a chapter's
  runs up front, two at a time on a CPU;
* :func:`device_text`: the device(s) a stored result was computed on;
* :func:`glue_claims`: each decided claim's seeds, interval and verdict, glued as plain text so
  that the front page quotes them from the chapter that decides them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib.pyplot as plt

from aibnb.models import spec
from aibnb.reproduce.claims import claim_cells, claim_key
from aibnb.train import fit, fit_many

__all__ = [
    "as_list",
    "chosen_models",
    "chosen_seeds",
    "device_text",
    "glue_claims",
    "glue_figure",
    "glue_ladder_claims",
    "glue_text",
    "glue_value",
    "glue_values",
    "provenance_note",
    "run_options",
    "seeds_phrase",
    "train",
    "train_many",
]


def glue_value(name: str, value: Any) -> None:
    """Glue a number quoted in the prose (numpy scalars become Python numbers, which format;
    ``None`` becomes NaN, so that a format spec such as ``:.2f`` never breaks the build)."""
    from myst_nb import glue

    value = value.item() if hasattr(value, "item") else value
    glue(name, float("nan") if value is None else value, display=False)


def glue_values(**values: Any) -> None:
    """Glue each ``name=value`` as :func:`glue_value` does (the numbers a paragraph quotes)."""
    for name, value in values.items():
        glue_value(name, value)


def glue_text(name: str, text: Any) -> None:
    """Glue a phrase (Markdown) quoted in the prose with ``{glue:md}``."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue(name, Markdown(str(text)), display=False)


def glue_claims(prefix: str, results: Iterable[Any], names: dict[str, str] | None = None) -> None:
    """Glue the seeds, the interval and the verdict of each decided claim
    (:class:`aibnb.reproduce.stats.ClaimResult`) as plain text under
    :func:`aibnb.reproduce.claims.claim_key` ``(prefix, a, b, field)``: the front page quotes them
    from the chapter (``{glue:text}`04_training.ipynb::t1_vgg_aib_vgg_verdict:s```: MyST-NB needs the
    file name and a format spec to resolve it), so that the two pages can never disagree.
    ``names``: display names of the models, for the reasons of the claims that are not testable."""
    from myst_nb import glue

    for r in results:
        for field, text in claim_cells(r, names).items():
            glue(claim_key(prefix, r.a, r.b, field), text, display=False)


def glue_ladder_claims(prefix: str, results: Iterable[Any], names: dict[str, str] | None = None) -> None:
    """:func:`glue_claims` for the training-set ladder's decided claims, size by size, under
    ``<prefix><size>`` (``ladder1250_vgg_aib_vgg_verdict``: the keys the front page quotes)."""
    results = list(results)
    for size in sorted({r.context["train_subset"] for r in results}):
        glue_claims(f"{prefix}{size}", [r for r in results if r.context["train_subset"] == size], names)


def glue_figure(name: str, fig: Any) -> None:
    """Store ``fig`` for ``{glue:figure} name`` (numbered and captioned in the text) and close it."""
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)


def as_list(value: Any) -> list[Any]:
    """A list parameter, also when papermill's ``-p`` passed it as text (``"[0, 1]"``, ``"vgg,vgg_aib"``)."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            value = [v.strip() for v in value.split(",") if v.strip()]
    return [value] if isinstance(value, (str, int)) else list(value)


def chosen_models(models: Any, allowed: Sequence[str]) -> list[str]:
    """The ``models`` parameter as a list in ``allowed``'s order (``None``: every allowed model);
    an unknown name or an empty list is an error naming the parameter and the valid names."""
    chosen = list(allowed) if models is None else as_list(models)
    unknown = sorted(set(chosen) - set(allowed), key=str)
    if unknown or not chosen:
        raise ValueError(f"models: {unknown or 'an empty list'} - choose among {list(allowed)}, "
                         "or None for all")
    return [m for m in allowed if m in chosen]


def chosen_seeds(seeds: Any, default: Sequence[int]) -> list[int]:
    """The ``seeds`` parameter as sorted distinct integers (``None``: ``default``); an empty list,
    a negative seed or one that is not an integer is an error naming the parameter."""
    if seeds is None:
        return sorted({int(s) for s in default})
    try:
        chosen = sorted({int(s) for s in as_list(seeds)})
    except (TypeError, ValueError):
        chosen = []
    if not chosen or min(chosen) < 0:
        raise ValueError(f"seeds: need non-negative integers (e.g. [0, 1, 2]) or None, got {seeds!r}")
    return chosen


def seeds_phrase(seeds: Iterable[int]) -> str:
    """``"seed 0"``, ``"seeds 0-4"`` (consecutive) or ``"seeds 0, 2, 5"``."""
    s = sorted({int(x) for x in seeds})
    if not s:
        return "no seeds"
    if len(s) == 1:
        return f"seed {s[0]}"
    if s == list(range(s[0], s[-1] + 1)):
        return f"seeds {s[0]}–{s[-1]}"
    return "seeds " + ", ".join(str(x) for x in s)


def provenance_note(profile: str, seeds: Iterable[int] | None = None, extra: str = "") -> str:
    """The end of a figure caption: ``"Profile lab, seeds 0–4."`` (plus ``extra``)."""
    note = f"Profile `{profile}`" + (f", {seeds_phrase(seeds)}" if seeds is not None else "")
    return note + (f", {extra}" if extra else "") + "."


def run_options(
    model: str,
    *,
    dataset: str,
    profile: str,
    seed: int,
    beta: float | None = None,
    num_anchors: int | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The ``fit`` arguments of one run of a chapter: the chapter's dataset, profile and seed, with
    the chapter's β (models with a VIB head) and K (quantised models) unless ``overrides`` set them."""
    options: dict[str, Any] = {
        "model": model,
        "dataset": dataset,
        "profile": profile,
        "seed": seed,
        "quiet": True,
        **overrides,
    }
    kind = spec(model).kind
    if kind in ("vib", "aib", "aib_qt") and beta is not None:
        options.setdefault("beta", float(beta))
    if kind == "aib_qt" and num_anchors is not None:
        options.setdefault("num_anchors", int(num_anchors))
    return options


def train(model: str, **settings: Any) -> Any:
    """One cached training run of a chapter (the arguments of :func:`run_options`)."""
    return fit(**run_options(model, **settings))


def train_many(runs: Iterable[tuple[str, dict[str, Any]]], **settings: Any) -> list[Any]:
    """Every ``(model, overrides)`` run of a chapter, trained up front and two at a time on a CPU
    (:func:`aibnb.train.fit_many`); later :func:`train` calls of the same runs read the cache."""
    return fit_many([run_options(model, **{**settings, **overrides}) for model, overrides in runs])


def device_text(stored: dict) -> str:
    """The device(s) a stored result was computed on, as text."""
    devices = stored["provenance"]["device"]
    return devices if isinstance(devices, str) else " and ".join(devices)
