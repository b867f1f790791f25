"""Rows of one sample skip the grouping (pyml.query.grouping): the result must be the general path's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyml.query.grouping import _OF_ONE_SAMPLE, group_blocks


@pytest.mark.parametrize("method", sorted(_OF_ONE_SAMPLE))
def test_one_sample_rows_equal_the_general_path(method: str) -> None:
    rng = np.random.default_rng(7)
    single = rng.normal(0, 10, (4, 300))
    single[rng.random(single.shape) < 0.1] = np.nan
    single[0, :5] = [-0.0, 0.0, -1e-300, 1e300, -5.5]
    blocks = single[:, :, None]
    # The same samples with a NaN (no sample) beside each: G = 2 takes the general path.
    padded = np.concatenate([blocks, np.full_like(blocks, np.nan)], axis=2)
    fast_values, fast_empty = group_blocks(blocks, method, points=300)
    slow_values, slow_empty = group_blocks(padded, method, points=300)
    assert np.array_equal(fast_empty, slow_empty)
    assert np.array_equal(fast_values, slow_values)
    signs = np.vectorize(lambda v: math.copysign(1.0, v))
    assert np.array_equal(signs(fast_values), signs(slow_values)), "the sign of a zero differs"


def test_gtime_resampling_takes_the_general_path() -> None:
    blocks = np.array([[[2.0], [np.nan], [6.0]]])
    values, empty = group_blocks(blocks, "average", points=3, divisor=2.0)
    assert values.tolist() == [[1.0, 0.0, 3.0]] and empty.tolist() == [[False, True, False]]
