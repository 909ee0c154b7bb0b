"""Tests of aibnb.bounds.decoders: a decoder that is not Bayes-optimal leaves a gap in the relevance bound."""

from __future__ import annotations

import numpy as np

from aibnb import bounds


def test_mismatched_decoders_are_strictly_below(gch, cch):
    best = gch.bayes_decoder()
    overconfident = bounds.LinearGaussianDecoder(best.weight, best.bias, 0.2 * best.cov)
    assert gch.decoder_lower_bound(overconfident) < gch.mi_zy() - 0.05
    lda = cch.bayes_decoder()
    flat = bounds.SoftmaxDecoder(lda.weight, np.zeros(3))  # ignores the class priors
    assert cch.decoder_lower_bound(flat) < cch.mi_zy() - 1e-3
