"""Shared test setup: the repository root and ``tools/`` are importable from every test, and the
``isolated_runs`` fixture gives a test its own empty run cache."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tools"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture
def isolated_runs(tmp_path, monkeypatch):
    """Point ``$AIBNB_RUNS`` at a fresh folder, so a test neither reads nor writes the real cache."""
    monkeypatch.setenv("AIBNB_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"
