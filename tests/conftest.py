"""Shared test setup: the repository root and the scripts of ``tools/build/`` (the book's build) are
importable from every test, the ``isolated_runs`` fixture gives a test its own empty run cache,
``one_thread`` runs a test module on one CPU thread, ``make_record`` makes run records without
training and ``scorable_run`` finished-looking runs that chapter 5's scorer can load."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tools" / "build"):
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


@pytest.fixture
def scorable_run(tmp_path, monkeypatch):
    """A factory of finished-looking run folders (config + best checkpoint of an untrained tiny
    model) that :func:`aibnb.interpret.score_record` can score: its evaluation data are replaced by
    12 random images fixed by the dataset's name (with a 12 x 12 object mask on cluttered datasets),
    the patch source by 3 random images, and the per-sample bottleneck runs one step.

    ``scorable_run("vgg_aib", "fashion_mnist")`` -> :class:`aibnb.runs.RunRecord`.
    """
    import torch

    from aibnb import runs, storage
    from aibnb.interpret import EvalData, scoring
    from aibnb.models import build_model
    from aibnb.train import TrainConfig, resolve

    def fake_data(dataset, n=None, **_):
        g = torch.Generator().manual_seed(len(dataset))
        images = torch.rand(12, 1, 32, 32, generator=g)
        labels = torch.randint(0, 10, (12,), generator=g)
        masks = torch.zeros(12, 1, 32, 32, dtype=torch.bool)
        masks[:, :, 8:20, 10:22] = True
        scene_masks = masks if dataset.startswith("cluttered") else None
        return EvalData(images, labels, scene_masks, (0.5,), (0.25,), [str(i) for i in range(10)], dataset)

    monkeypatch.setattr(scoring, "load_eval_data", fake_data)
    monkeypatch.setattr(scoring, "patch_source",
                        lambda: torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(3)))
    monkeypatch.setattr(scoring, "POSTHOC_STEPS", 1)  # one step of the bottleneck's mask is the code path

    def make(model_name: str, dataset: str) -> runs.RunRecord:
        cfg = resolve(TrainConfig(model=model_name, dataset=dataset, profile="ci"))
        folder = tmp_path / f"{model_name}-{dataset}"
        torch.manual_seed(0)
        model = build_model(model_name, 10, width=cfg.width, in_channels=1, **cfg.model_options)
        info = {"num_classes": 10, "in_channels": 1, "image_size": 32}
        stored = {"hash": cfg.hash(), "config": cfg.to_dict(), "model": info}
        storage.write_json(folder / "config.json", stored)
        torch.save({"model": model.state_dict()}, folder / "best.pt")
        return runs.RunRecord.load(folder)

    return make
