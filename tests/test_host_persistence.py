"""Events, event info and models through the host; restart and crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import pyml
from pyml import MLConfig
from pyml.engine.storage import StoreError

T0 = 1_700_000_000
N_DIMS = 6


def event_config() -> MLConfig:
    """Small training and detector windows so an event forms within a few hundred ticks."""
    return MLConfig(profile="netdata-1.33", min_train_samples=150, max_train_samples=300, train_every=300, min_window_size=10,
                    max_window_size=40, idle_window_size=10, window_rate_threshold=0.3,
                    host_anomaly_rate_threshold=0.3, dimension_rate_threshold=0.05, clamp=False)


def series(n_ticks: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_ticks)[:, None]
    phase = rng.uniform(0, 2 * np.pi, N_DIMS)[None, :]
    return 100 + 20 * np.sin(2 * np.pi * t / 50 + phase) + rng.normal(0, 0.3, (n_ticks, N_DIMS))


def run_incident(host: pyml.Host, start: int = 0) -> None:
    """Train on normal data, then make dimensions 0-3 jump about for 12 ticks."""
    data = series(400)
    rng = np.random.default_rng(9)
    data[300:312, :4] += rng.choice([-1, 1], (12, 4)) * rng.uniform(150, 300, (12, 4))
    for i in range(200):
        host.collect_all(T0 + start + i, data[i])
    host.train_now()
    for i in range(200, 400):
        host.collect_all(T0 + start + i, data[i])


def new_host(**kwargs) -> pyml.Host:
    host = pyml.Host("persist", event_config(), background=False, **kwargs)
    host.add_chart("system.cpu", [f"d{i}" for i in range(N_DIMS)])
    return host


def test_an_incident_becomes_an_event_with_its_dimensions():
    host = new_host()
    run_incident(host)
    events = host.anomaly_events(T0 * 1000, (T0 + 400) * 1000)
    assert len(events) >= 1
    after, before = events[0]
    assert T0 + 295 <= before <= T0 + 360 and after < before
    info = host.anomaly_event_info(after, before)
    assert info, "the event lists its dimensions"
    ids = [dim for _, dim in info]
    assert ids[0] in {f"system.cpu|d{i}" for i in range(4)}  # the most anomalous took part in the incident
    rates = [rate for rate, _ in info]
    assert rates == sorted(rates, reverse=True)
    assert all(rate >= 0.05 for rate in rates)
    assert host.anomaly_event_info(after, before + 1) is None
    counts = host.ml_info()
    assert counts["version"] == 1 and counts["total-dimensions"] == N_DIMS
    assert counts["trained-dimensions"] == N_DIMS
    assert counts["anomalous-dimensions"] + counts["normal-dimensions"] == N_DIMS
    host.close()


@pytest.mark.parametrize(
    "after,before,fragment",
    [(None, 1000, "after"), (1000, None, "before"), ("x", 1000, "after"), (2000, 1000, "later"), (-5, 10, "after")],
)
def test_event_queries_reject_bad_parameters(after, before, fragment):
    host = new_host()
    with pytest.raises(ValueError, match=fragment):
        host.anomaly_events(after, before)
    with pytest.raises(ValueError, match=fragment):
        host.anomaly_event_info(after, before)


def test_restart_reloads_models_and_detects_at_once(tmp_path):
    host = new_host(storage_dir=tmp_path)
    data = series(260)
    for i in range(200):
        host.collect_all(T0 + i, data[i])
    assert len(host.train_now().trained) == N_DIMS
    host.collect_all(T0 + 200, data[200])  # applies (and saves) the models
    host_id = host.host_id
    host.close()

    again = pyml.Host("persist", event_config(), storage_dir=tmp_path, background=False)
    assert again.host_id == host_id
    assert again.dimension_ids() == [f"system.cpu|d{i}" for i in range(N_DIMS)]
    assert all(again._bank.trained(again._slot_of[d]) for d in again.dimension_ids())
    spike = data[201:230].copy()
    spike[10:14, 1] += 500.0
    for i, row in enumerate(spike):
        again.collect_all(T0 + 201 + i, row)
    rates = again.anomaly_rates(T0 + 211, T0 + 229)
    assert rates["system.cpu|d1"] > 0.2  # detected without retraining
    assert again.data("anomaly_detection.dimensions", -1, 0)["data"][0][2] == N_DIMS
    # add_chart of a restored chart merges instead of failing, and may add dimensions
    again.add_chart("system.cpu", [f"d{i}" for i in range(N_DIMS)] + ["extra"])
    assert again.dimension_ids()[-1] == "system.cpu|extra"
    again.close()


def test_restart_refuses_a_foreign_registry(tmp_path):
    (tmp_path / "registry.json").write_text("{not json")
    with pytest.raises(StoreError, match="registry.json"):
        pyml.Host("persist", event_config(), storage_dir=tmp_path, background=False)
    assert (tmp_path / "registry.json").read_text() == "{not json"


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pyml
    from pyml import MLConfig

    directory = sys.argv[1]
    start = int(sys.argv[2])
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=60, max_train_samples=120, train_every=60, clamp=False)
    host = pyml.Host("crashy", cfg, storage_dir=directory, background=False)
    host.add_chart("system.cpu", ["a", "b", "c"])
    rng = np.random.default_rng(start)
    t = start
    while True:
        host.collect_all(t, 50 + rng.normal(0, 5, 3))
        print(f"tick {t}", flush=True)
        if t % 25 == 0:
            report = host.train_due()
            print(f"trained {len(report.trained)}", flush=True)
        t += 1
    """
)


