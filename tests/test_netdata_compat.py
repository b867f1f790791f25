"""pyml's v1 API against a real Netdata 1.37's recorded answers (``tests/data/netdata-1.37``).

The recorded per-second samples of ``system.cpu`` (1 s) and ``system.load``
(5 s) are fed into pyml hosts; every recorded ``/api/v1/data`` query is then
asked of pyml with the same "now", and rows (timestamps and values), the
window (``after``, ``before``, ``points``, ``view_update_every``) and the
``jsonwrap`` keys must agree. Other endpoints are compared by shape: keys in
order, value types, status codes. The fixtures come from
``python tests/netdata_reference.py record``.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

import pyml
from pyml.api import create_app

DATA = Path(__file__).parent / "data" / "netdata-1.37"
RECORD = json.loads((DATA / "data.json").read_text())
ENDPOINTS = json.loads((DATA / "endpoints.json").read_text())
NOW = RECORD["now"]
HIDDEN = {"idle"}  # hidden in Netdata's system.cpu: listed only when a pattern names it


def _host(chart: str, update_every: int, last: int) -> pyml.Host:
    raw = RECORD["raw"][chart]
    labels = raw["result"]["labels"][1:]
    host = pyml.Host(f"ndref-{update_every}", pyml.MLConfig(profile="netdata-1.33", enabled=False), update_every=update_every,
                     background=False, history=1200)
    host.add_chart(chart, labels, units="", family=chart.split(".")[1], context=chart)
    for row in sorted(raw["result"]["data"]):
        if row[0] <= last:
            host.collect_all(row[0], [np.nan if v is None else v for v in row[1:]])
    return host


def _last_entry(chart: str) -> int:
    """The chart's newest sample when the relative queries were made (their jsonwrap's last_entry)."""
    for q in RECORD["queries"]:
        if f"chart={chart}&" in q["path"] and isinstance(q.get("json"), dict) and "last_entry" in q["json"]:
            return int(q["json"]["last_entry"])
    raise AssertionError(f"no jsonwrap query of {chart} recorded")


@pytest.fixture(scope="module")
def clients() -> Any:
    # Relative windows end at the chart's newest sample when they were asked (before=0), so that
    # host stops there; absolute windows were asked later and see every recorded sample.
    hosts = {"system.cpu": _host("system.cpu", 1, _last_entry("system.cpu")),
             "system.load": _host("system.load", 5, _last_entry("system.load")),
             "absolute": _host("system.cpu", 1, NOW)}
    out = {chart: TestClient(create_app(host, clock=lambda: NOW + 1)) for chart, host in hosts.items()}
    yield out
    for host in hosts.values():
        host.close()


def _client(clients: Any, path: str) -> Any:
    if "system.load" in path:
        return clients["system.load"]
    query = dict(urllib.parse.parse_qsl(path.split("?", 1)[1]))
    relative = abs(int(query.get("after", -600))) < 10**8 or abs(int(query.get("before", 0))) < 10**8
    return clients["system.cpu"] if relative else clients["absolute"]


def _pyml_path(path: str) -> str:
    """The recorded path, with Netdata's hidden dimension left out where Netdata leaves it out
    (with ``percentage`` it stays: it counts in the total; the tests drop its column)."""
    query = dict(urllib.parse.parse_qsl(path.split("?", 1)[1], keep_blank_values=True))
    if "percentage" in query.get("options", ""):
        return path
    if not any(k in query for k in ("dimension", "dimensions", "dims", "dim")):
        return path + "&dimensions=" + urllib.parse.quote("!idle,*")
    return path


def _drop(doc: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """``doc`` (plain or jsonwrap) without the columns of ``names``."""
    if "result" in doc:
        keep = [i for i, n in enumerate(doc["dimension_names"]) if n not in names]
        doc = dict(doc)
        for key in ("dimension_names", "dimension_ids", "latest_values", "view_latest_values"):
            doc[key] = [doc[key][i] for i in keep]
        doc["dimensions"] = len(keep)
        doc["result"] = _drop(doc["result"], names)
        return doc
    cols = [0] + [i for i, n in enumerate(doc["labels"]) if i and n not in names]
    return {"labels": [doc["labels"][i] for i in cols], "data": [[r[i] for i in cols] for r in doc["data"]]}


def _kind(value: Any) -> str | None:
    """A JSON value's kind: numbers are one kind (Netdata prints 0 where pyml may print 0.0)."""
    if value is None:
        return None
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-5 * max(1.0, abs(b))


