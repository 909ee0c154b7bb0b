"""One training epoch and one evaluation pass, with their loss accounting.

The loss is Eq. (8)/(20) of Lai et al. (2021) as :func:`aibnb.vib.aib_loss` computes it (with the
quantiser's codebook and commitment terms for the ``_qt`` models). The learning rate is set at every
iteration from the progress in epochs (:func:`aibnb.train.schedule.lr_factor` maps it onto the
official per-epoch schedules). :class:`MetricSums` adds up the loss parts, the accuracy and the
attention statistics on the device, so that an epoch costs one host synchronisation, not one per
batch; under DDP the training sums of all ranks are added before they are divided.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from aibnb.train.config import TrainConfig
from aibnb.train.machine import Distributed, autocast
from aibnb.train.schedule import lr_factor
from aibnb.vib import LossParts, aib_loss

PART_NAMES = LossParts.NAMES


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
