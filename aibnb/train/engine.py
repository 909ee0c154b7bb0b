"""The training engine: one ``fit(config)`` for notebooks, papermill and the shell.

What it does, in order: resolve and validate the configuration; return the cached record when a
finished run with the same hash exists; load the data onto the training device
(:class:`aibnb.data.DeviceLoader`); build the model; train with the official schedule, the anchors'
own learning-rate group, bf16 autocast and channels-last on CUDA; evaluate on the validation split
every epoch (model selection never sees the test set); checkpoint atomically after every epoch;
and finally evaluate the best-validation weights on the test split with 4 x 4 samples.

Determinism: the data order and augmentation of epoch ``e`` are a function of ``(seed, e)`` (the
loader), and the global RNG (dropout, attention and latent sampling) is re-seeded from
``(seed, e, rank)`` at the start of every epoch. A run killed at any point resumes from its last
checkpoint and, on CPU, ends with exactly the metrics of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from aibnb import runs
from aibnb.models import build_model, count_parameters, spec
from aibnb.quantize import param_groups
from aibnb.storage import write_npz
from aibnb.train import profiles
from aibnb.train.config import TrainConfig, model_kwargs, resolve
from aibnb.train.schedule import lr_factor
from aibnb.vib import LossParts, aib_loss

PART_NAMES = LossParts.NAMES
SUBSET_SEED = 0  # every run of a profile sees the same stratified subsets, whatever its seed
# The version of what training computes, stored in every run's provenance. A stored evidence tier
# (``book/results/lab``) holds runs of one version only, and its queue refuses to mix versions.
# Bump it when a change alters any number a run produces; a refactor that keeps every number
# bit-identical (checked by re-running a stored run's first epoch) keeps it.
TRAINING_CODE_VERSION = 1


# ---------------------------------------------------------------------------------------------
# Machine


def select_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA if available, else Apple MPS, else CPU; a clear error for an absent device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "TrainConfig.device: 'cuda' requested but no CUDA device is available; use 'auto' or 'cpu'"
        )
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("TrainConfig.device: 'mps' requested but MPS is not available; use 'auto' or 'cpu'")
    return torch.device(name)


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of the global RNG for one epoch of one rank."""
    return int(np.random.SeedSequence([seed, epoch, rank, 7]).generate_state(1, dtype=np.uint32)[0])


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool) -> Iterator[None]:
    """bf16 autocast on CUDA when ``enabled`` (no gradient scaler needed for bf16)."""
    if enabled and device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


class Distributed:
    """This process's place in a ``torchrun`` launch (world size 1 when not launched so)."""

    def __init__(self) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world_size > 1
        self._owns_group = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def setup(self, device: torch.device) -> torch.device:
        if not self.enabled:
            return device
        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
            self._owns_group = True
        return device

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce(self, tensor: Tensor) -> Tensor:
        if self.enabled:
            dist.all_reduce(tensor)
        return tensor

    def broadcast_object(self, obj: Any) -> Any:
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def teardown(self) -> None:
        if self._owns_group and dist.is_initialized():
            dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------
# One epoch


