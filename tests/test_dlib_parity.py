"""Parity with the real dlib: pyml's k-means and models equal, bit for bit,
what dlib's ``pick_initial_centers`` + ``find_clusters_using_kmeans`` compute
(as the reference agent calls them) on the same feature rows.

A small C++ program of ours (tests/dlib_parity/dlib_kmeans.cpp) is compiled
against Debian's dlib and reference BLAS (``libdlib-dev``, ``libblas3``;
``ci/system_deps.sh`` installs them). The test is skipped only when g++ or the
dlib headers are missing.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import reference
from pyml import core

SOURCE = Path(__file__).parent / "dlib_parity" / "dlib_kmeans.cpp"


def compile_dlib_program(out_dir: Path) -> Path:
    """Build the parity program into ``out_dir``; pytest.skip if g++ or dlib is absent."""
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not installed")
    probe = subprocess.run([gxx, "-std=c++17", "-E", "-x", "c++", "-"], input="#include <dlib/clustering.h>\n",
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("dlib headers are not installed (libdlib-dev)")
    exe = out_dir / "dlib_kmeans"
    subprocess.run([gxx, "-std=c++17", "-O2", "-ffp-contract=off", str(SOURCE), "-o", str(exe), "-ldlib",
                    "-l:libblas.so.3"], check=True, capture_output=True, text=True)
    return exe


def run_dlib(exe: Path, work: Path, X: np.ndarray, max_iterations: int = 1000, repeats: int = 1,
             fixed: bool = False) -> dict:
    """Centres (initial and final), min/max distance and timing from the program, on the vector matrix X
    (rows = vectors); ``fixed`` uses dlib's fixed-size 6-vectors, as Netdata 2.x does."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    path = work / "samples.bin"
    path.write_bytes(struct.pack("<3Q", X.shape[0], X.shape[1], max_iterations) + X.astype("<f8").tobytes())
    args = [str(exe), str(path), str(repeats)] + (["fixed"] if fixed else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    result: dict = {"initial": [], "center": []}
    for line in out.splitlines():
        key, *values = line.split()
        if key in ("initial", "center"):
            result[key].append([float.fromhex(v) for v in values])
        elif key in ("min_dist", "max_dist"):
            result[key] = float.fromhex(values[0])
        else:
            result[key] = int(values[0])
    result["initial"] = np.array(result["initial"])
    result["center"] = np.array(result["center"])
    return result


@pytest.fixture(scope="module")
def dlib_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_dlib_program(tmp_path_factory.mktemp("dlib"))


def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def _walk(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.cumsum(rng.normal(size=n)) + 100.0


def _cases() -> list:
    rng = np.random.default_rng(20240601)
    n = 3600
    t = np.arange(n)
    stored = core.unpack_double(core.pack(_walk(rng, n) * 37.1))       # storage-rounded, as training sees it
    return [
        ("random walk 3600", _walk(rng, n), {}),
        ("random walk 14400", _walk(rng, 14400), {}),
        ("spiky", np.where(rng.random(n) < 0.01, 1e3, 0.0) + rng.normal(size=n), {}),
        ("integers with many ties", rng.integers(0, 4, n).astype(np.float64), {}),
        ("small integers 14400", rng.integers(0, 3, 14400).astype(np.float64), {}),
        ("constant", np.full(n, 42.0), {}),
        ("percentages", np.clip(50.0 + 15.0 * rng.normal(size=n), 0.0, 100.0).round(2), {}),
        ("no differencing", _walk(rng, n), {"diff_n": 0}),
        ("smooth_n 1, lag_n 0", _walk(rng, n), {"smooth_n": 1, "lag_n": 0}),
        ("smooth_n 5, lag_n 2", 10.0 * np.sin(t / 40.0) + rng.normal(size=n), {"smooth_n": 5, "lag_n": 2}),
        ("storage-rounded values", stored, {}),
        ("large magnitudes", _walk(rng, n) * 1e12, {}),
        ("tiny values", rng.normal(size=n) * 1e-9, {}),
    ]


CASES = _cases()


@pytest.mark.parametrize("name, series, params", CASES, ids=[c[0] for c in CASES])
def test_models_equal_dlib(dlib_program: Path, tmp_path: Path, name: str, series: np.ndarray, params: dict) -> None:
    X = core.features(series, **params)
    got = run_dlib(dlib_program, tmp_path, X)
    centres = core.kmeans(X)
    assert np.array_equal(_bits(centres), _bits(got["center"])), name
    model = core.train(series, **params)
    assert np.array_equal(_bits(model.centers), _bits(got["center"]))
    assert _bits(model.min_dist) == _bits(got["min_dist"])
    assert _bits(model.max_dist) == _bits(got["max_dist"])
    # The literal reference's initial pick (libstdc++ sort emulation) is dlib's.
    assert np.array_equal(_bits(reference.pick_initial_centers(X, 2)), _bits(got["initial"]))


def test_iteration_limits_equal_dlib(dlib_program: Path, tmp_path: Path) -> None:
    X = core.features(_walk(np.random.default_rng(3), 3600))
    for iterations in (1, 2, 3, 7):
        got = run_dlib(dlib_program, tmp_path, X, max_iterations=iterations)
        assert np.array_equal(_bits(core.kmeans(X, max_iterations=iterations)), _bits(got["center"]))


def sampled_vectors(history: np.ndarray, max_vectors: int, seed: int, features: str = "v2", **params) -> np.ndarray:
    """The training set of a sub-sampled training: the kept feature rows of the gap-filled history."""
    filled, _ = core.fill_gaps(history)
    X = core.features(filled, variant=features, **params)
    return X[core.sample_mask(len(X), max_vectors, seed)]


def _sampled_cases() -> list:
    rng = np.random.default_rng(20261207)
    stored = core.unpack_double(core.pack(_walk(rng, 21600) * 3.1))
    return [
        ("6 h at 1 s, 1440 vectors", stored, 1440, 12345, {}),
        ("other seed", _walk(rng, 21600), 1440, 5489, {}),
        ("integers with ties", rng.integers(0, 4, 8000).astype(np.float64), 500, 7, {}),
        ("spiky", np.where(rng.random(6000) < 0.01, 1e3, 0.0) + rng.normal(size=6000), 800, 3, {}),
        ("no differencing", _walk(rng, 5000), 700, 11, {"diff_n": 0}),
        ("short window, all kept", _walk(rng, 900), 1440, 1, {}),
    ]


SAMPLED = _sampled_cases()


@pytest.mark.parametrize("name, series, max_vectors, seed, params", SAMPLED, ids=[c[0] for c in SAMPLED])
def test_sampled_v2_models_equal_dlib(dlib_program: Path, tmp_path: Path, name: str, series: np.ndarray,
                                      max_vectors: int, seed: int, params: dict) -> None:
    X = sampled_vectors(series, max_vectors, seed, **params)
    model = core.train(series, features="v2", max_vectors=max_vectors, seed=seed, **params)
    for fixed in (False, True):
        got = run_dlib(dlib_program, tmp_path, X, fixed=fixed)
        assert np.array_equal(_bits(model.centers), _bits(got["center"])), (name, fixed)
        assert _bits(model.min_dist) == _bits(got["min_dist"])
        assert _bits(model.max_dist) == _bits(got["max_dist"])
    assert np.array_equal(_bits(core.kmeans(X)), _bits(got["center"]))
