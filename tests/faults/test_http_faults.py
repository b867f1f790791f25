"""The HTTP server under slow, never-finishing and many clients; JSON errors; the Host check."""

from __future__ import annotations

import http.client
import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import pyml
from pyml import MLConfig
from pyml.api import ApiServer

T0 = 1_700_000_000


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> pyml.Host:
    directory = tmp_path_factory.mktemp("http")
    h = pyml.Host("http-faults", MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=60, clamp=False),
                  storage_dir=directory, background=False)
    h.add_chart("system.cpu", ["user", "system"])
    for i in range(50):
        h.collect_all(T0 + i, [float(i), 2.0])
    yield h
    h.close()


@pytest.fixture(scope="module")
def server(host):
    with ApiServer(host, port=0, header_timeout=1.0, keep_alive=5.0) as srv:
        yield srv


def request(server: ApiServer, path: str, method: str = "GET", host_header: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {} if host_header is None else {"Host": host_header}
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("content-type"), body


def test_errors_are_json(server, ledger):
    for path, method, status in (("/nope", "GET", 404), ("/api/v1/info", "POST", 405),
                                 ("/api/v1/data?chart=nope", "GET", 404), ("/api/v1/data?chart=system.cpu&points=x",
                                                                           "GET", 400)):
        got, ctype, body = request(server, path, method)
        assert got == status and ctype == "application/json", (path, got, ctype, body)
        assert json.loads(body)["error"]
    ledger.record("HTTP: unknown path, wrong method, bad parameter (JSON errors)", True, 0)


def test_a_broken_stored_event_answers_json_500(tmp_path, ledger):
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=60, clamp=False)
    h = pyml.Host("broken-event", cfg, storage_dir=tmp_path, background=False)
    h.add_chart("system.cpu", ["user"])
    h.collect_all(T0, [1.0])
    h.close()
    with sqlite3.connect(tmp_path / "anomaly-detection.db") as raw:
        raw.execute("INSERT INTO anomaly_events VALUES ('AD1', 1, ?, 10, 20, '{\"not\": \"an array\"}')", (h.host_id,))
    raw.close()
    h = pyml.Host("broken-event", cfg, storage_dir=tmp_path, background=False)
    try:
        with ApiServer(h, port=0) as srv:
            status, ctype, body = request(srv, "/api/v1/anomaly_event_info?after=10&before=20")
    finally:
        h.close()
    assert status == 500 and ctype == "application/json"
    assert "anomaly-detection.db" in json.loads(body)["error"]
    ledger.record("HTTP: stored event info not an array (JSON 500 naming the file)", True, 0)


def test_host_header_is_checked(host, server, ledger):
    assert request(server, "/api/v1/info", host_header=f"localhost:{server.port}")[0] == 200
    assert request(server, "/api/v1/info", host_header=f"127.0.0.1:{server.port}")[0] == 200
    status, ctype, body = request(server, "/api/v1/info", host_header="attacker.example:80")
    assert status == 403 and ctype == "application/json" and "attacker.example" in json.loads(body)["error"]
    with ApiServer(host, port=0, allow_hosts=["pyml.lan"]) as extra:
        assert request(extra, "/api/v1/info", host_header="pyml.lan")[0] == 200
        assert request(extra, "/api/v1/info", host_header="other.lan")[0] == 403
    ledger.record("HTTP: Host header of another site (DNS rebinding) refused", True, 0)


def test_slow_client_within_the_timeout_is_served(host, ledger):
    with ApiServer(host, port=0, header_timeout=10.0) as patient, \
            socket.create_connection(("127.0.0.1", patient.port), timeout=30) as sock:
        for byte in b"GET /api/v1/ml_info HTTP/1.1\r\nHost: localhost\r\n\r\n":
            sock.sendall(bytes([byte]))
            time.sleep(0.01)
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200")
    ledger.record("HTTP: slow client (one byte every 10 ms)", True, 0)


def test_never_finishing_clients_do_not_block_others_and_are_closed(server, ledger):
    stuck = []
    for _ in range(70):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"GET /api/v1/info HTTP/1.1\r\nHost: local")  # never finished
        stuck.append(sock)
    try:
        statuses = [request(server, "/api/v1/ml_info")[0] for _ in range(10)]
        assert statuses == [200] * 10  # no 503
        deadline = time.monotonic() + 20
        closed = 0
        for sock in stuck:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                closed += sock.recv(1) == b""
            except OSError:
                pass
        assert closed == 70, f"{closed} of 70 header-less connections closed by the header timeout"
    finally:
        for sock in stuck:
            sock.close()
    ledger.record("HTTP: 70 connections that never finish their headers", True, 0)


def test_idle_connection_is_closed_by_the_header_timeout(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""
    assert time.monotonic() - started < 15


def test_200_concurrent_keep_alive_clients_get_no_503(server, ledger):
    failures: list[str] = []
    barrier = threading.Barrier(200)

    def client() -> None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            barrier.wait(60)
            for _ in range(3):
                conn.request("GET", "/api/v1/data?chart=system.cpu&after=-10")
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(str(response.status))
            conn.close()
        except Exception as exc:  # noqa: BLE001 - every failure is reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    ledger.record("HTTP: 200 concurrent keep-alive clients", not failures, 0)
    assert not failures, failures[:5]


def test_connections_beyond_the_limit_wait_instead_of_failing(host, ledger):
    with ApiServer(host, port=0, max_connections=2) as small:
        held = [http.client.HTTPConnection("127.0.0.1", small.port, timeout=30) for _ in range(2)]
        for conn in held:
            conn.request("GET", "/api/v1/ml_info")
            conn.getresponse().read()
        result: list[int] = []
        waiting = threading.Thread(target=lambda: result.append(request(small, "/api/v1/ml_info")[0]))
        waiting.start()
        time.sleep(0.5)
        assert not result  # queued behind the two kept-alive connections
        held[0].close()
        waiting.join(30)
        assert result == [200]
        held[1].close()
    ledger.record("HTTP: more connections than the limit (queued, served)", True, 0)


def test_accepted_connections_have_tcp_nodelay(server):
    """Nagle's algorithm held the body of every keep-alive response for the client's delayed ACK (~40 ms).

    (Latency itself is measured by benchmarks/bench_http.py, on a quiet machine.)
    """
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/api/v1/ml_info")
    conn.getresponse().read()
    protocols = list(server._server.server_state.connections)
    assert protocols
    for protocol in protocols:
        sock = protocol.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    conn.close()
