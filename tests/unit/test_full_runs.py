"""The GPU run driver, dry-run on CPU: plan, chunked run with a time limit, pack, export, index."""

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from aibnb import runs

REPO = Path(__file__).resolve().parents[2]
TOOL = [sys.executable, str(REPO / "tools" / "full_runs.py")]
SMALL = ["--override", "train_subset=256", "--override", "val_subset=64", "--override", "test_subset=64",
         "--override", "num_threads=1", "--override", "save_attention=2"]


def test_plan_lists_every_group_with_estimates():
    done = subprocess.run([*TOOL, "plan"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    for group in ("table1:", "cluttered:", "beta:", "k:"):
        assert group in done.stdout
    assert "total:" in done.stdout and "15 epochs" in done.stdout


@pytest.mark.slow
def test_dry_run_packs_and_exports_checkpoint_free_records(tmp_path):
    if not (REPO / "data" / "FashionMNIST" / "raw").exists():
        pytest.skip("Fashion-MNIST is not in ./data (run `make data`)")
    env = {"AIBNB_RUNS": str(tmp_path / "runs"), "AIBNB_DATA": str(REPO / "data"), "PATH": "/usr/bin:/bin"}
    out = tmp_path / "out"
    cmd = [*TOOL, "run", "--profile", "ci", "--epochs", "1", "--group", "k", "--time-limit", "600",
           "--out", str(out), *SMALL]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 runs finished" in done.stdout
    archive = out / "results.tar.gz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names and not any(n.endswith(".pt") for n in names)
    # every run is an attention model (VGG-aib-qt), so each comes back with chapter 5's scores
    assert sum(n.endswith("/scores.json") for n in names) == 4
    # a second command finds everything finished and trains nothing
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO, env=env)
    assert "0 runs finished in this command, 4 finished runs packed" in again.stdout
    dest = tmp_path / "results_full"
    done = subprocess.run([*TOOL, "export", str(archive), "--dest", str(dest)], capture_output=True,
                          text=True, timeout=300, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    index = runs.read_json(dest / "index.json")
    assert sorted(r["num_anchors"] for r in index["runs"]) == [2, 5, 10, 50]
    record = runs.RunRecord.load(dest / "runs" / index["runs"][0]["run"])
    assert record.finished and record.provenance["profile"] == "ci"


def test_export_refuses_foreign_archives(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    evil = tmp_path / "evil.txt"
    evil.write_text("x")
    with tarfile.open(bad, "w:gz") as tar:
        tar.add(evil, arcname="../../evil.txt")
    done = subprocess.run([*TOOL, "export", str(bad), "--dest", str(tmp_path / "d")], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert done.returncode != 0 and "unexpected member" in done.stderr
