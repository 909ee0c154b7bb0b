"""The built HTML book: complete, from executed chapters, and free of external resources.

The ``built_html`` fixture (conftest) builds the book exactly as ``make html`` does, with
warnings as errors; a failed build fails every test here with the build's message.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from book_toc import TIMINGS_PAGE, Chapter, chapters
from book_vendor import load_lock
from bs4 import BeautifulSoup

pytestmark = pytest.mark.book

#: A URL that leaves the book: a scheme other than data:/blob:, or protocol-relative (//host).
LOCAL_SCHEMES = {"", "data", "blob"}
CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.I)
CSS_IMPORT = re.compile(r"@import\s+(?:url\(\s*)?['\"]?([^'\")\s;]+)", re.I)
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def is_external(url: str) -> bool:
    url = url.strip()
    parsed = urlparse(url)
    return parsed.scheme.lower() not in LOCAL_SCHEMES or url.startswith("//")


def external_references(html_dir: Path) -> list[str]:
    """Every external URL the built book would load: scripts, styles, images, fonts, imports."""
    found = []

    def css_refs(text: str, where: str) -> None:
        text = CSS_COMMENT.sub("", text)
        for match in CSS_URL.finditer(text):
            if is_external(match.group(2)):
                found.append(f"{where}: url({match.group(2)})")
        for match in CSS_IMPORT.finditer(text):
            if is_external(match.group(1)):
                found.append(f"{where}: @import {match.group(1)}")

    for page in html_dir.rglob("*.html"):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        where = str(page.relative_to(html_dir))
        for tag, attr in (
            ("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
            ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"),
            ("object", "data"), ("image", "href"), ("use", "href"),
        ):
            for element in soup.find_all(tag):
                url = element.get(attr)
                if tag == "link" and "alternate" in (element.get("rel") or []):
                    continue  # feeds/translations are links to follow, not resources to load
                if url and is_external(url):
                    found.append(f"{where}: <{tag} {attr}={url!r}>")
        for style in soup.find_all("style"):
            css_refs(style.get_text(), f"{where} <style>")
        for element in soup.find_all(style=True):
            css_refs(element["style"], f"{where} style=")
    for sheet in html_dir.rglob("*.css"):
        css_refs(sheet.read_text(encoding="utf-8", errors="replace"), str(sheet.relative_to(html_dir)))
    return found


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_is_external_classifies_urls() -> None:
    assert is_external("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js")
    assert is_external("//fonts.googleapis.com/css")
    assert not is_external("../_static/../_vendor/requirejs/require.js?v=1")
    assert not is_external("data:image/png;base64,AAAA")
    assert not is_external("#anchor")


def test_book_builds_with_warnings_as_errors(built_html: Path) -> None:
    assert (built_html / "index.html").is_file()
    assert (built_html / "book" / "intro.html").is_file()


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.name)
def test_chapter_page_shows_outputs_and_the_profile(built_html: Path, chapter: Chapter) -> None:
    page = built_html / f"{chapter.docname}.html"
    assert page.is_file(), f"no page for {chapter.docname}"
    soup = _soup(page)
    outputs = soup.select("div.cell_output")
    assert outputs, f"{page.name} shows no cell outputs: was it rendered from the executed copy?"
    assert "How this page was run" in soup.get_text(), "the note naming the profile is missing"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.name)
def test_injected_parameters_cell_is_not_on_the_page(built_html: Path, chapter: Chapter) -> None:
    soup = _soup(built_html / f"{chapter.docname}.html")
    assert not soup.select(".tag_injected-parameters")
    code = " ".join(block.get_text() for block in soup.select("div.cell_input"))
    assert "# Parameters" not in code, "papermill's injected cell is visible"


def test_no_external_urls_for_scripts_styles_images_or_fonts(built_html: Path) -> None:
    offenders = external_references(built_html)
    assert not offenders, "external resources in the built book:\n" + "\n".join(offenders)


def test_math_and_widgets_load_from_the_vendored_copies(built_html: Path) -> None:
    vendor = built_html / "_vendor"
    for pkg in load_lock():
        assert (vendor / pkg.dest / pkg.entry).is_file(), f"{pkg.spec} is not in {vendor}"
    assert (vendor / "NOTICE.txt").is_file()
    scripts = {}
    for page in built_html.rglob("*.html"):
        for element in _soup(page).find_all("script", src=True):
            src = element["src"].split("?", 1)[0]
            resolved = (page.parent / src).resolve()
            if built_html.resolve() / "_vendor" in resolved.parents:
                assert resolved.is_file(), f"{page.name} loads a missing {src}"
                scripts.setdefault(resolved.relative_to(built_html.resolve()).as_posix(), page)
    entries = {f"_vendor/{pkg.dest}/{pkg.entry}" for pkg in load_lock()}
    assert entries <= set(scripts), f"pages never load {sorted(entries - set(scripts))}"
    assert not list((built_html / "_static").rglob("tex-mml-chtml.js")), "MathJax in _static"


def test_appendix_lists_every_chapter(built_html: Path) -> None:
    soup = _soup(built_html / f"{TIMINGS_PAGE}.html")
    table = soup.find("table")
    assert table is not None, "the timings appendix has no table"
    rows = table.select("tbody tr")
    linked = {a["href"].split("#")[0] for row in rows for a in row.find_all("a", href=True)}
    for chapter in chapters():
        assert f"{chapter.name}.html" in linked, f"{chapter.name} is missing from the appendix"
    text = table.get_text()
    assert "not executed" not in text
    header = [th.get_text(strip=True) for th in table.select("thead th")]
    assert header[:5] == ["chapter", "profile", "seconds", "budget (s, ci)", "within budget?"]


#: Words written for the authors of the book rather than its readers (the reader has the paper and
#: the authors' repository, not our notes on them).
AUTHOR_SIDE = ("lost in our copy", "spec §", "of our reading", "lost all of its mathematics", "in extraction")


@pytest.mark.parametrize("page", [*(c.docname for c in chapters()), "book/intro", "book/paper_map"])
def test_pages_speak_to_readers(built_html: Path, page: str) -> None:
    text = _soup(built_html / f"{page}.html").get_text(" ")
    found = [phrase for phrase in AUTHOR_SIDE if phrase in text]
    assert not found, f"{page}: author-side phrases {found}"


def test_chapters_show_the_implementations_they_derive(built_html: Path) -> None:
    """Chapters 2, 3 and 5 show the attention module, the VIB loss, the quantiser, the consistency score
    and the per-sample bottleneck's information term from the library's source."""
    expected = {"book/02_vib_loss": ("def forward(self, f", "def aib_loss(", "def gaussian_kl("),
                "book/03_ste_quantizer": ("def forward(self, x",),
                "book/05_interpretability": ("def consistency_from_explanations(", "def bottleneck_kl(")}
    for page, snippets in expected.items():
        text = _soup(built_html / f"{page}.html").get_text()
        missing = [s for s in snippets if s not in text]
        assert not missing, f"{page}: the source of {missing} is not shown"


#: What a reader should never see in an output or the prose: a missing number printed as such, or a
#: Python dict printed raw. ``None`` is only checked in outputs (the prose may say "None of ...").
MISSING_NUMBER = re.compile(r"\bNaN\b|\bnan\b")
RAW_OUTPUT = re.compile(r"\bNone\b|\{'[A-Za-z_]+': ")


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.name)
def test_pages_show_no_missing_numbers_or_raw_reprs(built_html: Path, chapter: Chapter) -> None:
    soup = _soup(built_html / f"{chapter.docname}.html")
    for code in soup.select("div.cell_input, div.literal-block-wrapper"):  # code may well say nan or None
        code.decompose()
    outputs = [out.get_text(" ") for out in soup.select("div.cell_output")]
    found = [m.group(0) for text in outputs for m in RAW_OUTPUT.finditer(text)]
    for block in soup.select("pre"):  # the prose, without the code blocks the text quotes
        block.decompose()
    article = soup.select_one("article") or soup
    found += [m.group(0) for m in MISSING_NUMBER.finditer(article.get_text(" "))]
    assert not found, f"{chapter.docname}: the page shows {sorted(set(found))}"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.name)
def test_every_figure_is_numbered_and_captioned(built_html: Path, chapter: Chapter) -> None:
    """Every image a cell draws sits in a numbered figure whose caption names its profile."""
    soup = _soup(built_html / f"{chapter.docname}.html")
    bare = []
    for img in soup.select("div.cell_output img"):
        figure = img.find_parent("figure")
        number = figure.select_one("span.caption-number") if figure else None
        if number is None:
            bare.append(img.get("alt") or img.get("src", "")[:40])
    assert not bare, f"{chapter.docname}: {len(bare)} figure(s) without a numbered caption: {bare[:3]}"
    for figure in soup.select("figure"):
        caption = figure.select_one("figcaption")
        if caption is not None and figure.select_one("img") is not None:
            assert "rofile" in caption.get_text(), f"{chapter.docname}: a caption without its profile"


# ---- what a reader sees: slider panels that agree with their tables, no placeholders, alt texts, ------
# ---- equation references --------------------------------------------------------------------------

#: Pages whose explorers draw stored runs beside a table of the same runs (aibnb.figures.explorer).
STORED_EXPLORER_PAGES = ("book/02_vib_loss", "book/03_ste_quantizer", "book/05_interpretability")
#: Sentences that stand where a result should be: a section with nothing stored says what would be
#: there and how to make it, in one sentence, or is left out.
PLACEHOLDERS = ("not stored yet", "no stored run yet", "no stored benchmark", "nothing to draw",
                "no stored lab", "has not stored", "no stored β sweep", "no stored k sweep")
#: An equation reference renders with its own parentheses, "(1.5)": "((1.5))" is written "({eq}`x`)".
DOUBLED_EQ_PARENS = re.compile(r"\(\s*\(\d+\.\d+\)")


def widget_html_values(soup: BeautifulSoup) -> list[str]:
    """The HTML strings of the page's saved ipywidgets (the explorers' panels, titles, footers)."""
    tag = soup.find("script", type="application/vnd.jupyter.widget-state+json")
    if tag is None:
        return []
    state = json.loads(tag.string)["state"]
    return [m["state"]["value"] for m in state.values()
            if m.get("model_name") == "HTMLModel" and isinstance(m.get("state", {}).get("value"), str)]


def panel_numbers(soup: BeautifulSoup) -> dict[str, dict[str, dict[str, str]]]:
    """``{table id: {panel label: {column: text}}}`` of every explorer panel drawn from stored runs."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for value in widget_html_values(soup):
        panel = BeautifulSoup(value, "html.parser")
        root = panel.find(attrs={"data-aibnb-panel": True})
        numbers = panel.find(attrs={"data-aibnb-table": True})
        if root is None or numbers is None:
            continue
        spans = numbers.find_all(attrs={"data-aibnb-stat": True})
        stats = {s["data-aibnb-stat"]: s.get_text(strip=True) for s in spans}
        found.setdefault(numbers["data-aibnb-table"], {})[root["data-aibnb-panel"]] = stats
    return found