class MetricSums:
    """Sums of per-batch statistics, kept on the device: one host synchronisation per epoch."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.parts = torch.zeros(len(PART_NAMES), device=device, dtype=torch.float64)
        self.extra = torch.zeros(6, device=device, dtype=torch.float64)  # see EXTRA
        self.count = torch.zeros((), device=device, dtype=torch.float64)
        self.correct = torch.zeros((), device=device, dtype=torch.float64)

    EXTRA = ("perplexity", "dead_anchors", "att_mean", "att_std", "att_outside", "batches")

    def add(self, parts: LossParts, out: Any, targets: Tensor) -> None:
        n = targets.shape[0]
        self.parts += parts.stacked().double() * n
        self.count += n
        self.correct += (out.logits.argmax(dim=1) == targets).sum()
        extra = torch.zeros(6, device=self.device, dtype=torch.float64)
        if out.perplexity is not None:
            extra[0] = out.perplexity.detach().double()
            extra[1] = (out.usage == 0).sum().double()
        if out.attention_mean is not None:
            extra[2] = out.attention_mean.detach().double().mean()
            std = out.extras.get("attention_std")
            if std is not None:
                extra[3] = std.detach().double().mean()
            sample = out.attention_sample if out.attention_sample is not None else out.attention
            extra[4] = ((sample < 0) | (sample > 1)).double().mean()
        extra[5] = 1.0
        self.extra += extra

    def result(self, prefix: str, dist_: Distributed | None = None) -> dict[str, float]:
        packed = torch.cat([self.parts, self.extra, self.count[None], self.correct[None]])
        if dist_ is not None:
            dist_.all_reduce(packed)
        values = packed.tolist()
        parts, extra = values[: len(PART_NAMES)], values[len(PART_NAMES) : len(PART_NAMES) + 6]
        count, correct = values[-2], values[-1]
        out = {f"{prefix}_{k}": v / max(count, 1.0) for k, v in zip(PART_NAMES, parts)}
        out[f"{prefix}_acc"] = correct / max(count, 1.0)
        batches = max(extra[5], 1.0)
        for k, v in zip(self.EXTRA[:5], extra[:5]):
            out[f"{prefix}_{k}"] = v / batches
        return out


def _loss(out: Any, y: Tensor, cfg: TrainConfig) -> LossParts:
    return aib_loss(
        out,
        y,
        cfg.beta or 0.0,
        info_factor=cfg.info_factor if cfg.info_factor is not None else 1.0,
        codebook_weight=cfg.codebook_weight,
        commitment_weight=cfg.commitment_weight,
        units=cfg.loss_units or "bits",
    )


def train_one_epoch(
    model: nn.Module,
    loader: Any,
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig,
    epoch: int,
    device: torch.device,
    *,
    amp: bool,
    progress: Any = None,
    dist_: Distributed | None = None,
) -> dict[str, float]:
    """One pass over ``loader`` with the per-iteration learning rate of ``cfg.schedule``."""
    model.train()
    sums = MetricSums(device)
    steps = len(loader)
    for it, (x, y) in enumerate(loader):
        factor = lr_factor(cfg.schedule, epoch + it / steps, cfg.epochs, cfg.warmup_epochs or 0.0)
        for group in optimizer.param_groups:
            group["lr"] = group["peak_lr"] * factor
        with autocast(device, amp):
            out = model(x)
        parts = _loss(out, y, cfg)
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        optimizer.step()
        sums.add(parts, out, y)
        if progress is not None:
            progress.update(1)
    result = sums.result("train", dist_)
    result["lr"] = optimizer.param_groups[0]["lr"]
    return result


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Any,
    cfg: TrainConfig,
    device: torch.device,
    *,
    amp: bool = False,
    prefix: str = "val",
    collect: bool = False,
) -> dict[str, Any]:
    """Loss parts, accuracy and attention statistics on ``loader`` (eval mode: 4 x 4 samples).

    With ``collect`` also the per-image predictions, targets and the probability given to the
    true class (for the confusion matrix and the per-image paired tests of the book).
    """
    model.eval()
    sums = MetricSums(device)
    preds, targets, p_true = [], [], []
    for batch in loader:
        x, y = batch[0], batch[1]
        with autocast(device, amp):
            out = model(x)
        sums.add(_loss(out, y, cfg), out, y)
        if collect:
            preds.append(out.logits.argmax(dim=1).cpu())
            targets.append(y.cpu())
            probs = torch.softmax(out.logits.float(), dim=1)
            p_true.append(probs.gather(1, y[:, None]).squeeze(1).cpu())
    result: dict[str, Any] = sums.result(prefix)
    result[f"{prefix}_error"] = 100.0 * (1.0 - result[f"{prefix}_acc"])
    if collect:
        result["predictions"] = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long)
        result["targets"] = torch.cat(targets) if targets else torch.zeros(0, dtype=torch.long)
        result["p_true"] = torch.cat(p_true) if p_true else torch.zeros(0)
    return result


# ---------------------------------------------------------------------------------------------
# Checkpoints


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "module", model)  # DDP
    return getattr(model, "_orig_mod", model)  # torch.compile


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file and an atomic rename: never a half-written checkpoint."""
    runs.write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a corrupt file is a clear error (never deleted)."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:
        reason = (str(err).strip().splitlines() or [""])[0][:160]
        raise runs.DamagedFileError(
            f"checkpoint {path} could not be read ({type(err).__name__}: {reason}). It is left in place. "
            f"To restart this run from scratch, move it away (e.g. `mv {path} {path}.bad`); to keep "
            "the results, restore it from a copy."
        ) from err


