"""Shared benchmark settings: PYML_BENCH_SCALE=small shrinks every size for CI."""

from __future__ import annotations

import os

import numpy as np
import pytest

SMALL = os.environ.get("PYML_BENCH_SCALE", "full") == "small"


def scaled(full: int, small: int) -> int:
    """The size to use: ``full`` normally, ``small`` when PYML_BENCH_SCALE=small."""
    return small if SMALL else full


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20221114)
