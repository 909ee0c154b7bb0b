"""Tests of aibnb.bounds.checks: a bad covariance is rejected with a message that says why."""

from __future__ import annotations

import pytest

from aibnb import bounds


def test_check_covariance_rejects_bad_matrices_with_clear_errors():
    with pytest.raises(ValueError, match="positive definite"):
        bounds.check_covariance([[1.0, 2.0], [2.0, 1.0]], "noise_cov")
    with pytest.raises(ValueError, match="symmetric"):
        bounds.check_covariance([[1.0, 0.5], [0.0, 1.0]])
