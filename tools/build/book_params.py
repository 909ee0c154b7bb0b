"""Chapter parameters, checked by name and type before papermill starts.

Each chapter declares its parameters in one cell tagged ``parameters`` (``beta = None  # ...``).
:func:`notebook_parameters` reads their names and defaults from the notebook itself, with nbformat
and :mod:`ast`, without executing anything, so the notebook stays the one place they are defined.
:func:`check_parameters` then refuses, before any kernel starts, what papermill would only warn
about or what would fail deep inside a cell: a name no chapter declares (``-p betta 0.1``) and a
value of the wrong type or sign (``-p beta abc``, ``-p num_mc -5``), each with a one-line message
that names the parameter and the valid names.

A parameter's type is its default's (``seed = 0``: an integer); a parameter whose default is
``None`` ("the profile decides") takes its type from :data:`KINDS`, by name: the same name means
the same thing in every chapter (``tests/book/test_tools.py`` checks that every such parameter of
every chapter has an entry). Values arrive as papermill reads them: ``-p`` resolves ``True``,
``None``, integers and floats and leaves the rest text (a list as ``"[0, 1]"``, which the chapters
read with :func:`aibnb.chapter.as_list`), ``-r`` is always text, ``-y`` / ``-f`` / ``-b`` are YAML.
"""

from __future__ import annotations

import ast
import base64
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "KINDS", "Kind", "ParameterError", "check_parameters", "kind_of", "notebook_parameters",
    "papermill_parameters",
]  # fmt: skip


class ParameterError(ValueError):
    """A chapter parameter that no chapter declares, or a value of the wrong type or sign."""


@dataclass(frozen=True)
class Kind:
    """What a parameter's value must be: ``text`` says it in a message, ``check`` decides."""

    text: str
    check: Callable[[Any], bool]


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_number(value: Any, minimum: float) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= minimum
    )


def _as_list(value: Any) -> list[Any] | None:
    """A list parameter as the chapters read it (:func:`aibnb.chapter.as_list`); None if it is not one."""
    from aibnb.chapter import as_list

    try:
        return as_list(value)
    except TypeError:
        return None


def _int_list(value: Any) -> bool:
    items = _as_list(value)
    return items is not None and len(items) > 0 and all(_is_int(v, 0) for v in items)


def _name_list(value: Any) -> bool:
    items = _as_list(value)
    return items is not None and len(items) > 0 and all(isinstance(v, str) and v for v in items)


POSITIVE_INT = Kind("an integer >= 1", lambda v: _is_int(v, 1))
COUNT = Kind("an integer >= 0 (0: all)", lambda v: _is_int(v, 0))
SEED = Kind("an integer >= 0", lambda v: _is_int(v, 0))
NONNEG_NUMBER = Kind("a finite number >= 0", lambda v: _is_number(v, 0.0))
SEEDS = Kind("a list of integers >= 0 (e.g. [0, 1, 2]) or one of them", _int_list)
NAMES = Kind("a list of names (e.g. [vgg, vgg_aib]) or one name", _name_list)

#: The kind of every parameter whose default is ``None`` (and of those whose default's type says
#: too little: a seed is an integer >= 0), by name.
KINDS: dict[str, Kind] = {
    "seed": SEED,
    "beta": NONNEG_NUMBER,
    "num_anchors": POSITIVE_INT,
    "num_mc": POSITIVE_INT,
    "num_betas": POSITIVE_INT,
    "train_steps": POSITIVE_INT,
    "quadrature_order": POSITIVE_INT,
    "epochs": POSITIVE_INT,
    "shift_images": POSITIVE_INT,
    "num_threads": POSITIVE_INT,
    "num_images": COUNT,
    "num_scenes": COUNT,
    "models": NAMES,
    "seeds": SEEDS,
    "clutter_seeds": SEEDS,
}

_BY_TYPE = {
    bool: Kind("True or False", lambda v: isinstance(v, bool)),
    int: Kind("an integer", lambda v: _is_int(v, -(2**63))),
    float: Kind("a finite number", lambda v: _is_number(v, -math.inf)),
    str: Kind("a text", lambda v: isinstance(v, str)),
}

# papermill's options that set parameters: (short, long) -> how many values follow
_PAIR = {"-p": "p", "--parameters": "p", "-r": "r", "--parameters_raw": "r"}
_SINGLE = {
    "-y": "y", "--parameters_yaml": "y", "-f": "f", "--parameters_file": "f",
    "-b": "b", "--parameters_base64": "b",
}  # fmt: skip


