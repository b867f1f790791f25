"""Pack and unpack of 10^6 values: the core against a pure-NumPy implementation.

Target: the core is at least 5x faster than the NumPy baseline, both ways.
"""

from __future__ import annotations

import numpy as np
import pytest
from budget import ratio, record
from conftest import scaled
from numpy_storage import pack as numpy_pack
from numpy_storage import unpack as numpy_unpack

from pyml import core

N = scaled(1_000_000, 20_000)


@pytest.fixture(scope="module")
def samples() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20221114)
    values = np.concatenate(
        [
            rng.standard_normal(N // 2) * 10.0 ** rng.integers(-6, 16, N // 2),
            rng.integers(0, 10**6, N - N // 2) / 100.0,  # typical metric values
        ]
    )
    values[:: max(1, N // 1000)] = np.nan
    rng.shuffle(values)
    anomalous = rng.random(N) < 0.01
    reset = np.zeros(N, dtype=bool)
    return values, anomalous, reset


@pytest.fixture(scope="module")
def words(samples) -> np.ndarray:
    return core.pack(*samples)


@pytest.mark.benchmark(group="storage-pack")
def test_pack_core(benchmark, samples):
    values, anomalous, reset = samples
    out = benchmark(core.pack, values, anomalous, reset)
    record("pack-core", benchmark)
    np.testing.assert_array_equal(out, numpy_pack(values, anomalous, reset))


@pytest.mark.benchmark(group="storage-pack")
def test_pack_numpy(benchmark, samples):
    values, anomalous, reset = samples
    out = benchmark(numpy_pack, values, anomalous, reset)
    record("pack-numpy", benchmark)
    np.testing.assert_array_equal(out, core.pack(values, anomalous, reset))


@pytest.mark.benchmark(group="storage-unpack")
def test_unpack_core(benchmark, words):
    values, anomalous, exists = benchmark(core.unpack, words)
    record("unpack-core", benchmark)
    ref_values, ref_anomalous, ref_exists = numpy_unpack(words)
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(anomalous, ref_anomalous)
    np.testing.assert_array_equal(exists, ref_exists)


@pytest.mark.benchmark(group="storage-unpack")
def test_unpack_numpy(benchmark, words):
    values, _, _ = benchmark(numpy_unpack, words)
    record("unpack-numpy", benchmark)
    np.testing.assert_array_equal(values, core.unpack(words)[0])


@pytest.mark.parametrize("operation", ["pack", "unpack"])
def test_budget_at_least_5x_numpy(operation):
    speedup = ratio(f"{operation}-numpy", f"{operation}-core")
    print(f"\n{operation}: core is {speedup:.1f}x faster than the NumPy baseline")
    assert speedup >= 5.0
