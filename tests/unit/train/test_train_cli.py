"""``python -m aibnb train`` and ``python -m aibnb eval``: every option documented, clear errors."""

import os
import subprocess
import sys
from pathlib import Path

from aibnb.train import fit

REPO = Path(__file__).resolve().parents[3]


def test_cli_help_documents_every_option():
    done = subprocess.run(
        [sys.executable, "-m", "aibnb", "train", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    for flag in (
        "--model",
        "--dataset",
        "--profile",
        "--beta",
        "--num-anchors",
        "--anchor-lr",
        "--option",
        "--out-dir",
        "--amp",
        "--no-amp",
        "--seed",
        "--time-limit",
    ):
        assert flag in done.stdout


def test_cli_reports_bad_input_clearly():
    done = subprocess.run(
        [sys.executable, "-m", "aibnb", "train", "--beta", "-1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "beta: must be a finite number >= 0" in done.stderr


def test_cli_eval_matches_the_stored_test_error(tiny):
    record = fit(**tiny)
    done = subprocess.run(
        [sys.executable, "-m", "aibnb", "eval", str(record.path), "--device", "cpu"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "stored test error" in done.stdout
