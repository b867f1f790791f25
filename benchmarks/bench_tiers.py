"""Rollup tiers: what feeding them costs per tick, and the disk they take at full retention.

- ``Tiers.append`` alone at D = 100,000, a minute of ticks per round (so each
  round includes one per-minute point being closed, written and fed to the
  per-hour tier), in ns per dimension and tick;
- ``Host.collect_all`` with the default tiers against the same host without
  tiers, in the same run: the tick budget is ~50 ns per dimension for
  everything, and tiers must not slow it noticeably;
- the disk the default tiers take for 10,000 dimensions at full retention
  (14 days per minute, 366 days per hour), measured from the files written
  (``st_blocks``) against :func:`pyml.engine.tiers.tier_bytes`.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from budget import median, record
from conftest import scaled

import pyml
from pyml import core
from pyml.engine.tiers import DEFAULT_TIERS, POINT, Tiers, tier_bytes

T0 = 1_700_000_041   # the first tick of a minute's point
D = scaled(100_000, 2_000)
MINUTE = 60


def _ticks(n_dims: int, n: int = MINUTE) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.normal(0, 1, (n, n_dims)), axis=0) + 1000.0
    values[rng.random((n, n_dims)) < 0.01] = np.nan
    words = core.pack(values, rng.random((n, n_dims)) < 0.01)
    return values, words


@pytest.mark.benchmark(group="tiers-feed")
def test_tiers_append_a_minute(benchmark):
    values, words = _ticks(D)
    tiers = Tiers(1, DEFAULT_TIERS, capacity=D)
    clock = {"t": T0}

    def one_minute() -> None:
        t = clock["t"]
        for i in range(MINUTE):
            tiers.append(t + i, values[i], words[i])
        clock["t"] = t + MINUTE

    benchmark.pedantic(one_minute, rounds=scaled(20, 2), iterations=1, warmup_rounds=1)
    ends, _, points = tiers.read(1, [0, D - 1], 0, 2**40)   # the newest point holds the last minute
    assert ends.size >= 1 and (points["count"][:, -1] <= MINUTE).all() and points["count"][:, -1].min() > 40
    record("tiers-append-minute", benchmark)
    if benchmark.stats is not None and not getattr(benchmark, "disabled", False):
        ns = benchmark.stats.stats.median / MINUTE / D * 1e9
        print(f"\nTiers.append at D={D}: {ns:.2f} ns per dimension and tick (a point closed per minute included)")


def _host(n_dims: int, tiers) -> pyml.Host:
    host = pyml.Host("bench", pyml.MLConfig(profile="netdata-1.33"), background=False, tiers=tiers)
    per_chart = 100
    for c in range(max(n_dims // per_chart, 1)):
        host.add_chart(f"system.c{c}", [f"d{i}" for i in range(per_chart)])
    rng = np.random.default_rng(3)
    model = core.train(np.cumsum(rng.normal(0, 1, 3600)) + 1000.0)
    for dim_id in host.dimension_ids():
        host._bank.set_model(host._slot_of[dim_id], model)
    return host


@pytest.mark.parametrize("tiers", ["none", "default"])
@pytest.mark.benchmark(group="tiers-host-tick")
def test_collect_all_with_and_without_tiers(benchmark, tiers):
    host = _host(D, () if tiers == "none" else DEFAULT_TIERS)
    values, _ = _ticks(len(host.dimension_ids()), MINUTE)
    for i in range(16):
        host.collect_all(T0 - 16 + i, values[i])
    clock = {"t": T0}

    def one_minute() -> None:
        t = clock["t"]
        for i in range(MINUTE):
            host.collect_all(t + i, values[i])
        clock["t"] = t + MINUTE

    benchmark.pedantic(one_minute, rounds=scaled(10, 1), iterations=1, warmup_rounds=1)
    assert host.last_time == clock["t"] - 1
    if tiers == "default":
        ends, points = host.read_tier(host.dimension_ids()[:1], 1, 0, 2**40)
        assert ends.size >= 2 and points["count"].sum() > 0
    record(f"host-minute-{tiers}", benchmark)
    if benchmark.stats is not None and not getattr(benchmark, "disabled", False):
        ns = benchmark.stats.stats.median / MINUTE / len(host.dimension_ids()) * 1e9
        print(f"\ncollect_all at D={len(host.dimension_ids())} with tiers={tiers}: {ns:.1f} ns per dimension")
    host.close()


def test_tiers_do_not_slow_the_tick_noticeably():
    without = median("host-minute-none") / MINUTE / D
    with_tiers = median("host-minute-default") / MINUTE / D
    alone = median("tiers-append-minute") / MINUTE / D
    print(f"\nper tick and dimension: {without * 1e9:.1f} ns without tiers, {with_tiers * 1e9:.1f} ns with "
          f"(+{(with_tiers - without) * 1e9:.1f} ns); Tiers.append alone {alone * 1e9:.2f} ns")
    # ratios in the same run (absolute figures move with the machine's load): feeding the tiers costs
    # at most a fifth of the host's tick without them, and slows the whole tick by at most a quarter
    assert alone <= 0.2 * without
    assert with_tiers <= without * 1.25


@pytest.mark.parametrize("n_dims", [scaled(10_000, 100)])
def test_disk_use_at_full_retention(tmp_path, n_dims):
    """Write every point the default tiers keep, then measure the files (not the formula)."""
    directory = tmp_path / "tiers"
    tiers = Tiers(1, DEFAULT_TIERS, capacity=n_dims, directory=directory)
    row = np.zeros(n_dims, dtype=POINT)
    row["sum"], row["min"], row["max"], row["count"] = 60.0, 1.0, 1.0, 60
    try:
        for i, spec in enumerate(DEFAULT_TIERS):
            log = tiers._logs[i]
            # one point past the retention, so the oldest segment is dropped as it would be
            for p in range(1, spec.points + log.segment_points + 1):
                log.append(p, p * spec.grouping, row)
        tiers.flush()
        measured = tiers.disk_bytes()
        stated = tier_bytes(DEFAULT_TIERS, n_dims)
        kept = [tiers.read(t, [0], 0, 2**62, include_open=False)[0].size for t in (1, 2)]
        print(f"\ntiers at full retention for {n_dims} dimensions: {measured / 1e9:.3f} GB on disk "
              f"(stated {stated / 1e9:.3f} GB; points kept per dimension {kept})")
        assert kept == [spec.points for spec in DEFAULT_TIERS]
        # at most one segment of each tier beyond the retention waits to be dropped
        slack = sum(log.segment_points * (log.segments[0].record_size) for log in tiers._logs)
        assert stated * 0.99 <= measured <= stated + slack + 1e6
        if n_dims >= 10_000:
            assert measured <= 5.0e9
    finally:
        tiers.close()
        shutil.rmtree(directory, ignore_errors=True)
