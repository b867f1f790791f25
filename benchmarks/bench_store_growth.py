"""Sample store: adding 100,000 dimensions to a store that holds data, and disk use against the data held.

Growth: a store with files, Netdata's default history (14,401 ticks) and
1,000 dimensions that already wrote several blocks gets 100,000 more
dimensions the way ``Host`` adds them (``ensure_capacity`` doubling,
``clear_slot`` per dimension), then the first tick at the new width. Budget:
<= 1 s for the whole growth part, with the memory it allocates reported
(the former store doubled and copied its rings: 7.6 GB allocated and a
multi-second pause at this size).

Disk use: a store kept full for its whole retention uses at most 1.2 x the
bytes of the words it holds.

Run: ``pytest benchmarks/bench_store_growth.py -s`` (``PYML_BENCH_SCALE=small`` for a quick pass).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from conftest import SMALL, scaled

from pyml.engine.storage import SampleStore

ADDED = scaled(100_000, 5_000)
EXISTING = 1_000
HISTORY = 14_401


def _grow(store: SampleStore, first_slot: int, added: int, t: int) -> None:
    capacity = store.capacity
    for slot in range(first_slot, first_slot + added):
        if slot >= capacity:  # Host._ensure_slot_arrays: doubling
            capacity = max(slot + 1, 2 * capacity, 64)
            store.ensure_capacity(capacity)
        store.clear_slot(slot)
    store.append(t, np.ones(first_slot + added, dtype=np.uint32))


@pytest.mark.benchmark(group="store-growth")
def test_adding_100k_dimensions(benchmark, tmp_path):
    store = SampleStore(HISTORY, capacity=EXISTING, directory=tmp_path)
    words = np.arange(1, EXISTING + 1, dtype=np.uint32)
    for t in range(64 * 4):
        store.append(t, words)
    state = {"t": 64 * 4}

    def grow() -> float:
        tracemalloc.start()
        started, cpu = time.perf_counter(), time.process_time()
        _grow(store, EXISTING, ADDED, state["t"])
        elapsed = time.perf_counter() - started
        state["cpu"] = time.process_time() - cpu
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        state["peak"] = peak
        return elapsed

    elapsed = benchmark.pedantic(grow, rounds=1, iterations=1)
    _, got = store.read([0, EXISTING + ADDED - 1], 0, state["t"])
    assert got[0, 0] == 1 and got[1, -1] == 1 and not got[1, :-1].any()
    print(f"\nadding {ADDED} dimensions to a store of {EXISTING} with data: {elapsed:.3f} s "
          f"({state['cpu']:.3f} s of CPU), {state['peak'] / 2**20:.1f} MiB allocated at the peak")
    store.close()
    if not SMALL and not benchmark.disabled:
        assert elapsed <= 1.0


DIMS = scaled(10_000, 500)
DEPTH = scaled(3_600, 600)


@pytest.mark.benchmark(group="store-disk")
def test_disk_use_within_1_2x_of_the_data(benchmark, tmp_path):
    store = SampleStore(DEPTH, capacity=DIMS, directory=tmp_path)
    words = np.arange(1, DIMS + 1, dtype=np.uint32)

    def fill() -> None:
        for t in range(store.depth + 3 * store.block):  # the retention, full, plus some expiry
            store.append(t, words)
        store.flush()

    benchmark.pedantic(fill, rounds=1, iterations=1)
    held = store.readable_ticks * DIMS * 4
    disk = store.disk_bytes()
    print(f"\n{DIMS} dimensions x {store.readable_ticks} readable ticks: {held / 2**20:.1f} MiB of words, "
          f"{disk / 2**20:.1f} MiB on disk ({disk / held:.3f}x)")
    store.close()
    assert disk <= 1.2 * held