def _same_rows(got: list[list[Any]], want: list[list[Any]]) -> bool:
    return len(got) == len(want) and all(g[0] == w[0] and len(g) == len(w) and all(map(_close, g[1:], w[1:]))
                                         for g, w in zip(got, want))


DATA_QUERIES = [q for q in RECORD["queries"] if q["status"] == 200 and isinstance(q.get("json"), dict)
                and "format=" not in q["path"] and "bogus" not in q["path"]]


@pytest.mark.parametrize("recorded", DATA_QUERIES, ids=[q["path"][len("/api/v1/data?"):] for q in DATA_QUERIES])
def test_data_rows_and_window_match_netdata(clients: Any, recorded: dict[str, Any]) -> None:
    response = _client(clients, recorded["path"]).get(_pyml_path(recorded["path"]))
    assert response.status_code == 200, response.text
    got, want = response.json(), recorded["json"]
    if "percentage" in recorded["path"]:
        got = _drop(got, HIDDEN)
    if "api" in want:
        assert list(got) == list(want)
        for key in ("after", "before", "points", "view_update_every", "update_every", "dimensions", "group",
                    "format", "dimension_names", "dimension_ids"):
            assert got[key] == want[key], key
        assert set(got["options"].split(",")) == set(want["options"].split(","))
        assert [_kind(got[k]) for k in got] == [_kind(want[k]) or _kind(got[k]) for k in want]
        got, want = got["result"], want["result"]
    assert got["labels"] == want["labels"]
    assert _same_rows(got["data"], want["data"]), (got["data"][:3], want["data"][:3])


def test_relative_window_gives_n_rows_of_one_second(clients: Any) -> None:
    doc = clients["system.cpu"].get("/api/v1/data?chart=system.cpu&after=-60&points=60").json()
    assert len(doc["data"]) == 60
    assert [r[0] for r in doc["data"]] == list(range(doc["data"][0][0], doc["data"][0][0] - 60, -1))


FORMAT_QUERIES = [q for q in RECORD["queries"] if "format=" in q["path"] and "bogus" not in q["path"]]


@pytest.mark.parametrize("recorded", FORMAT_QUERIES, ids=[q["path"].split("&", 4)[-1] for q in FORMAT_QUERIES])
def test_formats_match_netdata(clients: Any, recorded: dict[str, Any]) -> None:
    path = _pyml_path(recorded["path"])
    if "percentage" in path:  # idle counts in the total but is not listed, as in Netdata
        path = path.replace("&options=", "&dimensions=!idle,*&options=")
    response = _client(clients, recorded["path"]).get(path)
    assert response.status_code == recorded["status"] == 200
    assert response.headers["content-type"].split(";")[0] == recorded["content_type"]
    want = recorded.get("json", recorded.get("text"))
    if "json" in recorded:
        got = response.json()
        if isinstance(want, dict) and "labels" in want:
            assert got["labels"] == want["labels"] and _same_rows(got["data"], want["data"])
        elif isinstance(want, dict):
            assert list(got) == list(want) and len(got["rows"]) == len(want["rows"])
            assert got["cols"] == want["cols"]
            for g, w in zip(got["rows"], want["rows"]):
                assert g["c"][:3] == w["c"][:3] or g["c"][1:3] == w["c"][1:3]
                assert all(_close(a["v"], b["v"]) for a, b in zip(g["c"][3:], w["c"][3:]))
        else:
            assert len(got) == len(want) and all(map(_close, got, want))
        return
    text = response.text
    if "datasource" in recorded["path"] or "jsonp" in recorded["path"]:
        assert text.split("(", 1)[0] == want.split("(", 1)[0] and text.endswith(");") == want.endswith(");")
        return
    got_lines, want_lines = text.splitlines(), want.splitlines()
    assert len(got_lines) == len(want_lines)
    if "ssv" in recorded["path"]:
        sep = "," if "ssvcomma" in recorded["path"] else " "
        assert all(map(_close, map(float, text.split(sep)), map(float, want.split(sep))))
        return
    for g, w in zip(got_lines, want_lines):
        if "csv" in recorded["path"] and "seconds" in recorded["path"]:
            gs, ws = g.split(","), w.split(",")
            assert gs[0] == ws[0] and (gs == ws or all(map(_close, map(float, gs[1:]), map(float, ws[1:]))))
        else:
            assert len(g) > 0 and g.count(",") == w.count(",") and g.count("\t") == w.count("\t") \
                and g.count("|") == w.count("|") and g.count("<td>") == w.count("<td>")


