"""Training one model (14,400 samples, default parameters): pyml against dlib.

The dlib side is our parity program (tests/dlib_parity/dlib_kmeans.cpp) on
the same feature rows; it times its own calls of ``pick_initial_centers`` +
``find_clusters_using_kmeans`` (repeated inside the process, so process
start-up is not counted). pyml's time is the whole ``pyml.core.train`` call
from Python: features, k-means and the distance range. A second baseline is
the literal NumPy reference of tests/reference.py (same results, vectorised
across samples).

Target: pyml at least 10x faster than dlib, with identical centres.
Run: ``pytest benchmarks/bench_training.py`` (add ``-s`` to see the ratios).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np
import pytest
from budget import median, record
from conftest import scaled

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import reference  # noqa: E402  (tests/reference.py)
from test_dlib_parity import compile_dlib_program, run_dlib  # noqa: E402

from pyml import core  # noqa: E402

N = scaled(14_400, 1_200)
DLIB_REPEATS = scaled(40, 2)
_dlib_seconds: list[float] = []


def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


@pytest.fixture(scope="module")
def history() -> np.ndarray:
    # A random walk stored and decoded the way training sees it.
    rng = np.random.default_rng(20221114)
    walk = np.cumsum(rng.normal(size=N)) * 3.7 + 500.0
    return core.unpack_double(core.pack(walk))


@pytest.fixture(scope="module")
def expected(history: np.ndarray) -> tuple[np.ndarray, float, float]:
    return reference.train(history)


@pytest.fixture(scope="module")
def dlib_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_dlib_program(tmp_path_factory.mktemp("dlib"))


@pytest.mark.benchmark(group="training")
def test_train_pyml(benchmark, history, expected):
    model = benchmark(core.train, history)
    record("train-pyml", benchmark)
    centers, lo, hi = expected
    assert np.array_equal(_bits(model.centers), _bits(centers))
    assert (model.min_dist, model.max_dist) == (lo, hi)


@pytest.mark.benchmark(group="training")
def test_train_numpy_reference(benchmark, history, expected):
    centers, lo, hi = benchmark.pedantic(reference.train, args=(history,), rounds=scaled(3, 1), iterations=1)
    record("train-numpy", benchmark)
    assert np.array_equal(_bits(centers), _bits(expected[0])) and (lo, hi) == expected[1:]


def test_train_dlib(dlib_program, tmp_path, history):
    X = core.features(history)
    got = run_dlib(dlib_program, tmp_path, X, repeats=DLIB_REPEATS)
    model = core.train(history)
    assert np.array_equal(_bits(model.centers), _bits(got["center"]))
    assert (_bits(model.min_dist), _bits(model.max_dist)) == (_bits(got["min_dist"]), _bits(got["max_dist"]))
    _dlib_seconds.append(got["time_ns_median"] * 1e-9)


def test_budget_at_least_10x_dlib():
    pyml_s = median("train-pyml")
    if not _dlib_seconds:
        pytest.skip("dlib was not timed (not installed)")
    dlib_s = statistics.median(_dlib_seconds)
    speedup = dlib_s / pyml_s
    print(f"\ntraining {N} samples: pyml {pyml_s * 1e3:.3f} ms, dlib {dlib_s * 1e3:.3f} ms: "
          f"pyml is {speedup:.1f}x faster")
    if N == 14_400:
        assert speedup >= 10.0


def test_ratio_to_numpy_reference():
    speedup = median("train-numpy") / median("train-pyml")
    print(f"\ntraining {N} samples: pyml is {speedup:.0f}x faster than the literal NumPy reference")
    assert speedup > 1.0
