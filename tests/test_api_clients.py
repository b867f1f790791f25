"""Real Netdata clients, unchanged, against a pyml server: ``netdata-pandas`` and the ``netdata`` package.

Also: many concurrent requests all answered (the application queues, never refuses), and the
anomaly ranking (``Host.anomaly_ranking``, ``/api/v1/weights``) finds an injected incident.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

import pyml
from pyml import MLConfig
from pyml.api import ApiServer, create_app

from clients import run_client

T0 = 1_700_000_000
N_TICKS = 240
N_CHARTS = 100  # more than the 64 concurrent requests an earlier server refused beyond


def _host(name: str = "clients") -> pyml.Host:
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=60, max_train_samples=120, train_every=120, min_window_size=5,
                   max_window_size=60, idle_window_size=5, clamp=False)
    host = pyml.Host(name, cfg, background=False, history=N_TICKS + 10)
    for c in range(N_CHARTS):
        host.add_chart(f"system.c{c:03d}", ["a", "b"], context=f"system.c{c % 7}")
    rng = np.random.default_rng(11)
    for i in range(N_TICKS):
        if i == 120:
            host.train_now()
        values = 10 + rng.normal(0, 1, 2 * N_CHARTS)
        if 200 <= i < 215:
            values[6:8] += 400.0  # chart system.c003
        host.collect_all(T0 + i, values)
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


def test_netdata_pandas_get_chart_list_and_get_data_all_charts(server: ApiServer, host: pyml.Host) -> None:
    out = run_client(f"""
import json
import netdata_pandas.data as ndp
address = "127.0.0.1:{server.port}"
charts = ndp.get_chart_list(address)
df = ndp.get_data(address, charts=["all"], after=-60, before=0, ffill=False)
one = ndp.get_data(address, charts=["system.c003"], after=-10, before=0, points=5, group="max")
print(json.dumps({{"charts": charts, "columns": list(df.columns), "rows": len(df), "newest": int(df.index.max()),
                  "one_columns": list(one.columns), "one_rows": len(one)}}))
""")
    assert set(out["charts"]) == {c.id for c in host.charts()}
    expected = {f"{c.id}|{d}" for c in host.charts() for d in c.dimensions}
    assert set(out["columns"]) == expected  # every chart answered: none lost to refused requests
    assert out["rows"] == 60 and out["newest"] == T0 + N_TICKS - 1
    assert out["one_columns"] == ["system.c003|a", "system.c003|b"] and out["one_rows"] == 5


def test_netdata_client_package(server: ApiServer, host: pyml.Host) -> None:
    out = run_client(f"""
import asyncio, json
import netdata

async def run():
    client = netdata.Netdata("127.0.0.1", port={server.port})
    try:
        await client.get_info()
        await client.get_chart("system.c003")  # sends /api/v1/data%3Fchart=... (an encoded '?')
        await client.get_allmetrics()
        await client.get_alarms()
    finally:
        await client.close()
    return client

client = asyncio.run(run())
print(json.dumps({{"info": client.info, "values": client.values, "metrics": sorted(client.metrics),
                  "alarms": client.alarms}}))
""")
    assert out["info"]["mirrored_hosts"] == ["clients"]
    assert set(out["values"]) == {"time", "a", "b"} and out["values"]["time"] == T0 + N_TICKS - 1
    assert set(out["metrics"]) == {c.id for c in host.charts()}
    assert out["alarms"]["hostname"] == "clients" and "alarms" in out["alarms"]


def test_two_hundred_concurrent_requests_are_all_answered(host: pyml.Host) -> None:
    httpx = pytest.importorskip("httpx")
    app = create_app(host)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pyml") as client:
            paths = [f"/api/v1/data?chart=system.c{i % N_CHARTS:03d}&after=-60" for i in range(200)]
            responses = await asyncio.gather(*(client.get(p) for p in paths))
        return [r.status_code for r in responses]

    assert asyncio.run(run()) == [200] * 200


def test_concurrent_requests_over_http_are_all_answered(server: ApiServer) -> None:
    import urllib.request
    statuses: list[int] = []
    lock = threading.Lock()

    def fetch(i: int) -> None:
        with urllib.request.urlopen(f"{server.url}/api/v1/data?chart=system.c{i:03d}&after=-30", timeout=60) as r:
            with lock:
                statuses.append(r.status)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(N_CHARTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * N_CHARTS


def test_anomaly_ranking_puts_the_incident_first(host: pyml.Host) -> None:
    ranking = host.anomaly_ranking(T0 + 195, T0 + 220)
    assert len(ranking) == 2 * N_CHARTS
    top3 = [(e["chart"], e["dimension"]) for e in ranking[:3]]
    assert ("system.c003", "a") in top3 and ("system.c003", "b") in top3
    top = ranking[0]
    assert list(top) == ["chart", "dimension", "context", "anomaly_rate", "points", "anomalous"]
    assert top["points"] == 26 and top["anomaly_rate"] == pytest.approx(100.0 * top["anomalous"] / 26)
    rates = [e["anomaly_rate"] for e in ranking]
    assert rates == sorted(rates, reverse=True)
    against = host.anomaly_ranking(T0 + 195, T0 + 220, T0 + 150, T0 + 190, nonzero=True)
    assert against and against[0]["chart"] == "system.c003" and "change" in against[0]
    assert all(e["change"] > 0 for e in against)
    only = host.anomaly_ranking(T0 + 195, T0 + 220, charts="system.c00*", limit=3)
    assert len(only) == 3 and all(e["chart"].startswith("system.c00") for e in only)
    by_context = host.anomaly_ranking(T0 + 195, T0 + 220, contexts="system.c3")
    assert {e["context"] for e in by_context} == {"system.c3"}
    with pytest.raises(ValueError, match="baseline"):
        host.anomaly_ranking(0, T0, baseline_after=T0)


def test_weights_endpoint_ranks_by_anomaly_rate(host: pyml.Host) -> None:
    from starlette.testclient import TestClient
    client = TestClient(create_app(host))
    doc = client.get(f"/api/v1/weights?after={T0 + 195}&before={T0 + 220}&options=raw").json()
    dims = doc["contexts"]["system.c3"]["charts"]["system.c003"]["dimensions"]
    assert dims["a"] == pytest.approx(host.anomaly_ranking(T0 + 195, T0 + 220, charts="system.c003")[0]["anomaly_rate"])
    ranked = client.get(f"/api/v1/weights?after={T0 + 195}&before={T0 + 220}").json()
    def flat(d: dict[str, Any]) -> dict[tuple[str, str], float]:
        return {(c, k): v for ctx in d["contexts"].values() for c, ch in ctx["charts"].items()
                for k, v in ch["dimensions"].items()}
    raw, weights = flat(doc), flat(ranked)
    assert min(weights.values()) == 0.0  # the most anomalous metric weighs 0
    assert max(raw, key=raw.get) in [k for k, v in weights.items() if v == 0.0]
    assert weights[("system.c003", "a")] < 0.5 and weights[("system.c003", "b")] < 0.5
    per_host = client.get(f"/host/clients/api/v1/weights?after={T0 + 195}&before={T0 + 220}&context=system.c3")
    assert set(per_host.json()["contexts"]) <= {"system.c3"}
    assert client.get("/api/v1/weights?method=ks2").status_code == 400
