"""Tests of aibnb.bounds.sources: a discrete source needs class priors that sum to 1."""

from __future__ import annotations

import pytest

from aibnb import bounds


def test_class_priors_must_sum_to_one():
    with pytest.raises(ValueError, match="summing to 1"):
        bounds.ClassConditionalSource([0.5, 0.6], [[0.0], [1.0]], [[1.0]])
