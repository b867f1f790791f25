"""pyml as the ML parent of a real Netdata (Debian's ``netdata`` 1.37), started here on loopback.

Netdata runs with its own configuration and directories (RAM database, ``/proc``
only, ML off, no cloud); a pyml agent without local collection mirrors it for
over a minute with lab-sized training, next to a source that refuses
connections. Checked: the charts, every stored value against Netdata's own
``/api/v1/data`` for the same seconds, anomaly bits produced by trained
models, a restart of Netdata mid-run (the seconds it lost are gaps, nothing is
stored twice, collection resumes), and the refusing source (one clear error in
the log, retries with backoff, the Netdata host unaffected). Also the polling
HTTP client alone against Netdata's two framings (``Content-Length``, and
chunked when it compresses). Skipped only when
the ``netdata`` binary is not installed (``ci/system_deps.sh`` installs it).
"""

from __future__ import annotations

import collections
import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

import pytest

import pyml
from pyml import core
from pyml.agent import Agent

import netdata_reference as ref

pytestmark = pytest.mark.skipif(ref.NETDATA is None, reason="the netdata binary is not installed")

HOSTNAME = "ndsource"


def _free_ports(n: int) -> list[int]:
    ports = []
    for port in range(20340, 20400):  # this project's range for Netdata sources
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == n:
            return ports
    raise RuntimeError("no free ports in 20340-20399")


def _netdata_rows(base: str, chart: str, after: int, before: int) -> tuple[list[str], dict[int, list[Any]]]:
    doc = ref.answer(base, f"/api/v1/data?chart={chart}&after={after}&before={before}&points=0"
                           f"&options=jsonwrap,seconds,unaligned&format=json")
    if doc["status"] != 200:
        return [], {}
    j = doc["json"]
    return j["dimension_ids"], {int(r[0]): r[1:] for r in j["result"]["data"]}


def _pyml_rows(host: pyml.Host, chart: str, dims: list[str], after: int, before: int) -> dict[int, list[Any]]:
    times, words = host.read_words([f"{chart}|{d}" for d in dims], after, before)
    values, _, exists = core.unpack(words.reshape(-1))
    values, exists = values.reshape(words.shape), exists.reshape(words.shape)
    return {int(t): [float(values[i, j]) if exists[i, j] else None for i in range(len(dims))]
            for j, t in enumerate(times)}


def _same(a: float, b: float) -> bool:
    """Equal, or one unit apart in the last stored digit (a value rounded twice at a tie)."""
    return a == b or abs(a - b) <= max(1.5e-7, 1e-5 * max(abs(a), abs(b)))


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


MISSING: dict[tuple[str, int], int] = {}


def _compare(base: str, host: pyml.Host, after: int, before: int) -> tuple[int, int, int, int, list[str]]:
    """(values compared, exactly equal, values Netdata has that pyml lacks, torn reads, mismatches).

    A torn read: Netdata writes a chart's values while ``allmetrics`` reads
    them (it takes no lock), so a chart's ``last_updated`` can come with the
    values of its next second. Such a value equals Netdata's one second later;
    any other difference is a mismatch.
    """
    compared = exact = missing = torn = 0
    bad: list[str] = []
    for chart in [c for c in host.charts() if not c.internal]:
        ids, rows = _netdata_rows(base, chart.id, after, before)
        dims = [d for d in ids if d in chart.dimensions]
        if not dims:
            continue
        mine = _pyml_rows(host, chart.id, dims, after, before)
        for t, theirs in rows.items():
            values = dict(zip(ids, theirs))
            ours = mine.get(t)
            for k, d in enumerate(dims):
                v = values[d]
                if v is None:
                    continue
                if ours is None or ours[k] is None:
                    missing += 1
                    MISSING[(chart.id, t)] = MISSING.get((chart.id, t), 0) + 1
                    continue
                compared += 1
                if ours[k] == v:
                    exact += 1
                elif not _same(ours[k], v):
                    later = rows.get(t + 1)
                    if later is not None and later[ids.index(d)] is not None and _same(ours[k], later[ids.index(d)]):
                        torn += 1
                    else:
                        bad.append(f"{chart.id}|{d} at {t}: pyml {ours[k]!r}, netdata {v!r}")
    return compared, exact, missing, torn, bad


