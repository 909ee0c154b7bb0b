"""Decoders q(y|z): the variational distributions of the lower bound on the relevance term.

For any decoder, ``I(Z;Y) >= E log q(y|z) + H(Y)``, with gap ``E_z KL(p(y|z) || q(y|z))``
(Eq. (1)–(4), App. (11)–(15)). :class:`LinearGaussianDecoder` serves a Gaussian label and
:class:`SoftmaxDecoder` a discrete one, like the softmax classifier of the paper's models. Both are
linear in z because the Bayes-optimal decoder of the toy is: a linear regression for a Gaussian
label, linear discriminant analysis for a discrete one
(:meth:`aibnb.bounds.channel.LinearGaussianChannel.bayes_decoder`). ``Decoder`` is their union.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp

from aibnb.bounds.checks import _matrix, _vector, check_covariance
from aibnb.bounds.gaussian import _gaussian_log_prob


@dataclass(frozen=True, eq=False)
class LinearGaussianDecoder:
    """q(y|z) = N(y; weight @ z + bias, cov), a decoder for a Gaussian label."""

    weight: np.ndarray
    bias: np.ndarray
    cov: np.ndarray

    def __post_init__(self) -> None:
        weight = _matrix("weight", self.weight)
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "bias", _vector("bias", self.bias, weight.shape[0]))
        object.__setattr__(self, "cov", check_covariance(self.cov, "cov", weight.shape[0]))

    def log_prob(self, y: Any, z: Any) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64)
        return _gaussian_log_prob(y, z @ self.weight.T + self.bias, self.cov)


@dataclass(frozen=True, eq=False)
class SoftmaxDecoder:
    """q(y = c | z) = softmax(weight @ z + bias)_c, a decoder for a discrete label."""

    weight: np.ndarray
    bias: np.ndarray

    def __post_init__(self) -> None:
        weight = _matrix("weight", self.weight)
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "bias", _vector("bias", self.bias, weight.shape[0]))

    def log_probs(self, z: Any) -> np.ndarray:
        """All class log-probabilities, shape ``(n, num_classes)``."""
        logits = np.asarray(z, dtype=np.float64) @ self.weight.T + self.bias
        return logits - logsumexp(logits, axis=1, keepdims=True)

    def log_prob(self, y: Any, z: Any) -> np.ndarray:
        y = np.asarray(y, dtype=int)
        return self.log_probs(z)[np.arange(y.size), y]


Decoder = LinearGaussianDecoder | SoftmaxDecoder
