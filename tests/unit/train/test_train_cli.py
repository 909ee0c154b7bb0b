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


def _main(argv):
    from aibnb.__main__ import main

    return main(argv)


def test_cli_refuses_bad_limits_options_and_subsets_by_name(tmp_path, capsys, cli_args):
    assert _main(["train", "--time-limit", "nan"]) == 2
    assert "--time-limit must be a finite number of seconds > 0, got nan" in capsys.readouterr().err
    assert _main(["train", "--time-limit", "-5"]) == 2
    assert _main(["train", "--model", "vgg_aib", "--option", "residual=0.5"]) == 2
    assert "option residual of 'vgg_aib' must be True or False" in capsys.readouterr().err
    assert _main(["train", "--momentum", "5"]) == 2
    assert "momentum: must be in [0, 1)" in capsys.readouterr().err
    assert _main(["train", "--train-subset", "5"]) == 2
    assert "train_subset: 5 training images make no full batch" in capsys.readouterr().err
    # more images than the split has: said with the split's size, never silently fewer
    assert _main(["train", *cli_args(tmp_path / "big"), "--train-subset", "100000000"]) == 2
    err = capsys.readouterr().err
    assert "train_subset: 100000000 images asked for, but the train split of digits has 1293" in err
    assert not (tmp_path / "big" / "final.json").exists()
    assert _main(["train", "--profile", "full", "--model", "vgg_aib", "--device", "cpu"]) == 2
    assert "--allow-cpu-full" in capsys.readouterr().err


def test_cli_exits_with_an_error_when_the_loss_diverges(tmp_path, capsys, cli_args):
    args = [*cli_args(tmp_path / "run", epochs=2), "--model", "vgg_aib", "--lr", "1e6"]
    assert _main(["train", *args]) == 1
    assert "the training loss became nan in epoch 1/2" in capsys.readouterr().err
    assert not (tmp_path / "run" / "final.json").exists()


def test_eval_is_seeded_so_that_two_evaluations_agree(tiny, capsys):
    import torch

    record = fit(**tiny)
    lines = []
    for seed in (1, 2):
        torch.manual_seed(seed)  # whatever the process drew before
        assert _main(["eval", str(record.path), "--device", "cpu", "--eval-samples", "1"]) == 0
        lines.append(capsys.readouterr().out)
    assert lines[0] == lines[1] and "test error" in lines[0]
