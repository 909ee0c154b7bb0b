"""The one output type of every model in :mod:`aibnb.models`."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class ModelOutput:
    """What every model's ``forward`` returns.

    ``logits`` (B x C): for the VIB models, the mean of the logits over all attention x latent
    samples (the official code averages logits, not probabilities).

    Fields a model does not have stay ``None``:

    ``attention`` (B x 1 x H x W): the map that modulated the features — for the AIB models the
    first attention sample (quantised for ``-qt``), for LTPA the finest compatibility map after its
    normalisation, for ABN its sigmoid map; ``attention_mean``: mu_a; ``attention_sample``: the
    continuous sample before quantisation; ``kl``: KL(q(z|x,a) || N(0, I)) in nats, summed over
    the latent dimensions and averaged over rows (the form the model was built with);
    ``codebook_loss`` / ``commitment_loss`` / ``perplexity`` / ``usage``: the quantiser's terms;
    ``aux_logits``: ABN's attention-branch logits (trained with their own cross-entropy);
    ``extras``: anything else worth looking at (e.g. all LTPA maps, ``attention_std``).
    """

    logits: Tensor
    attention: Tensor | None = None
    attention_mean: Tensor | None = None
    attention_sample: Tensor | None = None
    kl: Tensor | None = None
    codebook_loss: Tensor | None = None
    commitment_loss: Tensor | None = None
    perplexity: Tensor | None = None
    usage: Tensor | None = None
    aux_logits: Tensor | None = None
    extras: dict[str, Tensor] = field(default_factory=dict)
