"""One Host for every profile: netdata-2's models, charts, detector, events and persistence through the host."""

from __future__ import annotations

import numpy as np
import pytest

import pyml
from pyml import MLConfig
from pyml.engine.charts_v2 import CONTEXT_CHART_ID

T0 = 1_700_000_000
TRAINED, SILENCED = 0x02, 0x04


def v2_config(**overrides) -> MLConfig:
    """netdata-2 with windows small enough to train within a few hundred ticks."""
    settings = dict(profile="netdata-2", min_training_window=100, training_window=200, train_every=100,
                    number_of_models=3, grouping_duration=60, clamp=False)
    settings.update(overrides)
    return MLConfig(**settings)


def feed(host: pyml.Host, start: int, n: int, incident: tuple[int, int] | None = None, seed: int = 1) -> None:
    """Normal noise on every dimension; a large jump on the first two during ``incident`` (tick offsets)."""
    rng = np.random.default_rng(seed)
    width = len(host.dimension_ids())
    for i in range(start, start + n):
        values = 10 + rng.normal(0, 1, width)
        if incident is not None and incident[0] <= i < incident[1]:
            values[:2] += 60
        host.collect_all(T0 + i, values)
        host.train_due()


def new_host(cfg: MLConfig, **kwargs) -> pyml.Host:
    host = pyml.Host("profiles", cfg, background=False, **kwargs)
    host.add_chart("system.cpu", ["user", "system"], context="system.cpu")
    host.add_chart("disk.sda", ["reads", "writes"], context="disk.io")
    return host


def slots_of(host: pyml.Host, chart: str) -> list[int]:
    return [host._slot_of[f"{chart}|{d}"] for d in host.chart(chart).dimensions]


def test_netdata_2_builds_its_bank_charts_and_counters():
    cfg = v2_config()
    with new_host(cfg) as host:
        ids = [c.id for c in host.charts()]
        assert ids[:8] == ["anomaly_detection.dimensions", "anomaly_detection.anomaly_rate", CONTEXT_CHART_ID,
                           "anomaly_detection.detector_events", "anomaly_detection.ml_running",
                           "netdata.ml_status", "netdata.ml_metric_types", "netdata.ml_training_status"]
        feed(host, 0, 450)
        counts = host._bank.model_counts()[slots_of(host, "system.cpu")]
        assert counts.min() >= 2 and counts.max() <= 3  # trainings every 100 ticks fill the ring of 3
        info = host.ml_info()
        assert info["version"] == 2 and info["ml-running"] == 1 and info["profile"] == "netdata-2"
        assert info["trained-dimensions"] == 4 and info["ml-config"]["number-of-models"] == 3
        # one dimension per context appears in the context chart, and the stored rate is a percentage
        assert sorted(host.chart(CONTEXT_CHART_ID).dimensions) == ["disk.io", "system.cpu"]
        row = host.data("anomaly_detection.anomaly_rate", -1, 0)["data"][0]
        assert 0.0 <= row[1] <= 100.0


def test_netdata_2_incident_makes_an_event_naming_its_dimensions():
    cfg = v2_config()
    with new_host(cfg) as host:
        for c in range(8):  # a host of 36 dimensions: two jumping ones are 5.6 % of it
            host.add_chart(f"app.c{c}", ["a", "b", "c", "d"], context="app.c")
        feed(host, 0, 400)
        feed(host, 400, 40, incident=(400, 420), seed=2)
        above = host.data("anomaly_detection.detector_events", T0 + 400, T0 + 439)["data"]
        assert any(r[1] == 1 for r in above)          # above_threshold went up during the incident
        feed(host, 440, 200, seed=3)                  # the 60-s grouped rate falls below 1 % again
        events = host.anomaly_events(T0 * 1000, (T0 + 700) * 1000)
        during = [(a, b) for a, b in events if a <= T0 + 420 and b >= T0 + 401]
        assert len(during) == 1
        info = host.anomaly_event_info(*during[0])
        assert {d for _, d in info[:2]} == {"system.cpu|user", "system.cpu|system"}


def test_an_event_still_open_is_stored_at_close(tmp_path):
    cfg = v2_config()
    host = new_host(cfg, storage_dir=tmp_path)
    feed(host, 0, 400)
    feed(host, 400, 30, incident=(400, 430), seed=2)  # still above the threshold when the host closes
    host.close()
    with new_host(cfg, storage_dir=tmp_path) as again:
        events = again.anomaly_events(T0 * 1000, (T0 + 500) * 1000)
        assert events[-1][1] == T0 + 429 and events[-1][0] <= T0 + 401  # the open event ends at the last tick


def test_a_restart_restores_each_ring_and_drops_models_past_their_age(tmp_path):
    cfg = v2_config(delete_models_older_than=250)
    host = new_host(cfg, storage_dir=tmp_path)
    feed(host, 0, 450)
    cpu = slots_of(host, "system.cpu")
    rings = {s: host._bank.models(s) for s in cpu}
    assert all(len(r) >= 2 for r in rings.values())
    last = host.last_time
    host.close()
    with new_host(cfg, storage_dir=tmp_path) as again:
        for slot, ring in rings.items():
            kept = [(m, a, b) for m, a, b in ring if b >= last - 250]
            restored = again._bank.models(slot)
            assert [(a, b) for _, a, b in restored] == [(a, b) for _, a, b in kept]
            for (m1, _, _), (m2, _, _) in zip(restored, kept):
                assert m1.to_bytes() == m2.to_bytes()
        assert again.ml_info()["profile"] == "netdata-2"


