"""Rollup tiers (pyml.engine.tiers): aggregation against a reference, slots, persistence, damage, full disks."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import pyml
from pyml import MLConfig, core
from pyml.engine.storage import SampleStore
from pyml.engine.tiers import TierError, Tiers, TierSpec, _record_size, store_reader, tier_bytes

T0 = 1_700_000_029  # one past a multiple of 36: the first tick starts a point of either tier
SPECS = (TierSpec(6, 1000), TierSpec(36, 1000))


def ticks(n: int, width: int, seed: int = 0, gaps: float = 0.1, anomalies: float = 0.2):
    """Random values (NaN gaps) and their storage words with random anomaly bits, one row per tick."""
    rng = np.random.default_rng(seed)
    values = rng.normal(50, 10, (n, width))
    values[rng.random((n, width)) < gaps] = np.nan
    words = core.pack(values, rng.random((n, width)) < anomalies)
    return values, words


def reference(times: np.ndarray, values: np.ndarray, words: np.ndarray, end: int, span: int, slot: int):
    """What the point ending at ``end`` must hold for ``slot``: from every sample in (end - span, end]."""
    inside = (times > end - span) & (times <= end)
    x = values[inside, slot]
    w = words[inside, slot]
    present = ~np.isnan(x)
    anomalous = (w != 0) & ((w & core.ANOMALY_BIT) == 0)
    return present.sum(), anomalous.sum(), np.nansum(x), (np.nanmin(x) if present.any() else np.nan), \
        (np.nanmax(x) if present.any() else np.nan)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Points equal field by field (empty points hold NaN min and max)."""
    return a.shape == b.shape and all(np.array_equal(a[f], b[f], equal_nan=True) for f in a.dtype.names)


def feed(tiers: Tiers, store: SampleStore | None, times, values, words) -> None:
    for t, v, w in zip(times, values, words):
        if store is not None:
            store.append(int(t), w)
        tiers.append(int(t), v, w)


def check_against_reference(tiers: Tiers, tier: int, times, values, words, slots, exact: bool = True) -> int:
    span = tiers.step(tier)
    ends, _, points = tiers.read(tier, slots, 0, 2**40, include_open=False)
    assert ends.size > 0
    for j, end in enumerate(ends.tolist()):
        for i, slot in enumerate(slots):
            count, anomalous, total, low, high = reference(times, values, words, end, span, slot)
            p = points[i, j]
            assert p["count"] == count and p["anomaly_count"] == anomalous, (tier, end, slot)
            if count:
                assert p["sum"] == pytest.approx(total, rel=1e-6)
                if exact:
                    assert p["min"] == np.float32(low) and p["max"] == np.float32(high)
                else:  # some points were made from tier 0's stored values, some from the collected ones
                    assert p["min"] == pytest.approx(low, rel=1e-6) and p["max"] == pytest.approx(high, rel=1e-6)
            else:
                assert np.isnan(p["min"]) and np.isnan(p["max"]) and p["sum"] == 0
    return ends.size


@pytest.mark.parametrize("update_every", [1, 2])
def test_points_hold_exactly_the_samples_of_their_interval(update_every):
    times = T0 + update_every * np.arange(400)
    values, words = ticks(400, 5)
    tiers = Tiers(update_every, SPECS, capacity=5)
    feed(tiers, None, times, values, words)
    times = times // update_every * update_every  # timestamps are floored to the grid
    assert check_against_reference(tiers, 1, times, values, words, [0, 1, 2, 3, 4]) >= 60
    assert check_against_reference(tiers, 2, times, values, words, [0, 3]) >= 10
    # a point ends on its interval's grid: (end - step, end]
    ends, _, _ = tiers.read(1, [0], 0, 2**40)
    assert np.all(ends % (6 * update_every) == 0)


def numpy_tier_point(values, words, point):
    """The open point's update as numpy passes: what the compiled pass must equal."""
    exists = ~np.isnan(values)
    with np.errstate(invalid="ignore", over="ignore"):
        np.add(point["sum"], values, out=point["sum"], where=exists)
    np.fmin(point["min"], values, out=point["min"])
    np.fmax(point["max"], values, out=point["max"])
    np.add(point["count"], exists, out=point["count"], casting="unsafe")
    point["normal"] += (words & core.ANOMALY_BIT) >> np.uint32(24)