def table_rows(table) -> dict[str, dict[str, str]]:
    """``{row label: {column header: cell text}}`` of a pandas table (index in the row's ``th``)."""
    header = [th.get_text(strip=True) for th in table.select("thead tr")[0].find_all("th")][1:]
    rows = {}
    for tr in table.select("tbody tr"):
        cells = [td.get_text(strip=True) for td in tr.find_all("td")]
        rows[tr.find("th").get_text(strip=True)] = dict(zip(header, cells, strict=True))
    return rows


def test_panel_numbers_and_table_rows_are_compared_cell_by_cell() -> None:
    page = BeautifulSoup(
        '<table data-aibnb-table="t"><thead><tr><th></th><th>seeds</th><th>test error (%)</th></tr></thead>'
        "<tbody><tr><th>0.01</th><td>5</td><td>13.46 ± 0.87</td></tr></tbody></table>", "html.parser")
    assert table_rows(page.find("table")) == {"0.01": {"seeds": "5", "test error (%)": "13.46 ± 0.87"}}
    assert DOUBLED_EQ_PARENS.search("as in ((1.5)), below") and not DOUBLED_EQ_PARENS.search("as in (1.5)")


@pytest.mark.parametrize("page", STORED_EXPLORER_PAGES)
def test_slider_panels_show_the_numbers_of_the_table_of_the_same_runs(built_html: Path, page: str) -> None:
    """Each panel of an explorer over stored runs prints, for its setting, exactly the cells of the
    table row of that setting (the same runs): a panel and a table can never disagree."""
    soup = _soup(built_html / f"{page}.html")
    panels = panel_numbers(soup)
    assert panels, f"{page}: no explorer panel over stored runs (aibnb.figures.explorer.stored_explorer)"
    for table_id, by_label in panels.items():
        if table_id == "live":
            continue
        tables = soup.select(f'table[data-aibnb-table="{table_id}"]')
        assert len(tables) == 1, f"{page}: {len(tables)} tables with data-aibnb-table={table_id!r}"
        rows = table_rows(tables[0])
        assert set(by_label) == set(rows), f"{page}: panels {sorted(by_label)} but table rows {sorted(rows)}"
        for label, stats in by_label.items():
            assert stats == rows[label], f"{page}, {table_id}, {label}: panel {stats} but table {rows[label]}"


