"""The HTTP API and /metrics over real HTTP on a loopback port."""

from __future__ import annotations

import json
import math
import threading
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

import pyml
from pyml import MLConfig
from pyml.api import ApiServer, create_app

T0 = 1_700_000_000
N_TICKS = 300
SPIKE = slice(200, 210)


def _host() -> pyml.Host:
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=60, max_train_samples=120, train_every=120, min_window_size=5,
                   max_window_size=60, idle_window_size=5, clamp=False)
    host = pyml.Host("api-test", cfg, background=False, history=N_TICKS + 10)
    host.add_chart("system.cpu", ["user", "system", "iowait"], title="Total CPU utilization", units="percentage",
                   family="cpu", context="system.cpu", chart_type="stacked", priority=100)
    host.add_chart("system.load", ["load1"])
    host.add_chart("apache.requests", ["requests"])  # skipped from training by the default pattern
    rng = np.random.default_rng(3)
    t = np.arange(N_TICKS)[:, None]
    data = 50 + 10 * np.sin(2 * np.pi * t / 30 + np.arange(5)) + rng.normal(0, 0.5, (N_TICKS, 5))
    data[SPIKE, :3] += 300.0
    for i in range(N_TICKS):
        if i == 150:
            host.train_now()
        host.collect_all(T0 + i, data[i])
    return host


@pytest.fixture(scope="module")
def host() -> Any:
    h = _host()
    yield h
    h.close()


@pytest.fixture(scope="module")
def server(host: pyml.Host) -> Any:
    with ApiServer(host, port=0) as srv:
        yield srv


def get(server: ApiServer, path: str) -> tuple[int, Any, str]:
    """GET ``path``; returns (status, parsed JSON or text, content type)."""
    try:
        with urllib.request.urlopen(server.url + path, timeout=10) as response:
            status, body, ctype = response.status, response.read().decode(), response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        status, body, ctype = exc.code, exc.read().decode(), exc.headers["Content-Type"]
    if ctype.startswith("application/json"):
        return status, json.loads(body), ctype
    return status, body, ctype


def test_binds_to_loopback_by_default(server: ApiServer) -> None:
    assert server.bind == "127.0.0.1"
    assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0


def test_info_has_ml_info_with_settings_and_counters(server: ApiServer, host: pyml.Host) -> None:
    status, info, _ = get(server, "/api/v1/info")
    assert status == 200
    assert info["mirrored_hosts"][0] == "api-test" and info["uid"] == host.host_id
    assert info["mirrored_hosts"] == ["api-test"]
    ml = info["ml-info"]
    for key, value in host.config.ml_info().items():
        if key != "enabled":
            assert ml[key] == value
    assert ml["enabled"] is True and ml["version"] == 1
    assert ml["min-train-samples"] == 60 and ml["min-window-size"] == 5.0
    assert ml["total-dimensions"] == 4  # apache.requests is not modelled
    assert ml["trained-dimensions"] == 4


def test_info_of_a_host_without_ml() -> None:
    host = pyml.Host("off", MLConfig(profile="netdata-1.33", enabled=False), background=False)
    host.add_chart("system.cpu", ["user"])
    host.collect_all(T0, [1.0])
    with ApiServer(host, port=0) as srv:
        status, info, _ = get(srv, "/api/v1/info")
        assert status == 200 and info["ml-info"] == {"enabled": False}
        status, charts, _ = get(srv, "/api/v1/charts")
        assert list(charts["charts"]) == ["system.cpu"]
        status, text, _ = get(srv, "/metrics")
        names = {f.name for f in text_string_to_metric_families(text)}
        assert "pyml_prediction_duration_seconds" not in names
    host.close()


