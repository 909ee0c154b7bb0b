"""The training engine: validation, resolution, schedules, records, cache, resume after a kill, DDP."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from aibnb import runs
from aibnb.train import TrainConfig, departures, fit, lr_factor, resolve
from aibnb.train.engine import load_checkpoint, load_model

REPO = Path(__file__).resolve().parents[2]
TINY = {  # a run of a few seconds on CPU: scikit-learn's bundled digits, width 1/16
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


pytestmark = pytest.mark.usefixtures("isolated_runs")


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("beta", -0.1, "beta: must be a finite number >= 0"),
        ("num_anchors", 0, "num_anchors: must be an integer >= 1"),
        ("model", "resnet", "unknown model 'resnet'"),
        ("dataset", "imagenet", "unknown dataset 'imagenet'"),
        ("schedule", "linear", "schedule: must be one of"),
        ("batch_size", 0, "batch_size: must be an integer >= 1"),
        ("epochs", -1, "epochs: must be an integer >= 1"),
        ("profile", "huge", "unknown profile 'huge'"),
        ("lr", 0.0, "lr: must be a finite number > 0"),
        ("device", "tpu", "device: must be one of"),
    ],
)
def test_bad_config_is_a_clear_error(field, value, match):
    with pytest.raises(ValueError, match=match):
        resolve(TrainConfig(**{field: value}))


def test_config_rejects_options_that_do_not_apply():
    with pytest.raises(ValueError, match="K applies to the quantised models only"):
        resolve(TrainConfig(model="vgg_aib", num_anchors=10))
    with pytest.raises(ValueError, match=r"unknown option.*valid"):
        resolve(TrainConfig(model="vgg_aib", model_options={"depth": 16}))
    with pytest.raises(ValueError, match="set num_anchors as config fields"):
        resolve(TrainConfig(model="vgg_aib_qt", model_options={"num_anchors": 3}))
    with pytest.raises(ValueError, match="unknown config field"):
        TrainConfig.from_dict({"modle": "vgg"})


def test_profiles_and_recipes_fill_the_config():
    ci = resolve(TrainConfig(model="vgg_aib", profile="ci"))
    assert ci.width == runs.PROFILES["ci"].width["vgg"] and ci.epochs == runs.PROFILES["ci"].epochs
    assert ci.beta == 0.01 and ci.info_factor == 0.5 and ci.loss_units == "bits"
    assert ci.schedule == "cosine" and departures(ci)["schedule"] == ("cosine", "vgg")
    assert resolve(TrainConfig(model="vgg_aib", schedule="vgg")).schedule == "vgg"
    wrn = resolve(TrainConfig(model="wrn_aib_qt", profile="ci"))
    assert wrn.model_options["depth"] == 10 and wrn.info_factor == 1.0 and wrn.anchor_lr == "ratio"
    full = resolve(TrainConfig(model="vgg_aib_qt", profile="full"))
    assert full.width == 1.0 and full.epochs == 200 and full.train_subset is None
    assert full.anchor_lr == "base" and full.warmup_epochs == 2 and full.schedule == "vgg"
    assert departures(full) == {}
    plain = resolve(TrainConfig(model="vgg", profile="ci", beta=0.5))
    assert plain.beta == 0.0 and plain.info_factor is None and plain.loss_units == "nats"
    assert resolve(TrainConfig(model="vgg_aib", beta=0.1)).beta == 0.1  # explicit beats recipe
    assert (
        resolve(TrainConfig(model="vgg_aib")).hash()
        == resolve(TrainConfig(model="vgg_aib", device="cpu")).hash()
    )
    assert (
        resolve(TrainConfig(model="vgg_aib")).hash() != resolve(TrainConfig(model="vgg_aib", seed=1)).hash()
    )


def test_official_vgg_schedule():
    # aib: lr 0.01 at epoch 0, 0.1 for epochs 1-23, then x0.5 every 25 epochs (spec section 4)
    factors = [lr_factor("vgg", e, 200, warmup_epochs=1) for e in range(200)]
    assert factors[0] == pytest.approx(0.1)
    assert factors[1:24] == [1.0] * 23
    assert factors[24] == 0.5 and factors[48] == 0.5 and factors[49] == 0.25
    assert factors[174] == pytest.approx(0.5**7) and factors[199] == pytest.approx(0.5**8)
    # qt: 0.001, 0.01, then 0.1 from epoch 2
    qt = [lr_factor("vgg", e, 200, warmup_epochs=2) for e in range(3)]
    assert qt == pytest.approx([0.01, 0.1, 1.0])


def test_official_wrn_and_exponential_schedules_and_compression():
    assert [lr_factor("wrn", e, 200) for e in (59, 60, 119, 120, 160)] == pytest.approx(
        [1, 0.2, 0.2, 0.04, 0.008]
    )
    assert lr_factor("exponential", 5, 200) == pytest.approx(0.97**2)
    # a 4-epoch run follows the same shape, compressed: t = 2.0 is official epoch 100
    assert lr_factor("vgg", 2.0, 4, 1) == lr_factor("vgg", 100, 200, 1)
    assert lr_factor("cosine", 0, 10) == pytest.approx(1.0) and lr_factor("cosine", 10, 10) == pytest.approx(
        0
    )
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor("step", 0, 10)


def test_fit_writes_a_complete_record_and_caches_it():
    record = fit(**TINY)
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
    again = fit(**TINY)  # cached: no retraining
    assert again.path == record.path and (record.path / "final.json").stat().st_mtime_ns == stamp
    model = load_model(record.path)
    assert model.attention.quantizer.num_anchors == 20


def test_out_dir_of_another_run_is_never_overwritten(tmp_path):
    fit(**TINY, out_dir=str(tmp_path / "run"))
    with pytest.raises(FileExistsError, match="holds a different run"):
        fit(**{**TINY, "seed": 1}, out_dir=str(tmp_path / "run"))


def test_corrupt_checkpoint_is_a_clear_error_and_is_kept(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(runs.DamagedFileError, match=r"could not be read.*left in place"):
        load_checkpoint(path)
    assert path.read_bytes() == b"not a checkpoint"


def _cli(args, env, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "aibnb", "train", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def _args(out_dir, epochs=4):
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


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_to_the_same_metrics(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed = tmp_path / "killed"
    proc = _cli(_args(killed), env)
    deadline = time.time() + 240
    while not (killed / "metrics.jsonl").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    time.sleep(0.5)  # inside epoch 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "final.json").exists()
    assert len(runs.read_jsonl(killed / "metrics.jsonl")) < 4
    resumed = _cli(_args(killed), env)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert "resuming" not in out  # --quiet
    reference = _cli(_args(tmp_path / "reference"), env)
    out, _ = reference.communicate(timeout=300)
    assert reference.returncode == 0, out

    def comparable(path):
        rows = runs.read_jsonl(path / "metrics.jsonl")
        return [{k: v for k, v in r.items() if "time" not in k and "per_s" not in k} for r in rows]

    assert comparable(killed) == comparable(tmp_path / "reference")
    a, b = (json.loads((p / "final.json").read_text()) for p in (killed, tmp_path / "reference"))
    assert a["test_error"] == b["test_error"] and a["anchors"] == b["anchors"]


@pytest.mark.slow
def test_distributed_data_parallel_on_cpu_with_gloo(tmp_path):
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
        *_args(out, epochs=1),
    ]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    record = runs.RunRecord.load(out)
    assert record.finished and len(record.metrics) == 1
    # both ranks trained: 1024 images / 2 ranks / 32 per batch = 16 steps each, 1024 images in all
    assert record.metrics[0]["train_images_per_s"] > 0
    assert 0 <= record.final["test_error"] <= 100


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


def test_cli_eval_matches_the_stored_test_error(tmp_path):
    record = fit(**TINY)
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


def test_a_deadline_stops_cleanly_and_the_same_call_resumes(tmp_path):
    cfg = {**TINY, "epochs": 3, "out_dir": str(tmp_path / "chunked")}
    first = fit(**cfg, deadline=time.time())  # no time for a second epoch
    assert not first.finished and len(first.metrics) == 1
    assert (tmp_path / "chunked" / "last.pt").exists()
    done = fit(**cfg)
    assert done.finished and len(done.metrics) == 3
    reference = fit(**{**cfg, "out_dir": str(tmp_path / "whole")})
    assert done.final["test_error"] == reference.final["test_error"]


def test_cpu_runs_record_their_thread_count_and_fit_restores_it():
    from aibnb.train import prepare, run_dir

    before = torch.get_num_threads()
    cfg, device = prepare(model="vgg_aib", device="cpu")
    assert device.type == "cpu" and cfg.num_threads == before
    assert run_dir(model="vgg_aib", num_threads=1) != run_dir(model="vgg_aib", num_threads=2)
    fit(**{**TINY, "num_threads": 1})
    assert torch.get_num_threads() == before
