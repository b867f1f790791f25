"""SampleStore: blocks, time index, gaps, growth, persistence (faults: tests/faults/)."""

from __future__ import annotations

import numpy as np
import pytest

from pyml.engine.storage import SampleStore, StoreError


def _words(k: int, n: int) -> np.ndarray:
    # A distinct non-zero word per (tick, slot).
    return (np.arange(n, dtype=np.uint32) + np.uint32(1000 * k + 1)).astype(np.uint32)


def _fill(store: SampleStore, ticks: range, n: int) -> None:
    for k in ticks:
        store.append(k * store.update_every, _words(k, n))


@pytest.mark.parametrize("block", [1, 4, 7])
def test_reads_back_every_tick_across_block_boundaries(block):
    store = SampleStore(20, update_every=2, capacity=3, block=block)
    _fill(store, range(100, 160), 3)
    times, words = store.read([0, 2], 0, 10**9)
    assert store.readable_ticks >= 20
    n = times.size
    assert n >= 20 and times[-1] == 159 * 2 and np.all(np.diff(times) == 2)
    ks = times // 2
    np.testing.assert_array_equal(words[0], np.array([1000 * k + 1 for k in ks], dtype=np.uint32))
    np.testing.assert_array_equal(words[1], np.array([1000 * k + 3 for k in ks], dtype=np.uint32))


def test_skipped_ticks_are_empty_and_stale_data_never_reappears():
    store = SampleStore(16, capacity=2, block=4)
    _fill(store, range(0, 40), 2)
    store.append(45, _words(45, 2))  # gap 40..44 inside and across blocks
    store.append(47, _words(47, 2))
    times, words = store.read([0, 1], 30, 47)
    got = dict(zip(times.tolist(), words[0].tolist()))
    for k in range(40, 45):
        assert got[k] == 0
    assert got[46] == 0 and got[45] == 1000 * 45 + 1 and got[47] == 1000 * 47 + 1
    # A gap longer than the ring clears everything older.
    store.append(500, _words(500, 2))
    times, words = store.read([0], 0, 500)
    assert words[0, -1] == 1000 * 500 + 1
    assert np.count_nonzero(words) == 1


def test_time_must_move_forward_and_a_rejected_append_stores_nothing():
    store = SampleStore(8, capacity=2, block=4)
    _fill(store, range(0, 6), 2)
    before = store.read([0, 1], 0, 100)
    for bad_t in (5, 3):
        with pytest.raises(ValueError, match="not after"):
            store.append(bad_t, _words(99, 2))
    after = store.read([0, 1], 0, 100)
    np.testing.assert_array_equal(before[1], after[1])


def test_shorter_rows_leave_empty_words_and_capacity_grows():
    store = SampleStore(8, capacity=2, block=4)
    store.append(0, _words(0, 2))
    store.ensure_capacity(5)
    assert store.capacity >= 5
    store.append(1, _words(1, 5))
    store.append(2, _words(2, 1))
    times, words = store.read(range(5), 0, 2)
    assert words[:, 0].tolist() == [1, 2, 0, 0, 0]
    assert words[:, 1].tolist() == [1001, 1002, 1003, 1004, 1005]
    assert words[:, 2].tolist() == [2001, 0, 0, 0, 0]


def test_clear_slot_and_bad_slots():
    store = SampleStore(8, capacity=3, block=2)
    _fill(store, range(10), 3)
    store.clear_slot(1)
    _, words = store.read([0, 1], 0, 100)
    assert np.all(words[1] == 0) and np.all(words[0] != 0)
    with pytest.raises(IndexError, match="slot 7"):
        store.read([7], 0, 10)
    with pytest.raises(IndexError, match="slot -1"):
        store.clear_slot(-1)


def test_latest_returns_the_newest_n_oldest_first():
    store = SampleStore(30, capacity=1, block=8)
    _fill(store, range(50), 1)
    times, words = store.latest([0], 10)
    assert times.tolist() == list(range(40, 50))
    assert words[0].tolist() == [1000 * k + 1 for k in range(40, 50)]


