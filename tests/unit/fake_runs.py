"""A finished run record written by hand: the smallest files that the stored tier, the archive and
the evidence read, so that their tests need no training."""

from pathlib import Path

import numpy as np

from aibnb import storage


def fake_run(folder: Path, *, model="vgg", seed=0, error=10.0, code=1, threads=1, beta=0.0, correct=None):
    folder.mkdir(parents=True)
    config = {
        "model": model,
        "dataset": "fashion_mnist",
        "seed": seed,
        "epochs": 12,
        "beta": beta,
        "num_anchors": None,
        "num_threads": threads,
        "profile": "lab",
    }
    storage.write_json(folder / "config.json", {"hash": folder.name, "config": config, "model": {}})
    confusion = (np.eye(10) * 900 + 100 / 9 * (1 - np.eye(10))).tolist()  # ten balanced classes
    storage.write_json(
        folder / "final.json",
        {"test_error": error, "best_epoch": 9, "num_anchors": None, "confusion": confusion},
    )
    storage.write_json(folder / "provenance.json", {"training_code": code, "device": "cpu (1 threads)"})
    (folder / "metrics.jsonl").write_text("")
    (folder / "last.pt").write_bytes(b"checkpoint")
    if correct is not None:
        np.savez(
            folder / "predictions.npz",
            targets=np.zeros(len(correct), np.int16),
            predictions=np.where(correct, 0, 1).astype(np.int16),
        )
    return folder
