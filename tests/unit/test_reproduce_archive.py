"""A tier's archive: packed without checkpoints, brought home whole or not at all."""

import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from fake_runs import fake_run

from aibnb import storage
from aibnb.reproduce import archive, stored_tier

REPO = Path(__file__).resolve().parents[2]
TOOL = [sys.executable, "-m", "aibnb", "queue"]


def test_pack_and_unpack_round_trip_and_foreign_archives_are_refused(tmp_path):
    store = tmp_path / "store"
    stored_tier.export_run(fake_run(tmp_path / "c" / "a"), store)
    tarball = tmp_path / "out" / "results.tar.gz"
    assert archive.pack(store, tarball) == 1
    with tarfile.open(tarball) as tar:
        assert not any(n.endswith(".pt") for n in tar.getnames())
    assert archive.unpack(tarball, tmp_path / "home") == ["a"]
    evil = tmp_path / "evil.txt"
    evil.write_text("x")
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        tar.add(evil, arcname="../../evil.txt")
    with pytest.raises(ValueError, match="unexpected member"):
        archive.unpack(bad, tmp_path / "home")


def archive_of(tmp_path, name="a", **fake):
    store = tmp_path / f"src-{name}"
    stored_tier.export_run(fake_run(tmp_path / "c" / name, **fake), store)
    tarball = tmp_path / f"{name}.tar.gz"
    archive.pack(store, tarball)
    return tarball


@pytest.mark.parametrize(
    "fake,match",
    [
        ({"code": 2}, r"run a has training code version 2 with 1 CPU thread\(s\), but the lab tier holds "
                      r"version 1 with 1"),
        ({"threads": 4}, r"run a has training code version 1 with 4 CPU thread\(s\)"),
    ],
)
def test_export_refuses_runs_of_another_tier_identity_and_stores_nothing(tmp_path, fake, match):
    home = tmp_path / "home"
    stored_tier.export_run(fake_run(tmp_path / "c" / "kept"), home)
    tarball = archive_of(tmp_path, **fake)
    with pytest.raises(stored_tier.TierMismatchError, match=match + ".*nothing was stored"):
        archive.unpack(tarball, home, "lab")
    assert [p.name for p in (home / "runs").iterdir()] == ["kept"]
    with pytest.raises(stored_tier.TierMismatchError, match="is of profile 'lab', not 'full'"):
        archive.unpack(archive_of(tmp_path, name="b"), home, "full")
    done = subprocess.run([*TOOL, "export", "--profile", "lab", "--store", str(home), str(tarball)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 2 and "run a has training code version" in done.stderr
    assert "Traceback" not in done.stderr
    assert [p.name for p in (home / "runs").iterdir()] == ["kept"]


def test_export_names_a_damaged_file_of_the_archive_without_a_traceback(tmp_path):
    src = fake_run(tmp_path / "c" / "a", correct=np.ones(5000, bool))
    data = (src / "predictions.npz").read_bytes()
    (src / "predictions.npz").write_bytes(data[: len(data) // 2])
    store = tmp_path / "src"
    stored_tier.export_run(src, store)
    tarball = tmp_path / "a.tar.gz"
    archive.pack(store, tarball)
    home = tmp_path / "home"
    done = subprocess.run([*TOOL, "export", "--profile", "lab", "--store", str(home), str(tarball)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 2 and "predictions.npz is damaged" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (home / "runs").exists()
    (tmp_path / "c" / "b").mkdir(parents=True)
    storage.write_json(tmp_path / "c" / "b" / "config.json", {"config": {}})
    with pytest.raises(storage.DamagedFileError, match=r"config\.json is damaged"):
        archive.check_archive([tmp_path / "c" / "b"], home, "lab", "archive")