def test_sigkill_at_random_moments_loses_nothing_completed(tmp_path):
    rng = np.random.default_rng(20221114)
    start = T0
    completed: list[int] = []
    for round_ in range(4):
        # Run outside the source tree so the installed package (with its core) is imported.
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(start)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        # Kill at a random moment once it writes (start-up time varies with the machine's load).
        assert proc.stdout is not None
        first = proc.stdout.readline()
        time.sleep(float(rng.uniform(0.2, 1.0)))
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        out = first + out
        ticks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("tick ")]
        assert ticks, f"the writer printed no tick (round {round_}): {err[-2000:]}"
        completed.extend(ticks)
        start = ticks[-1] + 2  # the tick in flight may or may not have been stored

        host = pyml.Host("crashy", MLConfig(profile="netdata-1.33", min_train_samples=60, max_train_samples=120, train_every=60,
                                            clamp=False), storage_dir=tmp_path, background=False)
        assert host.dimension_ids() == ["system.cpu|a", "system.cpu|b", "system.cpu|c"]
        recent = [t for t in completed if t >= completed[-1] - 100]
        rows = {row[0]: row[1:] for row in host.data("system.cpu", recent[0], recent[-1])["data"]}
        missing = [t for t in recent if t not in rows or any(v is None for v in rows[t])]
        assert not missing, f"ticks lost after SIGKILL in round {round_}: {missing[:10]}"
        host.close()


def test_models_of_removed_dimensions_are_deleted_and_not_restored(tmp_path):
    host = new_host(storage_dir=tmp_path)
    host.add_chart("net.eth0", ["received", "sent"])
    data = series(200)
    for i in range(200):
        host.collect_all(T0 + i, np.concatenate([data[i], data[i, :2]]))
    host.train_now()
    host.collect_all(T0 + 200, np.concatenate([data[0], data[0, :2]]))  # applies and saves the models
    host.flush()
    saved = host._db.load_models(host.host_id)
    assert {"net.eth0|received", "net.eth0|sent"} <= set(saved)
    host.remove_chart("net.eth0")
    host.collect_all(T0 + 201, data[1])  # the tick deletes the removed dimensions' models
    assert not {"net.eth0|received", "net.eth0|sent"} & set(host._db.load_models(host.host_id))
    host.close()
    with pyml.Host("persist", event_config(), background=False, storage_dir=tmp_path) as again:
        again.add_chart("net.eth0", ["received", "sent"])  # same ids: a new chart, not the removed one
        assert again._bank.model(again._slot_of["net.eth0|received"]) is None
