"""pyml.Host end to end: registry, ticks, store, training, detection and queries."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pyml
from pyml import MLConfig

T0 = 1_700_000_000


def small_config(**overrides) -> MLConfig:
    """A lab-sized configuration so tests train in seconds (clamps off)."""
    values = dict(min_train_samples=120, max_train_samples=240, train_every=120, clamp=False)
    values.update(overrides)
    return MLConfig(profile="netdata-1.33", **values)


def waves(n_ticks: int, n_dims: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_ticks)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n_dims)[None, :]
    return 50 + 10 * np.sin(2 * np.pi * t / 60 + phase) + rng.normal(0, 0.5, (n_ticks, n_dims))


def make_host(n_dims: int = 4, **kwargs) -> pyml.Host:
    host = pyml.Host("test-host", kwargs.pop("config", small_config()), background=False, **kwargs)
    host.add_chart("system.cpu", [f"d{i}" for i in range(n_dims)])
    return host


def test_dimension_ids_follow_add_order_and_compact_on_removal():
    host = make_host(3)
    host.add_chart("net.eth0", ["received", "sent"])
    host.add_dimension("system.cpu", "iowait")
    assert host.dimension_ids() == ["system.cpu|d0", "system.cpu|d1", "system.cpu|d2", "net.eth0|received",
                                    "net.eth0|sent", "system.cpu|iowait"]
    host.remove_dimension("system.cpu", "d1")
    host.remove_chart("net.eth0")
    assert host.dimension_ids() == ["system.cpu|d0", "system.cpu|d2", "system.cpu|iowait"]
    assert not any(d.startswith("anomaly_detection.") for d in host.dimension_ids())
    assert "anomaly_detection.dimensions" in [c.id for c in host.charts()]


def test_injected_anomalies_are_flagged_after_training_and_quiet_before():
    host = make_host(4)
    data = waves(600, 4)
    data[450:460, 2] += 400.0  # a spike in one dimension
    for i in range(300):
        host.collect_all(T0 + i, data[i])
    before = host.anomaly_rates(T0 + 100, T0 + 299)
    assert all(rate == 0.0 for rate in before.values())  # untrained: always normal
    report = host.train_now()
    assert len(report.trained) == 4 and not report.skipped
    for i in range(300, 600):
        host.collect_all(T0 + i, data[i])
    quiet = host.anomaly_rates(T0 + 300, T0 + 440)
    assert max(quiet.values()) < 0.1
    spike = host.anomaly_rates(T0 + 450, T0 + 465)
    assert spike["system.cpu|d2"] > 0.3
    assert spike["system.cpu|d2"] > max(v for k, v in spike.items() if k != "system.cpu|d2")


def test_skipped_charts_are_stored_but_never_modelled():
    host = pyml.Host("h", small_config(), background=False, history=400)
    host.add_chart("apache.requests", ["a"])  # falls through to "*" in the default skip pattern
    host.add_chart("system.load", ["load1"])
    data = waves(300, 2)
    for i in range(300):
        host.collect_all(T0 + i, data[i])
    report = host.train_now()
    assert report.trained == ["system.load|load1"]
    assert "apache.requests|a" not in host.anomaly_rates(T0, T0 + 300)
    values = host.data("apache.requests", T0, T0 + 299)["data"]
    assert len(values) == 300 and values[0][1] == pytest.approx(data[299, 0], rel=1e-6)


def test_timestamps_must_move_forward_and_rejected_calls_store_nothing():
    host = make_host(2)
    host.collect_all(T0, [1.0, 2.0])
    host.collect_all(T0 + 1, [1.5, 2.5])
    for bad_t in (T0 + 1, T0, T0 - 5):
        with pytest.raises(ValueError, match="not after"):
            host.collect_all(bad_t, [9.0, 9.0])
    with pytest.raises(ValueError, match="2 elements"):
        host.collect_all(T0 + 2, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError):
        host.collect_all("soon", [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        host.collect_all(math.nan, [1.0, 2.0])
    data = host.data("system.cpu", T0, T0 + 10)
    # A window reaching past the newest tick slides back to end there (as Netdata's); rows before
    # the first sample are null.
    stored = [row for row in data["data"] if row[1] is not None]
    assert [row[0] for row in stored] == [T0 + 1, T0] and data["data"][0][0] == T0 + 1
    assert data["data"][0][1:] == [1.5, 2.5]


def test_skipped_ticks_are_gaps_and_nan_is_no_value():
    host = make_host(2)
    host.collect_all(T0, [1.0, 2.0])
    host.collect_all(T0 + 3, [np.nan, 4.0])
    rows = host.data("system.cpu", T0, T0 + 3)["data"]
    assert rows == [[T0 + 3, None, 4.0], [T0 + 2, None, None], [T0 + 1, None, None], [T0, 1.0, 2.0]]


def test_inf_and_huge_values_are_stored_saturated():
    host = make_host(2)
    host.collect_all(T0, [np.inf, -1e30])
    row = host.data("system.cpu", T0, T0)["data"][0]
    assert row[1:] == [1.6777215e21, -1.6777215e21]


def test_per_chart_collect_completes_on_a_later_time_or_flush():
    host = pyml.Host("h", small_config(), background=False)
    host.add_chart("system.cpu", ["user"])
    host.add_chart("system.load", ["load1", "load5"])
    host.collect("system.cpu", T0, [1.0])
    host.collect("system.load", T0, [0.5, 0.25])
    assert host.last_time is None  # tick still open
    host.collect("system.cpu", T0 + 1, [2.0])
    assert host.last_time == T0
    host.flush()
    assert host.last_time == T0 + 1
    rows = host.data("system.load", T0, T0 + 1)["data"]
    assert rows == [[T0 + 1, None, None], [T0, 0.5, 0.25]]
    with pytest.raises(KeyError):
        host.collect("no.such", T0 + 2, [1.0])
    with pytest.raises(ValueError):
        host.collect("anomaly_detection.dimensions", T0 + 2, [1, 2, 3, 4])


def test_data_query_shapes_grouping_and_anomaly_bit():
    host = make_host(2)
    for i in range(9):
        host.collect_all(T0 + i, [float(i), 10.0 + i])
    full = host.data("system.cpu", -9, 0)  # after=-9: exactly the last 9 seconds, as Netdata
    assert full["labels"] == ["time", "d0", "d1"]
    assert [r[0] for r in full["data"]] == list(range(T0 + 8, T0 - 1, -1))
    grouped = host.data("system.cpu", after=-8, points=3, dimensions="d1")
    # 8 s in 3 rows of 3 s, aligned to multiples of 3 at or before the newest second (Netdata's rule)
    assert grouped == {"labels": ["time", "d1"], "data": [[T0 + 7, 16.0], [T0 + 4, 13.0], [T0 + 1, 10.5]]}
    bits = host.data("system.cpu", -8, 0, options=["anomaly-bit"])
    assert all(v == 0.0 for row in bits["data"] for v in row[1:])
    wrapped = host.data("system.cpu", -8, 0, points=3, options="jsonwrap")
    assert wrapped["result"]["labels"] == ["time", "d0", "d1"]
    assert wrapped["points"] == 3 and wrapped["view_update_every"] == 3
    for bad in [dict(after="x"), dict(points=-1), dict(group="mode"), dict(options=["bogus"])]:
        with pytest.raises(ValueError):
            host.data("system.cpu", **bad)
    with pytest.raises(LookupError):  # a pattern matching no dimension (HTTP 404)
        host.data("system.cpu", dimensions=["nope"])
    # bounds given the wrong way round are swapped, as Netdata does
    assert host.data("system.cpu", T0 + 5, T0 + 2) == host.data("system.cpu", T0 + 2, T0 + 5)
    with pytest.raises(KeyError):
        host.data("no.chart")


def test_internal_charts_are_written_every_tick():
    host = make_host(3)
    data = waves(200, 3)
    for i in range(200):
        host.collect_all(T0 + i, data[i])
    dims = host.data("anomaly_detection.dimensions", -5, 0)
    assert dims["labels"] == ["time", "total", "trained", "normal", "anomalous"]
    assert dims["data"][0][1:] == [3.0, 0.0, 3.0, 0.0]
    host.train_now()
    host.collect_all(T0 + 200, data[0])
    assert host.data("anomaly_detection.dimensions", -1, 0)["data"][0][2] == 3.0
    window = host.data("anomaly_detection.detector_window", -1, 0)["data"][0][1]
    assert window == 30.0


def test_restart_with_storage_dir_keeps_samples(tmp_path):
    config = small_config()
    with pyml.Host("node", config, storage_dir=tmp_path, background=False) as host:
        host.add_chart("system.cpu", ["user"])
        for i in range(50):
            host.collect_all(T0 + i, [float(i)])
    with pyml.Host("node", config, storage_dir=tmp_path, background=False) as again:
        again.add_chart("system.cpu", ["user"])
        rows = again.data("system.cpu", T0, T0 + 49)["data"]
        assert [r[1] for r in rows] == [float(i) for i in range(49, -1, -1)]
        again.collect_all(T0 + 50, [50.0])
        with pytest.raises(ValueError, match="not after"):
            again.collect_all(T0 + 10, [1.0])


def test_removed_chart_frees_its_slots_and_churn_does_not_grow():
    host = pyml.Host("h", small_config(), background=False)
    host.add_chart("system.base", ["a"])
    t = T0
    for round_ in range(30):
        host.add_chart("net.tmp", [f"x{i}" for i in range(200)])
        host.collect_all(t, np.ones(len(host.dimension_ids())))
        t += 1
        host.remove_chart("net.tmp")
        host.collect_all(t, np.ones(len(host.dimension_ids())))
        t += 1
        if round_ == 1:
            size_after_warmup = host._bank.size
    assert host._bank.size == size_after_warmup
    assert host.dimension_ids() == ["system.base|a"]


def test_background_training_trains_due_dimensions():
    host = pyml.Host("bg", small_config(), background=True)
    host.add_chart("system.cpu", ["a", "b"])
    data = waves(200, 2)
    try:
        for i in range(200):
            host.collect_all(T0 + i, data[i])
        assert host.wait_for_training(timeout=30)
        host.collect_all(T0 + 200, data[0])
        assert host.data("anomaly_detection.dimensions", -1, 0)["data"][0][2] == 2.0
    finally:
        host.close()


def test_history_bounds_what_queries_can_see():
    # keeps max_train_samples + 1 = 241 ticks, and no rollup tiers (they reach further: test_query_tiers.py)
    host = pyml.Host("h", small_config(), background=False, tiers=())
    host.add_chart("system.cpu", ["a"])
    for i in range(600):
        host.collect_all(T0 + i, [float(i)])
    rows = host.data("system.cpu", 0, 0)["data"]
    assert rows[0] == [T0 + 599, 599.0]
    assert 241 <= len(rows) < 600
    with pytest.raises(ValueError, match="history"):
        pyml.Host("h", small_config(), history=0)
    wide = host.data("system.cpu", T0 - 10_000, T0 + 599, points=100)["data"]  # as Netdata: rows, null where
    assert len(wide) == 100 and wide[-1][1] is None and wide[0][1] is not None  # nothing is kept
    with pytest.raises(ValueError, match="wider than"):
        host.anomaly_rates(T0 - 10_000, T0 + 599)


def test_host_and_charts_validation():
    host = make_host(1)
    with pytest.raises(ValueError, match="already exists"):
        host.add_chart("system.cpu", ["x"])
    with pytest.raises(ValueError, match="twice"):
        host.add_chart("system.ram", ["x", "x"])
    with pytest.raises(ValueError, match="reserved"):
        host.add_chart("anomaly_detection.mine", ["x"])
    with pytest.raises(KeyError):
        host.remove_dimension("system.cpu", "zzz")
    with pytest.raises(ValueError):
        pyml.Host("", small_config())
    with pytest.raises(ValueError):
        pyml.Host("h", small_config(), update_every=0)


def test_reset_flags_reach_the_storage_words():
    host = pyml.Host("h", small_config(), background=False)
    host.add_chart("system.cpu", ["a", "b"])
    host.add_chart("net.eth0", ["in"])
    host.collect_all(T0, [1.0, 2.0, 3.0], reset=[False, True, False])
    host.collect("system.cpu", T0 + 1, [1.0, 2.0], reset=True)
    host.collect("net.eth0", T0 + 1, [3.0])
    host.flush()
    slots = [host._slot_of[d] for d in host.dimension_ids()]
    _, words = host._store.read(slots, T0, T0 + 1)
    reset = (words & pyml.core.RESET_FLAG) != 0
    assert reset[:, 0].tolist() == [False, True, False]
    assert reset[:, 1].tolist() == [True, True, False]
    with pytest.raises(ValueError, match="reset"):
        host.collect_all(T0 + 2, [1.0, 2.0, 3.0], reset=[True, False])


def test_reading_holds_ticks_until_the_block_ends() -> None:
    import threading

    host = pyml.Host("still", MLConfig(profile="netdata-1.33"), background=False)
    host.add_chart("system.x", ["a"])
    host.collect_all(1_700_000_000, [1.0])
    done = threading.Event()

    def tick() -> None:
        host.collect_all(1_700_000_001, [2.0])
        done.set()

    with host.reading():
        worker = threading.Thread(target=tick)
        worker.start()
        assert not done.wait(0.3)  # the tick waits for the reader
        assert host.last_time == 1_700_000_000
    worker.join(5)
    assert done.is_set() and host.last_time == 1_700_000_001
    host.close()
