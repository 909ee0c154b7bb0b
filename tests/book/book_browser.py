"""Reusable helpers for checking built book pages in a real, offline, headless Chromium.

Used by ``test_browser.py``; later chapters' checks can call them directly:

* :func:`serve` serves ``_build/html`` on 127.0.0.1 at a free port;
* :func:`start_chromium` starts Debian's chromium through chromedriver with every outside
  request made to fail (``--host-resolver-rules``) and the network log recorded;
* :func:`wait_for_math`, :func:`explorers`, :func:`visible_panel`, :func:`move_slider` check
  MathJax typesetting and the ``aibnb.viz.panel_explorer`` widgets;
* :func:`non_local_requests` lists every request the page tried to make off the local server.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMEDRIVER_CANDIDATES = ("/usr/bin/chromedriver", "chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
    # Any host name resolves to nothing, so a request leaving 127.0.0.1 fails at once.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)
#: Explorer CSS classes set by ``aibnb.viz.panel_explorer``.
EXPLORER = ".aibnb-explorer"
SLIDER = ".aibnb-explorer-slider"
STACK = ".aibnb-explorer-stack"
#: Console messages that come from the toolchain itself, not from the book:
#: sphinx-thebe 0.3 declares THEBE_JS_URL twice per page; the pydata theme logs its default
#: colour mode as an error; browsers ask for /favicon.ico on their own.
BENIGN_CONSOLE: tuple[str, ...] = ()  # no console message is excused: every page loads cleanly
SKIP_ENV = "AIBNB_SKIP_BROWSER"


def _which(candidates: tuple[str, ...]) -> str | None:
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def require_browser() -> tuple[str, str]:
    """Paths of chromium and chromedriver; fail (or skip if AIBNB_SKIP_BROWSER=1) if missing."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: the real-browser checks of the book are switched off")
    chromium, driver = _which(CHROMIUM_CANDIDATES), _which(CHROMEDRIVER_CANDIDATES)
    if not chromium or not driver:
        missing = [n for n, p in (("chromium", chromium), ("chromedriver", driver)) if not p]
        pytest.fail(
            f"{' and '.join(missing)} not found: the browser test of the built book needs "
            "Debian's `chromium` and `chromium-driver` (run `make sysdeps` as root, or "
            f"`sudo apt-get install chromium chromium-driver`); set {SKIP_ENV}=1 to skip it"
        )
    return chromium, driver


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 at a free port; yields the base URL (ends with /)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def start_chromium(chromium: str, driver_path: str) -> Iterator[object]:
    """A headless Chromium (selenium WebDriver) with a fresh profile and the network logged."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="aibnb-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
        driver.set_page_load_timeout(60)
        try:
            yield driver
        finally:
            driver.quit()


def open_page(driver, url: str) -> None:
    """Forget the logs of earlier pages, then load ``url``."""
    driver.get_log("performance")
    driver.get_log("browser")
    driver.get(url)


def _is_local(url: str, base: str) -> bool:
    scheme = urlparse(url).scheme
    return url.startswith(base) or scheme in ("data", "blob", "about", "chrome", "devtools")


def non_local_requests(driver, base: str, performance_log: list[dict]) -> list[str]:
    """Every URL the page requested (or timed as a resource) that is not on ``base``."""
    urls = set(driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    ))
    for entry in performance_log:
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
    return sorted(u for u in urls if not _is_local(u, base))


def console_errors(driver) -> list[str]:
    """SEVERE browser console messages, without the known toolchain noise (BENIGN_CONSOLE)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and not any(b in entry["message"] for b in BENIGN_CONSOLE)
    ]


def wait_for_math(driver, timeout: float = 30) -> dict:
    """Wait until MathJax finished the page; returns counts of math nodes and leftovers."""
    driver.set_script_timeout(timeout)
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const report = () => {
          const math = [...document.querySelectorAll('.math')];
          const raw = math.filter(e => !e.querySelector('mjx-container'))
                          .map(e => e.textContent.trim().slice(0, 80));
          // visible prose only: code, scripts and MathJax's own assistive copy are left out
          const clone = document.querySelector('main, article, body').cloneNode(true);
          clone.querySelectorAll('pre, code, script, style, mjx-container, .math')
               .forEach(e => e.remove());
          const text = clone.innerText || clone.textContent;
          const delimiters = ['$$', '\\\\(', '\\\\[', '\\\\begin{'].filter(d => text.includes(d));
          done({math: math.length,
                typeset: document.querySelectorAll('mjx-container').length,
                raw: raw, delimiters: delimiters,
                version: window.MathJax && window.MathJax.version || null});
        };
        if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
          window.MathJax.startup.promise.then(report, e => done({error: String(e)}));
        } else {
          setTimeout(report, 2000);
        }
        """
    )


def wait_for_explorers(driver, timeout: float = 60) -> int:
    """Wait until the widget manager rendered the explorers (slider handles present)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            f"return document.querySelectorAll('{EXPLORER} {SLIDER} .noUi-handle').length"
        )
    )
    return driver.execute_script(f"return document.querySelectorAll('{EXPLORER}').length")


def visible_panel(driver, index: int) -> list[str]:
    """Labels (``data-aibnb-panel``) of the panels of explorer ``index`` that are displayed."""
    return driver.execute_script(
        f"""
        const box = document.querySelectorAll('{EXPLORER}')[arguments[0]];
        return [...box.querySelectorAll('{STACK} [data-aibnb-panel]')]
          .filter(e => e.getClientRects().length > 0
                       && getComputedStyle(e).visibility !== 'hidden')
          .map(e => e.getAttribute('data-aibnb-panel'));
        """,
        index,
    )


def slider_handle(driver, index: int):
    """The noUiSlider handle of explorer ``index`` (a focusable ``role=slider`` element)."""
    from selenium.webdriver.common.by import By

    box = driver.find_elements(By.CSS_SELECTOR, EXPLORER)[index]
    return box.find_element(By.CSS_SELECTOR, f"{SLIDER} .noUi-handle")


def move_slider(driver, index: int, presses: int = 1) -> None:
    """Move explorer ``index``'s slider as a user would: focus the handle, press arrow-right."""
    from selenium.webdriver.common.keys import Keys

    handle = slider_handle(driver, index)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    for _ in range(presses):  # send_keys focuses the handle first, like a Tab to it
        handle.send_keys(Keys.ARROW_RIGHT)
