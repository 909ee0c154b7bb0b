"""The training engine: :func:`fit` a :class:`TrainConfig`, get a :class:`~aibnb.runs.RunRecord`.

``python -m aibnb train --model vgg_aib --dataset fashion_mnist --profile ci --beta 0.01`` is the same
call from a shell; ``torchrun --nproc_per_node=N -m aibnb train ...`` trains with
DistributedDataParallel.
"""

from aibnb.train.checkpoint import load_model
from aibnb.train.config import SCHEDULES, TrainConfig, departures, resolve, validate
from aibnb.train.engine import fit, run_dir, run_dir_for, summarize
from aibnb.train.loop import evaluate
from aibnb.train.machine import prepare, select_device
from aibnb.train.parallel import fit_many
from aibnb.train.schedule import lr_factor

__all__ = [
    "SCHEDULES",
    "TrainConfig",
    "departures",
    "evaluate",
    "fit",
    "fit_many",
    "load_model",
    "lr_factor",
    "prepare",
    "resolve",
    "run_dir",
    "run_dir_for",
    "select_device",
    "summarize",
    "validate",
]
