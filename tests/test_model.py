"""Models: training equal to the literal reference, the score, gap handling,
serialisation (round trip, golden bytes, corruption) and bad input."""

from __future__ import annotations

import copy
import math
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from pyml import core

DATA = Path(__file__).parent / "data"
DBL_MIN = sys.float_info.min
DBL_MAX = sys.float_info.max


def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def _matches_reference(model: core.Model, history, **params) -> bool:
    centers, lo, hi = reference.train(history, **params)
    return (np.array_equal(_bits(model.centers), _bits(centers)) and _bits(model.min_dist) == _bits(lo)
            and _bits(model.max_dist) == _bits(hi))


# ------------------------------------------------------------------ training


@pytest.mark.parametrize("kind", range(5))
def test_train_matches_reference(kind: int) -> None:
    rng = np.random.default_rng(kind)
    n = 2000
    history = [
        np.cumsum(rng.normal(size=n)) + 50.0,
        rng.integers(0, 5, n).astype(np.float64),
        np.where(rng.random(n) < 0.01, 1e4, rng.normal(size=n)),
        np.clip(50.0 + 10.0 * rng.normal(size=n), 0.0, 100.0).round(2),
        np.sin(np.arange(n) / 30.0) * 1e6,
    ][kind]
    assert _matches_reference(core.train(history), history)


@pytest.mark.parametrize("diff_n, smooth_n, lag_n", [(0, 3, 5), (1, 1, 0), (1, 0, 2), (0, 5, 1), (1, 2, 3)])
def test_train_parameters_match_reference(diff_n: int, smooth_n: int, lag_n: int) -> None:
    history = np.cumsum(np.random.default_rng(9).normal(size=800))
    params = dict(diff_n=diff_n, smooth_n=smooth_n, lag_n=lag_n, max_iterations=7)
    model = core.train(history, **params)
    assert model.k == 2 and model.dims == lag_n + 1
    assert _matches_reference(model, history, **params)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan)), min_size=12, max_size=120),
       lag_n=st.integers(0, 5))
def test_random_histories_with_gaps_match_reference(values: list, lag_n: int) -> None:
    filled, _ = reference.fill_gaps(values)
    if len(reference.features(filled, 1, 3, lag_n)) < 2:
        with pytest.raises(ValueError):
            core.train(values, lag_n=lag_n)
        return
    assert _matches_reference(core.train(values, lag_n=lag_n), values, lag_n=lag_n)


def test_gaps_are_dropped_at_the_start_and_forward_filled_later() -> None:
    rng = np.random.default_rng(3)
    clean = np.cumsum(rng.normal(size=500))
    gappy = np.concatenate([[np.nan] * 7, clean])
    holes = rng.random(len(gappy)) < 0.1
    holes[:8] = False
    gappy[holes] = np.nan
    filled, existing = core.fill_gaps(gappy)
    want, want_existing = reference.fill_gaps(gappy)
    assert existing == want_existing == int(np.count_nonzero(~np.isnan(gappy)))
    assert np.array_equal(filled, np.array(want)) and len(filled) == len(gappy) - 7
    assert core.train(gappy) == core.train(filled)


def test_fill_gaps_edge_cases() -> None:
    filled, existing = core.fill_gaps([np.nan, np.nan])
    assert filled.shape == (0,) and existing == 0
    filled, existing = core.fill_gaps([np.nan, 1.0, np.nan, np.nan, 2.0, np.nan])
    assert filled.tolist() == [1.0, 1.0, 1.0, 2.0, 2.0] and existing == 2
    with pytest.raises(ValueError, match=r"history\[2\] = -inf is infinite"):
        core.fill_gaps([1.0, np.nan, -np.inf])


