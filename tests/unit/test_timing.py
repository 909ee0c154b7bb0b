"""Tests of aibnb.timing."""

from __future__ import annotations

import math

import pytest

from aibnb.timing import inference_ms_per_image


def test_inference_time_is_positive_and_checks_its_arguments():
    from aibnb.models import build_model

    model = build_model("vgg_aib", 10, width=0.0625, in_channels=1)
    ms = inference_ms_per_image(model, 4, in_channels=1, repeats=1)
    assert math.isfinite(ms) and ms > 0
    with pytest.raises(ValueError, match="batch_size"):
        inference_ms_per_image(model, 0)
