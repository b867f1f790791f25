"""Feature extraction: bit-exact with the literal reference over the whole
parameter grid, hand-computed cases, edge cases and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from pyml import core


def _bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(_bits(a), _bits(b))


GRID = [(d, s, l) for d in (0, 1) for s in range(0, 6) for l in range(0, 6)]


@pytest.mark.parametrize("diff_n, smooth_n, lag_n", GRID)
def test_grid_matches_reference(diff_n: int, smooth_n: int, lag_n: int) -> None:
    rng = np.random.default_rng(1000 + 100 * diff_n + 10 * smooth_n + lag_n)
    for x in (np.cumsum(rng.normal(size=300)) * 7.3 + 1e4,   # random walk, large offset
              rng.integers(0, 4, 120).astype(np.float64),     # integers, many ties
              rng.normal(size=40) * 1e-9):                    # tiny values
        got = core.features(x, diff_n=diff_n, smooth_n=smooth_n, lag_n=lag_n)
        want = reference.features(x, diff_n, smooth_n, lag_n)
        assert _same(got, want)
        assert got.shape == (len(x) - diff_n - (max(smooth_n, 1) - 1) - lag_n, lag_n + 1)


finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(x=st.lists(finite, min_size=0, max_size=60), diff_n=st.integers(0, 1), smooth_n=st.integers(0, 5),
       lag_n=st.integers(0, 5))
def test_random_series_match_reference(x: list, diff_n: int, smooth_n: int, lag_n: int) -> None:
    got = core.features(np.array(x, dtype=np.float64), diff_n=diff_n, smooth_n=smooth_n, lag_n=lag_n)
    want = reference.features(x, diff_n, smooth_n, lag_n)
    assert _same(got, want)


def test_hand_computed_defaults() -> None:
    # x = squares: diffs 1, 3, 5, ...; trailing means of 3 diffs are 3, 5, 7, ...
    x = np.arange(12, dtype=np.float64) ** 2
    got = core.features(x)
    assert got.shape == (4, 6)
    # Row 0 ends at j = 8 (diff 15, mean of diffs 11, 13, 15 = 13); lags go back by 2.
    assert got.tolist() == [
        [13.0, 11.0, 9.0, 7.0, 5.0, 3.0],
        [15.0, 13.0, 11.0, 9.0, 7.0, 5.0],
        [17.0, 15.0, 13.0, 11.0, 9.0, 7.0],
        [19.0, 17.0, 15.0, 13.0, 11.0, 9.0],
    ]


def test_absolute_values_and_no_smoothing() -> None:
    x = np.array([5.0, 3.0, 4.0, 1.0, 1.0])
    # diffs -2, 1, -3, 0 -> absolute values, newest first, one lag
    assert core.features(x, diff_n=1, smooth_n=1, lag_n=1).tolist() == [[1.0, 2.0], [3.0, 1.0], [0.0, 3.0]]
    assert core.features(x, diff_n=0, smooth_n=1, lag_n=0).tolist() == [[5.0], [3.0], [4.0], [1.0], [1.0]]


def test_running_sum_order_is_the_reference_one() -> None:
    # The running sum is updated from the newest end, so older means carry its
    # rounding: they differ from a direct mean (this series shows it).
    x = np.array([0.1, 0.7, 0.2, 1e16, 0.3, 0.9, 0.4, 0.8, 0.6, 0.5])
    got = core.features(x, diff_n=0, smooth_n=3, lag_n=0)[:, 0]
    direct = np.array([abs((x[j - 2] + x[j - 1] + x[j]) * (1.0 / 3)) for j in range(2, len(x))])
    assert _same(got, reference.features(x, 0, 3, 0)[:, 0])
    assert not _same(got, direct)


def test_smooth_zero_behaves_as_one() -> None:
    x = np.cumsum(np.random.default_rng(3).normal(size=50))
    for d in (0, 1):
        for lag in (0, 3, 5):
            assert _same(core.features(x, diff_n=d, smooth_n=0, lag_n=lag),
                         core.features(x, diff_n=d, smooth_n=1, lag_n=lag))


@pytest.mark.parametrize("n", [0, 1, 8])
def test_too_short_gives_no_rows(n: int) -> None:
    out = core.features(np.arange(float(n)))
    assert out.shape == (0, 6) and out.dtype == np.float64
    assert core.features(np.arange(9.0)).shape == (1, 6)


def test_non_finite_values_propagate_as_in_the_reference() -> None:
    x = [1.0, 2.0, math.nan, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, math.inf, 14.0]
    got = core.features(np.array(x), diff_n=1, smooth_n=2, lag_n=1)
    assert _same(got, reference.features(x, 1, 2, 1))
    assert np.isnan(got).any()


def test_array_likes_convert_losslessly() -> None:
    ints = list(range(20))
    assert _same(core.features(ints), core.features(np.arange(20.0)))
    assert _same(core.features(np.arange(20, dtype=np.int32)), core.features(np.arange(20.0)))
    strided = np.arange(40.0)[::2]
    assert _same(core.features(strided), core.features(np.ascontiguousarray(strided)))
    assert _same(core.features(np.arange(20.0, dtype=np.float32)), core.features(np.arange(20.0)))
    assert core.features(np.arange(20.0), diff_n=np.int64(0), smooth_n=np.int8(2), lag_n=np.uint8(1)).shape == (18, 2)


@pytest.mark.parametrize("kwargs, match", [
    ({"diff_n": 2}, "diff_n = 2"),
    ({"smooth_n": 6}, "smooth_n = 6"),
    ({"lag_n": 6}, "lag_n = 6"),
    ({"lag_n": -1}, "lag_n = -1"),
    ({"diff_n": -3}, "diff_n = -3"),
])
def test_parameters_out_of_range(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        core.features(np.arange(30.0), **kwargs)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"x must be 1-dimensional, got shape \(3, 4\)"):
        core.features(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="lag_n must be an integer"):
        core.features(np.arange(30.0), lag_n=2.0)
    with pytest.raises(TypeError, match="smooth_n must be an integer"):
        core.features(np.arange(30.0), smooth_n=True)
    with pytest.raises(TypeError, match="x must be numeric"):
        core.features(["a", "b"])
    with pytest.raises(ValueError, match=r"x\[1\] = 9007199254740993 cannot be represented exactly"):
        core.features(np.array([0, 2**53 + 1], dtype=np.int64))
