"""k-means: bit-exact with the literal dlib transcription in tests/reference.py
(including libstdc++'s order among tied distances), empty clusters, iteration
limits, other shapes and bad input."""

from __future__ import annotations

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


def _series(kind: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == 0:
        return np.cumsum(rng.normal(size=n)) + 100.0          # random walk
    if kind == 1:
        return rng.integers(0, 4, n).astype(np.float64)        # integers: ties everywhere
    if kind == 2:
        return np.where(rng.random(n) < 0.01, 1e3, 0.0) + rng.normal(size=n)  # spiky
    if kind == 3:
        return np.clip(50.0 + 10.0 * rng.normal(size=n), 0.0, 100.0).round(1)  # percentages
    return np.sin(np.arange(n) * 0.05) * 1e-6                  # tiny


@pytest.mark.parametrize("kind", range(5))
@pytest.mark.parametrize("lag_n", [0, 2, 5])
def test_feature_rows_match_reference(kind: int, lag_n: int) -> None:
    rng = np.random.default_rng(10 * kind + lag_n)
    X = core.features(_series(kind, 1500, rng), lag_n=lag_n)
    assert _same(core.kmeans(X), reference.kmeans(X))


def test_ties_follow_libstdcxx_sort_not_a_stable_sort() -> None:
    # Integer-valued series put many samples at the distance of the chosen
    # rank; the pick must be libstdc++'s, which a stable sort often is not.
    rng = np.random.default_rng(7)
    tied = differs = 0
    for _ in range(12):
        X = core.features(rng.integers(0, 3, int(rng.integers(300, 1500))).astype(np.float64))
        n, rank = len(X), reference.best_index(len(X))
        d = reference.kernel_distances(X, X[0])
        stable = sorted(range(n), key=lambda s: d[s])
        records = [(s, float(d[s])) for s in range(n)]
        reference.libstdcxx_sort(records, lambda p, q: p[1] < q[1])
        tied += sum(1 for v in d if v == records[rank][1]) > 1
        differs += stable[rank] != records[rank][0]
        assert _same(core.kmeans(X), reference.kmeans(X))
    assert tied >= 10 and differs >= 3


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(2, 80),
    dims=st.integers(1, 8),
    k=st.integers(1, 4),
    iters=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
    levels=st.sampled_from([0, 2, 3, 1000]),
)
def test_random_matrices_match_reference(rows: int, dims: int, k: int, iters: int, seed: int, levels: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.integers(0, levels, (rows, dims)).astype(np.float64) if levels else rng.normal(size=(rows, dims)) * 3
    k = min(k, rows)
    assert _same(core.kmeans(X, k=k, max_iterations=iters), reference.kmeans(X, k, iters))


def test_empty_cluster_centre_becomes_zero() -> None:
    # All rows equal: the second centre is a copy of the first, every row is
    # (equally) nearest to centre 0 (lowest index wins), cluster 1 is empty.
    X = np.tile([3.0, 4.0], (50, 1))
    assert core.kmeans(X).tolist() == [[3.0, 4.0], [0.0, 0.0]]
    assert _same(core.kmeans(X), reference.kmeans(X))


def test_iteration_limit() -> None:
    rng = np.random.default_rng(11)
    X = core.features(np.cumsum(rng.normal(size=3000)))
    one = core.kmeans(X, max_iterations=1)
    _, runs = reference.find_clusters(X, reference.pick_initial_centers(X, 2), 1000)
    assert runs > 3
    for iters in (1, 2, runs - 1, runs, runs + 5):
        assert _same(core.kmeans(X, max_iterations=iters), reference.kmeans(X, 2, iters))
    assert not _same(one, core.kmeans(X))
    assert _same(core.kmeans(X, max_iterations=runs), core.kmeans(X, max_iterations=10_000))


def test_hand_computed_two_groups() -> None:
    X = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    # Centre 0 = row 0; rank int(5 - 0.05 - 1) = 3 -> the 4th smallest distance
    # to row 0 is row 3 (11). Assignment: {0, 1} and {10, 11, 12}.
    assert core.kmeans(X).tolist() == [[0.5], [11.0]]
    # Means multiply by the reciprocal of the count, as dlib does: 34 * (1/5)
    # is 6.800000000000001, not 34 / 5.
    assert core.kmeans(X, k=1).tolist() == [[34.0 * (1.0 / 5)]]
    assert 34.0 * (1.0 / 5) != 34.0 / 5


def test_more_than_two_centres_and_wide_rows() -> None:
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(loc=c, size=(40, 9)) for c in (0.0, 5.0, 10.0)])
    got = core.kmeans(X, k=3)
    assert got.shape == (3, 9)
    assert _same(got, reference.kmeans(X, 3, 1000))


def test_array_likes() -> None:
    X = [[0, 1], [2, 3], [4, 5], [6, 8]]
    assert _same(core.kmeans(X), core.kmeans(np.array(X, dtype=np.float64)))
    F = np.asfortranarray(np.array(X, dtype=np.float64))
    assert _same(core.kmeans(F), core.kmeans(np.array(X, dtype=np.float64)))


@pytest.mark.parametrize("X, kwargs, error, match", [
    (np.zeros(5), {}, ValueError, r"X must be 2-dimensional .* got shape \(5,\)"),
    (np.zeros((2, 2, 2)), {}, ValueError, "X must be 2-dimensional"),
    (np.zeros((0, 3)), {}, ValueError, r"at least one row and one column, got shape \(0, 3\)"),
    (np.zeros((3, 2)), {"k": 4}, ValueError, r"k = 4 is larger than the number of rows of X \(3\)"),
    (np.zeros((3, 2)), {"k": 0}, ValueError, "k = 0 must be at least 1"),
    (np.zeros((3, 2)), {"k": -1}, ValueError, "k = -1 must be >= 0"),
    (np.zeros((3, 2)), {"max_iterations": 0}, ValueError, "max_iterations = 0 must be at least 1"),
    (np.array([[0.0, 1.0], [np.nan, 2.0]]), {}, ValueError, r"X\[1, 0\] = nan is not finite"),
    (np.array([[0.0, np.inf], [1.0, 2.0]]), {}, ValueError, r"X\[0, 1\] = inf is not finite"),
    (np.zeros((3, 2)), {"k": 2.0}, TypeError, "k must be an integer"),
    (np.zeros((3, 2)), {"max_iterations": "10"}, TypeError, "max_iterations must be an integer"),
])
def test_bad_input(X: np.ndarray, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        core.kmeans(X, **kwargs)