def _visible_text(soup: BeautifulSoup) -> str:
    for tag in soup.select("script, style, div.cell_input, div.literal-block-wrapper, pre"):
        tag.decompose()
    return (soup.select_one("article") or soup).get_text(" ")


@pytest.mark.parametrize("page", [*(c.docname for c in chapters()), "book/intro", "book/paper_map",
                                  "book/notation", TIMINGS_PAGE])
def test_pages_hold_no_placeholders_and_single_equation_parentheses(built_html: Path, page: str) -> None:
    soup = _soup(built_html / f"{page}.html")
    panels = " ".join(BeautifulSoup(v, "html.parser").get_text(" ") for v in widget_html_values(soup))
    text = _visible_text(soup) + " " + panels
    lowered = text.lower()
    found = [p for p in PLACEHOLDERS if p.lower() in lowered]
    assert not found, f"{page}: placeholder text {found}"
    doubled = [m.group(0) for m in DOUBLED_EQ_PARENS.finditer(text)]
    assert not doubled, f"{page}: equation references with doubled parentheses {doubled}"


def _alt_is_a_path(alt: str | None, src: str) -> bool:
    alt = (alt or "").strip()
    return (not alt or alt == src or "_images/" in alt or alt.endswith((".png", ".svg", ".jpg"))
            or alt.startswith("data:"))


@pytest.mark.parametrize("page", [*(c.docname for c in chapters()), "book/intro"])
def test_every_image_has_an_alt_text_that_says_what_it_shows(built_html: Path, page: str) -> None:
    soup = _soup(built_html / f"{page}.html")
    images = [(img.get("alt"), img.get("src", "")) for img in soup.select("article img")]
    for value in widget_html_values(soup):
        panel = BeautifulSoup(value, "html.parser")
        images += [(img.get("alt"), img.get("src", "")) for img in panel.find_all("img")]
    bad = [src[:60] for alt, src in images if _alt_is_a_path(alt, src)]
    assert not bad, f"{page}: {len(bad)} image(s) whose alt text is empty or a path: {bad[:3]}"


def test_the_timings_page_lists_the_stored_results_the_chapters_read(built_html: Path) -> None:
    text = _soup(built_html / f"{TIMINGS_PAGE}.html").get_text(" ")
    assert "stale run" not in text
    assert "Stored results the chapters read" in text and "`ci`" not in text  # code spans rendered
    assert "lab" in text and "book/results/ci/runs/" in text
