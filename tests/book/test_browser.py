"""The built book in a real browser with no network: math typeset, explorers respond to a user.

Headless Debian chromium through selenium and ``/usr/bin/chromedriver``. Every host name fails
to resolve (``--host-resolver-rules``), so a page that needs the internet shows it here; the
network log and the Resource Timing entries must name no origin but the local server. These
tests fail (not skip) when chromium is missing, unless ``AIBNB_SKIP_BROWSER=1``.
"""

from __future__ import annotations

import json
from pathlib import Path

import book_browser as bb
import pytest
from book_toc import SCREENSHOTS, chapters
from bs4 import BeautifulSoup
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.book

#: (page, n): the n-th ``aibnb.viz.panel_explorer`` on that page (0 = first). The slider of each
#: is moved and the visible panel must change. Chapters 2, 3 and 5 add theirs here;
#: ``test_every_explorer_in_the_book_is_checked`` fails when one is missing from this list.
EXPLORERS: list[tuple[str, int]] = [
    ("book/01_mi_bounds", 0),
    ("book/02_vib_loss", 0),  # the lab runs' attention maps vs β
    ("book/03_ste_quantizer", 0),  # the lab runs' quantised maps vs K
    ("book/05_interpretability", 0),  # the lab scene models' maps vs the model
]

#: Pages whose math must be typeset by MathJax: the front page and every chapter.
MATH_PAGES = ["book/intro", *(c.docname for c in chapters())]


@pytest.fixture(scope="module")
def browser():
    chromium, driver = bb.require_browser()
    with bb.start_chromium(chromium, driver) as instance:
        yield instance


@pytest.fixture(scope="module")
def site(built_html: Path):
    with bb.serve(built_html) as base:
        yield base


def _assert_offline_and_clean(browser, base: str) -> None:
    outside = bb.non_local_requests(browser, base, browser.get_log("performance"))
    assert not outside, f"the page requested resources off the local server: {outside}"
    errors = bb.console_errors(browser)
    assert not errors, "errors in the browser console:\n" + "\n".join(errors)


@pytest.mark.parametrize("page", MATH_PAGES)
def test_math_is_typeset_by_the_vendored_mathjax(browser, site: str, page: str) -> None:
    bb.open_page(browser, f"{site}{page}.html")
    report = bb.wait_for_math(browser)
    assert "error" not in report, report
    if report["math"] == 0:
        pytest.skip(f"{page} has no math")
    assert str(report["version"]).startswith("3."), f"MathJax 3 did not load: {report}"
    assert report["raw"] == [], f"math left as source: {report['raw']}"
    assert report["typeset"] >= report["math"]
    assert report["delimiters"] == [], f"raw TeX delimiters in the text: {report['delimiters']}"
    _assert_offline_and_clean(browser, site)


def _screenshot_path(page: str, index: int) -> Path:
    name = page.rsplit("/", 1)[-1]
    return SCREENSHOTS / (f"{name}.png" if index == 0 else f"{name}-{index}.png")


@pytest.mark.parametrize(("page", "index"), EXPLORERS, ids=[f"{p}-{i}" for p, i in EXPLORERS])
def test_explorer_slider_changes_the_visible_panel(
    browser, site: str, page: str, index: int
) -> None:
    bb.open_page(browser, f"{site}{page}.html")
    count = bb.wait_for_explorers(browser)
    assert index < count, f"{page} renders {count} explorer(s), no explorer #{index}"
    before = bb.visible_panel(browser, index)
    assert len(before) == 1, f"expected one visible panel, saw {before}"

    bb.move_slider(browser, index)
    WebDriverWait(browser, 10).until(lambda d: bb.visible_panel(d, index) != before)
    after = bb.visible_panel(browser, index)
    assert len(after) == 1 and after != before, f"panel {before} -> {after}"
    readout = browser.execute_script(
        f"return document.querySelectorAll('{bb.EXPLORER}')[arguments[0]]"
        ".querySelector('.widget-readout').textContent.trim()",
        index,
    )
    assert readout == after[0], f"slider reads {readout!r} but panel {after[0]!r} is shown"

    shot = _screenshot_path(page, index)
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 0
    _assert_offline_and_clean(browser, site)


@pytest.mark.parametrize(("page", "index"), EXPLORERS[:1], ids=[p for p, _ in EXPLORERS[:1]])
def test_page_works_from_the_file_system(browser, built_html: Path, page: str, index: int) -> None:
    """Opened as file://, without any server: math and widgets still load from _vendor/."""
    bb.open_page(browser, (built_html / f"{page}.html").as_uri())
    assert bb.wait_for_math(browser)["raw"] == []
    assert bb.wait_for_explorers(browser) > index
    outside = bb.non_local_requests(browser, built_html.as_uri(), browser.get_log("performance"))
    assert not outside, f"requests off the book's folder: {outside}"


