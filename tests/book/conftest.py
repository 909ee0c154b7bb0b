"""Fixtures of the book tests: the executed chapters and the HTML book built from them.

The tests in this folder run in pipeline order, whatever their file names: the build tools'
own tests, then every chapter through papermill (``test_execute``), then the built HTML
(``test_html``), then the real browser (``test_browser``). The HTML fixture reuses the
notebooks that ``test_execute`` just produced and executes only chapters whose executed copy
is missing or older than the source, so ``make test`` runs each chapter once.
"""

from __future__ import annotations

import json
from pathlib import Path

import book_execute
import book_html
import book_vendor
import pytest
from book_toc import ROOT, Chapter, chapters

HERE = Path(__file__).resolve().parent
PIPELINE = ("test_tools.py", "test_execute.py", "test_html.py", "test_browser.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the book tests as the pipeline runs (unit tests elsewhere keep their order)."""

    def rank(item: pytest.Item) -> int:
        path = Path(str(item.fspath))
        if path.parent != HERE or path.name not in PIPELINE:
            return 0
        return 1 + PIPELINE.index(path.name)

    items.sort(key=rank)


def _needs_run(chapter: Chapter) -> bool:
    executed = chapter.executed
    return not executed.is_file() or executed.stat().st_mtime < chapter.source.stat().st_mtime


def ensure_executed(found: list[Chapter]) -> list[Chapter]:
    """Execute (profile ci) the chapters without an up-to-date executed copy; fail clearly."""
    for chapter in found:
        if _needs_run(chapter):
            record = book_execute.execute_chapter(chapter, "ci")
            if record.status not in ("ok", "over_budget"):
                pytest.fail(f"{chapter.name} did not execute: {record.status}: {record.message}")
            continue
        problems = book_execute.check_executed(json.loads(chapter.executed.read_text()))
        if problems:
            pytest.fail(
                f"{chapter.name}: the executed copy {chapter.executed} is incomplete "
                f"({'; '.join(problems)}); fix the chapter and re-run `make execute`"
            )
    return found


@pytest.fixture(scope="session")
def executed_chapters() -> list[Chapter]:
    """Every chapter of ``_toc.yml`` with a complete executed copy in ``_build/executed``."""
    found = chapters()
    if not found:
        pytest.fail("_toc.yml lists no notebooks")
    return ensure_executed(found)


@pytest.fixture(scope="session")
def built_html(executed_chapters: list[Chapter]) -> Path:
    """Build the HTML book (``-W``) exactly as ``make html`` does; returns ``_build/html``."""
    try:
        book_vendor.vendor()
    except book_vendor.VendorError as exc:
        pytest.fail(f"cannot vendor the browser assets: {exc}")
    try:
        index = book_html.build_html()
    except book_html.HtmlError as exc:
        pytest.fail(f"the HTML build failed: {exc}")
    assert index.is_file()
    return ROOT / "_build" / "html"
