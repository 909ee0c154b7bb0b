"""Tests of aibnb.bounds.montecarlo: an estimate needs at least two samples for its standard error."""

from __future__ import annotations

import pytest

from aibnb import bounds


def test_mc_estimate_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2 samples"):
        bounds.mc_estimate([1.0])
