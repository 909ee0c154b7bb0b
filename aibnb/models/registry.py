"""The registry of the paper's Table 1 models: each one's :class:`ModelSpec` (builder, options, the
official training recipe of its family) and :func:`build_model`, which checks the arguments and builds it.

The package :mod:`aibnb.models` re-exports these names; :mod:`aibnb.models.cost` counts what they cost.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from torch import nn

from aibnb.models.cub import cub_aib
from aibnb.models.vgg import VGGGAP, VGGLTPA, vgg_aib
from aibnb.models.wrn import WRN, wrn_aib

__all__ = [
    "ModelSpec",
    "available",
    "build_model",
    "describe",
    "spec",
]

# The official training recipes (VGG-backbone-32/cifar_va.py, WRN-backbone-32/cifar_va.py,
# CUB-experiments/solver.py of the authors' repository). The baselines reuse their backbone's recipe so
# that every comparison in the book differs only in the model; their reference code optimises the
# cross-entropy in nats, the AIB code in bits.
VGG_RECIPE: dict[str, Any] = {
    "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "vgg",
    "warmup_epochs": 1, "epochs": 200, "batch_size": 128, "beta": 1e-2, "info_factor": 0.5,
    "loss_units": "nats", "anchor_lr": "base", "anchor_lr_ratio": 1e-4, "amp": False,
}
WRN_RECIPE: dict[str, Any] = {
    "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "wrn",
    "warmup_epochs": 0, "epochs": 200, "batch_size": 128, "beta": 1e-2, "info_factor": 1.0,
    "loss_units": "nats", "anchor_lr": "ratio", "anchor_lr_ratio": 1e-4, "amp": True,
}
CUB_RECIPE: dict[str, Any] = {
    "optimizer": "adam", "lr": 1e-4, "adam_betas": (0.5, 0.999), "weight_decay": 0.0,
    "schedule": "exponential", "warmup_epochs": 0, "epochs": 200, "batch_size": 16, "beta": 1e-2,
    "info_factor": 1.0, "loss_units": "bits", "anchor_lr": "frozen", "anchor_lr_ratio": 1e-4,
    "amp": False,
}


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry: how to build the model and what it is."""

    name: str
    description: str
    builder: Callable[..., nn.Module]
    family: str  # "vgg" | "wrn" | "cub"
    kind: str  # "plain" | "attention" | "vib" | "aib" | "aib_qt"
    native_size: int
    recipe: dict[str, Any] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()  # builder arguments that do not apply to this model

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options ``build_model`` accepts for this model (besides the common ones)."""
        target = self.builder.func if isinstance(self.builder, partial) else self.builder
        if inspect.isclass(target):
            target = target.__init__
        fixed = set(self.builder.keywords) if isinstance(self.builder, partial) else set()
        common = {"self", "num_classes", "width", "in_channels", "image_size"}
        params = inspect.signature(target).parameters
        return tuple(p for p in params if p not in common | fixed | set(self.hidden))

    @property
    def option_defaults(self) -> dict[str, tuple[str, Any]]:
        """``{option: (declared type, default)}`` of :attr:`options`, read from the builder's
        signature (the type as written there: ``"bool"``, ``"float"``, ``"str | None"`` ...), so
        that a configuration can check an option's value before any model is built."""
        target = self.builder.func if isinstance(self.builder, partial) else self.builder
        if inspect.isclass(target):
            target = target.__init__
        params = inspect.signature(target).parameters
        out = {}
        for name in self.options:
            p = params[name]
            kind = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
            out[name] = (kind, None if p.default is inspect.Parameter.empty else p.default)
        return out