@pytest.mark.parametrize("directory", [False, True])
def test_reads_of_a_few_slots_equal_reads_of_many(tmp_path, directory):
    """One to four slots take a shorter path through the blocks; it must give the words of the general one.

    Covers blocks narrower than a slot (it arrived later), a gap of whole
    blocks, a cleared slot and ranges starting and ending inside blocks.
    """
    store = SampleStore(200, capacity=3, block=8, directory=tmp_path / "s" if directory else None)
    rng = np.random.default_rng(7)
    for k in range(0, 70):
        store.append(k, _words(k, 3))
    store.ensure_capacity(6)
    for k in range(70, 150):
        store.append(k, _words(k, 6))
    for k in range(175, 260):  # ticks 150..174: a gap across whole blocks
        store.append(k, _words(k, 6))
    store.clear_slot(4)
    every = list(range(6)) * 2  # more than four slots: the general path
    for _ in range(60):
        after = int(rng.integers(0, 260))
        before = int(rng.integers(after, 261))
        _, want = store.read(every, after, before)
        for size in (1, 2, 3, 4):
            slots = [int(s) for s in rng.integers(0, 6, size)]
            times, got = store.read(slots, after, before)
            np.testing.assert_array_equal(got, want[slots], err_msg=f"slots {slots}, ticks {after}..{before}")
        _, newest = store.latest([5], 40)
        assert newest[0].tolist() == [1000 * k + 6 for k in range(220, 260)]
    store.close()


def test_directory_store_survives_reopen(tmp_path):
    store = SampleStore(20, capacity=2, block=4, directory=tmp_path)
    _fill(store, range(0, 23), 2)
    store.ensure_capacity(3)
    store.append(23, _words(23, 3))
    expected = store.read([0, 1, 2], 0, 100)
    store.close()
    del store
    again = SampleStore(20, capacity=2, block=4, directory=tmp_path)
    assert again.capacity >= 3 and again.last_time == 23
    got = again.read([0, 1, 2], 0, 100)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    again.append(24, _words(24, 3))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "store.json" in names and any(n.startswith("seg-") for n in names)
    assert sum(n.startswith("staging-") for n in names) == 1  # the previous run's staging file is gone
    assert again.status().persisting and not again.damage


def test_growth_copies_nothing_and_old_blocks_keep_their_width(tmp_path):
    store = SampleStore(16, capacity=2, block=4, directory=tmp_path)
    _fill(store, range(0, 8), 2)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("seg-*")}
    store.ensure_capacity(5000)
    _fill(store, range(8, 16), 5000)
    for name, data in before.items():  # written blocks are never rewritten
        assert (tmp_path / name).read_bytes()[: len(data)] == data
    _, words = store.read([1, 4999], 0, 15)
    assert words[0].tolist() == [1000 * k + 2 for k in range(16)]
    assert words[1].tolist() == [0] * 8 + [1000 * k + 5000 for k in range(8, 16)]


def test_cleared_slot_stays_cleared_after_reopen(tmp_path):
    store = SampleStore(16, capacity=2, block=4, directory=tmp_path)
    _fill(store, range(0, 10), 2)
    store.clear_slot(1)
    store.commit_slots()
    store.append(10, _words(10, 2))
    store.close()
    again = SampleStore(16, capacity=2, block=4, directory=tmp_path)
    _, words = again.read([0, 1], 0, 10)
    assert np.all(words[0] != 0)
    assert words[1].tolist() == [0] * 10 + [1000 * 10 + 2]


def test_interrupted_block_write_is_recovered_from_the_staging_rows(tmp_path):
    store = SampleStore(16, capacity=1, block=4, directory=tmp_path)
    _fill(store, range(0, 8), 1)
    store.flush()
    # A kill in the middle of writing block 1: its record is cut short, the staging rows survive.
    store._close_block()
    store.close()
    segment = max(tmp_path.glob("seg-*"))
    data = segment.read_bytes()
    segment.write_bytes(data[: len(data) - 5])
    again = SampleStore(16, capacity=1, block=4, directory=tmp_path)
    again.append(8, _words(8, 1))
    _, words = again.read([0], 0, 8)
    assert words[0].tolist() == [1000 * k + 1 for k in range(9)]
    assert not again.damage  # an interrupted write is not damage


def test_disk_usage_is_close_to_the_data(tmp_path):
    store = SampleStore(3600, capacity=500, block=64, directory=tmp_path)
    words = np.arange(1, 501, dtype=np.uint32)
    for k in range(3 * 3600):
        store.append(k, words)
    store.flush()
    assert store.disk_bytes() <= 1.2 * store.readable_ticks * 500 * 4
    assert store.disk_bytes() <= 1.2 * store.data_bytes()


@pytest.mark.parametrize("bad", [{"min_depth": 0}, {"min_depth": 5, "update_every": 0}, {"min_depth": 5, "block": 0}])
def test_bad_parameters(bad):
    with pytest.raises(ValueError):
        SampleStore(**bad)
