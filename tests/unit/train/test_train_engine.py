"""aibnb.train.engine: fit writes a complete record, caches it, never overwrites another run,
stops cleanly at a deadline and resumes to the same numbers, and trains under DDP."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from aibnb import runs, storage
from aibnb.train import fit, load_model
from aibnb.train.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[3]
TIMINGS = ("epoch_time_s", "train_images_per_s", "wall_time_s")


def test_fit_writes_a_complete_record_and_caches_it(tiny):
    record = fit(**tiny)
    assert record.finished and len(record.metrics) == 2
    row = record.metrics[-1]
    for key in ("train_class_bits", "train_info_bits", "val_acc", "train_perplexity", "lr", "epoch_time_s"):
        assert key in row
    final = record.final
    assert 0 <= final["test_error"] <= 100 and final["best_epoch"] in (1, 2)
    assert final["num_anchors"] == 20 and len(final["anchors"]) == 20
    assert np.array(final["confusion"]).sum() == 128
    prov = record.provenance
    assert prov["profile"] == "ci" and prov["seed"] == 0 and prov["versions"]["torch"] == torch.__version__
    samples = record.attention_samples()
    assert samples["attention"].shape == (4, 1, 16, 16) and samples["images"].shape == (4, 1, 32, 32)
    for name in ("config.json", "metrics.jsonl", "final.json", "provenance.json", "best.pt", "last.pt"):
        assert (record.path / name).exists()
    stamp = (record.path / "final.json").stat().st_mtime_ns
    again = fit(**tiny)  # cached: no retraining
    assert again.path == record.path and (record.path / "final.json").stat().st_mtime_ns == stamp
    model = load_model(record.path)
    assert model.attention.quantizer.num_anchors == 20


def test_out_dir_of_another_run_is_never_overwritten(tmp_path, tiny):
    fit(**tiny, out_dir=str(tmp_path / "run"))
    with pytest.raises(FileExistsError, match="holds a different run"):
        fit(**{**tiny, "seed": 1}, out_dir=str(tmp_path / "run"))


def test_a_deadline_stops_cleanly_and_the_same_call_resumes(tmp_path, tiny):
    cfg = {**tiny, "epochs": 3, "out_dir": str(tmp_path / "chunked")}
    first = fit(**cfg, deadline=time.time())  # no time for a second epoch
    assert not first.finished and len(first.metrics) == 1
    assert (tmp_path / "chunked" / "last.pt").exists()
    done = fit(**cfg)
    assert done.finished and len(done.metrics) == 3
    reference = fit(**{**cfg, "out_dir": str(tmp_path / "whole")})
    assert done.final["test_error"] == reference.final["test_error"]

    # bit for bit: every number of every epoch, the final record and the weights
    def numbers(rows):
        return [{k: v for k, v in r.items() if k not in TIMINGS} for r in rows]

    assert numbers(done.metrics) == numbers(reference.metrics)
    assert numbers([done.final]) == numbers([reference.final])
    for name in ("best.pt", "last.pt"):
        a, b = (load_checkpoint(r.path / name)["model"] for r in (done, reference))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_validation_every_few_epochs_and_the_gap_leave_every_other_number_unchanged(tiny):
    """``val_every`` validates every N epochs and after the last; ``train_eval`` adds the training
    images' error under the test's conditions and the gap, and changes no other number of the run
    (the training-set ladder's 10,000-image cell repeats Table 1's runs)."""
    from aibnb.train import TrainConfig

    plain = fit(**tiny)
    gap = fit(**{**tiny, "train_eval": True})
    assert gap.path != plain.path  # a different run: it stores more
    assert [r["val_acc"] for r in gap.metrics] == [r["val_acc"] for r in plain.metrics]
    same = {k: v for k, v in gap.final.items() if k in plain.final and k != "wall_time_s"}
    assert same == {k: v for k, v in plain.final.items() if k != "wall_time_s"}
    assert 0 <= gap.final["train_eval_error"] <= 100 and "train_eval_error" not in plain.final
    assert gap.final["generalisation_gap"] == pytest.approx(
        gap.final["test_error"] - gap.final["train_eval_error"]
    )
    with np.load(plain.path / "predictions.npz") as a, np.load(gap.path / "predictions.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)
    sparse = fit(**{**tiny, "epochs": 3, "val_every": 2})
    assert [("val_acc" in r) for r in sparse.metrics] == [False, True, True]  # and after the last
    assert sparse.final["best_epoch"] in (2, 3)
    # the new fields keep every older run's hash: they are hashed only when set
    assert TrainConfig(**tiny).hash() == TrainConfig(**tiny, val_every=None, train_eval=False).hash()
    assert TrainConfig(**tiny).hash() != TrainConfig(**tiny, val_every=2).hash()
    with pytest.raises(ValueError, match=r"TrainConfig\.val_every"):
        fit(**{**tiny, "val_every": 0})
    with pytest.raises(ValueError, match=r"TrainConfig\.train_eval"):
        fit(**{**tiny, "train_eval": 1})


@pytest.mark.slow
def test_distributed_data_parallel_on_cpu_with_gloo(tmp_path, cli_args):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "aibnb",
        "train",
        *cli_args(out, epochs=1),
    ]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    record = runs.RunRecord.load(out)
    assert record.finished and len(record.metrics) == 1
    # both ranks trained: 1024 images / 2 ranks / 32 per batch = 16 steps each, 1024 images in all
    assert record.metrics[0]["train_images_per_s"] > 0
    assert 0 <= record.final["test_error"] <= 100


def _hold_lock_in_another_process(folder: Path, seconds: float) -> subprocess.Popen:
    """A real process holding the run lock of ``folder`` (as a second ``fit`` would) for ``seconds``."""
    code = (
        "import sys, time\nfrom aibnb.locks import run_lock\n"
        f"with run_lock({folder.name!r}, {str(folder.parent)!r}) as mine:\n"
        "    print('held' if mine else 'refused', flush=True)\n"
        f"    time.sleep({seconds})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_fit_waits_for_the_holder_of_the_run_lock_and_the_queue_may_hold_it(tmp_path, tiny, capsys):
    from aibnb.locks import run_lock

    out = tmp_path / "run"
    holder = _hold_lock_in_another_process(out, 3)
    try:
        record = fit(**tiny, out_dir=str(out))  # waits, then trains: the holder trained nothing
    finally:
        holder.wait(timeout=60)
    assert record.finished and len(record.metrics) == 2
    waited = capsys.readouterr().err
    assert f"run: process {holder.pid} is training this run; waiting for it to finish" in waited
    # the queue holds the lock of the run it trains and calls fit: the same lock, taken again
    other = tmp_path / "queued"
    with run_lock(other.name, other.parent) as mine:
        assert mine
        again = fit(**{**tiny, "epochs": 1}, out_dir=str(other))
    assert again.finished and "waiting" not in capsys.readouterr().err


def test_stale_temporary_files_are_removed_when_a_run_starts(tmp_path, tiny):
    out = tmp_path / "run"
    out.mkdir()
    stale = [out / ".best.pt.k2j_x9ab.tmp", out / ".metrics.jsonl.0123abcd.tmp"]
    kept = [out / "notes.tmp", out / ".best.pt.tmp", out / "best.pt.k2j_x9ab.tmp"]
    for path in stale + kept:
        path.write_bytes(b"left by a killed process")
    fit(**{**tiny, "epochs": 1}, out_dir=str(out))
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)  # only the project's own temporary names


def test_no_training_step_and_a_diverging_loss_are_errors_not_finished_runs(tmp_path, tiny):
    from aibnb.train.engine import TrainingDivergedError

    with pytest.raises(ValueError, match=r"TrainConfig\.train_subset: 5 training images make no full batch "
                                         r"of batch_size 64"):
        fit(**{**tiny, "train_subset": 5, "out_dir": str(tmp_path / "none")})
    assert not (tmp_path / "none").exists()  # refused before any data was loaded
    out = tmp_path / "diverged"
    with pytest.raises(TrainingDivergedError, match=r"epoch 1/2 .*learning rate is most likely too high"):
        fit(**{**tiny, "model": "vgg_aib", "lr": 1e6, "out_dir": str(out)})
    assert not (out / "final.json").exists() and not (out / "metrics.jsonl").exists()
    bad = tmp_path / "bad"
    bad.mkdir()
    storage.write_json(bad / "config.json", [1, 2])  # valid JSON, not a run's config
    with pytest.raises(storage.DamagedFileError, match=r"bad/config\.json is damaged"):
        fit(**{**tiny, "out_dir": str(bad)})


def test_the_full_profile_is_refused_on_a_cpu_before_anything_runs(tmp_path, monkeypatch):
    from aibnb.train import fit_many
    from aibnb.train.machine import ALLOW_CPU_FULL_ENV, check_cpu_budget, prepare

    monkeypatch.delenv(ALLOW_CPU_FULL_ENV, raising=False)
    spec = {"model": "vgg_aib", "profile": "full", "device": "cpu", "out_dir": str(tmp_path / "full")}
    message = r"profile 'full' on a machine without a GPU: vgg_aib .* 200 epochs at width 1, about 50 days"
    with pytest.raises(ValueError, match=message + r".*--allow-cpu-full \(AIBNB_ALLOW_CPU_FULL=1\)"):
        fit(**spec)
    with pytest.raises(ValueError, match=message):
        fit_many([spec])
    assert not (tmp_path / "full").exists()
    cfg, _ = prepare(**spec)
    check_cpu_budget(cfg, torch.device("cuda"))  # a GPU: the full tier's own queue is not blocked
    check_cpu_budget(cfg, torch.device("cpu"), allow=True)
    monkeypatch.setenv(ALLOW_CPU_FULL_ENV, "1")
    check_cpu_budget(cfg, torch.device("cpu"))
    with pytest.raises(ValueError, match="deadline must be a finite"):
        fit(model="vgg", deadline=float("nan"))


@pytest.mark.slow
def test_two_processes_on_one_run_train_it_once(tmp_path, train_cli, cli_args):
    """The second process waits for the first's lock, then returns the run the first trained."""
    from aibnb.locks import holder

    out = tmp_path / "shared"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    first = train_cli(cli_args(out, epochs=8), env)
    deadline = time.time() + 240
    while holder(out.name, out.parent) is None and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)  # holder() only looks: it never takes the lock
    assert holder(out.name, out.parent) == first.pid
    second = train_cli(cli_args(out, epochs=8), env)
    first_out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, first_out
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    second_out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, second_out
    assert f"shared: process {first.pid} is training this run; waiting for it to finish" in second_out
    assert "waiting" not in first_out
    # the second returned the first's record and wrote nothing into the folder
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == stamps
    summary = [line for line in first_out.splitlines() if "test error" in line]
    assert summary and summary[0] in second_out
    record = runs.RunRecord.load(out)
    assert record.finished and [m["epoch"] for m in record.metrics] == list(range(1, 9))
    assert record.provenance["training_code"] == 1 and (out / "attention.npz").exists()
