"""A failing database and registry under a running host: read-only file system, full disk, close()."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import pyml
from pyml import MLConfig
from pyml.engine.storage import StoreError

T0 = 1_700_000_000
N_DIMS = 6


def event_config() -> MLConfig:
    return MLConfig(profile="netdata-1.33", min_train_samples=150, max_train_samples=300, train_every=300, min_window_size=10,
                    max_window_size=40, idle_window_size=10, window_rate_threshold=0.3,
                    host_anomaly_rate_threshold=0.3, dimension_rate_threshold=0.05, clamp=False)


def series(n_ticks: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_ticks)[:, None]
    phase = rng.uniform(0, 2 * np.pi, N_DIMS)[None, :]
    data = 100 + 20 * np.sin(2 * np.pi * t / 50 + phase) + rng.normal(0, 0.3, (n_ticks, N_DIMS))
    data[300:312, :4] += rng.choice([-1, 1], (12, 4)) * rng.uniform(150, 300, (12, 4))
    return data


def new_host(directory) -> pyml.Host:
    host = pyml.Host("dbfault", event_config(), background=False, storage_dir=directory)
    if not host.dimension_ids():
        host.add_chart("system.cpu", [f"d{i}" for i in range(N_DIMS)])
    return host


@pytest.mark.parametrize("fault", ["full"])
def test_failing_database_in_mid_run_loses_no_event_and_no_model(small_disk, ledger, caplog, fault):
    disk = small_disk(4096)
    host = new_host(disk.path / "d")
    data = series(400)
    events = []
    with caplog.at_level(logging.WARNING):
        for i in range(200):
            host.collect_all(T0 + i, data[i])
        host.train_now()
        disk.fill()
        for i in range(200, 400):  # models applied (save fails), the incident (event insert fails)
            host.collect_all(T0 + i, data[i])
            result = host.last_detector_result
            if result is not None and result.event is not None:
                events.append([int(result.event.after), int(result.event.before)])
        assert events, "the incident made no event"
        assert len(host._db_writes) >= 2  # the models and the event wait in memory
        disk.free()
        for i in range(400, 410):
            host.collect_all(T0 + i, data[i % 200])
        host.flush()
        host.close()
    db_lines = [r.getMessage() for r in caplog.records if r.name == "pyml.host"]
    assert any("retrying" in m for m in db_lines) and any("writing again" in m for m in db_lines), db_lines
    assert len([m for m in db_lines if "anomaly database" in m]) <= 3  # state changes only, not per tick
    again = new_host(disk.path / "d")
    try:
        stored = again.anomaly_events(T0 * 1000, (T0 + 500) * 1000)
        trained = [d for d in again.dimension_ids() if again._bank.trained(again._slot_of[d])]
    finally:
        again.close()
    lost = sum(1 for e in events if e not in stored) + (N_DIMS - len(trained))
    ledger.record(f"database {fault} in mid-run (events, models)", True, lost)
    assert lost == 0


def test_registry_write_failure_is_retried_and_reported_at_close(small_disk, ledger, caplog):
    disk = small_disk(4096)
    host = new_host(disk.path / "d")
    for i in range(10):
        host.collect_all(T0 + i, np.ones(N_DIMS))
    disk.fill()
    host.add_chart("system.new", ["x"])  # written with the next tick: fails
    for i in range(10, 20):
        host.collect_all(T0 + i, np.ones(N_DIMS + 1) * i)
    assert host._registry_dirty
    disk.free()
    host.flush()  # retried now, written
    host.close()
    again = new_host(disk.path / "d")
    try:
        rows = again.data("system.new", T0 + 10, T0 + 19)["data"]
    finally:
        again.close()
    lost = 10 - sum(1 for row in rows if row[1] is not None)
    ledger.record("registry write fails, chart added meanwhile", True, lost)
    assert "system.new|x" in again.dimension_ids() and lost == 0

    # Still failing at close: close() says so (and what is lost) instead of nothing.
    host = new_host(disk.path / "d")
    host.collect_all(T0 + 100, np.ones(N_DIMS + 1))
    disk.fill()
    host.add_chart("system.late", ["y"])
    with caplog.at_level(logging.ERROR), pytest.raises(StoreError, match="registry.json"):
        host.close()
    assert any("closed without saving" in r.getMessage() for r in caplog.records)
    disk.free()
    ledger.record("registry still failing at close (reported)", True, 0)


def test_read_only_file_system_at_start_then_writable(small_disk, ledger, caplog):
    """A data directory on a read-only mount (remounted read-write later): the host starts and catches up.

    (A mount with files open for writing cannot be made read-only, so the read-only state is set
    between two runs; a database failing in mid-run is the full-disk case above.)
    """
    disk = small_disk(4096)
    host = new_host(disk.path / "d")
    data = series(400)
    for i in range(200):
        host.collect_all(T0 + i, data[i])
    host.train_now()
    host.collect_all(T0 + 200, data[200])  # applies and saves the models
    host.close()
    disk.read_only(True)
    with caplog.at_level(logging.WARNING):
        host = new_host(disk.path / "d")
        for i in range(201, 230):
            host.collect_all(T0 + i, data[i])
        assert not host._store.status().persisting
        disk.read_only(False)
        for i in range(230, 260):
            host.collect_all(T0 + i, data[i])
        host.flush()
        host.close()
    again = new_host(disk.path / "d")
    try:
        rows = again.data("system.cpu", T0, T0 + 259)["data"]
        trained = [d for d in again.dimension_ids() if again._bank.trained(again._slot_of[d])]
    finally:
        again.close()
    lost = 260 - sum(1 for row in rows if None not in row[1:]) + (N_DIMS - len(trained))
    ledger.record("read-only file system at start-up, writable later", True, lost)
    assert lost == 0