def test_pyml_mirrors_a_real_netdata(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pyml.sources.netdata")
    port, refused_port = _free_ports(2)
    base = f"http://127.0.0.1:{port}"
    refused = f"http://127.0.0.1:{refused_port}"
    # bound without listening: connections are refused, and no other process (another run of this test)
    # can start listening there meanwhile
    refusing = socket.socket()
    refusing.bind(("127.0.0.1", refused_port))
    netdata_dir = tmp_path / "netdata"
    proc = ref.start_netdata(netdata_dir, port, hostname=HOSTNAME, timeout=300)
    cfg = pyml.MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=60, train_every=30,
                        clamp=False)
    agent = None
    try:
        agent = Agent(tmp_path / "pyml", cfg, port=0, local=False, netdata=[base, refused],
                      source_options={"backoff": (0.5, 4.0), "timeout": 10.0})
        started = time.monotonic()
        source, dead = agent.sources
        assert _wait(lambda: HOSTNAME in agent.hosts and (agent.hosts[HOSTNAME].last_time or 0) > 0, 120)
        host = agent.hosts[HOSTNAME]
        first = host.last_time
        # --- over a minute of collection, with models trained and anomaly bits stored
        assert _wait(lambda: host.last_time - first >= 65, 200), (host.last_time, first)
        assert _wait(lambda: host.ml_info()["trained-dimensions"] > 10, 120), host.ml_info()
        # --- charts: every chart Netdata lists, with its name, units, family and dimensions
        charts = ref.answer(base, "/api/v1/charts")["json"]["charts"]
        time.sleep(4)  # charts Netdata created just now reach the mirror at the next polls
        for chart_id, doc in charts.items():
            mirrored = host.chart(chart_id)
            assert (mirrored.name, mirrored.units, mirrored.family) == (doc["name"], doc["units"], doc["family"])
            # every listed dimension, plus those Netdata hides from /api/v1/charts (cpu's idle)
            assert set(doc["dimensions"]) <= set(mirrored.dimensions)
            names = {d: v["name"] for d, v in doc["dimensions"].items() if v["name"] != d}
            assert names.items() <= mirrored.dimension_names.items()
        assert "idle" in host.chart("system.cpu").dimensions
        assert not [r for r in caplog.records if "dimensions changed" in r.getMessage()]
        ticks_before = source.stats.ticks
        mid = host.last_time
        # within the samples the host keeps (a lab-sized history: about a minute)
        compared, exact, missing, torn, bad = _compare(base, host, max(first + 5, host.first_time + 2), mid - 3)
        assert not bad, bad[:10]
        assert compared > 50 * 100 and exact >= 0.99 * compared, (compared, exact)
        assert torn <= 0.001 * compared, (torn, compared)
        # most of those values were read against the answer learned from the previous poll: Netdata's
        # answers differ from one second to the next only in their numbers
        assert source.stats.learned > source.stats.polls // 2, source.stats
        by_t = collections.Counter(t for (_, t) in MISSING)
        assert missing <= 0.01 * compared, (missing, compared, sorted(by_t.items()), sorted(MISSING)[:20], first,
                                            mid, source.stats)
        info = host.ml_info()
        assert info["total-dimensions"] > 100
        status, body = _api(agent, f"/host/{HOSTNAME}/api/v1/data?chart=system.cpu&after=-20&points=0"
                                   f"&options=anomaly-bit,seconds")
        assert status == 200
        bits = [v for row in json.loads(body)["data"] for v in row[1:] if v is not None]
        assert bits and set(bits) <= {0, 100}
        # the trained models flag some seconds: anomalous bits exist somewhere on the host
        rates = host.anomaly_rates(first, mid)
        assert rates and sum(r > 0 for r in rates.values()) > 0, (len(rates), info)
        # --- the refusing source: one clear error, retries with backoff, the other host unaffected
        elapsed = time.monotonic() - started
        assert dead.state == "down" and dead.stats.failures >= 3
        assert dead.stats.failures <= 4 + elapsed / 2, (dead.stats.failures, elapsed)  # backing off, not spinning
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert sum(refused in m for m in errors) == 1, [m for m in errors if refused in m]
        assert any(refused in m and "retrying with backoff" in m for m in errors)
        # --- Netdata restarts (RAM database: its history is lost)
        ref.stop_netdata(proc)
        stopped = int(time.time())      # Netdata collects nothing after this second
        time.sleep(5)
        proc = ref.start_netdata(netdata_dir, port, hostname=HOSTNAME, timeout=300)
        assert _wait(lambda: source.stats.reconnects >= 1 and host.last_time >= stopped + 25, 180)
        end = host.last_time
        times, words = host.read_words([f"system.cpu|{d}" for d in host.chart("system.cpu").dimensions],
                                       first, end)
        assert len(set(times.tolist())) == len(times)                     # nothing stored twice
        present = times[(words != 0).any(axis=0)]
        restarted_at = int(ref.answer(base, "/api/v1/data?chart=system.cpu&after=0&before=0&points=0"
                                            "&options=jsonwrap,seconds")["json"]["first_entry"])
        gap = present[(present > stopped) & (present < restarted_at)]
        assert gap.size == 0, gap                  # Netdata was down and lost those seconds: gaps
        assert present.max() >= end - 2            # collecting again
        compared, exact, missing, torn, bad = _compare(base, host, max(restarted_at, host.first_time + 2), end - 3)
        assert not bad, bad[:10]
        assert torn <= 0.001 * compared + 20, (torn, compared)
        assert compared > 0 and exact >= 0.99 * compared
        assert source.stats.ticks > ticks_before
        assert dead.stats.failures > 3             # still retrying, still alone in failing
    finally:
        if agent is not None:
            agent.close()
        ref.stop_netdata(proc)
        refusing.close()


