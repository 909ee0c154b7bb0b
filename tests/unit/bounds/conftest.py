"""Shared toys of the aibnb.bounds tests: a Gaussian and a discrete-label source, and the attentive
linear-Gaussian channel on each."""

from __future__ import annotations

import numpy as np
import pytest

from aibnb import bounds


@pytest.fixture(scope="module")
def gsrc() -> bounds.GaussianSource:
    return bounds.GaussianSource(
        cov_x=[[1.0, 0.4], [0.4, 1.0]], label_map=[[2.0, 0.0], [-0.6, 1.0]], label_noise_cov=np.eye(2)
    )


@pytest.fixture(scope="module")
def csrc() -> bounds.ClassConditionalSource:
    return bounds.ClassConditionalSource(
        priors=[0.5, 0.3, 0.2], means=[[-1.5, 0.0], [1.0, 1.0], [0.5, -1.5]], cov=[[0.6, 0.1], [0.1, 0.5]]
    )


ATTENTION = bounds.GaussianAttention(
    weight=[[0.8, 0.0], [0.3, 0.6]], noise_cov=0.3 * np.eye(2), readin=0.7 * np.eye(2)
)
ENCODER = [[1.0, 0.3], [-0.2, 0.8]]


@pytest.fixture(scope="module")
def gch(gsrc) -> bounds.LinearGaussianChannel:
    return bounds.LinearGaussianChannel(gsrc, ENCODER, 0.5 * np.eye(2), ATTENTION)


@pytest.fixture(scope="module")
def cch(csrc) -> bounds.LinearGaussianChannel:
    return bounds.LinearGaussianChannel(csrc, ENCODER, 0.5 * np.eye(2), ATTENTION)