def test_the_compiled_point_pass_equals_numpys_passes():
    rng = np.random.default_rng(7)
    n = 1_000
    pick = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.7e308, -1.7e308, 5e-324]
    compiled = {"sum": np.zeros(n), "min": np.full(n, np.nan), "max": np.full(n, np.nan),
                "count": np.zeros(n, np.uint16), "normal": np.zeros(n, np.uint32)}
    expected = {name: array.copy() for name, array in compiled.items()}
    compiled["count"][:5] = expected["count"][:5] = 65_530                 # wraps as numpy's unsafe cast does
    for _ in range(200):
        values = rng.normal(0, 1e3, n)
        special = rng.random(n) < 0.2
        values[special] = rng.choice(pick, int(special.sum()))
        words = core.pack(values, rng.random(n) < 0.3)
        numpy_tier_point(values, words, expected)
        pyml._core.accumulate_tier_point(values, words, compiled["sum"], compiled["min"], compiled["max"],
                                         compiled["count"], compiled["normal"])
        for name in compiled:
            np.testing.assert_array_equal(compiled[name], expected[name], err_msg=name)
    assert np.isnan(compiled["sum"]).any() and (compiled["count"][:5] < 65_530).all()
    args = [compiled[name] for name in ("sum", "min", "max", "count", "normal")]
    with pytest.raises(ValueError, match="sum has 1000 elements; values has 3"):
        pyml._core.accumulate_tier_point(np.zeros(3), np.zeros(3, np.uint32), *args)
    with pytest.raises(TypeError):                                          # float32 values: never converted
        pyml._core.accumulate_tier_point(np.zeros(n, np.float32), np.zeros(n, np.uint32), *args)
    with pytest.raises(TypeError):                                          # a strided view: not written to a copy
        pyml._core.accumulate_tier_point(np.zeros(n), np.zeros(n, np.uint32), np.zeros(2 * n)[::2], *args[1:])
    frozen = compiled["max"].copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="not writeable"):
        pyml._core.accumulate_tier_point(np.zeros(n), np.zeros(n, np.uint32), args[0], args[1], frozen, *args[3:])


def test_open_point_is_readable_and_partial():
    tiers = Tiers(1, SPECS, capacity=2)
    values, words = ticks(9, 2, gaps=0.0)
    feed(tiers, None, T0 + np.arange(9), values, words)    # T0 .. T0+8: the point ending T0+5 closed
    ends, _, points = tiers.read(1, [0, 1], T0 + 7, T0 + 12)
    assert ends.tolist() == [T0 + 11] and points["count"][:, 0].tolist() == [3, 3]
    assert tiers.read(1, [0], T0 + 7, T0 + 12, include_open=False)[0].size == 0
    assert tiers.last_point(1) == T0 + 5


@pytest.mark.parametrize("n", [36, 36 + 6, 36 + 9, 72])
def test_an_open_point_holds_the_ticks_of_the_open_points_below(n):
    """Tier 2's open point is fed when a tier-1 point closes (at the next tick): until then it reads them too.

    With ``n`` = 36 or 72 the newest tick ends points of both tiers, none of
    them closed yet; the tier-2 point read then lacked the open tier-1 point.
    """
    times = T0 + np.arange(n)
    values, words = ticks(n, 3, seed=n)
    tiers = Tiers(1, SPECS, capacity=3)
    feed(tiers, None, times, values, words)
    for tier in (1, 2):
        span = tiers.step(tier)
        ends, _, points = tiers.read(tier, [0, 1, 2], 0, int(times[-1]) + span)
        assert ends[-1] >= times[-1]
        for j, end in enumerate(ends.tolist()):
            for slot in range(3):
                count, anomalous, total, low, high = reference(times, values, words, end, span, slot)
                p = points[slot, j]
                assert (p["count"], p["anomaly_count"]) == (count, anomalous), (tier, end - T0, slot)
                assert p["sum"] == pytest.approx(total, rel=1e-6)
                assert p["min"] == np.float32(low) and p["max"] == np.float32(high)
    # what the open point reads is what it holds once its tier-1 points are closed by a later tick
    ends, _, before = tiers.read(2, [0, 1, 2], 0, 2**40)
    tiers.append(int(times[-1]) + 36, np.full(3, 1.0), core.pack(np.full(3, 1.0), np.zeros(3, dtype=bool)))
    again, _, after = tiers.read(2, [0, 1, 2], 0, int(ends[-1]))
    assert again.tolist() == ends.tolist() and same(after, before)


