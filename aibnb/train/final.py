"""The end of a run: test the best-validation weights and write the run's final files.

Model selection sees only the validation split; the test split is used once, here, on the weights
of the best validation epoch (``best.pt``), with the official 4 x 4 samples at evaluation
(``eval_samples``). The last epoch's weights are tested too, for the record. Besides
``final.json`` (the test error, the confusion matrix, the anchors of the quantised models), a
finished run keeps what the book's later chapters read: ``predictions.npz``, the per-image
predictions for the paired tests (McNemar, paired bootstrap), and ``attention.npz``, the attention
maps of the first test images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from aibnb import storage
from aibnb.data import DeviceLoader
from aibnb.storage import write_npz
from aibnb.train.checkpoint import load_checkpoint
from aibnb.train.config import TrainConfig
from aibnb.train.loop import evaluate
from aibnb.train.machine import epoch_seed


def write_final(
    cfg: TrainConfig,
    out: Path,
    model: nn.Module,
    test_loader: Any,
    splits: dict[str, Any],
    device: torch.device,
    best: dict[str, Any],
    wall_time: float,
) -> None:
    """Test the best-validation weights (and the last ones, in ``model`` on entry) and write
    ``final.json``, ``predictions.npz`` and ``attention.npz``; ``model`` ends with the best weights.

    With ``cfg.train_eval`` the best weights are also evaluated on the run's training images
    (``splits["train"]``) exactly as the test images are (eval mode, no augmentation, 4 x 4
    samples): ``train_eval_error`` and ``generalisation_gap`` (test error minus training error, in
    points). It runs after the test evaluations, and the attention maps re-seed the generator, so
    every other number of the run is what it would be without it."""
    test_data = splits["test"]
    last_test = evaluate(model, test_loader, cfg, device, amp=cfg.amp, prefix="test")
    state = load_checkpoint(out / "best.pt", device)
    model.load_state_dict(state["model"])
    test = evaluate(model, test_loader, cfg, device, amp=cfg.amp, prefix="test", collect=True)
    gap = _train_eval(cfg, model, splits["train"], device, test["test_error"]) if cfg.train_eval else {}
    num_classes = test_data.num_classes
    targets, predictions, p_true = test.pop("targets"), test.pop("predictions"), test.pop("p_true")
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    confusion.index_put_((targets, predictions), torch.ones(()).long(), accumulate=True)
    save_predictions(out, targets, predictions, p_true)
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
        **gap,
        "wall_time_s": wall_time,
    }
    storage.write_json(out / "final.json", final)
    save_attention(out, model, test_data, cfg, device)


def _train_eval(
    cfg: TrainConfig, model: nn.Module, train_data: Any, device: torch.device, test_error: float
) -> dict[str, float]:
    """The training images' error under the test's conditions, and the gap to the test error."""
    loader = DeviceLoader(train_data, 256, device=device, train=False, channels_last=bool(cfg.channels_last))
    result = evaluate(model, loader, cfg, device, amp=cfg.amp, prefix="train_eval")
    keep = ("train_eval_error", "train_eval_total", "train_eval_class_bits", "train_eval_info_bits")
    out = {k: float(result[k]) for k in keep if k in result}
    out["generalisation_gap"] = float(test_error - result["train_eval_error"])
    return out


def save_predictions(out: Path, targets: Tensor, predictions: Tensor, p_true: Tensor) -> None:
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
def save_attention(
    out: Path, model: nn.Module, test_data: Any, cfg: TrainConfig, device: torch.device
) -> None:
    """``attention.npz``: the first ``cfg.save_attention`` test images with the model's prediction
    and attention maps (float16), drawn with a fixed seed; read by
    :meth:`aibnb.runs.RunRecord.attention_samples`."""
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