def load_model(
    run: str | os.PathLike[str] | runs.RunRecord, which: str = "best", device: str | torch.device = "cpu"
) -> nn.Module:
    """Rebuild a run's model and load its ``best`` or ``last`` weights (eval mode).

    ``run``: a :class:`~aibnb.runs.RunRecord` or its folder. ``device``: a torch device, or a name
    as in :func:`select_device` (``"auto"`` included).
    """
    if which not in ("best", "last"):
        raise ValueError(f"load_model: which must be 'best' or 'last', got {which!r}")
    device = select_device(device) if isinstance(device, str) else torch.device(device)
    run_dir = Path(run.path if isinstance(run, runs.RunRecord) else run)
    stored = runs.read_json(run_dir / "config.json")
    cfg, info = TrainConfig.from_dict(stored["config"]), stored["model"]
    model = build_model(
        cfg.model,
        info["num_classes"],
        width=cfg.width,
        in_channels=info["in_channels"],
        image_size=info["image_size"],
        **model_kwargs(cfg),
    )
    path = run_dir / f"{which}.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run has no {which} checkpoint (did it finish?)")
    state = load_checkpoint(path, device)
    model.load_state_dict(state["model"])
    return model.to(device).eval()


# ---------------------------------------------------------------------------------------------
# fit


def prepare(
    config: TrainConfig | dict[str, Any] | None = None, **overrides: Any
) -> tuple[TrainConfig, torch.device]:
    """Resolve ``config`` completely, device-dependent defaults included, and pick the device.

    bf16 autocast defaults to on for CUDA; channels-last to on except on MPS; on CPU the thread
    count is fixed (results depend on it). The result is the configuration ``fit`` hashes,
    stores and caches.
    """
    cfg = resolve(_as_config(config, overrides))
    device = select_device(cfg.device)
    fixed = profiles.profile(cfg.profile).num_threads
    threads = (cfg.num_threads or fixed or torch.get_num_threads()) if device.type == "cpu" else None
    cfg = replace(
        cfg,
        num_threads=threads,
        amp=cfg.amp if cfg.amp is not None else device.type == "cuda",
        # channels-last: faster convolutions on CUDA and (about 10 %, measured) on CPU
        channels_last=cfg.channels_last if cfg.channels_last is not None else device.type != "mps",
    )
    return cfg, device


def run_dir(config: TrainConfig | dict[str, Any] | None = None, **overrides: Any) -> Path:
    """The folder where ``fit(config, **overrides)`` keeps (or would keep) its run."""
    return run_dir_for(prepare(config, **overrides)[0])


def run_dir_for(cfg: TrainConfig) -> Path:
    """Where a fully prepared configuration's run lives (see :func:`prepare`)."""
    if cfg.out_dir:
        return Path(cfg.out_dir)
    return runs.runs_root() / f"{cfg.model}-{cfg.dataset}-{cfg.hash()}"


def _as_config(config: TrainConfig | dict[str, Any] | None, overrides: dict[str, Any]) -> TrainConfig:
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


def _load_data(cfg: TrainConfig, device: torch.device, dist_: Distributed):
    from aibnb import data

    family = spec(cfg.model).family
    backbone = "wrn" if family == "wrn" else "vgg"
    splits = {}
    for split, n in (("train", cfg.train_subset), ("val", cfg.val_subset), ("test", cfg.test_subset)):
        tensors = data.load_tensors(cfg.dataset, split, backbone=backbone)
        if n is not None and n < len(tensors):
            tensors = tensors.subset(n, seed=SUBSET_SEED)
        splits[split] = tensors
    channels_last = bool(cfg.channels_last)
    train = data.DeviceLoader(
        splits["train"],
        cfg.batch_size,
        device=device,
        train=True,
        seed=cfg.seed,
        drop_last=True,
        channels_last=channels_last,
        rank=dist_.rank,
        world_size=dist_.world_size,
    )
    evals = {
        s: data.DeviceLoader(splits[s], 256, device=device, train=False, channels_last=channels_last)
        for s in ("val", "test")
    }
    return splits, train, evals