def test_gaps_make_no_points_and_skipped_intervals_are_empty():
    tiers = Tiers(1, SPECS, capacity=3)
    values, words = ticks(3, 3, gaps=0.0)
    for i, t in enumerate([T0 + 1, T0 + 2, T0 + 100]):  # a jump over many intervals
        tiers.append(t, values[i], words[i])
    ends, _, points = tiers.read(1, [0, 1, 2], T0, T0 + 200)
    assert ends.tolist() == [T0 + 5, T0 + 101]
    assert points["count"][:, 0].tolist() == [2, 2, 2]
    nan = np.full(3, np.nan)
    tiers.append(T0 + 103, nan, np.zeros(3, dtype=np.uint32))  # every value missing: no sample
    tiers.append(T0 + 110, values[0], words[0])
    ends, _, points = tiers.read(1, [0], T0 + 103, T0 + 107)
    assert ends.tolist() == [T0 + 107] and points["count"][0, 0] == 0 and np.isnan(points["min"][0, 0])


def test_values_beyond_the_storage_word_saturate_as_tier_0_stores_them():
    store = SampleStore(100, 1, capacity=2)
    tiers = Tiers(1, SPECS, capacity=2, reader=store_reader(store))
    rows = np.array([[np.inf, 1.0], [1e30, 2.0], [-np.inf, 3.0], [5.0, 4.0], [6.0, 5.0], [7.0, 6.0], [1.0, 1.0]])
    for i, v in enumerate(rows):
        w = core.pack(v)
        store.append(T0 + i, w)
        tiers.append(T0 + i, v, w)
    _, _, points = tiers.read(1, [0, 1], T0 + 5, T0 + 5)
    stored = core.unpack(core.pack(rows[:6, 0]))[0]
    p = points[0, 0]
    assert p["count"] == 6 and p["max"] == np.float32(stored.max()) and p["min"] == np.float32(stored.min())
    assert p["sum"] == np.float32(stored.sum())
    assert points[1, 0]["sum"] == 21.0


def test_a_reused_slot_forgets_the_previous_dimension():
    tiers = Tiers(1, SPECS, capacity=2)
    values, words = ticks(50, 2, gaps=0.0)
    feed(tiers, None, T0 + np.arange(50), values, words)
    tiers.clear_slot(1)
    _, _, points = tiers.read(1, [0, 1], 0, 2**40)
    assert points["count"][0].sum() == 50 and points["count"][1].sum() == 0
    feed(tiers, None, T0 + 50 + np.arange(12), values[:12], words[:12])
    _, _, points = tiers.read(1, [1], 0, 2**40)
    assert points["count"].sum() == 12  # only what came after the reuse


def test_capacity_grows_without_touching_older_points(tmp_path):
    tiers = Tiers(1, SPECS, capacity=2, directory=tmp_path / "t", segment_points=[4, 4])
    values, words = ticks(40, 2, gaps=0.0)
    feed(tiers, None, T0 + np.arange(40), values, words)
    tiers.ensure_capacity(5)
    wide_v, wide_w = ticks(40, 5, seed=3, gaps=0.0)
    feed(tiers, None, T0 + 40 + np.arange(40), wide_v, wide_w)
    _, _, points = tiers.read(1, [0, 4], 0, 2**40, include_open=False)
    counts = points["count"]
    assert counts[0].sum() == 78 and counts[1].sum() == 38  # slot 4 exists from tick 40 on
    tiers.close()
    again = Tiers(1, SPECS, capacity=5, directory=tmp_path / "t", segment_points=[4, 4])
    assert same(again.read(1, [0, 4], 0, 2**40, include_open=False)[2], points)
    again.close()


