"""The build tools themselves: vendoring with integrity checks, staging, the command line.

Fast and offline: npm is replaced by a small fake that serves a tarball made in the test.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import book_html
import book_vendor
import pytest
from book_toc import Chapter, find_chapter, toc_entries

import book


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_registry(tmp_path: Path) -> dict:
    """A lock file for one package, its tarball, and a fake `npm` that counts its calls."""
    files = {
        "LICENSE": b"MIT licence text\n",
        "package.json": json.dumps({"name": "toy", "license": "MIT"}).encode(),
        "dist/toy.js": b"console.log('toy');\n",
        "dist/toy.css": b"body {}\n",
        "src/unused.ts": b"export {};\n",
    }
    tarball = _tarball(tmp_path / "toy-1.0.0.tgz", files)
    lock = tmp_path / "vendor.lock.json"
    lock.write_text(json.dumps({"packages": [{
        "name": "toy", "version": "1.0.0", "integrity": book_vendor.sri_digest(tarball),
        "dest": "toy", "entry": "dist/toy.js", "include": ["LICENSE", "package.json", "dist/*.js"],
    }]}))
    calls = tmp_path / "npm-calls.txt"
    npm = tmp_path / "npm"
    npm.write_text(
        f"#!{sys.executable}\n"
        "import json, shutil, sys\n"
        f"open({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "dest = sys.argv[sys.argv.index('--pack-destination') + 1]\n"
        f"shutil.copy({str(tarball)!r}, dest)\n"
        "print(json.dumps([{'filename': 'toy-1.0.0.tgz'}]))\n"
    )
    npm.chmod(0o755)
    return {"lock": lock, "npm": str(npm), "calls": calls, "tarball": tarball}


def test_vendor_verifies_extracts_only_the_listed_files_and_is_idempotent(
    tmp_path: Path, fake_registry: dict
) -> None:
    vendor_dir = tmp_path / "_vendor"
    book_vendor.vendor(vendor_dir, fake_registry["lock"], npm=fake_registry["npm"], log=str)
    kept = sorted(p.relative_to(vendor_dir / "toy").as_posix()
                  for p in (vendor_dir / "toy").rglob("*") if p.is_file())
    assert kept == [".vendor.json", "LICENSE", "dist/toy.js", "package.json"]
    assert "toy@1.0.0" in (vendor_dir / "NOTICE.txt").read_text()
    assert fake_registry["calls"].read_text().startswith("pack toy@1.0.0")

    book_vendor.vendor(vendor_dir, fake_registry["lock"], npm=fake_registry["npm"], log=str)
    assert len(fake_registry["calls"].read_text().splitlines()) == 1, "second run refetched"
    book_vendor.check_vendored(vendor_dir, fake_registry["lock"])

    (vendor_dir / "toy" / "dist" / "toy.js").unlink()
    with pytest.raises(book_vendor.VendorError, match="make vendor"):
        book_vendor.check_vendored(vendor_dir, fake_registry["lock"])
    book_vendor.vendor(vendor_dir, fake_registry["lock"], npm=fake_registry["npm"], log=str)
    assert (vendor_dir / "toy" / "dist" / "toy.js").is_file()


def test_vendor_rejects_a_tarball_with_another_hash(tmp_path: Path, fake_registry: dict) -> None:
    lock = json.loads(fake_registry["lock"].read_text())
    lock["packages"][0]["integrity"] = book_vendor.sri_digest(fake_registry["lock"])  # wrong
    fake_registry["lock"].write_text(json.dumps(lock))
    with pytest.raises(book_vendor.VendorError, match="integrity mismatch"):
        book_vendor.vendor(tmp_path / "_vendor", fake_registry["lock"],
                           npm=fake_registry["npm"], log=str)
    assert not (tmp_path / "_vendor" / "toy").exists()


def test_vendor_without_npm_says_how_to_get_it(
    tmp_path: Path, fake_registry: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(book_vendor.VendorError, match=r"npm was not found.*apt-get install npm"):
        book_vendor.vendor(tmp_path / "_vendor", fake_registry["lock"], log=str)


def test_extract_refuses_patterns_that_match_nothing(tmp_path: Path) -> None:
    tarball = _tarball(tmp_path / "t.tgz", {"a.js": b"1"})
    with pytest.raises(book_vendor.VendorError, match="no file matches"):
        book_vendor.extract_selected(tarball, ("a.js", "missing/**"), tmp_path / "out")


def test_the_real_lock_pins_the_versions_the_book_needs() -> None:
    pins = {p.name: p.version for p in book_vendor.load_lock()}
    assert pins["mathjax"] == "3.2.2"
    assert pins["requirejs"].startswith("2.3.")
    assert pins["@jupyter-widgets/html-manager"].startswith("1.0.")


def test_staged_config_renders_offline_from_executed_copies() -> None:
    config = book_html.staged_config()
    assert config["execute"]["execute_notebooks"] == "off"
    sphinx = config["sphinx"]["config"]
    assert sphinx["mathjax_path"] == "../_vendor/mathjax/es5/tex-mml-chtml.js"
    assert list(sphinx["nb_ipywidgets_js"]) == [
        "../_vendor/requirejs/require.js",
        "../_vendor/book_widgets_setup.js",
        "../_vendor/html-manager/dist/embed-amd.js",
    ]
    assert all("://" not in url for url in sphinx["nb_ipywidgets_js"])
    # the local Sphinx extension is found from the staged root, two folders down
    folder = config["sphinx"]["local_extensions"]["unique_scripts"]
    assert (book_html.ROOT / "_build" / "site" / folder / "unique_scripts.py").resolve().is_file()


def test_timings_page_lists_every_chapter_and_flags_budgets(tmp_path: Path) -> None:
    book_dir = tmp_path / "book"
    book_dir.mkdir()
    for name in ("01_a", "02_b"):
        (book_dir / f"{name}.ipynb").write_text(json.dumps({"metadata": {"aibnb": {"budget_s": 30}}}))
    found = [Chapter("book/01_a", tmp_path), Chapter("book/02_b", tmp_path)]
    record = {"profile": "ci", "seconds": 41.25, "budget_s": 30.0, "within_budget": False,
              "parameters": {"profile": "ci", "beta": 0.1}, "commit": "abc123",
              "date": "2026-01-02T03:04:05+00:00"}
    page = book_html.timings_page(found, {"book/01_a": record})
    rows = [line for line in page.splitlines() if line.startswith("| {doc}")]
    assert len(rows) == 2
    assert "41.2" in rows[0] and "**no**" in rows[0] and "`beta=0.1`" in rows[0]
    assert "not executed" in rows[1]


def test_html_refuses_to_build_without_executed_chapters(tmp_path: Path) -> None:
    chapter = Chapter("book/never_run", tmp_path)
    with pytest.raises(book_html.HtmlError, match="make execute"):
        book_html.check_executed_chapters([chapter])


def test_command_line_reports_unknown_chapters_and_stray_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert book.main(["execute", "--chapter", "99_no_such_chapter"]) == 2
    assert "choose one of" in capsys.readouterr().err
    assert book.main(["html", "--", "-p", "beta", "1"]) == 2
    with pytest.raises(ValueError, match="no such notebook"):
        find_chapter("99_no_such_chapter")


def test_toc_entries_are_in_reading_order() -> None:
    entries = toc_entries()
    assert entries[0] == "book/intro"
    assert entries[-1] == "book/timings"


def test_browser_checks_fail_without_chromium_unless_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import book_browser

    monkeypatch.setattr(book_browser, "CHROMIUM_CANDIDATES", ("/nonexistent/chromium",))
    monkeypatch.delenv(book_browser.SKIP_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        book_browser.require_browser()
    monkeypatch.setenv(book_browser.SKIP_ENV, "1")
    with pytest.raises(pytest.skip.Exception, match="AIBNB_SKIP_BROWSER=1"):
        book_browser.require_browser()


def test_a_profile_given_as_a_papermill_parameter_selects_the_profile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import book_execute

    assert book_execute.split_profile(["-p", "profile", "full", "-p", "beta", "0.1"]) == (
        "full", ["-p", "beta", "0.1"]
    )
    assert book_execute.split_profile(["-p", "beta", "0.1"]) == (None, ["-p", "beta", "0.1"])
    with pytest.raises(book_execute.ExecuteError, match="set twice"):
        book_execute.split_profile(["-p", "profile", "full", "-p", "profile", "ci"])
    # `make run ... PROFILE=ci ARGS="-p profile full"` contradicts itself
    assert book.main(["execute", "--profile", "ci", "--chapter", "01_mi_bounds", "--",
                      "-p", "profile", "full"]) == 1
    assert "disagree" in capsys.readouterr().err
    assert book.main(["execute", "--chapter", "01_mi_bounds", "--", "-p", "profile", "huge"]) == 1
    assert "unknown" in capsys.readouterr().err
