"""aibnb: the helper library of the AIB book.

A thin, tested re-implementation of "Information Bottleneck Approach to Spatial Attention
Learning" (Lai et al., IJCAI 2021), one module per idea of the paper:

========== ==================================================================
bounds     Gaussian channels with closed-form mutual information; variational bounds
vib        reparametrised sampling, Gaussian KL (reference and textbook forms), the loss in bits
attention  the variational attention module (mean, std, sample, modulation)
quantize   the scalar anchor quantiser with the straight-through estimator
models     every model of the paper's Table 1 behind one registry
data       datasets, transforms, cluttered scenes with masks, device-resident loader
train      the training engine and the profiles (schedules, AMP, checkpoints, resume, DDP)
interpret  image modifications, consistency score, localisation metrics
viz        the static explorer widget, fixed colour scales, the claims forest
figures    the chapters' presentation: figure style, tables, map grids, sliders over stored runs
runs       run records and stored results
storage    atomic writes, files read with clear errors
locks      one OS lock per run, shared by the training engine and the evidence queue
provenance commit, device, versions of a stored result
reproduce  the paper's tables as data; the stored evidence tiers: plans, queue, statistics, claims
chapter    what every chapter needs besides its science (glue, parameters, captions)
bench      speed figures (``python -m aibnb bench models|train|paper``)
timing     the timers the benchmarks and chapter 4 use
========== ==================================================================

Importing :mod:`aibnb` never trains, downloads or writes anything; submodules are imported
on first use (``aibnb.vib``, ``aibnb.models`` ...).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "attention",
    "bench",
    "bounds",
    "chapter",
    "data",
    "figures",
    "interpret",
    "locks",
    "models",
    "provenance",
    "quantize",
    "reproduce",
    "runs",
    "storage",
    "timing",
    "train",
    "vib",
    "viz",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'aibnb' has no attribute {name!r}")
