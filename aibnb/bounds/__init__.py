"""Gaussian channels with closed-form mutual information, and the variational bounds of AIB.

Chapter 1 of the book derives the two bounds behind the paper's objective (Lai et al., IJCAI 2021,
§3.2 and App. A):

* a **lower** bound on the relevance term through a decoder q(y|z),
  ``I(Z;Y) >= E log q(y|z) + H(Y)``, whose gap is ``E_z KL(p(y|z) || q(y|z))``;
* an **upper** bound on the compression term through a prior r(z),
  ``I(Z;X) <= I(Z;X,A) <= E_{x,a} KL(p(z|x,a) || r(z))``, whose gaps are ``I(Z;A|X)``
  (the chain rule) and ``KL(p(z) || r(z))``.

To check them we need problems where the truth is known. This package provides one with the
paper's graph X -> A, (X, A) -> Z and a label Y that depends on X only:

* :class:`GaussianSource` (X, Y jointly Gaussian) and :class:`ClassConditionalSource`
  (Y discrete, X | Y = c Gaussian with a shared covariance);
* :class:`LinearGaussianChannel`, the attentive encoder ``A = M X + e_a``,
  ``Z = W X + V A + e_z`` (attention optional), with every mutual information in closed form
  (Gaussian source) or by Gauss-Hermite quadrature of a Gaussian-mixture entropy (discrete Y);
* exact and Monte-Carlo values of both bounds for any Gaussian prior and decoder;
* the analytic information curve of the Gaussian information bottleneck (Chechik et al. 2005),
  :class:`GaussianIB`, and :func:`fit_linear_vib`, which trains a linear-Gaussian encoder with
  the reparametrised variational objective so that the two can be compared.

Everything is in **nats**; :func:`nats_to_bits` converts. The paper's β multiplies the
compression term: the objective is ``I(Z;Y) - β I(Z;X)`` (Chechik et al. put their β on the
relevance term, which is 1/β here).

Modules, each importing only the ones listed before it: :mod:`~aibnb.bounds.units` (nats and
bits), :mod:`~aibnb.bounds.checks` (input checks), :mod:`~aibnb.bounds.gaussian` (Gaussian closed
forms and quadrature), :mod:`~aibnb.bounds.montecarlo` (estimates with standard errors),
:mod:`~aibnb.bounds.densities` (priors r(z) and marginals p(z)), :mod:`~aibnb.bounds.sources`
(p(x, y)), :mod:`~aibnb.bounds.decoders` (q(y|z)), :mod:`~aibnb.bounds.channel` (the attentive
channel, its informations and both bounds), :mod:`~aibnb.bounds.priors` (the best Gaussian prior
of a family), :mod:`~aibnb.bounds.gaussian_ib` (the analytic IB curve) and
:mod:`~aibnb.bounds.linear_vib` (variational training of a linear encoder). Every public name is
re-exported here, so ``from aibnb.bounds import GaussianIB`` works as well as
``from aibnb.bounds.gaussian_ib import GaussianIB``.
"""

from __future__ import annotations

from aibnb.bounds.channel import ChannelSample, GaussianAttention, LinearGaussianChannel
from aibnb.bounds.checks import Rng as Rng
from aibnb.bounds.checks import check_covariance
from aibnb.bounds.decoders import Decoder as Decoder
from aibnb.bounds.decoders import LinearGaussianDecoder, SoftmaxDecoder
from aibnb.bounds.densities import GaussianDensity, GaussianMixtureDensity
from aibnb.bounds.densities import Prior as Prior
from aibnb.bounds.gaussian import gaussian_entropy, gaussian_expectation, gaussian_kl, gaussian_mi
from aibnb.bounds.gaussian_ib import GaussianIB
from aibnb.bounds.linear_vib import VIBFit, fit_linear_vib
from aibnb.bounds.montecarlo import MCEstimate, mc_estimate
from aibnb.bounds.priors import best_gaussian_prior
from aibnb.bounds.sources import ClassConditionalSource, GaussianSource
from aibnb.bounds.sources import Source as Source
from aibnb.bounds.units import LN2 as LN2
from aibnb.bounds.units import bits_to_nats, nats_to_bits

__all__ = [
    "ChannelSample",
    "ClassConditionalSource",
    "GaussianAttention",
    "GaussianDensity",
    "GaussianIB",
    "GaussianMixtureDensity",
    "GaussianSource",
    "LinearGaussianChannel",
    "LinearGaussianDecoder",
    "MCEstimate",
    "SoftmaxDecoder",
    "VIBFit",
    "best_gaussian_prior",
    "bits_to_nats",
    "check_covariance",
    "fit_linear_vib",
    "gaussian_entropy",
    "gaussian_expectation",
    "gaussian_kl",
    "gaussian_mi",
    "mc_estimate",
    "nats_to_bits",
]
