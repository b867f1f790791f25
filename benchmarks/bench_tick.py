"""One tick of the dimension bank against a vectorised NumPy tick doing the same work.

Per dimension and tick: push the value into the prediction window, build the
feature vector, score it against the dimension's model, decide the anomaly
bit, pack the storage word. All slots trained, default parameters.

Budget (DESIGN §6): at D = 100,000 on one thread, <= 25 ns per dimension.
The NumPy tick keeps the windows as a (9, D) ring, reads the window as row
views (no copy) and follows the same arithmetic, so its words must equal the
bank's bit for bit.

Run: ``pytest benchmarks/bench_tick.py`` (``PYML_BENCH_SCALE=small`` for a
quick pass; ``--benchmark-disable`` checks results only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from budget import median, ratio, record
from conftest import SMALL, scaled

from pyml import core

SIZES = [scaled(1_000, 500), scaled(10_000, 1_000), scaled(100_000, 2_000)]
LARGEST = SIZES[-1]
ROWS = 32            # distinct ticks cycled through by the benchmarks
MODELS = 48          # distinct trained models spread over the slots
THRESHOLD = 0.99
MAX_STORABLE = 1.6777215e21


class NumpyTick:
    """The bank's tick in vectorised NumPy, with the windows as a (window, D) ring.

    Same operations in the same order as ``features`` (last row) and
    ``Model.score``, element-wise over all dimensions, so results are equal.
    """

    def __init__(self, centers: np.ndarray, min_dist: np.ndarray, max_dist: np.ndarray, threshold: float,
                 diff_n: int = 1, smooth_n: int = 3, lag_n: int = 5) -> None:
        self.d, self.s, self.lag = diff_n, max(smooth_n, 1), lag_n
        self.n = self.d + self.s + self.lag
        size = min_dist.size
        self.c0 = np.ascontiguousarray(centers[:, 0, :].T)   # (dims, D)
        self.c1 = np.ascontiguousarray(centers[:, 1, :].T)
        self.lo, self.hi = min_dist, max_dist
        self.span = max_dist - min_dist
        self.flat = max_dist == min_dist
        self.threshold100 = 100.0 * threshold
        self.ring = np.zeros((self.n, size))
        self.count = np.zeros(size, dtype=np.int64)
        self.head = self.n - 1
        self.no_reset = np.zeros(1, dtype=bool)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        n, d, s = self.n, self.d, self.s
        good = np.abs(values) <= MAX_STORABLE          # False for NaN and inf
        self.head = (self.head + 1) % n
        self.ring[self.head] = np.where(good, values, 0.0)
        self.count = np.where(good, np.minimum(self.count + 1, n), 0)
        rows = [self.ring[(self.head + 1 + i) % n] for i in range(n)]   # oldest first
        diff = [rows[i] - rows[i - d] if i >= d else rows[i] for i in range(n)]
        f = 1.0 / s
        total = np.zeros_like(values)
        for i in range(1, s + 1):
            total = total + diff[n - i]
        sq0 = np.zeros_like(values)
        sq1 = np.zeros_like(values)
        for i in range(self.lag + 1):
            if i:
                total = (total - diff[n - i]) + diff[n - i - s]
            feat = np.abs(total * f)
            t0 = self.c0[i] - feat
            t1 = self.c1[i] - feat
            sq0 = sq0 + t0 * t0
            sq1 = sq1 + t1 * t1
        dist = ((0.0 + np.sqrt(sq0)) + np.sqrt(sq1)) / 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            r = 100.0 * np.abs((dist - self.lo) / self.span)
        score = np.where(r > 100.0, 100.0, r)
        score = np.where(self.flat, 0.0, score)
        scored = self.count == n
        bits = scored & (score >= self.threshold100)
        return core.pack(values, bits, self.no_reset)


def _series(rng: np.random.Generator, kind: int, n: int = 600) -> np.ndarray:
    t = np.arange(n)
    if kind % 3 == 0:
        return np.cumsum(rng.normal(size=n)) + 100.0
    if kind % 3 == 1:
        return 50.0 + 20.0 * np.sin(t * 0.05 + kind) + rng.normal(size=n)
    return rng.integers(0, 5, n).astype(np.float64)


def _ticks(rng: np.random.Generator, size: int, rows: int) -> np.ndarray:
    level = rng.integers(0, 4, size) * 10.0 ** rng.integers(-2, 5, size)
    ticks = level + np.cumsum(rng.normal(size=(rows, size)), axis=0) * (1.0 + level * 0.01)
    ticks[rng.random((rows, size)) < 0.002] = np.nan      # a few gaps
    ticks[rng.random((rows, size)) < 0.0005] = np.inf     # and a few saturated values
    spikes = rng.random((rows, size)) < 0.01               # and some anomalies
    ticks[spikes] += 1e3 * (1.0 + level[np.nonzero(spikes)[1]])
    return ticks


class Setup:
    """A bank with every slot trained, its NumPy twin, and the ticks to feed them."""

    def __init__(self, size: int) -> None:
        rng = np.random.default_rng(20221114 + size)
        self.bank = core.Bank(threshold=THRESHOLD, capacity=size)
        for _ in range(size):
            self.bank.add_slot()
        histories = [_series(rng, k) for k in range(MODELS)]
        report = self.bank.train(list(range(MODELS)), histories, min_samples=100)
        assert list(report.status) == ["trained"] * MODELS
        self.bank.tick(np.full(size, np.nan))   # applies the queued models
        models = [self.bank.model(k) for k in range(MODELS)]
        choice = rng.integers(0, MODELS, size)
        choice[:MODELS] = np.arange(MODELS)
        for slot in range(MODELS, size):
            self.bank.set_model(slot, models[choice[slot]])
        assert self.bank.trained_count == size
        centers = np.stack([np.asarray(m.centers, dtype=np.float64).reshape(2, -1) for m in models])[choice]
        lo = np.array([m.min_dist for m in models])[choice]
        hi = np.array([m.max_dist for m in models])[choice]
        self.numpy_tick = NumpyTick(centers, lo, hi, THRESHOLD)
        self.ticks = _ticks(rng, size, ROWS)
        self.size = size
        self.i = 0

    def check_equal(self, rows: int) -> None:
        """Feed both the same ticks: a window's worth to align their windows
        (the benchmarks tick them different numbers of times), then ``rows``
        more whose words must match bit for bit."""
        anomalous = 0
        for k in range(self.bank.window + rows):
            values = self.ticks[self.i % ROWS]
            self.i += 1
            words, expected = self.bank.tick(values), self.numpy_tick(values)
            if k >= self.bank.window:
                np.testing.assert_array_equal(words, expected)
                anomalous += int(np.count_nonzero((words != 0) & ((words & core.ANOMALY_BIT) == 0)))
        assert anomalous > 0, "the data should make some dimensions anomalous"


_setups: dict[int, Setup] = {}
_fastest: dict[str, float] = {}   # the fastest round, seconds: the least disturbed by other processes


def _record(key: str, benchmark: Any) -> None:
    record(key, benchmark)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and not getattr(benchmark, "disabled", False):
        _fastest[key] = stats.stats.min


def _setup(size: int) -> Setup:
    if size not in _setups:
        _setups[size] = Setup(size)
        _setups[size].check_equal(ROWS)
    return _setups[size]


def _cycler(setup: Setup, fn: Any) -> Any:
    state = {"i": 0}

    def one_tick() -> Any:
        state["i"] += 1
        return fn(setup.ticks[state["i"] % ROWS])

    return one_tick


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.benchmark(group="bank-tick")
def test_tick_bank(benchmark, size):
    setup = _setup(size)
    benchmark(_cycler(setup, setup.bank.tick))
    _record(f"tick-bank-{size}", benchmark)
    setup.check_equal(12)   # after any number of ticks, the next ones agree


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.benchmark(group="bank-tick")
def test_tick_numpy(benchmark, size):
    setup = _setup(size)
    benchmark(_cycler(setup, setup.numpy_tick))
    _record(f"tick-numpy-{size}", benchmark)
    setup.check_equal(12)


@pytest.mark.parametrize("size", SIZES)
def test_budget_tick(size):
    speedup = ratio(f"tick-numpy-{size}", f"tick-bank-{size}")
    bank_ns = median(f"tick-bank-{size}") / size * 1e9
    numpy_ns = median(f"tick-numpy-{size}") / size * 1e9
    fastest_ns = _fastest[f"tick-bank-{size}"] / size * 1e9
    print(f"\nD={size}: bank {bank_ns:.1f} ns/dim (fastest round {fastest_ns:.1f}), NumPy {numpy_ns:.1f} ns/dim, "
          f"bank is {speedup:.1f}x faster (medians)")
    if size == LARGEST and not SMALL:   # the budget is for D = 100,000
        # DESIGN §6 as written: <= 25 ns per dimension (median) and >= 3.5x a
        # vectorised NumPy tick. The NumPy tick above avoids copying the window
        # (row views of the ring) and runs at ~45-50 ns here rather than the
        # ~90 ns the ratio was set against; the budget is kept, not bent to it.
        assert bank_ns <= 25.0
        assert speedup >= 3.5