def _recipe(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


_AIB_VGG = _recipe(VGG_RECIPE, loss_units="bits")
_NO_QT = ("num_anchors", "anchor_init")
_NO_ATT = ("num_anchors", "anchor_init", "residual", "squash")
_SPECS = [
    ModelSpec("vgg", "VGG-16-BN of Jetley et al. (LTPA without attention)", partial(VGGLTPA, attention_at=()),
              "vgg", "plain", 32, VGG_RECIPE, hidden=("normalize_attention",)),
    ModelSpec("vgg_gap", "VGG with a global-average-pooling head (Zhou et al., 2016)", VGGGAP, "vgg",
              "plain", 32, VGG_RECIPE),
    ModelSpec("vgg_dvib", "VGG with the deep VIB head, no attention (Alemi et al., 2017)",
              partial(vgg_aib, attention=False, quantize=False), "vgg", "vib", 32, _AIB_VGG,
              hidden=_NO_ATT),
    ModelSpec("vgg_att2", "VGG with LTPA attention at blocks 4-5 (Jetley et al., 2018)",
              partial(VGGLTPA, attention_at=(4, 5)), "vgg", "attention", 32, VGG_RECIPE),
    ModelSpec("vgg_att3", "VGG with LTPA attention at blocks 3-5 (Jetley et al., 2018)",
              partial(VGGLTPA, attention_at=(3, 4, 5)), "vgg", "attention", 32, VGG_RECIPE),
    ModelSpec("vgg_aib", "VGG with the variational IB attention (the paper)",
              partial(vgg_aib, attention=True, quantize=False), "vgg", "aib", 32, _AIB_VGG,
              hidden=_NO_QT),
    ModelSpec("vgg_aib_qt", "VGG-aib with the anchor quantiser (the paper)",
              partial(vgg_aib, attention=True, quantize=True), "vgg", "aib_qt", 32,
              _recipe(_AIB_VGG, warmup_epochs=2)),
    ModelSpec("wrn", "wide ResNet 28-10 (Zagoruyko & Komodakis, 2016)", partial(WRN, abn=False),
              "wrn", "plain", 32, WRN_RECIPE),
    ModelSpec("wrn_abn", "WRN with the attention branch network (Fukui et al., 2019)",
              partial(WRN, abn=True), "wrn", "attention", 32, WRN_RECIPE),
    ModelSpec("wrn_aib", "WRN with the variational IB attention (the paper)",
              partial(wrn_aib, quantize=False), "wrn", "aib", 32, _recipe(WRN_RECIPE, loss_units="bits"),
              hidden=_NO_QT),
    ModelSpec("wrn_aib_qt", "WRN-aib with the anchor quantiser (the paper)",
              partial(wrn_aib, quantize=True), "wrn", "aib_qt", 32, _recipe(WRN_RECIPE, loss_units="bits")),
    ModelSpec("vgg_aib_cub", "CUB-200 (224 px) VGG-16 with the IB attention",
              partial(cub_aib, backbone="vgg", quantize=False), "cub", "aib", 224, CUB_RECIPE,
              hidden=_NO_QT),
    ModelSpec("vgg_aib_qt_cub", "CUB-200 (224 px) VGG-16-aib-qt (deeper attention mean)",
              partial(cub_aib, backbone="vgg", quantize=True), "cub", "aib_qt", 224, CUB_RECIPE),
    ModelSpec("wrn_aib_cub", "CUB-200 (224 px) wide-ResNet-50-2 with the IB attention",
              partial(cub_aib, backbone="wrn", quantize=False), "cub", "aib", 224, CUB_RECIPE,
              hidden=_NO_QT),
    ModelSpec("wrn_aib_qt_cub", "CUB-200 (224 px) wide-ResNet-50-2-aib-qt",
              partial(cub_aib, backbone="wrn", quantize=True), "cub", "aib_qt", 224, CUB_RECIPE),
]
_REGISTRY = {s.name: s for s in _SPECS}


def available() -> list[str]:
    """The model names :func:`build_model` accepts, in the order of the paper's Table 1."""
    return list(_REGISTRY)


def spec(name: str) -> ModelSpec:
    """The registry entry of ``name`` (a clear error lists the valid names)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(available())}")
    return _REGISTRY[name]


def describe() -> str:
    """A table of the registry: name, family, kind, options."""
    lines = []
    for s in _SPECS:
        lines.append(f"{s.name:16s} {s.family:4s} {s.kind:9s} {s.description}")
        lines.append(f"{'':16s} options: {', '.join(s.options) or '-'}")
    return "\n".join(lines)


def build_model(
    name: str,
    num_classes: int,
    *,
    width: float = 1.0,
    in_channels: int = 3,
    image_size: int | None = None,
    **options: Any,
) -> nn.Module:
    """Build the model ``name`` for ``num_classes`` classes.

    ``width`` scales every channel count; ``in_channels`` is 3 for colour and 1 for Fashion-MNIST;
    ``image_size`` defaults to the model's native size (32, or 224 for the CUB variants).
    ``options`` are model-specific (``latent_dim``, ``num_anchors``, ``residual``, ``squash``,
    ``kl_form``, ``depth`` ...); an unknown option is an error that lists the valid ones.
    """
    s = spec(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"build_model: num_classes must be an integer >= 2, got {num_classes!r}")
    if not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise ValueError(f"build_model: width must be a finite number > 0 (1.0 = the paper), got {width!r}")
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"build_model: in_channels must be an integer >= 1, got {in_channels!r}")
    size = s.native_size if image_size is None else image_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"build_model: image_size must be a positive integer, got {image_size!r}")
    unknown = sorted(set(options) - set(s.options))
    if unknown:
        raise ValueError(
            f"build_model: unknown option(s) {', '.join(unknown)} for model {name!r}; "
            f"valid options: {', '.join(s.options) or 'none'}"
        )
    model = s.builder(num_classes, width=float(width), in_channels=in_channels, image_size=size, **options)
    model.recipe = dict(s.recipe)
    model.build_args = {
        "name": name, "num_classes": num_classes, "width": float(width), "in_channels": in_channels,
        "image_size": size, **options,
    }
    return model
