"""A pure-NumPy implementation of the storage word, the baseline of bench_storage.

Same algorithm as the core (SPEC §1.3/§1.4), vectorised with masks and
``numpy.longdouble`` (x87 80-bit on x86-64 Linux) for the scaling.
"""

from __future__ import annotations

import numpy as np

ANOMALY_BIT = 0x01000000
RESET_FLAG = 0x02000000
FACTOR_100 = 0x04000000
MANTISSA_MAX = 0x00FFFFFF
SCALE_UP_LIMIT = 0x0019999E


def pack(values: np.ndarray, anomalous: np.ndarray, reset: np.ndarray) -> np.ndarray:
    """Pack float64 values with per-value flags; NaN gives the empty slot 0."""
    r = np.where(anomalous, 0, ANOMALY_BIT).astype(np.int64) | np.where(reset, RESET_FLAG, 0)
    nan = np.isnan(values)
    zero = values == 0
    n = np.abs(values.astype(np.longdouble))
    r += np.where(values < 0, 0x80000000, 0)
    with np.errstate(invalid="ignore", over="ignore"):
        factor_100 = n / np.longdouble(1e7) > MANTISSA_MAX
        r |= np.where(factor_100, FACTOR_100, 0)
        factor = np.where(factor_100, np.longdouble(100), np.longdouble(10))
        m = np.zeros(values.shape, dtype=np.int64)
        for _ in range(7):
            down = n > MANTISSA_MAX
            n = np.where(down, n / factor, n)
            m += down
        multiply = m > 0
        saturated = multiply & (n > MANTISSA_MAX)
        r += np.where(multiply, 0x40000000 + (m << 27), 0)
        r += np.where(saturated, MANTISSA_MAX, 0)
        for _ in range(7):
            up = ~multiply & (m < 7) & (n < SCALE_UP_LIMIT)
            n = np.where(up, n * 10, n)
            m += up
        undo = ~multiply & (n > MANTISSA_MAX)
        n = np.where(undo, n / 10, n)
        m -= undo
        r += np.where(multiply | zero | nan, 0, m << 27)
        mantissa = np.rint(n.astype(np.float64))
        r += np.where(saturated | zero | nan, 0, mantissa).astype(np.int64)
    r = np.where(zero & (r == 0), FACTOR_100, r)
    r = np.where(nan, 0, r)
    return r.astype(np.uint32)


def unpack(words: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unpack words into (values, anomalous, exists); the empty word gives (nan, False, False)."""
    w = words.astype(np.int64)
    exists = w != 0
    m = (w >> 27) & 7
    multiply = (w & 0x40000000) != 0
    factor = np.where((w & FACTOR_100) != 0, np.longdouble(100), np.longdouble(10))
    n = (w & MANTISSA_MAX).astype(np.longdouble)
    for i in range(7):
        step = m > i
        n = np.where(step & multiply, n * factor, np.where(step & ~multiply, n / 10, n))
    n = np.where((w & 0x80000000) != 0, -n, n)
    values = np.where(exists, n.astype(np.float64), np.nan)
    anomalous = exists & ((w & ANOMALY_BIT) == 0)
    return values, anomalous, exists
