"""Every model of the paper's Table 1 behind one registry: :func:`build_model` and :func:`available`.

Each model's ``forward(x, num_samples=None)`` returns one :class:`ModelOutput`. ``width`` scales
every channel count (1.0 = the paper's architecture; the ``ci`` profile uses small widths on CPU).
Each built model carries ``model.recipe``: the official training settings of its family (optimiser,
schedule, beta, the KL's info factor, the loss units, the anchors' learning-rate behaviour), which
the training engine uses as defaults, and ``model.build_args`` to rebuild it from a checkpoint.
"""

from aibnb.models.aib import AIBNet
from aibnb.models.cost import count_macs, count_parameters
from aibnb.models.output import ModelOutput
from aibnb.models.registry import ModelSpec, available, build_model, describe, spec

__all__ = [
    "AIBNet",
    "ModelOutput",
    "ModelSpec",
    "available",
    "build_model",
    "count_macs",
    "count_parameters",
    "describe",
    "spec",
]
