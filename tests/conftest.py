"""Shared test setup: the repository root and the scripts of ``tools/build/`` (the book's build) and
``tools/experiments/`` (the experiment drivers) are importable from every test, the ``isolated_runs``
fixture gives a test its own empty run cache, ``one_thread`` runs a test module on one CPU thread, and
``make_record`` makes run records without training."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tools" / "experiments", ROOT / "tools" / "build"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture(scope="module")
def one_thread():
    """One CPU thread for a module: tiny models are dominated by thread overhead on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def isolated_runs(tmp_path, monkeypatch):
    """Point ``$AIBNB_RUNS`` at a fresh folder, so a test neither reads nor writes the real cache."""
    monkeypatch.setenv("AIBNB_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def make_record(tmp_path):
    """A factory of finished run records without training (what readers of run records see).

    ``make_record("vgg_aib", seed, error, beta=0.01)``: a :class:`aibnb.runs.RunRecord` of a
    ``cifar10`` run whose config holds ``config`` on top of the defaults; nothing is written.
    """
    from aibnb.runs import RunRecord

    def make(model: str, seed: int, error: float, **config) -> RunRecord:
        cfg = {"model": model, "dataset": "cifar10", "seed": seed, "epochs": 200, "beta": 0.0, **config}
        final = {"test_error": error, "best_epoch": 7, "num_anchors": None}
        prov = {"device": "cuda (a GPU)", "commit": "abc123", "created": "2026-01-01T00:00:00+00:00"}
        return RunRecord(path=tmp_path / f"{model}-{seed}", config=cfg, final=final, provenance=prov)

    return make
