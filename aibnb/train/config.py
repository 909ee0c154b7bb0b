"""The one typed configuration of a training run, its validation and its resolution.

A :class:`TrainConfig` may leave fields as ``None``: :func:`resolve` fills them from the profile
(``ci`` / ``lab`` / ``full``, :mod:`aibnb.train.profiles`) and from the model's official recipe
(:attr:`aibnb.models.ModelSpec.recipe`), in that order, and validates everything up front so that a
bad value fails before any data is loaded. The resolved configuration is what is hashed, stored and
cached.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from aibnb import data, models, runs
from aibnb.quantize import ANCHOR_LR_MODES
from aibnb.train import profiles
from aibnb.vib import LOSS_UNITS

SCHEDULES = ("vgg", "wrn", "cosine", "exponential", "constant")
OPTIMIZERS = ("sgd", "adam")
DEVICES = ("auto", "cpu", "cuda", "mps")

# fields that do not change what a run computes: left out of the hash that keys the cache.
# The CPU thread count stays in: it changes the order of floating-point sums, and two-epoch runs
# amplify that into test errors several points apart.
NOT_HASHED = ("out_dir", "device", "compile", "quiet")
# fields hashed only when they differ from their default: a configuration that leaves them unset
# hashes as one without them, so the stored runs that lack them keep their hashes (and cache folders)
HASHED_WHEN_SET: dict[str, Any] = {"val_every": None, "train_eval": False}


@dataclass
class TrainConfig:
    """Everything that defines a training run. ``None`` = decided by the profile / recipe.

    Model: ``model`` (a name of :func:`aibnb.models.available`), ``width``, ``beta``,
    ``num_anchors`` (K, quantised models only), ``latent_dim``, ``model_options`` (any other
    option of the model: ``residual``, ``squash``, ``kl_form``, ``depth`` ...).
    Data: ``dataset``, ``train_subset`` / ``val_subset`` / ``test_subset`` (stratified subsets;
    ``None`` = all).
    Optimisation: ``epochs``, ``batch_size``, ``optimizer``, ``lr`` (peak), ``momentum``,
    ``weight_decay``, ``schedule``, ``warmup_epochs``, ``anchor_lr`` / ``anchor_lr_ratio``.
    Loss: ``info_factor``, ``loss_units``, ``codebook_weight``, ``commitment_weight``.
    Evaluation: ``eval_samples`` (attention samples x latent samples per attention sample),
    ``val_every`` (validate every that many epochs, and after the last; ``None`` = every epoch: a
    long run on a small training set keeps its validation cost bounded), ``train_eval`` (also
    test the best-validation weights on the training images, in eval mode and without
    augmentation, so that the run's generalisation gap is stored beside its test error).
    Machine: ``device`` (``auto`` picks cuda, then mps, then cpu), ``amp`` (bf16 autocast;
    ``None`` = on for CUDA), ``channels_last`` (``None`` = on except on MPS), ``compile``,
    ``num_threads`` (CPU threads; ``None`` = torch's current setting, recorded at the start of a
    CPU run because results depend on it; unused on GPUs).
    Record: ``seed``, ``out_dir`` (``None`` = ``$AIBNB_RUNS/<model>-<dataset>-<hash>``),
    ``save_attention`` (test images whose attention maps are stored), ``quiet``.
    """

    model: str = "vgg_aib"
    dataset: str = "fashion_mnist"
    profile: str = "ci"
    beta: float | None = None
    num_anchors: int | None = None
    latent_dim: int | None = None
    width: float | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    train_subset: int | None = None
    val_subset: int | None = None
    test_subset: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    schedule: str | None = None
    warmup_epochs: float | None = None
    anchor_lr: str | None = None
    anchor_lr_ratio: float | None = None
    info_factor: float | None = None
    loss_units: str | None = None
    codebook_weight: float = 0.4
    commitment_weight: float = 0.1
    eval_samples: int | None = None
    val_every: int | None = None
    train_eval: bool = False
    seed: int = 0
    device: str = "auto"
    amp: bool | None = None
    channels_last: bool | None = None
    compile: bool = False
    num_threads: int | None = None
    save_attention: int = 32
    out_dir: str | None = None
    quiet: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"unknown config field(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
            )
        return cls(**data)

    def hash(self) -> str:
        """The cache key: a hash of the resolved fields that change what the run computes."""
        data = {
            k: v
            for k, v in self.to_dict().items()
            if k not in NOT_HASHED and not (k in HASHED_WHEN_SET and v == HASHED_WHEN_SET[k])
        }
        return runs.config_hash(data)


def as_config(config: TrainConfig | dict[str, Any] | None, overrides: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` of ``fit(config, **overrides)``: ``None`` is the default config, a
    dict is read with :meth:`TrainConfig.from_dict`, and ``overrides`` replace fields by name."""
    if config is None:
        config = TrainConfig()
    elif isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    elif not isinstance(config, TrainConfig):
        raise TypeError(f"fit: config must be a TrainConfig or a dict, got {type(config).__name__}")
    if overrides:
        names = set(TrainConfig.__dataclass_fields__)
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(
                f"fit: unknown config field(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
            )
        config = replace(config, **overrides)
    return config


def _err(name: str, message: str) -> ValueError:
    return ValueError(f"TrainConfig.{name}: {message}")


def _positive_int(name: str, value: Any, *, allow_none: bool = True, minimum: int = 1) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _err(name, f"must be an integer >= {minimum}, got {value!r}")


def _nonneg_float(name: str, value: Any, *, allow_none: bool = True, positive: bool = False) -> None:
    if value is None and allow_none:
        return
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
    if bad or value < 0 or (positive and value == 0):
        need = "> 0" if positive else ">= 0"
        raise _err(name, f"must be a finite number {need}, got {value!r}")


def validate(config: TrainConfig) -> None:
    """Check every field that is set; raise a ``ValueError`` that names the field and the fix."""
    if config.model not in models.available():
        raise _err("model", f"unknown model {config.model!r}; valid models: {', '.join(models.available())}")
    if config.dataset not in data.available():
        raise _err("dataset", f"unknown dataset {config.dataset!r}; valid: {', '.join(data.available())}")
    profiles.profile(config.profile)
    _nonneg_float("beta", config.beta)
    if config.num_anchors is not None:
        _positive_int("num_anchors", config.num_anchors)
        if models.spec(config.model).kind != "aib_qt":
            raise _err("num_anchors", f"K applies to the quantised models only, not {config.model!r}")
    _positive_int("latent_dim", config.latent_dim)
    _nonneg_float("width", config.width, positive=True)
    for name in (
        "train_subset",
        "val_subset",
        "test_subset",
        "epochs",
        "batch_size",
        "eval_samples",
        "num_threads",
        "val_every",
    ):
        _positive_int(name, getattr(config, name))
    if not isinstance(config.train_eval, bool):
        raise _err("train_eval", f"must be True or False, got {config.train_eval!r}")
    _positive_int("save_attention", config.save_attention, minimum=0)
    _positive_int("seed", config.seed, allow_none=False, minimum=0)
    for name in ("lr",):
        _nonneg_float(name, getattr(config, name), positive=True)
    _nonneg_float("momentum", config.momentum)
    if config.momentum is not None and config.momentum >= 1:
        raise _err("momentum", f"must be in [0, 1) (official 0.9), got {config.momentum!r}")
    subset, batch = config.train_subset, config.batch_size
    if subset is not None and batch is not None and subset < batch:
        raise _err(
            "train_subset",
            f"{subset} training images make no full batch of batch_size {batch} (the last "
            f"incomplete batch is dropped, so nothing would be trained); use train_subset >= {batch} "
            "or a smaller batch_size",
        )
    for name in (
        "weight_decay",
        "warmup_epochs",
        "anchor_lr_ratio",
        "info_factor",
        "codebook_weight",
        "commitment_weight",
    ):
        _nonneg_float(name, getattr(config, name))
    choices = {
        "optimizer": OPTIMIZERS,
        "schedule": SCHEDULES,
        "anchor_lr": ANCHOR_LR_MODES,
        "loss_units": LOSS_UNITS,
        "device": DEVICES,
    }
    for name, valid in choices.items():
        value = getattr(config, name)
        if value is not None and value not in valid:
            raise _err(name, f"must be one of {', '.join(valid)}, got {value!r}")
    if not isinstance(config.model_options, dict):
        raise _err(
            "model_options", f"must be a dict of model options, got {type(config.model_options).__name__}"
        )
    first_class = {"num_anchors", "latent_dim", "eval_samples"}
    clash = first_class & set(config.model_options)
    if clash:
        raise _err("model_options", f"set {', '.join(sorted(clash))} as config fields, not model options")
    declared = models.spec(config.model).option_defaults
    unknown = sorted(set(config.model_options) - set(declared))
    if unknown:
        raise _err(
            "model_options",
            f"unknown option(s) {', '.join(unknown)} for {config.model!r}; "
            f"valid: {', '.join(sorted(set(declared) - first_class)) or 'none'}",
        )
    for key, value in config.model_options.items():
        kind, default = declared[key]
        if not _is_of_kind(value, kind):
            raise _err(
                "model_options",
                f"option {key} of {config.model!r} must be {_KIND_TEXT[kind.replace(' | None', '')]}"
                f"{' or None' if kind.endswith('| None') else ''} (default {default!r}), got {value!r}",
            )


_KIND_TEXT = {"bool": "True or False", "int": "an integer", "float": "a finite number", "str": "a string"}


def _is_of_kind(value: Any, kind: str) -> bool:
    """Whether ``value`` has the declared type ``kind`` of a model option (``"float | None"`` ...)."""
    if value is None:
        return kind.endswith("| None")
    base = kind.replace(" | None", "")
    if base == "bool":
        return isinstance(value, bool)
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if base == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if base == "str":
        return isinstance(value, str)
    return True  # an option of another declared type: the model checks it


def resolve(config: TrainConfig) -> TrainConfig:
    """Fill every ``None`` from the profile and the model's recipe, then validate.

    Order of precedence: the value set in ``config``, then the profile, then the recipe. A value
    from the profile that replaces the official recipe (the ``ci`` schedule) is listed by
    :func:`departures`.
    """
    validate(config)
    spec = models.spec(config.model)
    prof = profiles.profile(config.profile)
    recipe = spec.recipe
    options = {**prof.model_options.get(spec.family, {}), **config.model_options}
    options = {k: v for k, v in options.items() if k in spec.options}

    def pick(value: Any, *fallbacks: Any) -> Any:
        for v in (value, *fallbacks):
            if v is not None:
                return v
        return None

    optim = prof.optimisation.get(spec.family, {})
    is_qt = spec.kind == "aib_qt"
    has_vib = spec.kind in ("vib", "aib", "aib_qt")
    resolved = replace(
        config,
        beta=pick(config.beta, recipe.get("beta")) if has_vib else 0.0,
        num_anchors=pick(config.num_anchors, None) if is_qt else None,
        latent_dim=pick(config.latent_dim, prof.latent_dim.get(spec.family)) if has_vib else None,
        width=pick(config.width, prof.width.get(spec.family), 1.0),
        model_options=dict(sorted(options.items())),
        train_subset=pick(config.train_subset, prof.train_subset),
        val_subset=pick(config.val_subset, prof.val_subset),
        test_subset=pick(config.test_subset, prof.test_subset),
        epochs=pick(config.epochs, prof.epochs, recipe["epochs"]),
        batch_size=pick(config.batch_size, prof.batch_size, recipe["batch_size"]),
        optimizer=pick(config.optimizer, recipe["optimizer"]),
        lr=pick(config.lr, optim.get("lr"), recipe["lr"]),
        momentum=pick(config.momentum, recipe.get("momentum", 0.0)),
        weight_decay=pick(config.weight_decay, recipe["weight_decay"]),
        schedule=pick(config.schedule, optim.get("schedule"), recipe["schedule"]),
        warmup_epochs=pick(config.warmup_epochs, optim.get("warmup_epochs"), recipe["warmup_epochs"]),
        anchor_lr=pick(config.anchor_lr, recipe["anchor_lr"]) if is_qt else None,
        anchor_lr_ratio=pick(config.anchor_lr_ratio, recipe["anchor_lr_ratio"]) if is_qt else None,
        info_factor=pick(config.info_factor, recipe["info_factor"]) if has_vib else None,
        loss_units=pick(config.loss_units, prof.loss_units, recipe["loss_units"]),
        codebook_weight=config.codebook_weight if is_qt else 0.0,
        commitment_weight=config.commitment_weight if is_qt else 0.0,
        eval_samples=pick(config.eval_samples, prof.eval_samples) if has_vib else 1,
    )
    validate(resolved)
    return resolved


def model_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The options :func:`aibnb.models.build_model` gets for a resolved ``config``."""
    kwargs = dict(config.model_options)
    if config.num_anchors is not None:
        kwargs["num_anchors"] = config.num_anchors
    if config.latent_dim is not None:
        kwargs["latent_dim"] = config.latent_dim
    if config.eval_samples is not None and config.eval_samples != 1:
        kwargs["eval_samples"] = config.eval_samples
    return kwargs


def departures(config: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """Fields of a resolved ``config`` that differ from the model's official recipe.

    ``{field: (value, official)}`` for the optimisation settings, so that a chapter can say which
    official settings a ``ci`` run departs from (and why: the run is 100 times shorter).
    """
    recipe = models.spec(config.model).recipe
    out = {}
    for name in (
        "epochs",
        "batch_size",
        "optimizer",
        "lr",
        "momentum",
        "weight_decay",
        "schedule",
        "warmup_epochs",
    ):
        value, official = getattr(config, name), recipe.get(name)
        if official is not None and value != official:
            out[name] = (value, official)
    if config.width != 1.0:
        out["width"] = (config.width, 1.0)
    return out