def test_netdata_2_training_is_deterministic():
    def run() -> list[list[tuple[int, int, bytes]]]:
        with new_host(v2_config()) as host:
            feed(host, 0, 450)
            return [[(a, b, m.to_bytes()) for m, a, b in host._bank.models(s)] for s in slots_of(host, "system.cpu")]
    assert run() == run()


def test_suppression_silences_a_noisy_dimension_through_the_host():
    cfg = v2_config(number_of_models=1, suppression_window=20, suppression_threshold=5)
    with new_host(cfg) as host:
        feed(host, 0, 150)
        rng = np.random.default_rng(5)
        for i in range(150, 260):  # dimension 0 jumps about all the time: anomalous again and again
            values = 10 + rng.normal(0, 1, 4)
            values[0] += rng.choice([-80.0, 80.0])
            host.collect_all(T0 + i, values)
        user = host._slot_of["system.cpu|user"]
        assert host._bank.status()[user] & SILENCED
        stats = host.data("netdata.ml_training_status", -1, 0)["data"][0]
        labels = host.data("netdata.ml_training_status", -1, 0)["labels"]
        assert stats[labels.index("silenced")] >= 1


def test_profiles_share_the_host_api_and_v1_33_keeps_its_charts():
    with new_host(MLConfig(profile="netdata-1.33")) as host:
        assert [c.id for c in host.charts()][:2] == ["anomaly_detection.dimensions", "anomaly_detection.anomaly_rate"]
        assert host.ml_info()["version"] == 1 and host.ml_info()["profile"] == "netdata-1.33"


@pytest.mark.parametrize("profile", ["netdata-2", "pyml"])
def test_a_netdata_conf_selects_the_profile_of_the_host(profile, tmp_path):
    conf = tmp_path / "netdata.conf"
    conf.write_text(f"[ml]\n\tenabled = yes\n\tprofile = {profile}\n\ttraining window = 2h\n")
    cfg = MLConfig.from_netdata_conf(conf)
    with pyml.Host("conf", cfg, background=False) as host:
        assert host.ml_info()["profile"] == profile
        assert host.ml_info()["ml-config"]["training-window"] == 7200


def test_a_host_runs_the_default_profile_without_a_configuration():
    with pyml.Host("default", background=False) as host:
        assert host.ml_info()["profile"] == "pyml"
        host.add_chart("system.cpu", ["user", "system"])
        assert host.collect_all(T0, [1.0, 2.0], want_scores=True) is not None


def test_a_restart_refills_the_grouped_window_from_the_stored_rates(tmp_path):
    cfg = v2_config()
    host = new_host(cfg, storage_dir=tmp_path)
    for c in range(8):
        host.add_chart(f"app.c{c}", ["a", "b", "c", "d"], context="app.c")
    feed(host, 0, 400)
    feed(host, 400, 20, incident=(400, 420), seed=2)
    grouped_before = host.last_detector_result.grouped_rate
    host.close()
    with pyml.Host("profiles", cfg, background=False, storage_dir=tmp_path) as again:
        rng = np.random.default_rng(9)
        again.collect_all(T0 + 420, 10 + rng.normal(0, 1, len(again.dimension_ids())))
        # the window [t - 1 - 60, t - 1] holds the rates stored before the restart, so it is not empty
        assert again.last_detector_result.grouped_rate is not None
        assert again.last_detector_result.grouped_rate == pytest.approx(grouped_before, abs=0.1)


@pytest.mark.parametrize("first, second", [("netdata-1.33", "pyml"), ("pyml", "netdata-2"), ("netdata-2", "netdata-1.33")])
def test_a_data_dir_reopens_under_another_profile_keeping_its_history(first, second, tmp_path):
    """Changing the profile of an existing data dir: this profile's internal charts get the dimensions they
    lack, the samples stored before stay readable, and collection goes on."""
    with pyml.Host("switch", MLConfig(profile=first), background=False, storage_dir=tmp_path) as host:
        host.add_chart("system.cpu", ["user", "system"])
        for i in range(20):
            host.collect_all(T0 + i, [1.0 + i, 2.0])
    with pyml.Host("switch", MLConfig(profile=second), background=False, storage_dir=tmp_path) as again:
        assert again.ml_info()["profile"] == second
        rows = again.data("system.cpu", T0, T0 + 19)["data"]
        assert sorted(r[0] for r in rows) == list(range(T0, T0 + 20))
        assert {r[0]: r[1] for r in rows}[T0 + 7] == pytest.approx(8.0)
        again.collect_all(T0 + 20, [3.0, 4.0])
        assert again.last_detector_result is not None
        for chart in ("anomaly_detection.dimensions", "anomaly_detection.anomaly_rate"):
            assert again.data(chart, T0 + 20, T0 + 20)["data"]