def test_reopening_gives_the_same_points_and_rebuilds_the_open_one(tmp_path):
    times = T0 + np.arange(300)
    values, words = ticks(300, 4)
    store = SampleStore(200, 1, capacity=4, directory=tmp_path / "s")
    tiers = Tiers(1, SPECS, capacity=4, directory=tmp_path / "t", reader=store_reader(store))
    feed(tiers, store, times[:250], values[:250], words[:250])
    before = [tiers.read(t, range(4), 0, 2**40) for t in (1, 2)]
    tiers.close()    # no flush of the open points: they are rebuilt from the level below
    tiers = Tiers(1, SPECS, capacity=4, directory=tmp_path / "t", reader=store_reader(store))
    after = [tiers.read(t, range(4), 0, 2**40) for t in (1, 2)]
    for (e0, _, p0), (e1, _, p1) in zip(before, after):
        assert e0.tolist() == e1.tolist()
        assert same(p0[:, :-1], p1[:, :-1])   # closed points: the same
        for field in ("count", "anomaly_count"):         # the open one, rebuilt from tier 0's stored values
            assert np.array_equal(p0[field], p1[field]), field
        for field in ("sum", "min", "max"):
            assert np.allclose(p0[field], p1[field], rtol=1e-6, equal_nan=True), field
    feed(tiers, store, times[250:], values[250:], words[250:])
    assert check_against_reference(tiers, 1, times, values, words, [0, 1, 2, 3], exact=False) >= 49
    assert check_against_reference(tiers, 2, times, values, words, [0, 2], exact=False) >= 8
    tiers.close()


def test_missing_points_are_made_from_the_level_below_at_opening(tmp_path):
    """As after a process was killed between the store's write and the tiers': nothing is lost."""
    times = T0 + np.arange(200)
    values, words = ticks(200, 3)
    store = SampleStore(300, 1, capacity=3, directory=tmp_path / "s")
    tiers = Tiers(1, SPECS, capacity=3, directory=tmp_path / "t", reader=store_reader(store))
    feed(tiers, store, times[:100], values[:100], words[:100])
    for t, w in zip(times[100:], words[100:]):  # the store goes on alone
        store.append(int(t), w)
    tiers.close()
    tiers = Tiers(1, SPECS, capacity=3, directory=tmp_path / "t", reader=store_reader(store))
    # recovered points aggregate tier 0's stored values: counts exact, sums within the word's rounding
    stored = np.where(words != 0, core.unpack(words)[0], np.nan)
    assert check_against_reference(tiers, 1, times, stored, words, [0, 1, 2], exact=False) == 33
    assert check_against_reference(tiers, 2, times, stored, words, [0, 1, 2], exact=False) >= 5


def test_a_store_without_tiers_is_backfilled(tmp_path):
    host = pyml.Host("bf", MLConfig(profile="netdata-1.33", enabled=False), storage_dir=tmp_path, background=False, tiers=(),
                     history=500)
    host.add_chart("system.cpu", ["a", "b"])
    data = np.random.default_rng(1).normal(10, 1, (300, 2))
    for i in range(300):
        host.collect_all(T0 + i, data[i])
    host.close()
    host = pyml.Host("bf", MLConfig(profile="netdata-1.33", enabled=False), storage_dir=tmp_path, background=False, tiers=SPECS,
                     history=500)
    host.add_chart("system.cpu", ["a", "b"])
    ends, points = host.read_tier(["system.cpu|a"], 1, 0, 2**40)
    assert points["count"].sum() == 300 and ends[0] == T0 + 5 and ends[-1] == T0 + 299
    host.close()


def test_a_torn_last_record_is_reported_quarantined_and_made_again(tmp_path, caplog):
    times = T0 + np.arange(100)
    values, words = ticks(100, 300)   # two checksummed chunks per record
    store = SampleStore(200, 1, capacity=300, directory=tmp_path / "s")
    tiers = Tiers(1, SPECS, capacity=300, directory=tmp_path / "t", reader=store_reader(store))
    feed(tiers, store, times, values, words)
    good = tiers.read(1, range(300), 0, 2**40, include_open=False)
    tiers.close()
    segment = next((tmp_path / "t" / "tier-1").glob("seg-*.tpt"))
    size = segment.stat().st_size
    with open(segment, "r+b") as f:
        f.truncate(size - 1000)        # the process stopped in the middle of the last write
    tiers = Tiers(1, SPECS, capacity=300, directory=tmp_path / "t", reader=store_reader(store))
    again = tiers.read(1, range(300), 0, 2**40, include_open=False)
    assert any("cut short" in d for d in tiers.damage)
    assert list((tmp_path / "t" / "tier-1" / "quarantine").iterdir())
    assert again[0].tolist() == good[0].tolist()          # the point was made again from tier 0
    assert np.array_equal(again[2]["count"], good[2]["count"])
    tiers.close()