@pytest.mark.parametrize("dims", ["s*", "user,nope", "!user,*", "user&dimension=system"])
def test_dimension_patterns_match_netdata(clients: Any, dims: str) -> None:
    recorded = next(q for q in RECORD["queries"] if f"&dimensions={dims}" in q["path"])
    got = clients["absolute"].get(recorded["path"]).json()
    assert got["labels"] == recorded["json"]["labels"]
    assert _same_rows(got["data"], recorded["json"]["data"])


def test_pattern_matching_nothing_and_unknown_chart_are_404_missing_chart_400(clients: Any) -> None:
    for marker in ("&dimensions=nope", "chart=no.such.chart", "data?after=-10"):
        recorded = next(q for q in RECORD["queries"] if marker in q["path"])
        path = recorded["path"]
        response = clients["absolute"].get(path)
        assert response.status_code == recorded["status"], path
        assert "error" in response.json()


def test_dimensions_star_lists_every_dimension(clients: Any) -> None:
    recorded = next(q for q in RECORD["queries"] if "&dimensions=*" in q["path"])
    got = clients["absolute"].get(recorded["path"]).json()
    assert got["labels"] == recorded["json"]["labels"]  # pyml has no hidden dimensions; idle is fed as any other


def _types(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _types(v) for k, v in doc.items()}
    return type(doc).__name__ if doc is not None else None


