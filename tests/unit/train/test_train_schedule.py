"""aibnb.train.schedule: the official learning-rate schedules, compressed for short runs."""

import pytest

from aibnb.train import lr_factor


def test_official_vgg_schedule():
    # aib: lr 0.01 at epoch 0, 0.1 for epochs 1-23, then x0.5 every 25 epochs (VGG-backbone-32/cifar_va.py)
    factors = [lr_factor("vgg", e, 200, warmup_epochs=1) for e in range(200)]
    assert factors[0] == pytest.approx(0.1)
    assert factors[1:24] == [1.0] * 23
    assert factors[24] == 0.5 and factors[48] == 0.5 and factors[49] == 0.25
    assert factors[174] == pytest.approx(0.5**7) and factors[199] == pytest.approx(0.5**8)
    # qt: 0.001, 0.01, then 0.1 from epoch 2
    qt = [lr_factor("vgg", e, 200, warmup_epochs=2) for e in range(3)]
    assert qt == pytest.approx([0.01, 0.1, 1.0])


def test_official_wrn_and_exponential_schedules_and_compression():
    assert [lr_factor("wrn", e, 200) for e in (59, 60, 119, 120, 160)] == pytest.approx(
        [1, 0.2, 0.2, 0.04, 0.008]
    )
    assert lr_factor("exponential", 5, 200) == pytest.approx(0.97**2)
    # a 4-epoch run follows the same shape, compressed: t = 2.0 is official epoch 100
    assert lr_factor("vgg", 2.0, 4, 1) == lr_factor("vgg", 100, 200, 1)
    assert lr_factor("cosine", 0, 10) == pytest.approx(1.0) and lr_factor("cosine", 10, 10) == pytest.approx(
        0
    )
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor("step", 0, 10)