def notebook_parameters(path: Path) -> dict[str, Any]:
    """``{name: default}`` of the notebook's cell tagged ``parameters``, read without executing it
    (a default that is not a literal is ``...``, which any value matches)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    out: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        for node in ast.parse(cell.source).body:
            target, value = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            if isinstance(target, ast.Name):
                try:
                    out[target.id] = ast.literal_eval(value)
                except ValueError:
                    out[target.id] = ...
        break
    return out


def _resolve(value: str) -> Any:
    """A ``-p`` value as papermill reads it (its ``_resolve_type``)."""
    if value in ("True", "False"):
        return value == "True"
    if value == "None":
        return None
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    return value


def papermill_parameters(args: Sequence[str]) -> dict[str, Any]:
    """The parameters that papermill arguments set, with the values papermill would inject (in its
    order: ``-b``, ``-f``, ``-y``, then ``-p``, then ``-r``). Other arguments are skipped."""
    sources: dict[str, list[Any]] = {"b": [], "f": [], "y": [], "p": [], "r": []}
    args, i = list(args), 0
    while i < len(args):
        arg = args[i]
        flag, _, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if arg in _PAIR and i + 2 < len(args):
            sources[_PAIR[arg]].append((args[i + 1], args[i + 2]))
            i += 3
            continue
        if flag in _SINGLE and (inline or i + 1 < len(args)):
            sources[_SINGLE[flag]].append(inline if inline else args[i + 1])
            i += 1 if inline else 2
            continue
        i += 1
    out: dict[str, Any] = {}
    for text in sources["b"]:
        try:
            decoded = base64.b64decode(text, validate=True)
        except ValueError as err:
            raise ParameterError(f"papermill argument -b: not base64 ({err})") from err
        out.update(_yaml_mapping(decoded, "-b"))
    for name in sources["f"]:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except OSError as err:
            raise ParameterError(f"papermill argument -f {name}: cannot be read ({err.strerror})") from err
        out.update(_yaml_mapping(text, f"-f {name}"))
    for text in sources["y"]:
        out.update(_yaml_mapping(text, "-y"))
    out.update({name: _resolve(value) for name, value in sources["p"]})
    out.update(dict(sources["r"]))
    return out


def _yaml_mapping(text: str | bytes, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        reason = str(err).splitlines()[0]
        raise ParameterError(f"papermill argument {where}: not valid YAML ({reason})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"papermill argument {where}: parameters must be a YAML mapping, got {data!r}")
    return data


def kind_of(name: str, default: Any) -> Kind | None:
    """The kind of parameter ``name`` with ``default``; None when any value goes."""
    if name in KINDS:
        return KINDS[name]
    if default is None or default is ...:
        return None
    return _BY_TYPE.get(type(default))


def check_parameters(chapters: Sequence[Any], extra_args: Sequence[str]) -> dict[str, Any]:
    """Refuse papermill arguments that set a parameter no chapter of ``chapters`` declares, or a
    value of the wrong type for a chapter that declares it; returns the parameters they set.

    ``chapters``: :class:`book_toc.Chapter` objects (``name`` and ``source``). With several
    chapters, a parameter needs only one of them to declare it (the others ignore it).
    """
    given = papermill_parameters(extra_args)
    if "profile" in given:
        raise ParameterError(
            "set the profile with --profile (make: PROFILE=full) or `-p profile NAME`, not in YAML"
        )
    declared = {c.name: notebook_parameters(c.source) for c in chapters}
    for name, value in given.items():
        owners = [c for c, params in declared.items() if name in params]
        if not owners:
            valid = sorted({p for params in declared.values() for p in params})
            where = f"chapter {chapters[0].name} has no" if len(chapters) == 1 else "no chapter has a"
            raise ParameterError(
                f"{where} parameter {name!r}; valid parameters: {', '.join(valid) or 'none'}"
            )
        for chapter in owners:
            default = declared[chapter][name]
            kind = kind_of(name, default)
            if value is None and default is None:
                continue
            if kind is not None and not kind.check(value):
                default_text = "or None (the default)" if default is None else f"(default {default!r})"
                raise ParameterError(
                    f"parameter {name} of {chapter} must be {kind.text} {default_text}, got {value!r}"
                )
    return given