def _build(cfg: TrainConfig, train_data: Any) -> nn.Module:
    in_channels, size = train_data.images.shape[1], train_data.crop
    return build_model(
        cfg.model,
        train_data.num_classes,
        width=cfg.width,
        in_channels=in_channels,
        image_size=size,
        **model_kwargs(cfg),
    )


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    groups = param_groups(
        model,
        cfg.lr,
        weight_decay=cfg.weight_decay,
        anchor_lr=cfg.anchor_lr or "base",
        anchor_lr_ratio=cfg.anchor_lr_ratio or 1e-4,
    )
    for g in groups:
        g["peak_lr"] = g["lr"]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    betas = spec(cfg.model).recipe.get("adam_betas", (0.9, 0.999))
    return torch.optim.Adam(groups, lr=cfg.lr, betas=tuple(betas))


def fit(
    config: TrainConfig | dict[str, Any] | None = None, *, deadline: float | None = None, **overrides: Any
) -> runs.RunRecord:
    """Train one model and return its :class:`~aibnb.runs.RunRecord` (cached by config hash).

    ``fit(TrainConfig(model="vgg_aib_qt", beta=0.01))`` or ``fit(model="vgg_aib_qt", beta=0.01)``;
    unset fields come from the profile and the model's official recipe (see
    :func:`aibnb.train.config.resolve`).

    ``deadline`` (a ``time.time()`` value) stops the run cleanly after the last epoch that ends
    before it, with its checkpoint written: the returned record is then unfinished
    (``record.finished`` is False) and the same call later resumes it. This is how long GPU runs
    are chunked into commands of limited length.
    """
    cfg, device = prepare(_as_config(config, overrides))
    dist_ = Distributed()
    out = run_dir_for(cfg)
    config_file = out / "config.json"
    if config_file.exists():
        stored = runs.read_json(config_file)
        if stored.get("hash") != cfg.hash():
            raise FileExistsError(
                f"{out} holds a different run (hash {stored.get('hash')}, this config {cfg.hash()}); "
                "choose another out_dir or move that folder away - it is never overwritten"
            )
        if (out / "final.json").exists():
            return runs.RunRecord.load(out)
    threads_before = torch.get_num_threads()
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    device = dist_.setup(device)
    try:
        return _fit(cfg, out, device, dist_, deadline)
    finally:
        torch.set_num_threads(threads_before)
        dist_.teardown()


