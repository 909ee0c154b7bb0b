"""Shared by the training tests: a run of a few seconds on CPU, the training CLI in a subprocess,
and a fresh run cache for every test."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _own_run_cache(isolated_runs: Path) -> None:
    """Every training test reads and writes its own empty ``$AIBNB_RUNS``."""


@pytest.fixture
def tiny() -> dict[str, Any]:
    """A run of a few seconds on CPU: scikit-learn's bundled digits, width 1/16."""
    return {
        "model": "vgg_aib_qt",
        "dataset": "digits",
        "width": 0.0625,
        "train_subset": 512,
        "val_subset": 128,
        "test_subset": 128,
        "epochs": 2,
        "batch_size": 64,
        "quiet": True,
        "save_attention": 4,
        "num_threads": 1,
    }


@pytest.fixture
def train_cli() -> Callable[..., subprocess.Popen]:
    """``train_cli(args, env)`` starts ``python -m aibnb train *args`` (stdout and stderr merged)."""

    def start(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "aibnb", "train", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            **kwargs,
        )

    return start


@pytest.fixture
def cli_args() -> Callable[..., list[str]]:
    """``cli_args(out_dir, epochs=4)``: the CLI arguments of a small digits run in ``out_dir``."""

    def args(out_dir: Path, epochs: int = 4) -> list[str]:
        return [
            "--model",
            "vgg_aib_qt",
            "--dataset",
            "digits",
            "--width",
            "0.0625",
            "--train-subset",
            "1024",
            "--val-subset",
            "128",
            "--test-subset",
            "128",
            "--epochs",
            str(epochs),
            "--batch-size",
            "32",
            "--num-threads",
            "1",
            "--quiet",
            "--out-dir",
            str(out_dir),
        ]

    return args
