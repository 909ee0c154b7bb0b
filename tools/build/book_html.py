"""``tools/build/book.py html``: build the HTML book from the executed chapters, renderable offline.

Steps:

1. check that ``_vendor/`` holds the locked browser assets and that every chapter of
   ``_toc.yml`` has a fully executed copy in ``_build/executed/`` (else: run ``make execute``);
2. stage the book root in ``_build/site/``: ``_toc.yml``, a ``_config.yml`` derived from the
   real one (execution ``off``; MathJax and the widget manager from ``_vendor/``), ``book/``
   with each notebook replaced by its executed copy, the library's sources ``aibnb/`` (the
   chapters show them with ``literalinclude``), and the appendix page ``book/timings.md``
   generated from ``_build/executed/timings.json``;
3. ``jupyter-book build _build/site --all -W -n --keep-going`` into an emptied
   ``_build/html`` (a warning fails the build);
4. copy ``_vendor/`` and ``tools/build/book_widgets_setup.js`` (require.js paths for the widget
   manager's fonts, and a MathJax 2 call of ipywidgets routed to MathJax 3) to
   ``_build/html/_vendor/``. Sphinx writes the script paths relative to each page, so they work
   at every page depth, from a web server and from ``file://``.

The sources in ``book/`` are only read, never written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from book_execute import check_executed, load_timings
from book_toc import ROOT, TIMINGS_PAGE, Chapter, chapters
from book_vendor import VendorError, check_vendored, entry_urls

#: Our own glue between require.js, the widget manager and MathJax 3 (see the file).
WIDGETS_SETUP = Path(__file__).resolve().with_name("book_widgets_setup.js")


class HtmlError(RuntimeError):
    """The HTML book cannot be built (missing executed chapters, build warnings...)."""


def check_executed_chapters(found: list[Chapter]) -> None:
    """Raise :class:`HtmlError` unless every chapter has a complete papermill-executed copy."""
    problems = []
    for chapter in found:
        if not chapter.executed.is_file():
            problems.append(f"{chapter.name}: no executed notebook at {chapter.executed}")
            continue
        nb = json.loads(chapter.executed.read_text(encoding="utf-8"))
        problems += [f"{chapter.name}: {p}" for p in check_executed(nb)]
    if problems:
        raise HtmlError(
            "the HTML book is built from executed chapters, and some are missing or failed:\n  "
            + "\n  ".join(problems)
            + "\nRun `make execute` (or `python tools/build/book.py execute --profile ci`) first."
        )


def staged_config(root: Path = ROOT, site: Path | None = None) -> dict[str, Any]:
    """The book's ``_config.yml`` with execution off and the browser assets from ``_vendor/``,
    for a staged root ``site`` (default ``_build/site``)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    sphinx = config.setdefault("sphinx", {})
    sphinx_config = sphinx.get("config") or {}
    sphinx["config"] = sphinx_config
    # local extensions are found relative to the config file, which is staged two folders down
    sphinx["local_extensions"] = {
        name: os.path.relpath(root / folder, site or root / "_build" / "site")
        for name, folder in (sphinx.get("local_extensions") or {}).items()
    }
    # Sphinx joins a relative script path onto ``_static/`` and then makes it relative to each
    # page, so ``../_vendor/x.js`` becomes ``_static/../_vendor/x.js`` at the top level and
    # ``../_static/../_vendor/x.js`` one level down: both resolve to ``<html>/_vendor/x.js``,
    # over HTTP and from file://, while nothing is put under _static/.
    urls = {name: f"../{url}" for name, url in entry_urls().items()}
    sphinx_config["mathjax_path"] = urls["mathjax"]
    sphinx_config["nb_ipywidgets_js"] = {
        urls["requirejs"]: {},
        f"../_vendor/{WIDGETS_SETUP.name}": {},
        urls["@jupyter-widgets/html-manager"]: {},
    }
    return config


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _short_commit(commit: Any) -> str:
    text = str(commit or "unknown")
    return text[:12] + ("+dirty" if text.endswith("-dirty") else "")


def stored_results(root: Path = ROOT) -> list[dict[str, str]]:
    """What the chapters read besides their own live runs: the stored ``lab``, ``full`` and ``ci``
    tiers (run count, dates, commits, devices)."""
    rows = []
    for tier in ("lab", "full", "ci"):
        provs = []
        for path in sorted((root / "book" / "results" / tier / "runs").glob("*/provenance.json")):
            try:
                provs.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        if not provs:
            continue
        dates = sorted(str(p.get("created", ""))[:10] for p in provs if p.get("created"))
        commits = sorted({_short_commit(p.get("commit")) for p in provs})
        devices = sorted({str(p.get("device", "unknown")) for p in provs})
        rows.append({
            "result": f"`{tier}` tier, {len(provs)} runs (`book/results/{tier}/runs/`)",
            "made": f"{dates[0]} to {dates[-1]}" if dates else "unknown",
            "commit": f"{len(commits)} commits" if len(commits) > 1 else commits[0],
            "device": "; ".join(devices),
        })
    return rows


