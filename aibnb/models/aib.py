"""The generic AIB / DVIB network: features -> (variational attention) -> encoder -> VIB head.

Every AIB model of the paper (VGG, WRN, CUB backbones; with or without the anchor quantiser) and
the DVIB baseline (no attention) is an :class:`AIBNet` with backbone-specific parts.
"""

from __future__ import annotations

from torch import Tensor, nn

from aibnb.attention import VariationalAttention
from aibnb.models.output import ModelOutput
from aibnb.vib import VIBHead


def check_samples(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1 (number of samples), got {value!r}")
    return value


class AIBNet(nn.Module):
    """``features`` -> ``attention`` (optional) -> ``encoder`` -> :class:`~aibnb.vib.VIBHead`.

    In training mode one attention sample and one latent sample are drawn (``train_samples``);
    in evaluation mode ``eval_samples`` attention samples x ``eval_samples`` latent samples per
    attention sample (official: 4 x 4 = 16 logit vectors), and the logits are averaged.
    ``forward(x, num_samples=n)`` overrides both.
    """

    def __init__(
        self,
        features: nn.Module,
        attention: VariationalAttention | None,
        encoder: nn.Module,
        head: VIBHead,
        *,
        train_samples: int = 1,
        eval_samples: int = 4,
    ) -> None:
        super().__init__()
        self.features = features
        self.attention = attention
        self.encoder = encoder
        self.head = head
        self.train_samples = check_samples("train_samples", train_samples)
        self.eval_samples = check_samples("eval_samples", eval_samples)

    def forward(self, x: Tensor, num_samples: int | None = None) -> ModelOutput:
        n = num_samples if num_samples is not None else (
            self.train_samples if self.training else self.eval_samples
        )
        check_samples("num_samples", n)
        batch = x.shape[0]
        f = self.features(x)
        out = ModelOutput(logits=None)  # type: ignore[arg-type]
        n_att = 1
        if self.attention is not None:
            att = self.attention(f, n)
            f = att.features
            n_att = n
            out.attention = att.attention[0]
            out.attention_mean = att.mean
            out.attention_sample = att.sample[0]
            out.extras["attention_std"] = att.std
            if att.quant is not None:
                out.codebook_loss = att.quant.codebook_loss
                out.commitment_loss = att.quant.commitment_loss
                out.perplexity = att.quant.perplexity
                out.usage = att.quant.usage
        stats = self.encoder(f)
        logits, _, _, kl = self.head(stats, n)
        out.logits = logits.reshape(n * n_att, batch, -1).mean(dim=0)
        out.kl = kl.mean()
        return out
