"""Every chapter runs through papermill at the ci profile, completely and within its budget.

This is the papermill run of ``make test``: the same function as ``tools/build/book.py execute``
(``book_execute.execute_chapter``), so what passes here is what ``make book`` renders. The
second half checks that the machinery itself catches failures, on tiny throwaway notebooks.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from book_execute import (
    RUN_NOTE_TAG,
    ExecuteError,
    check_executed,
    execute_chapter,
    load_timings,
)
from book_toc import TIMINGS, Chapter, chapters

pytestmark = pytest.mark.notebook


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.name)
def test_chapter_executes_at_ci_within_budget(chapter: Chapter) -> None:
    record = execute_chapter(chapter, "ci")
    assert record.status == "ok", f"{chapter.name}: {record.status}: {record.message}"
    nb = json.loads(chapter.executed.read_text(encoding="utf-8"))
    assert check_executed(nb) == []
    assert nb["metadata"]["papermill"]["parameters"]["profile"] == "ci"
    assert record.within_budget is True
    assert 0 < record.seconds <= record.budget_s
    stored = load_timings(TIMINGS)[chapter.docname]
    assert stored["status"] == "ok" and stored["profile"] == "ci"
    assert stored["seconds"] == record.seconds


# --- the machinery catches failures (tiny notebooks in a temporary book root) -------------------


def _write_chapter(root: Path, cells: list[str], *, budget: float = 60.0) -> Chapter:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["aibnb"] = {"budget_s": budget}
    nb.cells = [nbformat.v4.new_code_cell('profile = "ci"\nbeta = 1.0')]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in cells]
    (root / "book").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, root / "book" / "toy.ipynb")
    return Chapter("book/toy", root)


def test_run_records_parameters_hides_injected_cell_and_sets_env(tmp_path: Path) -> None:
    chapter = _write_chapter(
        tmp_path,
        ["import os\nprint(os.environ['AIBNB_PROFILE'], beta, os.getcwd())"],
    )
    timings = tmp_path / "timings.json"
    record = execute_chapter(chapter, "ci", ["-p", "beta", "0.25"], timings=timings)
    assert record.ok, record.message
    assert record.parameters == {"profile": "ci", "beta": 0.25}
    nb = json.loads(chapter.executed.read_text())
    printed = "".join(nb["cells"][-1]["outputs"][0]["text"]).split()
    assert printed == ["ci", "0.25", str(tmp_path / "book")]  # cwd is the notebook's folder
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0]["metadata"]["tags"]
    notes = [c for c in nb["cells"] if RUN_NOTE_TAG in c["metadata"].get("tags", [])]
    assert len(notes) == 1 and "`ci`" in "".join(notes[0]["source"])
    assert load_timings(timings)["book/toy"]["parameters"]["beta"] == 0.25


def test_a_raising_cell_fails_the_run_and_names_the_error(tmp_path: Path) -> None:
    chapter = _write_chapter(tmp_path, ["x = 1", "raise ValueError('deliberate failure')", "y = 2"])
    record = execute_chapter(chapter, "ci", timings=tmp_path / "timings.json")
    assert record.status == "error"
    assert "ValueError: deliberate failure" in record.message
    assert load_timings(tmp_path / "timings.json")["book/toy"]["status"] == "error"


def test_a_chapter_over_its_ci_budget_fails(tmp_path: Path) -> None:
    chapter = _write_chapter(tmp_path, ["print('slow enough')"], budget=0.01)
    record = execute_chapter(chapter, "ci", timings=tmp_path / "timings.json")
    assert record.status == "over_budget"
    assert record.within_budget is False
    assert "over its budget" in record.message


def test_a_hanging_chapter_is_killed_and_fails(tmp_path: Path) -> None:
    chapter = _write_chapter(tmp_path, ["import time\ntime.sleep(600)"])
    record = execute_chapter(chapter, "ci", timings=tmp_path / "timings.json", kill_after_s=6)
    assert record.status == "timeout"
    assert 6 <= record.seconds < 60


def test_the_budget_is_not_enforced_at_the_full_profile(tmp_path: Path) -> None:
    chapter = _write_chapter(tmp_path, ["print('full run')"], budget=0.01)
    record = execute_chapter(chapter, "full", timings=tmp_path / "timings.json")
    assert record.ok, record.message
    assert record.within_budget is None and record.parameters["profile"] == "full"


def test_profile_cannot_be_overridden_through_papermill_arguments(tmp_path: Path) -> None:
    chapter = _write_chapter(tmp_path, ["print(1)"])
    with pytest.raises(ExecuteError, match="--profile"):
        execute_chapter(chapter, "ci", ["-p", "profile", "full"], timings=tmp_path / "t.json")


def test_check_executed_flags_cells_that_did_not_run() -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"exception": None, "parameters": {"profile": "ci"}}
    ran = nbformat.v4.new_code_cell("print(1)", execution_count=1)
    ran.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    ran.metadata["papermill"] = {"status": "completed"}
    skipped = nbformat.v4.new_code_cell("print(2)")
    skipped.metadata["papermill"] = {"status": "pending"}
    nb.cells = [ran, skipped, nbformat.v4.new_code_cell("   ")]  # the blank cell is exempt
    problems = check_executed(nb)
    assert len(problems) == 1 and "code cell 1 did not execute" in problems[0]
    assert check_executed(nbformat.v4.new_notebook()) == [
        "the notebook has no papermill metadata: it was not executed by papermill"
    ]
