"""Several independent runs at once: one process and one CPU thread per run.

On a CPU, small convolutions do not split well over threads: single-thread processes side by side
train at least as many images per second as one process with all the threads (how many more
depends on the CPU), and each run's numbers do not depend on how many runs share the machine.
A chapter that needs several runs therefore hands them to :func:`fit_many`,
which trains the missing ones ``jobs`` at a time, each in a fresh process, and returns every run's
record. Each run is exactly the run :func:`~aibnb.train.fit` would train alone: the same resolved
configuration, the same cache folder and, because the profile fixes the thread count
(:attr:`aibnb.train.profiles.Profile.num_threads`), the same numbers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from aibnb import runs
from aibnb.train.engine import finished_run, fit, run_dir_for
from aibnb.train.machine import check_cpu_budget, prepare

__all__ = ["default_jobs", "fit_many"]


def default_jobs(threads_per_run: int | None) -> int:
    """How many runs to train at once: one per CPU core when every run uses one thread, else one."""
    if threads_per_run != 1:
        return 1
    return max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


def _fit_in_worker(kwargs: dict[str, Any]) -> str:
    """A worker process's task: train one run, return its folder (records are re-read by the parent)."""
    return str(fit(**kwargs).path)


def fit_many(specs: Sequence[dict[str, Any]], *, jobs: int | None = None) -> list[runs.RunRecord]:
    """The records of ``fit(**spec)`` for every spec, in order; missing runs are trained ``jobs`` at
    a time in worker processes (``None``: :func:`default_jobs` of the runs' thread count).

    Finished runs are read from the cache without starting a process; specs that name the same run
    train it once (and a run another process is training is waited for: ``fit`` holds its lock).
    A run that fails raises ``RuntimeError`` naming it, after the other workers end. A missing run
    of the ``full`` profile is refused on a CPU unless ``$AIBNB_ALLOW_CPU_FULL=1``.
    """
    machines = [prepare(**spec) for spec in specs]  # a bad spec fails here, before any training
    prepared = [cfg for cfg, _ in machines]
    folders = [run_dir_for(cfg) for cfg in prepared]
    todo: dict[Path, dict[str, Any]] = {}
    for spec, (cfg, device), folder in zip(specs, machines, folders, strict=True):
        if finished_run(cfg, folder) is None:
            check_cpu_budget(cfg, device)  # a full-profile run on a CPU: refused before any starts
            todo.setdefault(folder, spec)
    threads = {cfg.num_threads for cfg in prepared}
    if jobs is None:
        jobs = default_jobs(threads.pop() if len(threads) == 1 else None)
    workers = min(len(todo), jobs)
    if workers <= 1:
        for spec in todo.values():
            fit(**spec)
    else:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: safe from a notebook kernel
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {folder: pool.submit(_fit_in_worker, spec) for folder, spec in todo.items()}
            failed = []
            for folder, future in futures.items():
                try:
                    future.result()
                except Exception as exc:
                    failed.append(f"{folder.name}: {type(exc).__name__}: {exc}")
        if failed:
            raise RuntimeError("fit_many: training failed for " + "; ".join(failed))
    return [runs.RunRecord.load(folder) for folder in folders]