def test_a_damaged_chunk_reads_empty_and_is_reported_the_rest_stays(tmp_path):
    times = T0 + np.arange(60)
    values, words = ticks(60, 300, gaps=0.0)
    tiers = Tiers(1, SPECS, capacity=300, directory=tmp_path / "t")
    feed(tiers, None, times, values, words)
    tiers.close()
    segment = next((tmp_path / "t" / "tier-1").glob("seg-*.tpt"))
    data = bytearray(segment.read_bytes())
    # the third record's first point: file header 64, records of equal size
    record = _record_size(300)
    offset = 64 + 2 * record + (record - 300 * 16) + 5
    data[offset] ^= 0xFF
    segment.write_bytes(bytes(data))
    tiers = Tiers(1, SPECS, capacity=300, directory=tmp_path / "t")
    ends, _, points = tiers.read(1, [0, 255, 256, 299], 0, 2**40, include_open=False)
    assert points["count"][:2, 2].tolist() == [0, 0]            # chunk 0 of that record: empty
    assert points["count"][2:, 2].tolist() == [6, 6]            # chunk 1 of it: fine
    assert (points["count"][:, [0, 1, 3]] == 6).all()           # other records: fine
    assert any("checksum" in d and str(segment) in d for d in tiers.damage)
    tiers.close()


def test_retention_drops_whole_old_segments_and_reads_only_kept_points(tmp_path):
    specs = (TierSpec(6, 10), TierSpec(36, 1000))
    tiers = Tiers(1, specs, capacity=2, directory=tmp_path / "t", segment_points=[4, 100])
    values, words = ticks(300, 2, gaps=0.0)
    feed(tiers, None, T0 + np.arange(300), values, words)
    ends, _, _ = tiers.read(1, [0], 0, 2**40, include_open=False)
    assert ends.size == 10 and ends[-1] == tiers.last_point(1)
    assert len(list((tmp_path / "t" / "tier-1").glob("seg-*.tpt"))) <= 4
    assert tiers.first_point(1) == ends[0]
    tiers.close()


def test_a_full_disk_keeps_points_in_memory_and_writes_them_later(tmp_path, monkeypatch, caplog):
    tiers = Tiers(1, SPECS, capacity=2, directory=tmp_path / "t")
    values, words = ticks(200, 2, gaps=0.0)
    feed(tiers, None, T0 + np.arange(50), values[:50], words[:50])
    real = os.posix_fallocate

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    feed(tiers, None, T0 + 50 + np.arange(100), values[50:150], words[50:150])
    assert "cannot be written" in caplog.text
    ends, _, points = tiers.read(1, [0, 1], 0, 2**40, include_open=False)
    assert points["count"].sum() == 2 * 144        # served from memory meanwhile
    monkeypatch.setattr(os, "posix_fallocate", real)
    tiers.flush()
    tiers.close()
    again = Tiers(1, SPECS, capacity=2, directory=tmp_path / "t")
    assert same(again.read(1, [0, 1], 0, 2**40, include_open=False)[2], points)
    again.close()


def test_tier_settings_and_foreign_directories_are_refused(tmp_path):
    Tiers(1, SPECS, directory=tmp_path / "t").close()
    with pytest.raises(TierError, match="groupings"):
        Tiers(1, (TierSpec(10, 100),), directory=tmp_path / "t")
    with pytest.raises(TierError, match="update_every"):
        Tiers(2, SPECS, directory=tmp_path / "t")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "data.bin").write_bytes(b"x")
    with pytest.raises(TierError, match="data.bin"):
        Tiers(1, SPECS, directory=tmp_path / "other")
    with pytest.raises(ValueError, match="multiple"):
        Tiers(1, (TierSpec(6, 10), TierSpec(10, 10)))
    with pytest.raises(ValueError, match="grouping"):
        TierSpec(0, 10)
    with pytest.raises(ValueError, match="65535"):
        TierSpec(70000, 10)
    with pytest.raises(ValueError, match="tiers are 0..2"):
        Tiers(1, SPECS).step(3)


def test_disk_budget_of_the_default_tiers_for_ten_thousand_dimensions():
    budget = tier_bytes(pyml.engine.tiers.DEFAULT_TIERS, 10_000)
    # 14 days per minute + 366 days per hour, 16 bytes per point plus record headers
    points = 14 * 24 * 60 + 366 * 24
    assert points * 10_000 * 16 <= budget <= points * 10_000 * 16 * 1.01
    assert budget < 4.8e9


