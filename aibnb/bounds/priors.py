"""The best Gaussian prior r(z) of a family, the one that makes the rate bound tightest.

The paper fixes the prior to N(0, I). The rate bound exceeds I(Z;X,A) by ``KL(p(z) || r(z))``
(Eq. (5), App. (16)–(17)), so a richer family of priors can only tighten it, and the best member of
a family is the projection of p(z) on that family. :func:`best_gaussian_prior` returns it for the
standard (the paper's), isotropic, diagonal and full-covariance families; chapter 1 compares the
four to show how much of the bound's gap the paper's fixed prior leaves.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from aibnb.bounds.channel import LinearGaussianChannel
from aibnb.bounds.densities import GaussianDensity, _moments


def best_gaussian_prior(
    channel: LinearGaussianChannel, family: Literal["standard", "isotropic", "diagonal", "full"]
) -> GaussianDensity:
    """The member of a Gaussian prior family that minimises the rate bound.

    Because ``bound = I(Z;X,A) + KL(p(z) || r)``, the best r is the projection of p(z) on the
    family: the moment-matched mean, and covariance ``tr(Σ_z)/d · I`` (isotropic), ``diag(Σ_z)``
    (diagonal) or ``Σ_z`` (full). ``"standard"`` is N(0, I), the paper's spherical prior.
    """
    marg = channel.z_marginal()
    mean, cov = (marg.mean, marg.cov) if isinstance(marg, GaussianDensity) else _moments(marg)
    d = channel.latent_dim
    if family == "standard":
        return GaussianDensity(np.zeros(d), np.eye(d))
    if family == "isotropic":
        return GaussianDensity(mean, np.trace(cov) / d * np.eye(d))
    if family == "diagonal":
        return GaussianDensity(mean, np.diag(np.diag(cov)))
    if family == "full":
        return GaussianDensity(mean, cov)
    raise ValueError(f"family must be one of 'standard', 'isotropic', 'diagonal', 'full'; got {family!r}.")
