"""aibnb.train.checkpoint: a damaged checkpoint is a clear error, and a killed run resumes exactly."""

import json
import os
import signal
import time

import pytest

from aibnb import storage
from aibnb.train.checkpoint import load_checkpoint


def test_corrupt_checkpoint_is_a_clear_error_and_is_kept(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(storage.DamagedFileError, match=r"could not be read.*left in place"):
        load_checkpoint(path)
    assert path.read_bytes() == b"not a checkpoint"


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_to_the_same_metrics(tmp_path, train_cli, cli_args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed = tmp_path / "killed"
    proc = train_cli(cli_args(killed), env)
    deadline = time.time() + 240
    while not (killed / "metrics.jsonl").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    time.sleep(0.5)  # inside epoch 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "final.json").exists()
    assert len(storage.read_jsonl(killed / "metrics.jsonl")) < 4
    resumed = train_cli(cli_args(killed), env)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert "resuming" not in out  # --quiet
    reference = train_cli(cli_args(tmp_path / "reference"), env)
    out, _ = reference.communicate(timeout=300)
    assert reference.returncode == 0, out

    def comparable(path):
        rows = storage.read_jsonl(path / "metrics.jsonl")
        return [{k: v for k, v in r.items() if "time" not in k and "per_s" not in k} for r in rows]

    assert comparable(killed) == comparable(tmp_path / "reference")
    a, b = (json.loads((p / "final.json").read_text()) for p in (killed, tmp_path / "reference"))
    assert a["test_error"] == b["test_error"] and a["anchors"] == b["anchors"]