def test_constant_history() -> None:
    # All feature vectors are 0: MinDist = 0, MaxDist stays at DBL_MIN (the
    # smallest positive normal), so any later non-zero distance scores 100.
    model = core.train(np.full(600, 42.0))
    assert model.centers.tolist() == [[0.0] * 6, [0.0] * 6]
    assert model.min_dist == 0.0 and model.max_dist == DBL_MIN
    assert model.score(np.zeros(6)) == 0.0
    assert model.score(np.full(6, 1e-150)) == 100.0
    assert model.score(np.full(6, 1e-300)) == 0.0    # its squares underflow: distance 0
    assert model.score([0, 0, 0, 0, 0, 0.001]) == 100.0


def test_empty_cluster_in_training() -> None:
    # A constant level with a single step: every diff is 0 but one; smoothing
    # spreads it over smooth_n vectors; both centres come from the data.
    history = np.concatenate([np.zeros(300), np.full(300, 5.0)])
    model = core.train(history)
    assert _matches_reference(model, history)


# ------------------------------------------------------------------ score


def test_score_formula_by_hand() -> None:
    m = core.Model([[0.0, 0.0], [6.0, 0.0]], 1.0, 9.0)
    assert m.distance([3.0, 0.0]) == 3.0
    assert m.score([3.0, 0.0]) == 25.0              # 100 * (3 - 1) / (9 - 1)
    assert m.distance([3.0, 4.0]) == 5.0            # (5 + 5) / 2
    assert m.score([3.0, 4.0]) == 50.0
    assert m.distance([0.0, 8.0]) == 9.0            # (8 + 10) / 2
    assert m.score([0.0, 8.0]) == 100.0
    assert m.score([0.0, 80.0]) == 100.0            # capped
    # Below the training range: the absolute value makes it count too.
    close = core.Model([[0.0], [0.0]], 2.0, 4.0)
    assert close.score([1.0]) == 50.0
    assert close.score([-1.0]) == 50.0
    assert core.Model([[0.0], [1.0]], 2.0, 2.0).score([7.0]) == 0.0   # no range: 0


@settings(max_examples=200, deadline=None)
@given(x=st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6))
def test_score_matches_reference(x: list) -> None:
    model = core.train(np.cumsum(np.random.default_rng(0).normal(size=400)))
    want = reference.score(model.centers, model.min_dist, model.max_dist, x)
    assert _bits(model.score(x)) == _bits(want)
    assert 0.0 <= model.score(x) <= 100.0


def test_score_of_training_vectors_spans_0_to_100() -> None:
    history = np.cumsum(np.random.default_rng(8).normal(size=1000))
    model = core.train(history)
    scores = [model.score(v) for v in core.features(history)]
    assert min(scores) == 0.0 and max(scores) == 100.0


def test_score_argument_checks() -> None:
    model = core.train(np.arange(100.0) % 7)
    with pytest.raises(ValueError, match=r"vector must have shape \(6,\) for this model, got \(5,\)"):
        model.score(np.zeros(5))
    with pytest.raises(ValueError, match=r"got \(2, 3\)"):
        model.score(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="vector must be numeric"):
        model.score(["a"] * 6)
    assert model.score(np.zeros(12)[::2]) == model.score(np.zeros(6))


# ------------------------------------------------------------------ serialisation


def test_round_trip_is_exact() -> None:
    model = core.train(np.cumsum(np.random.default_rng(1).normal(size=3000)))
    data = model.to_bytes()
    again = core.Model.from_bytes(data)
    assert again == model and again.to_bytes() == data
    assert np.array_equal(_bits(again.centers), _bits(model.centers))
    assert core.Model.from_bytes(bytearray(data)) == model
    assert core.Model.from_bytes(memoryview(data)) == model
    assert pickle.loads(pickle.dumps(model)) == model
    assert copy.deepcopy(model) == model and copy.copy(model) == model


def test_special_values_round_trip() -> None:
    model = core.Model([[-0.0, DBL_MIN], [5e-324, DBL_MAX]], 0.0, DBL_MIN)
    again = core.Model.from_bytes(model.to_bytes())
    assert np.array_equal(_bits(again.centers), _bits(model.centers))
    assert again.max_dist == DBL_MIN


