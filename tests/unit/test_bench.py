"""The benchmark's timers (the figures themselves are measured by ``python -m aibnb.bench``, never tested)."""

from __future__ import annotations

import math

import pytest

from aibnb.bench import inference_ms_per_image


def test_inference_time_is_positive_and_checks_its_arguments():
    from aibnb.models import build_model

    model = build_model("vgg_aib", 10, width=0.0625, in_channels=1)
    ms = inference_ms_per_image(model, 4, in_channels=1, repeats=1)
    assert math.isfinite(ms) and ms > 0
    with pytest.raises(ValueError, match="batch_size"):
        inference_ms_per_image(model, 0)
