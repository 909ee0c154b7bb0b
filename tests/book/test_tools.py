"""The build tools themselves: vendoring with integrity checks, staging, the command line.

Fast and offline: npm is replaced by a small fake that serves a tarball made in the test.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
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


@pytest.fixture
def no_papermill(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a chapter would start: what is refused must be refused before papermill."""
    import book_execute

    def started(*args, **kwargs):
        raise AssertionError("papermill was started")

    monkeypatch.setattr(book_execute, "_run", started)


@pytest.mark.parametrize(
    "args,message",
    [
        (["-p", "betta", "0.1"], "chapter 02_vib_loss has no parameter 'betta'; valid parameters: beta, "
                                 "cluttered, dataset, num_mc, profile, seed"),
        (["-p", "beta", "abc"], "parameter beta of 02_vib_loss must be a finite number >= 0 or None"),
        (["-p", "beta", "-1"], "parameter beta of 02_vib_loss must be a finite number >= 0"),
        (["-r", "beta", "0.1"], "parameter beta of 02_vib_loss must be a finite number >= 0"),
        (["-p", "num_mc", "-5"], "parameter num_mc of 02_vib_loss must be an integer >= 1"),
        (["-p", "cluttered", "1"], "parameter cluttered of 02_vib_loss must be True or False (default True)"),
        (["-y", "seed: -1"], "parameter seed of 02_vib_loss must be an integer >= 0 (default 0), got -1"),
        (["-y", "[1, 2]"], "parameters must be a YAML mapping"),
    ],
)
def test_chapter_parameters_are_checked_by_name_and_type_before_papermill_starts(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], no_papermill: None
) -> None:
    assert book.main(["execute", "--chapter", "02_vib_loss", "--", *args]) == 2
    assert message in capsys.readouterr().err


def test_parameters_of_the_right_type_pass_as_papermill_would_read_them() -> None:
    import book_params

    chapter_4, chapter_5 = find_chapter("04_training"), find_chapter("05_interpretability")
    assert book_params.check_parameters([chapter_4], ["-p", "seeds", "[0, 1]", "-p", "models", "vgg,vgg_aib",
                                                      "-p", "epochs", "3"]) == {
        "seeds": "[0, 1]", "models": "vgg,vgg_aib", "epochs": 3}  # fmt: skip
    yaml_args = ["-y", "seeds: [0, 2]\nnum_images: 0"]
    assert book_params.check_parameters([chapter_5], yaml_args)["num_images"] == 0
    assert book_params.check_parameters([chapter_5], ["-p", "seeds", "None"]) == {"seeds": None}
    with pytest.raises(book_params.ParameterError, match="seeds of 05_interpretability must be a list"):
        book_params.check_parameters([chapter_5], ["-p", "seeds", "[0, -1]"])
    # every chapter at once: a parameter needs one chapter that has it, and is checked where it is
    every = [find_chapter(n) for n in ("01_mi_bounds", "02_vib_loss", "04_training")]
    assert book_params.check_parameters(every, ["-p", "beta", "0.1"]) == {"beta": 0.1}
    with pytest.raises(book_params.ParameterError, match="no chapter has a parameter 'betta'"):
        book_params.check_parameters(every, ["-p", "betta", "0.1"])


def test_every_parameter_has_a_type_from_its_default_or_its_name() -> None:
    """A parameter whose default is None ("the profile decides") is typed by name in book_params.KINDS."""
    import book_params
    from book_toc import chapters

    for chapter in chapters():
        params = book_params.notebook_parameters(chapter.source)
        assert params.get("profile") == "ci", chapter.name
        untyped = [n for n, d in params.items() if book_params.kind_of(n, d) is None]
        assert not untyped, f"{chapter.name}: add {untyped} to book_params.KINDS"


def test_the_full_profile_s_training_chapters_are_refused_without_a_gpu(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_papermill: None
) -> None:
    import book_execute
    import torch

    import aibnb.train.machine as machine

    monkeypatch.delenv(book_execute.ALLOW_CPU_FULL_ENV, raising=False)
    monkeypatch.setattr(machine, "select_device", lambda name="auto": torch.device("cpu"))
    assert book.main(["execute", "--chapter", "04_training", "--", "-p", "profile", "full"]) == 1
    err = capsys.readouterr().err
    assert "profile 'full' on a machine without a GPU: 04_training train(s)" in err
    assert "200 epochs a run), about 50 days for each VGG run" in err and "--allow-cpu-full" in err
    assert len(err.strip().splitlines()) == 1
    book_execute.check_machine("full", [find_chapter("01_mi_bounds")], {})  # trains no network: runs
    book_execute.check_machine("ci", [find_chapter("04_training")], {})
    book_execute.check_machine("full", [find_chapter("04_training")], {}, allow=True)
    monkeypatch.setattr(machine, "select_device", lambda name="auto": torch.device("cuda"))
    book_execute.check_machine("full", [find_chapter("04_training")], {})  # a GPU: runs


FAKE_PAPERMILL = """
import os, subprocess, sys, time
# like papermill: a kernel in a session of its own (Jupyter starts kernels so), with a worker below it
kernel = subprocess.Popen([sys.executable, "-c", (
    "import subprocess, sys, time\\n"
    "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\\n"
    "open(sys.argv[1], 'w').write(str(w.pid))\\n"
    "time.sleep(600)\\n"), sys.argv[2]], start_new_session=True)
open(sys.argv[1], "w").write(str(kernel.pid))
kernel.wait()
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_papermill_its_kernel_and_their_workers(tmp_path: Path, signum: int) -> None:
    import book_execute
    import book_process

    fake = tmp_path / "papermill.py"
    fake.write_text(FAKE_PAPERMILL)
    kernel_pid, worker_pid = tmp_path / "kernel.pid", tmp_path / "worker.pid"
    driver = (
        f"import sys; sys.path.insert(0, {str(Path(book_execute.__file__).parent)!r})\n"
        "import os, book_execute\n"
        f"book_execute._run([sys.executable, {str(fake)!r}, {str(kernel_pid)!r}, {str(worker_pid)!r}], "
        "dict(os.environ), None)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", driver], stderr=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        deadline = time.time() + 60
        while not (kernel_pid.exists() and worker_pid.exists()) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        pids = [int(kernel_pid.read_text()), int(worker_pid.read_text())]
        papermill = book_process.descendants(proc.pid)
        assert pids[0] in papermill and pids[1] in papermill
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signum, err
        assert signal.Signals(signum).name in err
        deadline = time.time() + 10
        while any(book_process.alive(p) for p in pids + papermill) and time.time() < deadline:
            time.sleep(0.05)
        assert not [p for p in pids + papermill if book_process.alive(p)], "left running"
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