def _same_keys(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    assert list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"


def test_info_has_netdata_keys_in_order(clients: Any) -> None:
    want = ENDPOINTS["info"]["json"]
    got = clients["system.cpu"].get("/api/v1/info").json()
    assert list(got)[: len(want)] == list(want)
    assert list(got)[len(want):] == ["ml-info"]
    assert "memory_mode" not in got and got["memory-mode"] == "ram"
    for key in ("mirrored_hosts", "mirrored_hosts_status", "alarms", "host_labels", "collectors"):
        assert type(got[key]) is type(want[key]), key
    assert list(got["mirrored_hosts_status"][0]) == list(want["mirrored_hosts_status"][0])


def test_charts_and_chart_have_netdata_keys(clients: Any) -> None:
    want = ENDPOINTS["charts"]["json"]
    got = clients["system.cpu"].get("/api/v1/charts").json()
    _same_keys(got, want, "charts")
    w_chart, g_chart = want["charts"]["system.cpu"], got["charts"]["system.cpu"]
    _same_keys(g_chart, w_chart, "charts.system.cpu")
    assert set(g_chart["dimensions"]) - HIDDEN == set(w_chart["dimensions"])  # keyed by dimension id
    assert all(list(v) == ["name"] for v in g_chart["dimensions"].values())
    single = clients["system.cpu"].get("/api/v1/chart?chart=system.cpu")
    assert single.status_code == 200 and list(single.json()) == list(ENDPOINTS["chart"]["json"])
    assert clients["system.cpu"].get("/api/v1/chart?chart=no.such.chart").status_code == \
        ENDPOINTS["chart_missing"]["status"] == 404
    assert clients["system.cpu"].get("/api/v1/chart").status_code == ENDPOINTS["chart_no_param"]["status"] == 400


def test_contexts_and_context_have_netdata_keys(clients: Any) -> None:
    want = ENDPOINTS["contexts"]["json"]
    got = clients["system.cpu"].get("/api/v1/contexts").json()
    _same_keys(got, want, "contexts")
    _same_keys(got["contexts"]["system.cpu"], want["contexts"]["system.cpu"], "contexts.system.cpu")
    full = clients["system.load"].get("/api/v1/contexts?options=full").json()["contexts"]["system.load"]
    w_full = ENDPOINTS["contexts_full"]["json"]["contexts"]["system.load"]
    assert set(full) <= set(w_full) and "charts" in full
    assert set(full["charts"]["system.load"]["dimensions"]) == set(w_full["charts"]["system.load"]["dimensions"])
    one = clients["system.load"].get("/api/v1/context?context=system.load")
    assert one.status_code == 200 and list(one.json()) == list(ENDPOINTS["context"]["json"])
    assert clients["system.load"].get("/api/v1/context?context=no.such").status_code == 404


def test_allmetrics_formats_have_netdata_shapes(clients: Any) -> None:
    want = ENDPOINTS["allmetrics_json"]["json"]["system.load"]
    got = clients["system.load"].get("/api/v1/allmetrics?format=json").json()["system.load"]
    _same_keys(got, want, "allmetrics")
    assert list(got["dimensions"]) == list(want["dimensions"])
    assert all(list(v) == ["name", "value"] for v in got["dimensions"].values())
    shell = clients["system.load"].get("/api/v1/allmetrics?format=shell").text
    assert "\n# chart: system.load (name: system.load)\nNETDATA_SYSTEM_LOAD_LOAD1=\"" in shell
    assert 'NETDATA_SYSTEM_LOAD_VISIBLETOTAL="' in shell
    prom = clients["system.load"].get("/api/v1/allmetrics?format=prometheus").text
    assert prom.splitlines()[0].startswith("netdata_info{instance=")
    assert any(line.startswith('netdata_system_load_') and 'chart="system.load",family="load",dimension="load1"'
               in line for line in prom.splitlines())
    bad = clients["system.load"].get("/api/v1/allmetrics?format=bogus")
    assert bad.status_code == ENDPOINTS["allmetrics_bad"]["status"] == 400


def test_alarms_and_alarm_log_have_netdata_shapes(clients: Any) -> None:
    want = ENDPOINTS["alarms"]["json"]
    got = clients["system.cpu"].get("/api/v1/alarms?all&format=json").json()
    _same_keys(got, want, "alarms")
    log = clients["system.cpu"].get("/api/v1/alarm_log")
    assert log.status_code == 200 and log.json() == []  # a host without ML has no alarm


def test_weights_have_netdata_shape() -> None:
    want = ENDPOINTS["weights"]["json"]
    cfg = pyml.MLConfig(profile="netdata-1.33", min_train_samples=60, max_train_samples=120, train_every=120, clamp=False)
    with pyml.Host("w", cfg, background=False, history=400) as host:
        host.add_chart("system.cpu", ["user", "system"], context="system.cpu")
        rng = np.random.default_rng(5)
        for i in range(300):
            if i == 150:
                host.train_now()
            values = 10 + rng.normal(0, 1, 2)
            if 250 <= i < 260:
                values[0] += 500
            host.collect_all(1_700_000_000 + i, values)
        got = TestClient(create_app(host)).get("/api/v1/weights?after=-100&method=anomaly-rate").json()
    _same_keys(got, want, "weights")
    _same_keys(got["statistics"], want["statistics"], "weights.statistics")
    ctx = got["contexts"]["system.cpu"]
    assert list(ctx) == ["charts", "weight"] and list(ctx["charts"]["system.cpu"]) == ["dimensions", "weight"]
    assert ctx["charts"]["system.cpu"]["dimensions"]["user"] == 0.0  # the most anomalous weighs 0
    assert got["options"] == "nonzero,null2zero,unaligned,anomaly-bit" == want["options"]


def test_percent_encoded_question_mark_is_accepted(clients: Any) -> None:
    recorded = ENDPOINTS["encoded_question_mark"]
    got = clients["system.load"].get("/api/v1/data%3Fchart=system.load&after=-1&options=seconds")
    assert got.status_code == recorded["status"] == 200
    assert got.json()["labels"] == recorded["json"]["labels"] and len(got.json()["data"]) == 1


@pytest.mark.parametrize("callback", [None, "foo"])
def test_jsonp_with_jsonwrap_wraps_once_as_netdata_does(clients: Any, callback: str | None) -> None:
    # Netdata 1.37 answers format=jsonp&options=jsonwrap with the jsonwrap document inside the callback,
    # its "result" the plain {"labels", "data"} object
    client = clients["absolute"]
    query = "/api/v1/data?chart=system.cpu&after=-5&points=5&options=jsonwrap"
    plain = client.get(query).json()
    response = client.get(query + "&format=jsonp" + (f"&callback={callback}" if callback else ""))
    assert response.headers["content-type"].split(";")[0] == "application/x-javascript"
    name = callback or "callback"
    text = response.text
    assert text.startswith(name + "(") and text.endswith(");")
    inside = json.loads(text[len(name) + 1:-2])
    assert inside == plain
    assert set(inside["result"]) == {"labels", "data"} and len(inside["result"]["data"]) == 5