def timings_page(found: list[Chapter], records: dict[str, dict[str, Any]],
                 stored: list[dict[str, str]] | None = None) -> str:
    """The Markdown of the appendix "Execution times and budgets" from ``timings.json``, and the
    stored results the chapters read (``stored``, default :func:`stored_results`)."""
    rows = []
    total_s = total_budget = 0.0
    for chapter in found:
        rec = records.get(chapter.docname)
        link = f"{{doc}}`/{chapter.docname}`"
        if rec is None:
            rows.append(f"| {link} | not executed | | {chapter.budget_s():g} | | | | |")
            continue
        if rec.get("within_budget") is None:
            within = f"n/a ({rec['profile']})"
        else:
            within = "yes" if rec["within_budget"] else "**no**"
        extra = {k: v for k, v in (rec.get("parameters") or {}).items() if k != "profile"}
        params = ", ".join(f"`{k}={v!r}`" for k, v in extra.items()) or "defaults"
        total_s += float(rec["seconds"])
        total_budget += float(rec["budget_s"])
        rows.append(
            f"| {link} | `{rec['profile']}` | {float(rec['seconds']):.1f} | "
            f"{float(rec['budget_s']):g} | {within} | {_cell(params)} | `{rec['commit']}` | "
            f"{_cell(str(rec['date'])[:16].replace('T', ' '))} |"
        )
    header = (
        "| chapter | profile | seconds | budget (s, ci) | within budget? | parameters "
        "| commit | date (UTC) |\n|---|---|---:|---:|---|---|---|---|"
    )
    total = (
        f"All executed chapters together took {total_s:.1f} s of wall time, against "
        f"{total_budget:g} s of budget at the `ci` profile."
    )
    stored = stored_results() if stored is None else stored
    stored_table = ""
    if stored:
        stored_table = (
            "\n## Stored results the chapters read\n\n"
            "Besides the runs a chapter trains while it executes, the chapters read results stored "
            "earlier, by other commits and on other machines: the `lab` tier (the evidence the "
            "chapters lead with) and the small `ci` tier of sweeps (which only demonstrates the sweeps' "
            "code path). Each run carries its provenance; a chapter that compares a live "
            "run with a stored one asserts agreement only when both ran on the same kind of CPU.\n\n"
            "| stored result | made (UTC) | commit | device |\n|---|---|---|---|\n"
            + "\n".join(f"| {_cell(r['result'])} | {_cell(r['made'])} | {_cell(r['commit'])} | "
                        f"{_cell(r['device'])} |" for r in stored) + "\n"
        )
    return (
        "(appendix-timings)=\n# Execution times and budgets\n\n"
        "Every chapter of this build was executed from top to bottom by papermill "
        "(`make execute`) before the pages were rendered: every number a chapter computes live "
        "comes from that run. The table lists each chapter's last run as recorded in "
        "`_build/executed/timings.json`: its profile, wall time (kernel start included), its "
        "time budget at the `ci` profile (notebook metadata `aibnb.budget_s`; `make book` fails "
        "when a `ci` run exceeds it), the parameters that differ from the notebook's defaults, "
        "and the commit and date of the run (`+dirty`: uncommitted changes). The stored results "
        "the chapters read are listed below it, with where and when they were made.\n\n"
        f"{header}\n" + "\n".join(rows) + f"\n\n{total}\n" + stored_table
    )


def stage_site(site: Path, root: Path = ROOT) -> None:
    """Write the staged book root (see the module doc) into ``site``, replacing it."""
    found = chapters(root)
    check_executed_chapters(found)
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    shutil.copy2(root / "_toc.yml", site / "_toc.yml")
    (site / "_config.yml").write_text(
        "# Generated by tools/build/book.py html from ../../_config.yml; do not edit.\n"
        + yaml.safe_dump(staged_config(root, site), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    shutil.copytree(
        root / "book", site / "book",
        ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__"),
    )
    shutil.copytree(root / "aibnb", site / "aibnb", ignore=shutil.ignore_patterns("__pycache__"))
    for chapter in found:
        target = site / f"{chapter.docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(chapter.executed, target)
    timings_md = site / f"{TIMINGS_PAGE}.md"
    timings_md.parent.mkdir(parents=True, exist_ok=True)
    timings_md.write_text(timings_page(found, load_timings()), encoding="utf-8")


def _jupyter_book() -> list[str]:
    beside = Path(sys.executable).with_name("jupyter-book")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("jupyter-book")
    if not found:
        raise HtmlError("jupyter-book is not installed; run `make install`")
    return [found]


def build_html(root: Path = ROOT, *, log: Callable[[str], None] = print) -> Path:
    """Stage, build and complete the HTML book; returns the path of its ``index.html``."""
    try:
        check_vendored(root / "_vendor")
    except VendorError as exc:
        raise HtmlError(str(exc)) from exc
    site = root / "_build" / "site"
    stage_site(site, root)
    html = root / "_build" / "html"
    # Start empty: Sphinx never deletes pages of documents that left the toc, nor what a
    # plain `jupyter-book build .` (CDN scripts) wrote there.
    shutil.rmtree(html, ignore_errors=True)
    command = [
        *_jupyter_book(), "build", str(site), "--path-output", str(root), "--builder", "html",
        "--all", "-W", "-n", "--keep-going",
    ]
    log("$ " + " ".join(command))
    if subprocess.run(command, cwd=root, check=False).returncode != 0:
        raise HtmlError(
            "jupyter-book build failed; warnings count as errors, see the messages above "
            f"(staged sources in {site})"
        )
    shutil.copytree(root / "_vendor", html / "_vendor")
    shutil.copy2(WIDGETS_SETUP, html / "_vendor" / WIDGETS_SETUP.name)
    missing = [c.name for c in chapters(root) if not c.html.is_file()]
    if missing:
        raise HtmlError(f"the build wrote no page for {missing}")
    return html / "index.html"
