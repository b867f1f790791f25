"""The v1 API's short path (pyml.api.dispatch) and both HTTP parsers of pyml.api.ApiServer.

The short path must answer exactly as the framework's routes do (status, content type, headers
that matter, body), whichever HTTP parser serves.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from typing import Any

import numpy as np
import pytest
from starlette.responses import Response
from starlette.testclient import TestClient

import pyml
from pyml.api import ApiServer, create_app
from pyml.api.dispatch import HostApis, V1Dispatch, route_of
from pyml.api.serve import HttpToolsProtocol

T0 = 1_700_000_000
PARSERS = ["h11"] + (["httptools"] if HttpToolsProtocol is not None else [])


@pytest.fixture(scope="module")
def host() -> Any:
    cfg = pyml.MLConfig(profile="netdata-1.33", min_train_samples=60, max_train_samples=120, train_every=120,
                        clamp=False)
    h = pyml.Host("dispatch", cfg, background=False, history=400)
    h.add_chart("system.cpu", ["user", "system"])
    rng = np.random.default_rng(9)
    for i in range(300):
        if i == 150:
            h.train_now()
        h.collect_all(T0 + i, [rng.normal(10, 2) * (6 if i % 37 == 0 else 1), rng.normal(5, 1)])
    yield h
    h.close()


def test_route_of() -> None:
    assert route_of("/api/v1/data") == (None, "data")
    assert route_of("/host/node-1/api/v1/info") == ("node-1", "info")
    for path in ("/api/v1/", "/api/v1/data/", "/api/v1/a/b", "/host//api/v1/data", "/host/x/api/v1/",
                 "/host/x/api/v2/data", "/api/v2/data", "/metrics", "/", "/host/x"):
        assert route_of(path) is None, path


PATHS = [
    "/api/v1/data?chart=system.cpu&after=-60&points=6&options=jsonwrap",
    "/api/v1/data?chart=system.cpu&after=-20&format=csv&options=ms,flip",
    "/api/v1/data?chart=system.cpu&after=-20&format=jsonp&callback=cb",
    "/api/v1/data?chart=system.cpu&after=-20&dimension=user&dim=system&options=jw-anomaly-rates,jsonwrap",
    "/api/v1/data?chart=system.cpu&after=-20&filename=x.csv&format=csv",
    "/api/v1/data%3Fchart=system.cpu&after=-5",
    "/api/v1/data?chart=nope", "/api/v1/data?chart=system.cpu&points=x", "/api/v1/data",
    "/api/v1/nope", "/api/v1/info", "/api/v1/charts", "/api/v1/ml_info", "/api/v1/alarms?all",
    "/api/v1/weights?after=-200", "/api/v1/anomaly_events?after=0&before=2000000000000",
    "/host/dispatch/api/v1/data?chart=system.cpu&after=-3", "/host/nobody/api/v1/info",
    "/api/v1/data?chart=system.cpu&x=" + "a" * 9000,
]


def _normal(status: int, ctype: str | None, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
    text = body.decode()
    try:
        doc: Any = json.loads(text)
    except ValueError:
        doc = text
    if isinstance(doc, dict):
        doc.pop("now", None)
        if isinstance(doc.get("statistics"), dict):
            doc["statistics"].pop("query_time_ms", None)
        if "mirrored_hosts_status" in doc:
            doc.pop("total_disk_space", None)
    return status, ctype, headers.get("content-disposition"), doc


@pytest.mark.parametrize("parser", PARSERS)
def test_the_short_path_answers_as_the_routes_do(host: pyml.Host, parser: str) -> None:
    client = TestClient(create_app(host), base_url="http://localhost")
    with ApiServer(host, port=0, http=parser) as server:
        assert server.http == parser
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for path in PATHS * 2:  # twice: a request seen before may be answered on the event loop
            conn.request("GET", path)
            response = conn.getresponse()
            got = _normal(response.status, response.getheader("content-type"),
                          {k.lower(): v for k, v in response.getheaders()}, response.read())
            ref = client.get(path)
            want = _normal(ref.status_code, ref.headers.get("content-type"), dict(ref.headers), ref.content)
            assert got == want, path
        conn.close()


def test_a_served_mapping_that_is_empty_answers_503() -> None:
    with ApiServer({}, port=0) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/api/v1/info")
        response = conn.getresponse()
        assert response.status == 503 and json.loads(response.read())["error"] == "no host is collected yet"


class _Apis:
    """A stand-in for HostApis whose answers take ``cost`` seconds."""

    def __init__(self, cost: float) -> None:
        self.cost = cost
        self.calls = 0

    def answer(self, hostname: str | None, endpoint: str, query: bytes) -> Response:
        self.calls += 1
        time.sleep(self.cost)
        return Response(b"{}", media_type="application/json")


def _get(dispatch: V1Dispatch, path: str, query: bytes = b"") -> int:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query, "headers": []}
    asyncio.run(dispatch(scope, receive, send))
    return int(sent[0]["status"])


def test_cheap_requests_seen_before_are_answered_on_the_event_loop() -> None:
    async def fallback(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the short path should have answered")

    cheap = V1Dispatch(fallback, _Apis(0.0))  # type: ignore[arg-type]
    assert _get(cheap, "/api/v1/data", b"after=-1") == 200
    assert (None, "data", b"after=-1") in cheap._cheap
    assert _get(cheap, "/api/v1/data", b"after=-1") == 200 and cheap.apis.calls == 2
    slow = V1Dispatch(fallback, _Apis(0.002), inline_below=0.001)  # type: ignore[arg-type]
    _get(slow, "/api/v1/data")
    assert not slow._cheap
    slow._cheap[(None, "data", b"")] = None  # was cheap; now it takes longer: back to the threads
    _get(slow, "/api/v1/data")
    assert not slow._cheap
    never = V1Dispatch(fallback, _Apis(0.0), inline_below=0)  # type: ignore[arg-type]
    _get(never, "/api/v1/data")
    assert not never._cheap
    with pytest.raises(ValueError, match="inline_below must be a number of seconds in \\[0, 0.1\\], got 5"):
        V1Dispatch(fallback, _Apis(0.0), inline_below=5)  # type: ignore[arg-type]


def test_an_exception_in_an_endpoint_is_a_json_500_naming_it() -> None:
    class Broken(_Apis):
        def answer(self, hostname: str | None, endpoint: str, query: bytes) -> Response:
            raise RuntimeError("disk on fire")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    dispatch = V1Dispatch(None, Broken(0.0))  # type: ignore[arg-type]
    scope = {"type": "http", "method": "GET", "path": "/api/v1/info", "query_string": b"", "headers": []}
    asyncio.run(dispatch(scope, None, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"]) == {"error": "internal error: RuntimeError: disk on fire"}


def test_other_methods_and_paths_go_to_the_application() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(f"{scope['method']} {scope['path']}")

    dispatch = V1Dispatch(app, _Apis(0.0))  # type: ignore[arg-type]
    for method, path in (("HEAD", "/api/v1/info"), ("POST", "/api/v1/info"), ("GET", "/metrics")):
        asyncio.run(dispatch({"type": "http", "method": method, "path": path, "query_string": b""}, None, None))
    assert seen == ["HEAD /api/v1/info", "POST /api/v1/info", "GET /metrics"]


@pytest.mark.parametrize("parser", PARSERS)
def test_both_parsers_bound_the_head_and_time_it_out(host: pyml.Host, parser: str) -> None:
    with ApiServer(host, port=0, http=parser, header_timeout=0.5) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /api/v1/info HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 40000)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 400"), reply[:80]
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /api/v1/info HTTP/1.1\r\nHost: loc")
            assert sock.recv(1) == b""  # closed by the header timeout
            assert time.monotonic() - started < 5
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            for _ in range(3):  # keep-alive: the head and body of each response arrive
                sock.sendall(b"GET /api/v1/ml_info HTTP/1.1\r\nHost: localhost\r\n\r\n")
                head = b""
                while b"\r\n\r\n" not in head:
                    head += sock.recv(1)
                length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")][0])
                body = b""
                while len(body) < length:
                    body += sock.recv(length - len(body))
                assert head.startswith(b"HTTP/1.1 200") and json.loads(body)


def test_http_parser_names_are_checked(host: pyml.Host) -> None:
    with pytest.raises(ValueError, match="http must be one of auto, httptools, h11, got 'fast'"):
        ApiServer(host, port=0, http="fast")


def test_host_apis_name_a_value_that_is_not_a_host(host: pyml.Host) -> None:
    apis = HostApis({"x": "not a host"}, [], pyml.Host, max_query_bytes=100, max_points=10, clock=None)  # type: ignore[dict-item]
    response = apis.answer("x", "info", b"")
    assert response.status_code == 500 and "hosts['x'] is not a pyml.Host" in response.body.decode()


@pytest.mark.parametrize("module", ["pyml.api", "pyml.query", "pyml.api.fastjson", "pyml.engine"])
def test_each_package_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """``import pyml`` no longer loads the engine, so the query and API packages must import on their own."""
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    root = str(Path(pyml.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    # Run outside the checkout: ``-c`` puts the working directory first on ``sys.path``, and a checkout's
    # ``pyml/`` without its compiled core would shadow the installed package.
    done = subprocess.run([sys.executable, "-c", f"import {module}; import pyml; pyml.Host"], env=env,
                          cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