def _fit(
    cfg: TrainConfig, out: Path, device: torch.device, dist_: Distributed, deadline: float | None = None
) -> runs.RunRecord:
    start_time = time.perf_counter()
    seed_everything(cfg.seed)
    splits, train_loader, eval_loaders = _load_data(cfg, device, dist_)
    model = _build(cfg, splits["train"]).to(device)
    build_info = {
        "num_classes": splits["train"].num_classes,
        "in_channels": splits["train"].images.shape[1],
        "image_size": splits["train"].crop,
        "parameters": count_parameters(model),
        "state_dict_size": count_parameters(model, include_buffers=True),
        "train_size": len(splits["train"]),
        "val_size": len(splits["val"]),
        "test_size": len(splits["test"]),
        "classes": splits["train"].classes,
    }
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = _optimizer(model, cfg)

    metrics: list[dict[str, Any]] = []
    best = {"epoch": -1, "val_acc": -1.0}
    start_epoch, elapsed_before = 0, 0.0
    last_path, best_path = out / "last.pt", out / "best.pt"
    if last_path.exists():
        state = load_checkpoint(last_path, device)
        if state.get("config_hash") != cfg.hash():
            raise FileExistsError(
                f"{last_path} belongs to another configuration; move it away to start afresh"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for g, peak in zip(optimizer.param_groups, state["peak_lrs"]):
            g["peak_lr"] = peak
        metrics, best = state["metrics"], state["best"]
        start_epoch, elapsed_before = state["epoch"], state["elapsed_s"]
        if not cfg.quiet and dist_.is_main:
            print(f"resuming {out.name} after epoch {start_epoch}")
    elif dist_.is_main:
        runs.write_json(
            out / "config.json", {"hash": cfg.hash(), "config": cfg.to_dict(), "model": build_info}
        )

    train_model: nn.Module = model
    if dist_.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.compile:
        train_model = torch.compile(train_model)

    bar = _progress(cfg, dist_, len(train_loader))
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        torch.manual_seed(epoch_seed(cfg.seed, epoch, dist_.rank))
        train_loader.set_epoch(epoch)
        if bar is not None:
            bar.reset(total=len(train_loader))
            bar.set_description(f"{cfg.model} epoch {epoch + 1}/{cfg.epochs}")
        row: dict[str, Any] = {"epoch": epoch + 1}
        row.update(
            train_one_epoch(
                train_model,
                train_loader,
                optimizer,
                cfg,
                epoch,
                device,
                amp=cfg.amp,
                progress=bar,
                dist_=dist_,
            )
        )
        train_time = time.perf_counter() - t0
        if dist_.is_main:
            row.update(evaluate(model, eval_loaders["val"], cfg, device, amp=cfg.amp, prefix="val"))
        quantizer = getattr(getattr(_unwrap(model), "attention", None), "quantizer", None)
        if quantizer is not None:  # the anchor trajectories of chapter 3
            row["anchors"] = quantizer.anchors.detach().cpu().tolist()
        row["epoch_time_s"] = time.perf_counter() - t0
        row["train_images_per_s"] = (
            len(train_loader) * cfg.batch_size * dist_.world_size / max(train_time, 1e-9)
        )
        if dist_.is_main:
            metrics.append(row)
            if row["val_acc"] > best["val_acc"]:
                best = {"epoch": epoch + 1, "val_acc": row["val_acc"]}
                save_checkpoint(best_path, {"model": _unwrap(model).state_dict(), "epoch": epoch + 1})
            elapsed = elapsed_before + time.perf_counter() - start_time
            save_checkpoint(
                last_path,
                {
                    "model": _unwrap(model).state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "peak_lrs": [g["peak_lr"] for g in optimizer.param_groups],
                    "epoch": epoch + 1,
                    "metrics": metrics,
                    "best": best,
                    "elapsed_s": elapsed,
                    "config_hash": cfg.hash(),
                },
            )
            runs.write_jsonl(out / "metrics.jsonl", metrics)
            if bar is not None:
                bar.set_postfix(
                    loss=f"{row['train_total']:.3f}",
                    train=f"{row['train_acc']:.3f}",
                    val=f"{row['val_acc']:.3f}",
                )
            elif not cfg.quiet:
                print(
                    f"{cfg.model} epoch {epoch + 1}/{cfg.epochs}: loss {row['train_total']:.3f} "
                    f"train acc {row['train_acc']:.3f} val acc {row['val_acc']:.3f}"
                )
        dist_.barrier()
        if deadline is not None and epoch + 1 < cfg.epochs:
            # stop when another epoch (with a margin) would not end before the deadline
            stop = dist_.broadcast_object(time.time() + 1.5 * row["epoch_time_s"] > deadline)
            if stop:
                if bar is not None:
                    bar.close()
                if dist_.is_main and not cfg.quiet:
                    print(
                        f"{out.name}: stopped after epoch {epoch + 1}/{cfg.epochs} before the deadline; "
                        "run the same command again to resume"
                    )
                return runs.RunRecord.load(out)
    if bar is not None:
        bar.close()

    if dist_.is_main:
        _finish(
            cfg,
            out,
            model,
            eval_loaders["test"],
            splits["test"],
            device,
            best,
            elapsed_before + time.perf_counter() - start_time,
        )
    dist_.barrier()
    return runs.RunRecord.load(out)


def _progress(cfg: TrainConfig, dist_: Distributed, total: int):
    if cfg.quiet or not dist_.is_main:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="batch", leave=False, mininterval=0.5)


