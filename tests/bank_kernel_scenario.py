"""A deterministic workout of the dimension bank, for comparing its kernels (tests/test_bank_kernels.py).

Every (diff_n, smooth_n, lag_n) the bank has a kernel for, on a slot count that
is not a multiple of the kernel's lane width, through ticks with gaps, inf,
values beyond the storage word's range, resets and a slot removed and reused.
Run as a script, it writes every tick's words, bits and scores to an ``.npz``
file, with the CPU features NumPy saw (the bank reads the same CPUID to pick
its kernel).
"""

from __future__ import annotations

import sys

import numpy as np

from pyml import core

SLOTS = 13
TICKS = 24
HISTORY = 160


def params() -> list[tuple[int, int, int]]:
    return [(d, s, lag) for d in range(core.MAX_DIFF_N + 1) for s in range(0, core.MAX_SMOOTH_N + 1)
            for lag in range(core.MAX_LAG_N + 1)]


def run() -> dict[str, np.ndarray]:
    """``{"d{d}s{s}l{l}_{words|bits|scores}": array[TICKS, SLOTS]}`` for every parameter set."""
    out: dict[str, np.ndarray] = {}
    for d, s, lag in params():
        rng = np.random.default_rng(1000 * d + 100 * s + lag)
        bank = core.Bank(diff_n=d, smooth_n=s, lag_n=lag, threshold=0.97)
        slots = [bank.add_slot() for _ in range(SLOTS)]
        histories = np.cumsum(rng.normal(0.0, 1.0, (SLOTS, HISTORY)), axis=1)
        report = bank.train(slots, histories, min_samples=HISTORY // 2, threads=1)
        assert all(st == "trained" for st in report.status), report.messages
        values = histories[:, -1][None, :] + np.cumsum(rng.normal(0.0, 2.5, (TICKS, SLOTS)), axis=0)
        values[5, 2] = np.nan
        values[6, 3] = np.inf
        values[7, 4] = -3e21
        values[12:14, 7] = np.nan
        values[9, :] *= 40.0                     # one tick far off for every slot
        words = np.zeros((TICKS, SLOTS), np.uint32)
        bits = np.zeros((TICKS, SLOTS), bool)
        scores = np.zeros((TICKS, SLOTS), np.float64)
        for k in range(TICKS):
            if k == 15:
                bank.remove_slot(slots[6])
            if k == 17:
                assert bank.add_slot() == slots[6]
            reset = np.zeros(bank.size, bool)
            reset[k % SLOTS] = k % 3 == 0
            w, b, sc = bank.tick(values[k], reset=reset, want_bits=True, want_scores=True)
            words[k], bits[k], scores[k] = w, b, sc
        key = f"d{d}s{s}l{lag}"
        out[key + "_words"], out[key + "_bits"], out[key + "_scores"] = words, bits, scores
    return out


def cpu_has_avx2() -> bool:
    """Whether NumPy's CPU detection (CPUID, as the bank's) reports AVX2."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy < 2
        from numpy.core._multiarray_umath import __cpu_features__
    return bool(__cpu_features__.get("AVX2", False))


if __name__ == "__main__":
    results = run()
    results["avx2"] = np.array(cpu_has_avx2())
    np.savez(sys.argv[1], **results)
