"""aibnb.train.parallel: fit_many trains missing runs in worker processes, each exactly the run that
fit trains alone, reads finished runs from the cache, and names a run that fails."""

import pytest

from aibnb.train import fit, fit_many
from aibnb.train.parallel import default_jobs

TIMINGS = ("epoch_time_s", "train_images_per_s", "wall_time_s")


def _numbers(record):
    return [{k: v for k, v in row.items() if k not in TIMINGS} for row in record.metrics], {
        k: v for k, v in record.final.items() if k not in TIMINGS
    }


@pytest.mark.slow
def test_two_workers_train_the_same_runs_as_fit_alone(tiny, isolated_runs, tmp_path):
    specs = [tiny, {**tiny, "seed": 1}, tiny]  # the third names the first run again
    records = fit_many(specs, jobs=2)
    assert [r.path for r in records] == [records[0].path, records[1].path, records[0].path]
    assert all(r.finished for r in records) and records[0].config["seed"] == 0
    for record, spec in zip(records[:2], specs[:2]):
        alone = fit(**spec, out_dir=str(tmp_path / f"alone-{spec.get('seed', 0)}"))
        assert _numbers(record) == _numbers(alone)  # same configuration, one thread: the same numbers
    stamp = (records[1].path / "final.json").stat().st_mtime_ns
    again = fit_many(specs[1:2])  # finished: read from the cache, nothing trained
    assert again[0].path == records[1].path
    assert (records[1].path / "final.json").stat().st_mtime_ns == stamp


def test_a_bad_spec_fails_before_any_training(tiny):
    with pytest.raises(ValueError, match="epochs"):
        fit_many([tiny, {**tiny, "epochs": 0}], jobs=2)


def test_a_failing_run_is_named(tiny, monkeypatch):
    import aibnb.train.parallel as parallel

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(parallel, "fit", broken)
    with pytest.raises(OSError, match="disk full"):
        fit_many([tiny], jobs=1)  # in-process: the error itself


def test_one_worker_per_core_only_for_single_thread_runs():
    assert default_jobs(2) == 1 and default_jobs(None) == 1
    assert 1 <= default_jobs(1) <= 2