def _finish(
    cfg: TrainConfig,
    out: Path,
    model: nn.Module,
    test_loader: Any,
    test_data: Any,
    device: torch.device,
    best: dict[str, Any],
    wall_time: float,
) -> None:
    """Test the best-validation weights (and the last ones) and write final.json, provenance, samples."""
    last_test = evaluate(model, test_loader, cfg, device, amp=cfg.amp, prefix="test")
    state = load_checkpoint(out / "best.pt", device)
    model.load_state_dict(state["model"])
    test = evaluate(model, test_loader, cfg, device, amp=cfg.amp, prefix="test", collect=True)
    num_classes = test_data.num_classes
    targets, predictions, p_true = test.pop("targets"), test.pop("predictions"), test.pop("p_true")
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    confusion.index_put_((targets, predictions), torch.ones(()).long(), accumulate=True)
    _save_predictions(out, targets, predictions, p_true)
    quantizer = getattr(getattr(model, "attention", None), "quantizer", None)
    final = {
        "model": cfg.model,
        "dataset": cfg.dataset,
        "profile": cfg.profile,
        "seed": cfg.seed,
        "beta": cfg.beta,
        "num_anchors": quantizer.num_anchors if quantizer is not None else None,
        "eval_samples": cfg.eval_samples,
        "best_epoch": best["epoch"],
        "best_val_acc": best["val_acc"],
        "test_error": test["test_error"],
        "test_acc": test["test_acc"],
        "test_error_last": last_test["test_error"],
        **{k: v for k, v in test.items() if k not in ("test_error", "test_acc")},
        "anchors": quantizer.anchors.detach().cpu().tolist() if quantizer is not None else None,
        "confusion": confusion.tolist(),
        "wall_time_s": wall_time,
    }
    runs.write_json(out / "final.json", final)
    _save_attention(out, model, test_data, cfg, device)
    runs.write_json(
        out / "provenance.json",
        runs.provenance(
            profile=cfg.profile,
            seed=cfg.seed,
            device=device,
            wall_time_s=wall_time,
            extra={"training_code": TRAINING_CODE_VERSION},
        ),
    )


def _save_predictions(out: Path, targets: Tensor, predictions: Tensor, p_true: Tensor) -> None:
    """``predictions.npz``: per test image (in test-set order) the label, the prediction of the
    best-validation weights and the probability they give the true class, so that two models
    tested on the same images can be compared image by image (McNemar, paired bootstrap)."""
    arrays = {
        "targets": targets.numpy().astype(np.int16),
        "predictions": predictions.numpy().astype(np.int16),
        "p_true": p_true.numpy().astype(np.float32),
    }
    write_npz(out / "predictions.npz", arrays)


@torch.no_grad()
def _save_attention(
    out: Path, model: nn.Module, test_data: Any, cfg: TrainConfig, device: torch.device
) -> None:
    """The first ``save_attention`` test images with their attention maps, as float16 arrays."""
    from aibnb.data import DeviceLoader

    n = min(cfg.save_attention, len(test_data))
    if n == 0:
        return
    sample = test_data.select(torch.arange(n))
    loader = DeviceLoader(sample, n, device=device, train=False, return_masks=sample.masks is not None)
    batch = next(iter(loader))
    model.eval()
    torch.manual_seed(epoch_seed(cfg.seed, 10_000))
    output = model(batch[0])
    arrays: dict[str, np.ndarray] = {
        "images": sample.images.numpy(),
        "labels": sample.labels.numpy(),
        "predictions": output.logits.argmax(1).cpu().numpy(),
        "probabilities": torch.softmax(output.logits.float(), 1).cpu().numpy().astype(np.float16),
    }
    if sample.masks is not None:
        arrays["masks"] = sample.masks.numpy()
    for key in ("attention", "attention_mean", "attention_sample"):
        value = getattr(output, key)
        if value is not None:
            arrays[key] = value.float().cpu().numpy().astype(np.float16)

    write_npz(out / "attention.npz", arrays)


def summarize(record: runs.RunRecord) -> str:
    """One line: model, dataset, profile, seed, test error."""
    f = record.final or {}
    err = f.get("test_error")
    err_s = f"{err:.2f}%" if isinstance(err, (int, float)) and math.isfinite(err) else "n/a"
    return (
        f"{record.config['model']} on {record.config['dataset']} ({record.config['profile']}, seed "
        f"{record.config['seed']}): test error {err_s} at best-val epoch {f.get('best_epoch')}"
    )
