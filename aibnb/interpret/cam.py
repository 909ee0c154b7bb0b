"""Class activation maps (Zhou et al., 2016): the map a global-average-pooling network carries.

A network that ends in ``features -> global average pooling -> linear`` (VGG-GAP,
:class:`aibnb.models.vgg.VGGGAP`) scores class ``c`` as ``y_c = sum_k w_ck mean_ij A_kij``, so
``M_c = sum_k w_ck A_k`` is a map whose spatial mean *is* the logit: the class evidence, located.
The paper compares AIB with VGG-GAP in Table 1 (accuracy); this book also scores VGG-GAP's map
with the same consistency and localisation metrics as AIB's attention (chapter 5). The model
computes the map of its predicted class in its forward pass (``extras["cam"]``); this module only
turns that into an explainer, ``(model, x) -> (logits, maps)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CAM_MODELS", "CAMExplainer"]

#: the registered models whose forward pass computes a class activation map
CAM_MODELS = ("vgg_gap",)


class CAMExplainer:
    """The class activation map of the predicted class, ``B x 1 x h x w`` at the last conv layer."""

    name = "cam"

    def __call__(self, model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            out = model(x)
        cam = getattr(out, "extras", {}).get("cam")
        if cam is None:
            raise ValueError(
                f"{type(model).__name__} computes no class activation map; CAM needs a global-average-"
                "pooling head (vgg_gap). Use aibnb.interpret.gradcam_explainer() for other models"
            )
        return out.logits, cam
