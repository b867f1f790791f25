"""Ratios against baselines measured in the same run.

Benchmarks record their median under a key; a budget test at the end of a
file compares two medians. With ``--benchmark-disable`` there are no
timings, and budgets are not checked (CI runs the code paths only).
"""

from __future__ import annotations

from typing import Any

import pytest

_medians: dict[str, float] = {}


def record(key: str, benchmark: Any) -> None:
    """Remember the median time of a finished pytest-benchmark run."""
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(benchmark, "disabled", False) is False:
        _medians[key] = stats.stats.median


def median(key: str) -> float:
    """The recorded median in seconds; skips the budget check when timings are off."""
    if key not in _medians:
        pytest.skip(f"no timing recorded for {key} (benchmarks disabled or not run)")
    return _medians[key]


def ratio(baseline: str, candidate: str) -> float:
    """How many times faster ``candidate`` ran than ``baseline``."""
    return median(baseline) / median(candidate)
