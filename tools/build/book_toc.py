"""Where the book's pieces live, and which chapters the table of contents lists.

Shared by ``tools/build/book.py`` (vendor / execute / html) and the tests in ``tests/book`` so that
the command line and the tests agree on paths, chapter names and notebook metadata.

Layout (relative to the repository root, which is also the Jupyter Book root):

``_toc.yml``, ``_config.yml``     the book's table of contents and configuration
``book/<name>.ipynb``             chapter sources, stored without outputs
``_build/executed/book/...``      the chapters as papermill executed them (never the sources)
``_build/executed/timings.json``  wall time, budget and provenance of each executed chapter
``_build/site/``                  the staged copy of the book that ``html`` builds from
``_build/html/``                  the built HTML book
``_vendor/``                      MathJax, require.js and the widget manager for offline HTML
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]  # tools/build/ -> the repository root
TOC = ROOT / "_toc.yml"
CONFIG = ROOT / "_config.yml"
BUILD = ROOT / "_build"
EXECUTED = BUILD / "executed"
TIMINGS = EXECUTED / "timings.json"
SITE = BUILD / "site"
HTML = BUILD / "html"
SCREENSHOTS = BUILD / "screenshots"
VENDOR = ROOT / "_vendor"
VENDOR_LOCK = Path(__file__).resolve().with_name("vendor.lock.json")

#: The appendix page that ``tools/build/book.py html`` regenerates from ``timings.json``.
TIMINGS_PAGE = "book/timings"

PROFILES = ("ci", "full")


@dataclass(frozen=True)
class Chapter:
    """One notebook listed in ``_toc.yml``.

    ``docname`` is the toc entry (``book/01_mi_bounds``), ``name`` its last part
    (``01_mi_bounds``), the name used by ``make run CHAPTER=...``.
    """

    docname: str
    root: Path = ROOT

    @property
    def name(self) -> str:
        return self.docname.rsplit("/", 1)[-1]

    @property
    def source(self) -> Path:
        return self.root / f"{self.docname}.ipynb"

    @property
    def executed(self) -> Path:
        return self.root / "_build" / "executed" / f"{self.docname}.ipynb"

    @property
    def html(self) -> Path:
        return self.root / "_build" / "html" / f"{self.docname}.html"

    def budget_s(self) -> float:
        """The chapter's time budget at the ``ci`` profile, from ``metadata.aibnb.budget_s``."""
        return notebook_budget(json.loads(self.source.read_text(encoding="utf-8")), self.source)


def toc_entries(toc_path: Path = TOC) -> list[str]:
    """Every ``file`` entry of the toc (root first, then in reading order), without suffix."""
    data = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "root" not in data:
        raise ValueError(f"{toc_path}: not a Jupyter Book toc (no 'root' key)")
    entries = [_strip_suffix(data["root"])]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                entries.append(_strip_suffix(node["file"]))
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk({key: data[key] for key in ("parts", "chapters", "sections") if key in data})
    return entries


def _strip_suffix(entry: str) -> str:
    for suffix in (".ipynb", ".md"):
        if entry.endswith(suffix):
            return entry[: -len(suffix)]
    return entry


def chapters(root: Path = ROOT) -> list[Chapter]:
    """The notebooks listed in ``_toc.yml``, in reading order (Markdown pages are skipped)."""
    return [
        Chapter(entry, root)
        for entry in toc_entries(root / "_toc.yml")
        if (root / f"{entry}.ipynb").is_file()
    ]


def find_chapter(name: str, root: Path = ROOT) -> Chapter:
    """The chapter called ``name`` (``01_mi_bounds``, ``book/01_mi_bounds`` or with ``.ipynb``)."""
    wanted = _strip_suffix(name.strip().strip("/"))
    found = chapters(root)
    for chapter in found:
        if wanted in (chapter.docname, chapter.name):
            return chapter
    names = ", ".join(c.name for c in found) or "(none)"
    raise ValueError(
        f"--chapter {name!r}: no such notebook in _toc.yml; choose one of: {names}"
    )


def notebook_budget(nb: dict, where: Path | str = "notebook") -> float:
    """``metadata.aibnb.budget_s`` of a notebook (a JSON dict), checked to be a positive number."""
    budget = (nb.get("metadata", {}).get("aibnb") or {}).get("budget_s")
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0:
        raise ValueError(
            f"{where}: metadata.aibnb.budget_s must be a positive number of seconds "
            f"(the chapter's time budget at the ci profile), got {budget!r}; "
            'set it in the notebook metadata, e.g. {"aibnb": {"budget_s": 120}}'
        )
    return float(budget)
