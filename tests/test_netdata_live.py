"""pyml's v1 API against a live Netdata (Debian's ``netdata`` package), started here on loopback.

Netdata runs from a temporary directory with its own configuration (RAM database, ``/proc``
only, no cloud); after a minute of samples, ``system.cpu``'s per-second samples are
copied into a pyml host, and the same absolute-window queries (groupings, points, options)
asked of both must give the same rows and windows. Skipped only when the ``netdata`` binary is
not installed (``ci/system_deps.sh`` installs it).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

import pyml
from pyml.api import create_app

import netdata_reference as ref

pytestmark = pytest.mark.skipif(ref.NETDATA is None, reason="the netdata binary is not installed")


def _free_port() -> int:
    for port in range(20150, 20200):  # this project's test port range
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20150-20199")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    port = _free_port()
    proc = ref.start_netdata(tmp_path_factory.mktemp("netdata"), port, hostname="ndlive", timeout=300)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            doc = ref.answer(base, "/api/v1/data?chart=system.cpu&after=0&before=0&points=0&options=jsonwrap")
            if doc["status"] == 200 and doc["json"]["last_entry"] - doc["json"]["first_entry"] >= 60:
                break
            time.sleep(2)
        else:
            pytest.fail("netdata collected less than 60 s of system.cpu in 2 minutes")
        yield base
    finally:
        ref.stop_netdata(proc)


def _fed_host(base: str) -> tuple[pyml.Host, int]:
    raw = ref.answer(base, "/api/v1/data?chart=system.cpu&after=0&before=0&points=0&dimensions=*"
                           "&options=jsonwrap,seconds")["json"]
    labels = raw["result"]["labels"][1:]
    host = pyml.Host("ndlive", pyml.MLConfig(profile="netdata-1.33", enabled=False), background=False, history=4000)
    host.add_chart("system.cpu", labels, context="system.cpu")
    for row in sorted(raw["result"]["data"]):
        host.collect_all(row[0], [np.nan if v is None else v for v in row[1:]])
    return host, int(raw["last_entry"])


QUERIES = ["points=5&group=average", "points=4&group=max", "points=3&group=median", "points=7&group=stddev",
           "points=2&group=incremental-sum", "points=6&group=ses", "points=0", "points=5&options=unaligned",
           "points=4&dimensions=user,system&options=abs,null2zero", "points=3&gtime=4"]


def test_live_netdata_and_pyml_agree(live: str) -> None:
    host, last = _fed_host(live)
    client = TestClient(create_app(host))
    # Netdata aligns a row's end up to a multiple of its group (up to 13 s for points=2 over 28 s):
    # 20 s of margin keeps every row, aligned up, within the copied samples.
    after, before = last - 48, last - 20
    try:
        for tail in QUERIES:
            path = f"/api/v1/data?chart=system.cpu&after={after}&before={before}&{tail}"
            want = ref.answer(live, path + ("&" if "options" in tail else "&options=") + "jsonwrap")
            if "options" in tail:
                want = ref.answer(live, path.replace("options=", "options=jsonwrap,"))
            assert want["status"] == 200, want
            mine = path if "dimensions" in tail else path + "&dimensions=" + urllib.parse.quote("!idle,*")
            mine = mine.replace("options=", "options=jsonwrap,") if "options" in tail else mine + "&options=jsonwrap"
            got = client.get(mine).json()
            w = want["json"]
            for key in ("after", "before", "points", "view_update_every", "dimension_names"):
                assert got[key] == w[key], (tail, key, got[key], w[key])
            assert len(got["result"]["data"]) == len(w["result"]["data"])
            for g, e in zip(got["result"]["data"], w["result"]["data"]):
                assert g[0] == e[0]
                assert all((a is None and b is None) or abs(a - b) <= 1e-5 * max(1.0, abs(b)) for a, b in
                           zip(g[1:], e[1:])), (tail, g, e)
        info = client.get("/api/v1/info").json()
        assert list(info)[:-1] == list(ref.answer(live, "/api/v1/info")["json"])
    finally:
        host.close()
