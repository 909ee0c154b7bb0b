"""Grad-CAM (Selvaraju et al., 2017): a post-hoc map for any model, including those without attention.

For a target class ``c`` with logit ``y_c`` and the activations ``A`` (batch x channels x h x w) of a named
layer, the channel weights are the spatially averaged gradients ``alpha_k = mean_ij dy_c/dA_kij``
and the map is ``relu(sum_k alpha_k A_k)``, at the layer's resolution, in the units of
``A`` (it has no absolute scale: figures that show it must say how it is normalised).

Why a short implementation and not the ``pytorch-grad-cam`` package: every model of this book
returns a :class:`~aibnb.models.ModelOutput` dataclass, not a plain logits tensor, and the AIB
models average their logits over attention and latent samples inside ``forward``. The package
expects a tensor output (its targets index it directly), so it would need a wrapper anyway; a
forward hook on the named layer plus ``torch.autograd.grad`` is the whole method. The hook is
removed in a ``finally`` block, so a failing forward never leaves it attached, and no parameter
gradient is accumulated (only the gradient with respect to the activations is computed).

Default layers (:func:`default_layer`), each at 16 x 16 on 32 x 32 inputs, the resolution of the
AIB attention: ``features`` for the AIB / DVIB networks (the tap where AIB's attention acts),
``block4`` for the VGG / LTPA networks, ``stem`` for the WRN networks, ``features`` for VGG-GAP
(8 x 8).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["GradCAMExplainer", "default_layer", "find_layer", "grad_cam", "gradcam_explainer"]


def find_layer(model: nn.Module, layer: str) -> nn.Module:
    """The submodule of ``model`` named ``layer`` (dotted names for nested ones), or a clear error."""
    modules = dict(model.named_modules())
    if layer not in modules or layer == "":
        top = [name for name, _ in model.named_children()]
        raise ValueError(
            f"layer {layer!r} is not a submodule of {type(model).__name__}; "
            f"top-level submodules: {', '.join(top)} (use dotted names for deeper ones)"
        )
    return modules[layer]


def default_layer(model: nn.Module) -> str:
    """The Grad-CAM layer this book uses for ``model`` (see the module docstring)."""
    names = {name for name, _ in model.named_children()}
    for candidate in ("features", "block4", "stem"):
        if candidate in names:
            return candidate
    raise ValueError(
        f"no default Grad-CAM layer for {type(model).__name__}; pass layer= (one of its submodules: "
        f"{', '.join(sorted(names))})"
    )


def _logits(out) -> Tensor:
    return out if isinstance(out, Tensor) else out.logits


def grad_cam(
    model: nn.Module,
    x: Tensor,
    layer: str,
    *,
    target: Tensor | Sequence[int] | None = None,
    num_samples: int | None = None,
    relu: bool = True,
) -> tuple[Tensor, Tensor]:
    """Grad-CAM maps of ``model`` at ``layer`` for the model inputs ``x`` (already normalised).

    ``target``: one class index per image (default: the predicted class). ``num_samples`` is
    passed to the AIB models' forward (``None``: their evaluation default). Returns
    ``(logits, maps)`` with maps ``B x 1 x h x w`` at the layer's resolution. The model is used in
    whatever mode it is in (call ``model.eval()`` first for evaluation).
    """
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a B x C x H x W tensor of model inputs, got {getattr(x, 'shape', x)}")
    module = find_layer(model, layer)
    captured: list[Tensor] = []

    def hook(_module, _inputs, output):
        if not isinstance(output, Tensor) or output.ndim != 4:
            raise ValueError(f"layer {layer!r} must output a batch x channels x height x width tensor for "
                             "Grad-CAM")
        captured.append(output)

    handle = module.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            x = x.detach().requires_grad_(False)
            out = model(x) if num_samples is None else model(x, num_samples=num_samples)
            logits = _logits(out)
            if not captured:
                raise ValueError(f"layer {layer!r} was not used in the forward pass")
            activations = captured[0]
            if target is None:
                classes = logits.argmax(dim=1)
            else:
                classes = torch.as_tensor(target, device=logits.device, dtype=torch.long)
                if classes.shape != (len(x),):
                    raise ValueError(
                        f"target must hold one class index per image ({len(x)}), got {tuple(classes.shape)}"
                    )
            score = logits.gather(1, classes[:, None]).sum()
            (grads,) = torch.autograd.grad(score, activations)
    finally:
        handle.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = (weights * activations).sum(dim=1, keepdim=True).detach()
    return logits.detach(), cam.clamp_min(0) if relu else cam


class GradCAMExplainer:
    """An explainer callable for :func:`aibnb.interpret.explain` / ``consistency_score``.

    ``GradCAMExplainer("block4")(model, x) -> (logits, maps)``; ``name`` is ``"gradcam:<layer>"``.
    ``layer=None`` picks :func:`default_layer` per model.
    """

    def __init__(self, layer: str | None = None, *, num_samples: int | None = None) -> None:
        self.layer = layer
        self.num_samples = num_samples

    @property
    def name(self) -> str:
        return f"gradcam:{self.layer or 'default'}"

    def __call__(self, model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
        layer = self.layer or default_layer(model)
        return grad_cam(model, x, layer, num_samples=self.num_samples)


def gradcam_explainer(layer: str | None = None, *, num_samples: int | None = None) -> GradCAMExplainer:
    """Shorthand for :class:`GradCAMExplainer`."""
    return GradCAMExplainer(layer, num_samples=num_samples)