def test_golden_bytes_of_format_version_1() -> None:
    data = (DATA / "model_v1.bin").read_bytes()
    model = core.Model.from_bytes(data)
    assert model.k == 2 and model.dims == 3
    assert model.centers.tolist() == [[1.5, -2.25, 0.0], [3.0, 4.0, 1e-300]]
    assert model.min_dist == 0.125 and model.max_dist == 7.5
    assert model.to_bytes() == data
    assert data[:8] == b"PYMLMODL"


def test_every_corruption_is_refused() -> None:
    data = (DATA / "model_v1.bin").read_bytes()
    for i in range(len(data)):
        for flip in (0x01, 0x80):
            bad = bytearray(data)
            bad[i] ^= flip
            with pytest.raises(ValueError):
                core.Model.from_bytes(bytes(bad))
    for cut in range(len(data)):
        with pytest.raises(ValueError):
            core.Model.from_bytes(data[:cut])
    with pytest.raises(ValueError, match="corrupt model"):
        core.Model.from_bytes(data + b"\0")


@pytest.mark.parametrize("data, match", [
    (b"", "not a pyml model"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 60, "not a pyml model"),
    (b"PYMLMODL" + (2).to_bytes(4, "little") + b"\0" * 40, "unsupported model format version 2"),
    (b"PYMLMODL" + (1).to_bytes(4, "little") + (0).to_bytes(4, "little") + b"\0" * 30, "shape k = 0"),
])
def test_foreign_bytes(data: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        core.Model.from_bytes(data)


def test_from_bytes_type_errors() -> None:
    with pytest.raises(TypeError, match="data must be bytes"):
        core.Model.from_bytes("PYMLMODL")
    with pytest.raises(TypeError, match="data must be bytes"):
        core.Model.from_bytes(12)


# ------------------------------------------------------------------ construction and bad input


def test_model_from_parts() -> None:
    m = core.Model([[1, 2, 3]], 0.5, 1.5)
    assert m.k == 1 and m.dims == 3 and m.centers.dtype == np.float64
    m.centers[0, 0] = 99.0      # a copy: the model does not change
    assert m.centers[0, 0] == 1.0
    assert repr(m) == "Model(k=1, dims=3, min_dist=0.5, max_dist=1.5)"
    assert m != core.Model([[1, 2, 3]], 0.5, 1.25) and m != "model"
    with pytest.raises(ValueError, match="centers must be 2-dimensional"):
        core.Model([1.0, 2.0], 0.0, 1.0)
    with pytest.raises(ValueError, match="centers must be 2-dimensional"):
        core.Model(np.zeros((0, 3)), 0.0, 1.0)
    with pytest.raises(TypeError):
        hash(m)


@pytest.mark.parametrize("history, kwargs, error, match", [
    ([1.0, 2.0, np.inf] + [0.0] * 20, {}, ValueError, r"history\[2\] = inf is infinite"),
    ([np.nan] * 30, {}, ValueError, r"history has no points"),
    (np.arange(9.0), {}, ValueError, "k = 2 is larger than the number of feature vectors \\(1\\)"),
    (np.arange(5.0), {}, ValueError, "a series of 5 points is too short: one feature vector needs 9"),
    (np.arange(50.0), {"max_iterations": 0}, ValueError, "max_iterations = 0 must be at least 1"),
    (np.arange(50.0), {"smooth_n": 9}, ValueError, r"smooth_n = 9 is out of range \[0, 5\]"),
    (np.arange(50.0), {"lag_n": -2}, ValueError, "lag_n = -2 must be >= 0"),
    (np.zeros((5, 10)), {}, ValueError, r"history must be 1-dimensional, got shape \(5, 10\)"),
    (np.arange(50.0), {"diff_n": 1.0}, TypeError, "diff_n must be an integer"),
])
def test_train_bad_input(history, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        core.train(history, **kwargs)
