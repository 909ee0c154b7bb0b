"""Tests of aibnb.bounds.units: nats and bits."""

from __future__ import annotations

import math

import pytest

from aibnb import bounds


def test_units():
    assert bounds.nats_to_bits(math.log(2.0)) == pytest.approx(1.0)
    assert bounds.bits_to_nats(bounds.nats_to_bits(0.7)) == pytest.approx(0.7)