def test_charts_lists_every_chart_in_the_reference_shape(server: ApiServer, host: pyml.Host) -> None:
    status, doc, _ = get(server, "/api/v1/charts")
    assert status == 200
    for key in ("hostname", "version", "release_channel", "os", "timezone", "update_every", "history",
                "memory_mode", "custom_info", "charts", "charts_count", "dimensions_count", "alarms_count",
                "rrd_memory_bytes", "hosts_count", "hosts"):
        assert key in doc, key
    charts = doc["charts"]
    assert {"system.cpu", "system.load", "apache.requests", "anomaly_detection.dimensions",
            "anomaly_detection.anomaly_rate", "anomaly_detection.detector_window",
            "anomaly_detection.detector_events", "anomaly_detection.prediction_stats",
            "anomaly_detection.training_stats"} == set(charts)
    assert doc["charts_count"] == len(charts) == 9
    cpu = charts["system.cpu"]
    assert cpu["title"] == "Total CPU utilization (system.cpu)"
    for key in ("id", "name", "type", "family", "context", "title", "priority", "plugin", "module", "units",
                "data_url", "chart_type", "duration", "first_entry", "last_entry", "update_every", "dimensions"):
        assert key in cpu, key
    assert cpu["type"] == "system" and cpu["units"] == "percentage" and cpu["chart_type"] == "stacked"
    assert cpu["dimensions"] == {"user": {"name": "user"}, "system": {"name": "system"}, "iowait": {"name": "iowait"}}
    assert cpu["first_entry"] == T0 and cpu["last_entry"] == T0 + N_TICKS - 1 and cpu["duration"] == N_TICKS
    assert cpu["data_url"] == "/api/v1/data?chart=system.cpu"
    rate = charts["anomaly_detection.anomaly_rate"]
    assert rate["plugin"] == "netdata" and rate["module"] == "ml" and rate["priority"] == 39184
    assert rate["family"] == "anomaly_rate" and rate["units"] == "percentage"
    assert doc["dimensions_count"] == sum(len(c["dimensions"]) for c in charts.values())


def test_data_matches_the_host_query(server: ApiServer, host: pyml.Host) -> None:
    status, doc, _ = get(server, "/api/v1/data?chart=system.cpu&dimensions=user,system&after=-8&points=3")
    assert status == 200
    assert doc == host.data("system.cpu", -8, 0, points=3, dimensions=["user", "system"])
    assert doc["labels"] == ["time", "user", "system"]
    # 8 s in 3 rows: 3-second rows aligned to multiples of 3 and ending at or before the newest second
    newest = (T0 + 299) - (T0 + 299) % 3
    assert [row[0] for row in doc["data"]] == [newest, newest - 3, newest - 6]


def test_data_anomaly_bit_gives_rates_and_the_spike_shows(server: ApiServer) -> None:
    after, before = T0 + SPIKE.start, T0 + SPIKE.stop - 1
    status, doc, _ = get(server, f"/api/v1/data?chart=system.cpu&after={after}&before={before}&options=anomaly-bit")
    assert status == 200 and len(doc["data"]) == 10
    values = [v for row in doc["data"] for v in row[1:]]
    assert set(values) <= {0.0, 100.0} and sum(values) / len(values) > 30.0
    status, doc, _ = get(server, f"/api/v1/data?chart=system.cpu&after={T0}&before={T0 + 99}"
                                 "&options=anomaly-bit&points=1")
    # one row of 100 s, aligned (as Netdata) to a multiple of its width: (T0, T0 + 100]; untrained: never anomalous
    assert doc["data"] == [[T0 + 100, 0.0, 0.0, 0.0]]


def test_data_jsonwrap_and_internal_charts(server: ApiServer) -> None:
    status, doc, _ = get(server, "/api/v1/data?chart=system.load&after=-4&options=jsonwrap")
    assert status == 200
    for key in ("api", "id", "name", "view_update_every", "update_every", "first_entry", "last_entry", "before",
                "after", "group", "options", "dimension_names", "dimension_ids", "latest_values",
                "view_latest_values", "dimensions", "points", "format", "min", "max", "result"):
        assert key in doc, key
    assert doc["id"] == "system.load" and doc["points"] == 4 and doc["result"]["labels"] == ["time", "load1"]
    status, internal, _ = get(server, "/api/v1/data?chart=anomaly_detection.dimensions&after=-1")
    assert status == 200 and internal["labels"] == ["time", "total", "trained", "normal", "anomalous"]
    assert internal["data"][0][1:3] == [4.0, 4.0]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("", "chart"),
        ("chart=system.cpu&after=abc", "after"),
        ("chart=system.cpu&before=1e999", "before"),
        ("chart=system.cpu&points=-1", "points"),
        ("chart=system.cpu&points=ten", "points"),
        ("chart=system.cpu&points=100000000", "points"),
        ("chart=system.cpu&options=anomaly-bit,bogus", "options"),
        ("chart=system.cpu&group=mode", "group"),
        ("chart=system.cpu&format=xml", "format"),
        ("chart=system.cpu&tier=3", "tier"),   # tiers 0, 1 and 2 exist
        ("chart=system.cpu&tier=one", "tier"),
        ("chart=system.cpu&gtime=x", "gtime"),
    ],
)
def test_data_bad_parameters_answer_400_naming_the_parameter(server: ApiServer, query: str, named: str) -> None:
    status, doc, _ = get(server, "/api/v1/data?" + query)
    assert status == 400
    assert named in doc["error"]


