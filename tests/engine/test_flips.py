"""Negative and positive flips against a reference model (Yan et al. 2021), with intervals."""

from __future__ import annotations

import numpy as np
import pytest

from engine.stats import flips, wilson_interval


def test_flip_counts_and_rates():
    ref = np.array([1, 1, 1, 0, 0, 1, 1, 0], dtype=bool)
    new = np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=bool)
    f = flips(ref, new)
    assert (f.n, f.negative, f.positive) == (8, 2, 1)
    assert f.negative_rate.value == 2 / 8 and f.positive_rate.value == 1 / 8
    assert f.new_error_rate == 4 / 8
    assert f.negative_rate.low < 0.25 < f.negative_rate.high


def test_wilson_interval_known_values():
    iv = wilson_interval(0, 10)
    assert iv.value == 0 and iv.low == 0 and iv.high == pytest.approx(0.2775, abs=1e-4)
    iv = wilson_interval(5, 10)
    assert (iv.low, iv.high) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    with pytest.raises(ValueError, match="k must lie between 0 and n"):
        wilson_interval(11, 10)


def test_pooled_seeds_resample_whole_examples():
    rng = np.random.default_rng(0)
    ref = rng.random(600) < 0.8
    new = rng.random(600) < 0.7
    f = flips(ref, new, clusters=np.tile(np.arange(200), 3))
    assert f.negative_rate.n == 200  # intervals over the 200 examples, not 600 rows
    assert f.negative_rate.low <= f.negative_rate.value <= f.negative_rate.high


def test_flips_need_the_same_examples():
    with pytest.raises(ValueError, match="Flips compare the same examples: 3 vs 2 predictions"):
        flips([1, 0, 1], [1, 0])
