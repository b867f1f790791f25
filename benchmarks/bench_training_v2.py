"""Training one Netdata 2.x model: 6 hours of 1-s values (21,600), v2 features,
sub-sampled to about 1,440 vectors (seed 12345 keeps 1,500), against dlib.

The dlib side is our parity program (tests/dlib_parity/dlib_kmeans.cpp) run on
the kept vectors twice: with dynamic-size vectors (``dlib::matrix<double, 0,
1>``, what v1.33 used and what the v1.33 training budget is measured
against) and with the fixed-size 6-vectors Netdata 2.x uses
(``dlib::matrix<double, 6, 1>``, several times faster); it times its own
``pick_initial_centers`` + ``find_clusters_using_kmeans`` calls (repeated
inside the process). pyml is timed on the same vectors (``core.kmeans``, the
like-for-like comparison) and for the whole training from the raw window
(``core.train(..., features="v2", max_vectors=1440)``: gap filling, the
features of all 21,600 values, the sampling, k-means and the distance range).
All must give the same centres bit for bit.

Target: k-means on the kept vectors at least 10x faster than dlib with
dynamic-size vectors (DESIGN §6's dlib baseline); the ratio to dlib with
fixed-size vectors is printed too.
Run: ``pytest benchmarks/bench_training_v2.py -s``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from budget import median, record
from conftest import SMALL, scaled

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_dlib_parity import compile_dlib_program, run_dlib, sampled_vectors  # noqa: E402

from pyml import core  # noqa: E402

N = scaled(21_600, 3_000)
MAX_VECTORS = scaled(1_440, 200)
SEED = 12345
DLIB_REPEATS = scaled(40, 2)
_dlib_seconds: dict[str, float] = {}


def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


@pytest.fixture(scope="module")
def history() -> np.ndarray:
    rng = np.random.default_rng(20261207)
    walk = np.cumsum(rng.normal(size=N)) * 3.7 + 500.0
    return core.unpack_double(core.pack(walk))   # as training reads it from storage


@pytest.fixture(scope="module")
def vectors(history: np.ndarray) -> np.ndarray:
    X = sampled_vectors(history, MAX_VECTORS, SEED)
    assert len(X) == (1500 if not SMALL else len(X))
    return X


@pytest.fixture(scope="module")
def dlib_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_dlib_program(tmp_path_factory.mktemp("dlib"))


@pytest.fixture(scope="module")
def dlib_result(dlib_program, tmp_path_factory, vectors) -> dict:
    results = {}
    for kind in ("dynamic", "fixed"):
        got = run_dlib(dlib_program, tmp_path_factory.mktemp("run"), vectors, repeats=DLIB_REPEATS,
                       fixed=kind == "fixed")
        _dlib_seconds[kind] = got["time_ns_median"] * 1e-9
        results[kind] = got
    assert np.array_equal(_bits(results["dynamic"]["center"]), _bits(results["fixed"]["center"]))
    return results["fixed"]


@pytest.mark.benchmark(group="training-v2")
def test_kmeans_on_the_kept_vectors(benchmark, vectors, dlib_result):
    centres = benchmark(core.kmeans, vectors)
    record("kmeans-v2", benchmark)
    assert np.array_equal(_bits(centres), _bits(dlib_result["center"]))


@pytest.mark.benchmark(group="training-v2")
def test_train_from_the_raw_window(benchmark, history, dlib_result):
    model = benchmark(core.train, history, features="v2", max_vectors=MAX_VECTORS, seed=SEED)
    record("train-v2", benchmark)
    assert np.array_equal(_bits(model.centers), _bits(dlib_result["center"]))
    assert (_bits(model.min_dist), _bits(model.max_dist)) == (_bits(dlib_result["min_dist"]),
                                                              _bits(dlib_result["max_dist"]))


def test_budget_at_least_10x_dlib(vectors):
    kmeans_s, train_s = median("kmeans-v2"), median("train-v2")
    if not _dlib_seconds:
        pytest.skip("dlib was not timed (not installed)")
    dynamic_s, fixed_s = _dlib_seconds["dynamic"], _dlib_seconds["fixed"]
    print(f"\n{len(vectors)} kept vectors of {N} values: pyml k-means {kmeans_s * 1e6:.0f} us, whole training "
          f"from the raw window {train_s * 1e6:.0f} us; dlib with dynamic-size vectors {dynamic_s * 1e6:.0f} us "
          f"(k-means {dynamic_s / kmeans_s:.1f}x, whole training {dynamic_s / train_s:.1f}x), with fixed-size "
          f"6-vectors {fixed_s * 1e6:.0f} us (k-means {fixed_s / kmeans_s:.1f}x, whole training "
          f"{fixed_s / train_s:.1f}x)")
    if not SMALL:
        assert dynamic_s / kmeans_s >= 10.0
