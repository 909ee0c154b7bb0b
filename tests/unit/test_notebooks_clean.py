"""Chapter sources are clean: no outputs, one ``ci`` parameters cell, a budget, listed in the toc,
short code cells (the presentation lives in ``aibnb.figures``).

Outputs live only in ``_build/executed/`` (papermill) and the HTML; a committed output would
go stale and hide whether the chapter still runs.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from book_toc import ROOT, notebook_budget, toc_entries

NOTEBOOKS = sorted((ROOT / "book").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


def _ids(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_has_no_outputs_or_execution_counts(path: Path) -> None:
    dirty = [
        i
        for i, cell in enumerate(_load(path)["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{_ids(path)}: code cells {dirty} carry outputs; clear them (nbstripout)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_has_one_parameters_cell_starting_with_the_ci_profile(path: Path) -> None:
    cells = [
        c for c in _load(path)["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    assert len(cells) == 1, f"{_ids(path)}: {len(cells)} cells tagged 'parameters', need one"
    assert cells[0]["cell_type"] == "code"
    first_line = "".join(cells[0]["source"]).splitlines()[0].strip() if cells[0]["source"] else ""
    assert first_line == 'profile = "ci"', f"{_ids(path)}: first line is {first_line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_code_cells_are_short(path: Path) -> None:
    cells = [c for c in _load(path)["cells"] if c["cell_type"] == "code"]
    lengths = [len("".join(c["source"]).splitlines()) for c in cells]
    assert lengths and statistics.median(lengths) <= 20, (
        f"{_ids(path)}: the median code cell has {statistics.median(lengths or [0])} lines (at most 20); "
        "move figures, tables and widgets into aibnb.figures and call them"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_declares_a_positive_time_budget(path: Path) -> None:
    assert notebook_budget(_load(path), _ids(path)) > 0


def test_notebooks_and_toc_agree() -> None:
    listed = {entry for entry in toc_entries() if entry.startswith("book/")}
    notebooks = {_ids(p)[: -len(".ipynb")] for p in NOTEBOOKS}
    unlisted = sorted(notebooks - listed)
    assert not unlisted, f"notebooks missing from _toc.yml: {unlisted}"
    missing = sorted(e for e in listed if not any((ROOT / f"{e}{s}").is_file() for s in (".ipynb", ".md")))
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_notebook_budget_rejects_missing_or_bad_values() -> None:
    for bad in ({}, {"aibnb": {}}, {"aibnb": {"budget_s": 0}}, {"aibnb": {"budget_s": "60"}}):
        with pytest.raises(ValueError, match="budget_s"):
            notebook_budget({"metadata": bad}, "x.ipynb")
    assert notebook_budget({"metadata": {"aibnb": {"budget_s": 90}}}) == 90.0