def test_the_host_feeds_every_slot_its_own_charts_included():
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=60, max_train_samples=120, train_every=60, clamp=False)
    host = pyml.Host("h", cfg, background=False, tiers=SPECS)
    host.add_chart("system.cpu", ["a", "b"])
    data = np.random.default_rng(4).normal(5, 1, (130, 2))
    for i in range(130):
        host.collect_all(T0 + i, data[i])
    ends, points = host.read_tier(["system.cpu|a", "anomaly_detection.dimensions|total"], 1, 0, T0 + 125)
    assert points["count"][0].sum() == 126
    assert (points["max"][1][points["count"][1] > 0] == 2.0).all()   # two dimensions, every tick
    info = host.tier_info()
    assert [i["tier"] for i in info] == [0, 1, 2] and [i["update_every"] for i in info] == [1, 6, 36]
    assert info[1]["first_time"] == T0 and info[1]["last_point"] == T0 + 125
    with pytest.raises(KeyError, match="nope"):
        host.read_tier(["system.cpu|nope"], 1, 0, 1)
    with pytest.raises(ValueError, match="tiers are 0..2"):
        host.read_tier(["system.cpu|a"], 3, 0, 1)
    host.close()


def test_a_removed_and_readded_dimension_starts_empty_after_a_restart(tmp_path):
    host = pyml.Host("r", MLConfig(profile="netdata-1.33", enabled=False), storage_dir=tmp_path, background=False, tiers=SPECS)
    host.add_chart("c", ["a", "b"])
    for i in range(100):
        host.collect_all(T0 + i, [1.0, 2.0])
    host.remove_dimension("c", "b")
    host.add_dimension("c", "x")           # takes b's slot
    for i in range(100, 110):
        host.collect_all(T0 + i, [1.0, 3.0])
    host.close()
    host = pyml.Host("r", MLConfig(profile="netdata-1.33", enabled=False), storage_dir=tmp_path, background=False, tiers=SPECS)
    host.add_chart("c", ["a", "x"])
    _, minutes = host.read_tier(["c|x"], 1, 0, 2**40)
    _, hours = host.read_tier(["c|x"], 2, 0, 2**40)
    assert minutes["count"].sum() == 10          # only x's own samples: nothing of b's
    assert hours["count"].sum() == minutes["count"].sum()   # the open minute's samples are in an hour too
    for points in (minutes, hours):
        present = points["count"] > 0
        assert (points["max"][present] == 3.0).all() and (points["min"][present] == 3.0).all()
    host.close()


WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    import pyml
    from pyml.engine.tiers import TierSpec
    directory, start = sys.argv[1], int(sys.argv[2])
    host = pyml.Host("crashy", pyml.MLConfig(profile="netdata-1.33", enabled=False), storage_dir=directory, background=False,
                     tiers=(TierSpec(6, 10000), TierSpec(36, 10000)), history=3000)
    host.add_chart("c", ["a", "b", "c"])
    t = start
    while True:
        host.collect_all(t, [float(t % 7), float(t % 11), float(t % 13)])
        print("tick", t, flush=True)
        t += 1
""")


def test_sigkill_at_random_moments_loses_no_sample_from_the_tiers(tmp_path):
    rng = np.random.default_rng(7)
    start = T0
    for round_ in range(3):
        env = dict(os.environ, PYTHONPATH=str(Path(pyml.__file__).parent.parent))
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(start)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        time.sleep(float(rng.uniform(0.3, 1.5)))
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        # only whole lines: the writer may be killed in the middle of printing one
        done = [int(line.split()[1]) for line in (first + out).split("\n")[:-1] if line.startswith("tick ")]
        assert done, f"the writer printed no tick (round {round_}): {err[-2000:]}"
        start = done[-1] + 2
        host = pyml.Host("crashy", MLConfig(profile="netdata-1.33", enabled=False), storage_dir=tmp_path, background=False,
                         tiers=(TierSpec(6, 10000), TierSpec(36, 10000)), history=3000)
        last = host.last_time
        assert last is not None and last >= done[-1]
        ids = ["c|a", "c|b", "c|c"]
        times, words = host.read_words(ids, T0, last)
        for tier, step in ((1, 6), (2, 36)):
            ends, points = host.read_tier(ids, tier, T0, last)
            for j, end in enumerate(ends.tolist()):
                inside = (times > end - step) & (times <= end)
                expected = np.count_nonzero(words[:, inside], axis=1)
                assert points["count"][:, j].tolist() == expected.tolist(), (round_, tier, end)
                stored = core.unpack(words[0, inside])[0]
                assert points["sum"][0, j] == pytest.approx(stored[words[0, inside] != 0].sum(), rel=1e-6)
        host.close()