def explorers_in_html(html_dir: Path) -> set[tuple[str, int]]:
    """(page, n) of every explorer displayed in the built book, read from the widget state."""
    found = set()
    for path in sorted(html_dir.rglob("*.html")):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        state_tag = soup.find("script", type="application/vnd.jupyter.widget-state+json")
        if state_tag is None:
            continue
        state = json.loads(state_tag.string)["state"]
        views = soup.find_all("script", type="application/vnd.jupyter.widget-view+json")
        n = 0
        for view in views:
            model = state.get(json.loads(view.string)["model_id"], {})
            if "aibnb-explorer" in model.get("state", {}).get("_dom_classes", []):
                page = path.relative_to(html_dir).with_suffix("").as_posix()
                found.add((page, n))
                n += 1
    return found


def test_every_explorer_in_the_book_is_checked(built_html: Path) -> None:
    found = explorers_in_html(built_html)
    unchecked = sorted(found - set(EXPLORERS))
    assert not unchecked, f"add these (page, index) pairs to EXPLORERS: {unchecked}"
    assert set(EXPLORERS) <= found, f"listed but not in the book: {sorted(set(EXPLORERS) - found)}"


#: Pages checked for their layout at the review's two widths.
LAYOUT_PAGES = [*(c.docname for c in chapters()), "book/intro", "book/paper_map", "book/notation",
                "book/timings"]

#: In the page: how far the document scrolls sideways, and each table or explorer wider than the text
#: that is not inside a box of its own that scrolls (and fits).
OVERFLOW_JS = """
const doc = document.documentElement;
const main = document.querySelector('article') || document.body;
const right = main.getBoundingClientRect().right;
const bad = [];
for (const el of main.querySelectorAll('table, .aibnb-explorer, mjx-container[display="true"]')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.right <= right + 1) continue;
  let box = el.parentElement, boxed = false;
  while (box && box !== main) {
    const o = getComputedStyle(box).overflowX;
    if (o === 'auto' || o === 'scroll') {
      boxed = box.getBoundingClientRect().right <= right + 1;
      break;
    }
    box = box.parentElement;
  }
  if (!boxed) bad.push(el.tagName + ' ' + (el.className || '') + ' ' + Math.round(r.width) + 'px');
}
const clipped = [...main.querySelectorAll('mjx-container[display="true"]')]
  .filter(e => e.scrollWidth > e.clientWidth + 2)
  .map(e => (e.closest('div.math') || e).id || e.textContent.slice(0, 40));
return {page: doc.scrollWidth - doc.clientWidth, bad: bad, clipped: clipped};
"""


def _layout(browser, site: str, page: str) -> dict:
    bb.open_page(browser, f"{site}{page}.html")
    bb.wait_for_math(browser)
    if page in {p for p, _ in EXPLORERS}:
        bb.wait_for_explorers(browser)
    return browser.execute_script(OVERFLOW_JS)


@pytest.mark.parametrize("page", LAYOUT_PAGES)
def test_no_table_is_wider_than_the_page_at_1280_px(browser, site: str, page: str) -> None:
    """At 1280 px every table, explorer and display equation fits the text, or scrolls in its own box."""
    browser.set_window_size(1280, 1600)
    report = _layout(browser, site, page)
    assert report["bad"] == [], f"{page}: wider than the text and not in a box of its own: {report['bad']}"
    assert report["page"] <= 1, f"{page}: the page scrolls sideways by {report['page']} px"
    assert report["clipped"] == [], f"{page}: display equations behind a scroll bar: {report['clipped']}"


@pytest.mark.parametrize("page", LAYOUT_PAGES)
def test_the_page_fits_a_400_px_screen(browser, site: str, page: str) -> None:
    """On a phone-sized screen nothing makes the whole page scroll sideways (wide tables scroll in
    their own boxes)."""
    browser.set_window_size(400, 900)
    try:
        report = _layout(browser, site, page)
    finally:
        browser.set_window_size(1280, 1600)
    assert report["page"] <= 1, f"{page}: at 400 px the page scrolls sideways by {report['page']} px"


@pytest.mark.parametrize("page", ["book/02_vib_loss", "book/03_ste_quantizer"])
def test_controls_that_need_a_kernel_are_hidden_in_the_static_page(browser, site: str, page: str) -> None:
    bb.open_page(browser, f"{site}{page}.html")
    bb.wait_for_explorers(browser)
    shown = browser.execute_script(
        "const els = [...document.querySelectorAll('.aibnb-live-only')];"
        "return {count: els.length, visible: els.filter(e => e.getClientRects().length > 0).length};"
    )
    assert shown["count"] >= 1, f"{page}: the live box is not on the page (or lost its class)"
    assert shown["visible"] == 0, f"{page}: {shown['visible']} live-only control(s) visible without a kernel"