def test_flipped_window_is_swapped_as_netdata_does(server: ApiServer) -> None:
    _, flipped, _ = get(server, f"/api/v1/data?chart=system.cpu&after={T0 + 50}&before={T0 + 10}")
    _, straight, _ = get(server, f"/api/v1/data?chart=system.cpu&after={T0 + 10}&before={T0 + 50}")
    assert flipped == straight and len(straight["data"]) == 41


def test_unknown_chart_is_404(server: ApiServer) -> None:
    status, doc, _ = get(server, "/api/v1/data?chart=no.such")
    assert status == 404 and "no.such" in doc["error"]
    status, doc, _ = get(server, "/api/v1/data?chart=system.cpu&dimensions=nope")
    assert status == 404 and "nope" in doc["error"]


def test_over_long_query_is_refused(server: ApiServer) -> None:
    status, doc, _ = get(server, "/api/v1/data?chart=system.cpu&dimensions=" + "x" * 9000)
    assert status == 414 and "query string" in doc["error"]


def test_anomaly_events_take_milliseconds_and_give_seconds(server: ApiServer, host: pyml.Host) -> None:
    status, events, _ = get(server, f"/api/v1/anomaly_events?after=0&before={(T0 + N_TICKS) * 1000}")
    assert status == 200 and events == host.anomaly_events(0, (T0 + N_TICKS) * 1000)
    assert events, "the injected spike must give an event"
    assert all(T0 <= a <= b <= T0 + N_TICKS for a, b in events)
    assert any(a <= T0 + SPIKE.stop and b >= T0 + SPIKE.start for a, b in events)  # overlaps the spike
    status, none, _ = get(server, f"/api/v1/anomaly_events?after={T0 * 1000}&before={(T0 + 100) * 1000}")
    assert status == 200 and none == []


def test_anomaly_event_info_in_seconds(server: ApiServer, host: pyml.Host) -> None:
    events = host.anomaly_events(0, (T0 + N_TICKS) * 1000)
    spike = next([a, b] for a, b in events if a <= T0 + SPIKE.stop and b >= T0 + SPIKE.start)
    status, info, _ = get(server, f"/api/v1/anomaly_event_info?after={spike[0]}&before={spike[1]}")
    assert status == 200 and info == host.anomaly_event_info(*spike)
    ids = {dim for _, dim in info}
    assert {"system.cpu|user", "system.cpu|system", "system.cpu|iowait"} <= ids
    assert all(0.0 < rate <= 1.0 for rate, _ in info)
    status, missing, _ = get(server, f"/api/v1/anomaly_event_info?after={spike[0]}&before={spike[1] + 1}")
    assert status == 200 and missing is None


@pytest.mark.parametrize("endpoint", ["anomaly_events", "anomaly_event_info"])
@pytest.mark.parametrize(
    ("query", "named"),
    [("before=10", "after"), ("after=10", "before"), ("after=x&before=10", "after"),
     ("after=10&before=y", "before"), ("after=20&before=10", "after")],
)
def test_event_endpoints_refuse_bad_ranges(server: ApiServer, endpoint: str, query: str, named: str) -> None:
    status, doc, _ = get(server, f"/api/v1/{endpoint}?{query}")
    assert status == 400 and named in doc["error"]


def test_ml_info_counters(server: ApiServer, host: pyml.Host) -> None:
    status, info, _ = get(server, "/api/v1/ml_info")
    assert status == 200 and info == host.ml_info()
    assert list(info) == ["version", "anomalous-dimensions", "normal-dimensions", "total-dimensions",
                          "trained-dimensions", "profile", "ml-config"]  # SPEC §5.7's counters, then pyml's
    assert info["profile"] == host.config.profile and info["ml-config"] == host.config.ml_info()
    assert info["anomalous-dimensions"] + info["normal-dimensions"] == info["total-dimensions"] == 4