def _api(agent: Agent, path: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(agent.server.url + path, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_http_client_reads_netdata_answers_plain_and_gzip_on_one_connection(tmp_path: Path) -> None:
    # Netdata 1.37 answers with Content-Length, or chunked when it compresses: both framings, kept alive
    import asyncio

    from pyml.sources._http import HttpClient

    port = _free_ports(1)[0]
    proc = ref.start_netdata(tmp_path / "nd", port, hostname=HOSTNAME)
    try:
        async def read(gzip: bool) -> list[tuple[int, str, bytes]]:
            client = HttpClient("127.0.0.1", port, gzip=gzip)
            got = []
            for path in ("/api/v1/info", "/api/v1/allmetrics?format=json", "/api/v1/nope"):
                response = await client.get(path)
                got.append((response.status, response.headers.get("transfer-encoding", "") + "/" +
                            response.headers.get("content-encoding", ""), response.body))
            assert client.requests == 3 and client._connection is not None and not client._connection.lost
            client.close()
            return got

        plain, packed = asyncio.run(read(False)), asyncio.run(read(True))
    finally:
        ref.stop_netdata(proc)
    assert [s for s, _, _ in plain] == [s for s, _, _ in packed] == [200, 200, 404]
    assert all(framing == "/" for _, framing, _ in plain)
    assert all(framing == "chunked/gzip" for _, framing, _ in packed)
    for (_, _, a), (_, _, b) in zip(plain[:2], packed[:2]):
        assert json.loads(a).keys() == json.loads(b).keys()
    assert json.loads(packed[0][2])["mirrored_hosts"] == [HOSTNAME] and b"nope" in packed[2][2]
