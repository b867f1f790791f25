"""NAB scoring of a corpus shaped like NAB's (58 series, ~365,000 rows, 116 windows).

The exact threshold search (one sort, every distinct score tried, three
profiles) against the obvious alternative: scoring at a grid of 32 fixed
thresholds. Target: the exact search is faster than the grid and finds a raw
score at least as high for every profile.
"""

from __future__ import annotations

import numpy as np
import pytest
from budget import ratio, record
from conftest import scaled

from pyml.lab import NAB_PROFILES, score_corpus

# NAB v1.1's series lengths, grouped: 58 series, 364,589 rows.
LENGTHS = [4032] * 25 + [15850] * 10 + [1600] * 8 + [2500] * 7 + [4730] * 2 + [10320, 18050, 22695, 7267, 5315, 1882]
WINDOWS_PER_SERIES = [0] * 6 + [1] * 17 + [2] * 16 + [3] * 11 + [4] * 6 + [5] * 2  # 116 windows, as NAB
DIVISOR = scaled(1, 20)
GRID = np.linspace(0.0, 1.0, 32)


@pytest.fixture(scope="module")
def corpus() -> tuple[dict, dict]:
    rng = np.random.default_rng(20221114)
    results, windows = {}, {}
    t0 = np.datetime64("2015-01-01T00:00:00", "s")
    for i, (length, k) in enumerate(zip(LENGTHS, WINDOWS_PER_SERIES)):
        n = max(length // DIVISOR, 60)
        stamps = t0 + np.timedelta64(300, "s") * np.arange(n)
        scores = rng.random(n) ** 8  # mostly low, like a real detector's scores
        # NAB's windows: 10 % of the series, split among its windows, spread after the first 15 %.
        width = max(n // 10 // max(k, 1), 2)
        starts = np.linspace(int(0.2 * n), n - width - 1, k).astype(int) if k else []
        spans = []
        for start in starts:
            scores[start + rng.integers(0, width)] = 0.9 + 0.1 * rng.random()  # a detection, somewhere in the window
            spans.append((stamps[start], stamps[start + width - 1]))
        name = f"category{i % 7}/series{i}.csv"
        results[name] = (stamps, scores)
        windows[name] = spans
    return results, windows


@pytest.mark.benchmark(group="nab-threshold-search")
def test_exact_search(benchmark, corpus):
    results, windows = corpus
    out = benchmark(score_corpus, results, windows)
    record("nab-exact", benchmark)
    grid = [score_corpus(results, windows, thresholds=float(t)) for t in GRID[::4]]
    for profile in NAB_PROFILES:
        assert out[profile].raw >= max(g[profile].raw for g in grid) - 1e-9
        assert 0.0 <= out[profile].score <= 100.0


def _grid_search(results, windows):
    best = {}
    for t in GRID:
        for profile, scored in score_corpus(results, windows, thresholds=float(t)).items():
            if profile not in best or scored.raw > best[profile].raw:
                best[profile] = scored
    return best


@pytest.mark.benchmark(group="nab-threshold-search")
def test_grid_search_32(benchmark, corpus):
    results, windows = corpus
    best = benchmark.pedantic(_grid_search, args=corpus, rounds=3, iterations=1)
    record("nab-grid", benchmark)
    exact = score_corpus(results, windows)
    for profile in NAB_PROFILES:
        assert best[profile].raw <= exact[profile].raw + 1e-9


def test_budget_exact_search_beats_grid():
    assert ratio("nab-grid", "nab-exact") >= 5.0