def test_metrics_parse_and_agree_with_the_host(server: ApiServer, host: pyml.Host) -> None:
    status, text, ctype = get(server, "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {name: {tuple(sorted(s.labels.items())): s.value for s in f.samples} for name, f in families.items()}
    assert samples["pyml_last_collected_timestamp_seconds"][()] == T0 + N_TICKS - 1
    states = {dict(k)["state"]: v for k, v in samples["pyml_dimensions"].items()}
    info = host.ml_info()
    assert states == {s: float(info[f"{s}-dimensions"]) for s in ("total", "trained", "normal", "anomalous")}
    bits = {(dict(k)["chart"], dict(k)["dimension"]): v for k, v in samples["pyml_dimension_anomaly_bit"].items()}
    assert set(bits) == {("system.cpu", "user"), ("system.cpu", "system"), ("system.cpu", "iowait"),
                         ("system.load", "load1")}
    last = host.last_time
    assert all(bits[tuple(d.split("|"))] == r for d, r in host.anomaly_rates(last, last).items())
    start = max(last - 600 + 1, host.first_time)  # the metrics window is never wider than the store
    assert samples["pyml_host_anomaly_rate"][()] == pytest.approx(host.host_anomaly_rate(start, last))
    chart_rates = {dict(k)["chart"]: v for k, v in samples["pyml_chart_anomaly_rate"].items()}
    rates = host.anomaly_rates(start, last)
    cpu = [rates[f"system.cpu|{d}"] for d in ("user", "system", "iowait")]
    assert chart_rates["system.cpu"] == pytest.approx(sum(cpu) / 3) and chart_rates["system.cpu"] > 0
    assert "apache.requests" not in chart_rates
    assert samples["pyml_prediction_duration_seconds"][()] >= 0
    training = {dict(k)["stat"] for k in samples["pyml_training_duration_seconds"]}
    assert training == {"total", "max"}
    assert math.isfinite(samples["pyml_detector_host_anomaly_rate"][()])


def test_only_get_is_served(server: ApiServer) -> None:
    request = urllib.request.Request(server.url + "/api/v1/info", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 405


def test_bad_server_arguments_are_refused(host: pyml.Host) -> None:
    with pytest.raises(ValueError, match="port"):
        ApiServer(host, port=70000)
    with pytest.raises(ValueError, match="max_points"):
        create_app(host, max_points=0)


def test_address_in_use_raises_at_start(server: ApiServer, host: pyml.Host) -> None:
    other = ApiServer(host, port=server.port)
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1 port {server.port}"):
        other.start()


def test_chart_found_by_name_and_queries_while_collecting() -> None:
    """Queries from the server's threads while another thread keeps collecting (single writer)."""
    host = pyml.Host("busy", MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=60, train_every=30, clamp=False),
                     background=False)
    host.add_chart("disk.dm-0", ["reads", "writes"], name="disk.vg0-root")
    host.collect_all(T0, [1.0, 2.0])
    stop = threading.Event()
    ticks = [0]

    def collect() -> None:
        rng = np.random.default_rng(0)
        while not stop.is_set() and ticks[0] < 5000:
            ticks[0] += 1
            host.collect_all(T0 + ticks[0], rng.normal(10, 1, 2))
            if ticks[0] == 40:
                host.train_now()

    writer = threading.Thread(target=collect)
    with ApiServer(host, port=0) as srv:
        status, doc, _ = get(srv, "/api/v1/data?chart=disk.vg0-root&after=-1")
        assert status == 200 and doc["labels"] == ["time", "reads", "writes"]
        writer.start()
        try:
            for _ in range(10):
                for path in ("/api/v1/data?chart=disk.dm-0&after=-30&points=5&options=anomaly-bit",
                             "/api/v1/charts", "/api/v1/info", "/metrics"):
                    status, _, _ = get(srv, path)
                    assert status == 200, path
        finally:
            stop.set()
            writer.join()
    assert ticks[0] > 0
    host.close()
