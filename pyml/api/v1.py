"""Netdata's ``/api/v1/<endpoint>`` for one host: parameters in, responses out.

Parameters are read as Netdata reads them: an empty value is as if the
parameter were absent, unknown parameter names are ignored, ``dimension``,
``dim``, ``dimensions`` and ``dims`` may repeat and add up, ``after``
defaults to -600 and ``before`` to 0. Values pyml cannot honour are refused
with HTTP 400 and ``{"error": "..."}`` naming the parameter and the value
(where Netdata silently falls back to a default); an unknown chart,
context, host, or a ``dimensions`` pattern matching nothing is 404, as in
Netdata.

``QueryInPath`` is the ASGI wrapper that accepts a percent-encoded ``?`` in
the path (``/api/v1/data%3Fchart=system.cpu&after=-1``, as the ``netdata``
client package sends it and Netdata accepts).
"""

from __future__ import annotations

import time

import numpy as np
from typing import Any, Callable, Iterable

from starlette.responses import Response

from ..query import DataQuery, NoMatch
from ..query.window import relative_to_absolute
from ..query.ranking import anomaly_ranking, rank_weights
from ..query.tiers import tier_param
from . import documents as docs
from . import fastjson
from .formats import canonical_format, render

__all__ = ["ApiError", "V1Api", "QueryInPath", "error_response", "ENDPOINTS"]

#: Largest magnitude accepted for a time parameter (seconds or milliseconds).
MAX_TIME = 2**42


class ApiError(Exception):
    """A request the API refuses: an HTTP status and the message of ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(document: Any, status: int = 200, indent: int | str | None = None) -> Response:
    """A JSON response (``application/json``; :mod:`pyml.api.fastjson`: non-finite floats are null)."""
    return Response(fastjson.dumps(document, indent), status_code=status, media_type="application/json")


def error_response(status: int, message: str) -> Response:
    """``{"error": message}`` with ``status``."""
    return json_response({"error": message}, status)


class QueryInPath:
    """ASGI middleware: a path holding a decoded ``?`` is split into path and query string."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and "?" in scope.get("path", ""):
            path, _, extra = scope["path"].partition("?")
            query = scope.get("query_string", b"")
            extra_bytes = extra.encode("latin-1", "replace")
            scope = dict(scope, path=path, raw_path=path.encode("latin-1", "replace"),
                         query_string=extra_bytes + (b"&" + query if query else b""))
        await self.app(scope, receive, send)


#: Parameters that are flags: present without a value (``/api/v1/alarms?all``) they are on.
_FLAGS = frozenset({"all"})


def _params(items: Iterable[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Non-empty parameters (first value wins), flags given bare as ``"yes"``, and every ``dimension``-like value."""
    params: dict[str, str] = {}
    dims: list[str] = []
    for name, value in items:
        if name in _FLAGS and (value is None or value == ""):
            params.setdefault(name, "yes")
            continue
        if not name or value is None or value == "":
            continue
        if name in ("dimension", "dim", "dimensions", "dims"):
            dims.append(value)
        params.setdefault(name, value)
    return params, dims


def _number(name: str, raw: str | None, default: float | None = None, *, integer: bool = False) -> float:
    if raw is None:
        if default is None:
            raise ApiError(400, f"missing {name} parameter")
        return default
    try:
        value: float = int(raw, 0)
    except ValueError:
        if integer:
            raise ApiError(400, f"{name} parameter must be an integer, got {raw!r}") from None
        try:
            value = float(raw)
        except ValueError:
            raise ApiError(400, f"{name} parameter must be a number, got {raw!r}") from None
    if value != value or abs(value) > MAX_TIME:
        raise ApiError(400, f"{name} parameter must be a finite number of magnitude at most {MAX_TIME}, got {raw!r}")
    return value


def _event_range(params: dict[str, str]) -> tuple[float, float]:
    after_raw, before_raw = params.get("after"), params.get("before")
    if after_raw is None or before_raw is None:
        missing = " and ".join(n for n, v in (("after", after_raw), ("before", before_raw)) if v is None)
        raise ApiError(400, f"missing after/before parameters ({missing} not given)")
    after, before = _number("after", after_raw), _number("before", before_raw)
    if after > before:
        raise ApiError(400, f"after parameter ({after_raw}) is later than before parameter ({before_raw})")
    if after < 0:
        raise ApiError(400, f"after parameter must not be negative, got {after_raw!r}")
    return after, before


class V1Api:
    """The v1 endpoints of one host.

    Parameters
    ----------
    host : pyml.Host
    hosts : list of Host
        Every host the server serves (``mirrored_hosts``, ``prometheus_all_hosts``).
    max_points : int
        Largest ``points`` of ``/api/v1/data``.
    clock : callable, optional
        Wall clock for windows relative to now (Netdata's now = clock - 1);
        the host's newest tick when None.
    host_status : callable, optional
        ``host_status(host)`` gives ``hops`` and ``reachable`` of a served
        host for ``/api/v1/info`` (a parent's view of its children); see
        :func:`pyml.api.documents.info_document`.
    """

    def __init__(self, host: Any, hosts: list[Any], *, max_points: int, clock: Callable[[], float] | None,
                 host_status: Callable[[Any], Any] | None = None) -> None:
        self.host = host
        self.hosts = hosts
        self.max_points = max_points
        self.clock = clock
        self.host_status = host_status

    def handle(self, endpoint: str, items: Iterable[tuple[str, str]]) -> Response:
        """Answer ``/api/v1/<endpoint>`` with query parameters ``items``."""
        handler = getattr(self, "ep_" + endpoint.replace("-", "_"), None) if endpoint in ENDPOINTS else None
        if handler is None:
            raise ApiError(404, f"unknown endpoint /api/v1/{endpoint}; known: {', '.join(ENDPOINTS)}")
        params, dims = _params(items)
        try:
            return handler(params, dims)
        except ApiError:
            raise
        except NoMatch as exc:
            raise ApiError(404, str(exc)) from None
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0]) if exc.args else "not found") from None
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    # ------------------------------------------------------------------ endpoints

    def ep_info(self, params: dict[str, str], dims: list[str]) -> Response:
        return json_response(docs.info_document(self.host, self.hosts, self.host_status))

    def ep_charts(self, params: dict[str, str], dims: list[str]) -> Response:
        return json_response(docs.charts_document(self.host, self.hosts))

    def ep_chart(self, params: dict[str, str], dims: list[str]) -> Response:
        chart = params.get("chart")
        if chart is None:
            raise ApiError(400, "missing chart parameter (no chart id is given)")
        return json_response(docs.chart_document(self.host, chart))

    def ep_contexts(self, params: dict[str, str], dims: list[str]) -> Response:
        return json_response(docs.contexts_document(self.host, params.get("options"), "|".join(dims) or None))

    def ep_context(self, params: dict[str, str], dims: list[str]) -> Response:
        context = params.get("context") or params.get("ctx")
        if context is None:
            raise ApiError(400, "missing context parameter (no context is given)")
        return json_response(docs.context_document(self.host, context, params.get("options"),
                                                   "|".join(dims) or None))

    def _now(self) -> int | None:
        return None if self.clock is None else int(self.clock()) - 1

    def ep_data(self, params: dict[str, str], dims: list[str]) -> Response:
        wanted = params.get("chart")
        if wanted is None:
            if params.get("context"):
                raise ApiError(400, f"context parameter {params['context']!r}: context queries are not supported; "
                                    "give chart=")
            raise ApiError(400, "missing chart parameter (no chart or context is given)")
        chart = docs.find_chart(self.host, wanted)
        after = _number("after", params.get("after"), -600, integer=True)
        before = _number("before", params.get("before"), 0, integer=True)
        points = int(_number("points", params.get("points"), 0, integer=True))
        if not 0 <= points <= self.max_points:
            raise ApiError(400, f"points parameter must be between 0 and {self.max_points}, got {params['points']!r}")
        gtime = int(_number("gtime", params.get("gtime"), 0, integer=True))
        if gtime < 0:
            raise ApiError(400, f"gtime parameter must not be negative, got {params['gtime']!r}")
        tier = tier_param(params.get("tier"))
        timeout = _number("timeout", params.get("timeout"), 0, integer=True)
        if timeout < 0:
            raise ApiError(400, f"timeout parameter must not be negative, got {params['timeout']!r}")
        google = {}
        fmt_name = params.get("format", "json")
        callback = params.get("callback")
        filename = params.get("filename")
        for field in (params.get("tqx") or "").split(";"):
            key, _, value = field.partition(":")
            if key and value:
                google[key] = value
        if "out" in google:
            fmt_name = {"json": "datasource", "html": "html", "csv": "csv", "tsv-excel": "tsv"}.get(google["out"],
                                                                                                   "json")
        callback = google.get("responseHandler", callback)
        filename = google.get("outFileName", filename)
        fmt = canonical_format(fmt_name)
        query = DataQuery(self.host, now=self._now())
        result = query.query(chart.id, after, before, points, params.get("group", "average"), "|".join(dims) or None,
                             params.get("options", ""), gtime=gtime, group_options=params.get("group_options"),
                             tier=tier)
        rendered = render(result, fmt, callback=_safe(callback), google={k: _safe(v) or "" for k, v in google.items()},
                          last_updated=result.last_entry)
        headers = {}
        if filename:
            headers["Content-Disposition"] = f'attachment; filename="{_safe(filename)}"'
        return Response(rendered.body, media_type=rendered.media_type, headers=headers)

    def ep_allmetrics(self, params: dict[str, str], dims: list[str]) -> Response:
        fmt = params.get("format", "shell")
        flt = params.get("filter")
        if fmt == "json":
            return json_response(docs.allmetrics_json(self.host, flt))
        if fmt == "shell":
            return Response(docs.allmetrics_shell(self.host, flt), media_type="text/plain; charset=utf-8")
        if fmt in ("prometheus", "prometheus_all_hosts"):
            all_hosts = fmt == "prometheus_all_hosts"
            text = docs.allmetrics_prometheus(self.hosts if all_hosts else [self.host], flt,
                                              prefix=params.get("prefix", "netdata"),
                                              timestamps=params.get("timestamps", "yes") in ("yes", "1", "true"),
                                              all_hosts=all_hosts)
            return Response(text, media_type="text/plain; version=0.0.4")
        raise ApiError(400, f"format parameter {fmt!r}: which format? 'shell', 'prometheus', "
                            "'prometheus_all_hosts' and 'json' are supported")

    def ep_alarms(self, params: dict[str, str], dims: list[str]) -> Response:
        return json_response(docs.alarms_document(self.host, all_alarms="all" in params))

    def ep_alarm_log(self, params: dict[str, str], dims: list[str]) -> Response:
        after = int(_number("after", params.get("after"), 0, integer=True))
        return json_response(docs.alarm_log_document(self.host, after, params.get("chart")))

    def ep_weights(self, params: dict[str, str], dims: list[str]) -> Response:
        return json_response(weights_document(self.host, params, self._now()))

    def ep_anomaly_events(self, params: dict[str, str], dims: list[str]) -> Response:
        after, before = _event_range(params)
        return json_response(self.host.anomaly_events(after, before), indent=4)

    def ep_anomaly_event_info(self, params: dict[str, str], dims: list[str]) -> Response:
        after, before = _event_range(params)
        return json_response(self.host.anomaly_event_info(after, before), indent="\t")

    def ep_ml_info(self, params: dict[str, str], dims: list[str]) -> Response:
        return json_response(self.host.ml_info(), indent="\t")


#: The endpoints served under ``/api/v1/``.
ENDPOINTS = ("info", "charts", "chart", "contexts", "context", "data", "allmetrics", "alarms", "alarm_log", "weights",
             "anomaly_events", "anomaly_event_info", "ml_info")


def _safe(text: str | None) -> str | None:
    """Netdata's cleaning of names echoed into JavaScript: anything but ``[A-Za-z0-9._-]`` becomes ``_``."""
    if text is None:
        return None
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in text)


_WEIGHT_OPTIONS = {"raw", "nonzero", "null2zero", "anomaly-bit", "unaligned", "not-aligned", "natural-points",
                   "virtual-points", "abs", "absolute", "percentage", "min2max", "jsonwrap"}


def weights_document(host: Any, params: dict[str, str], now: int | None = None) -> dict[str, Any]:
    """``/api/v1/weights?method=anomaly-rate``: every modelled dimension's anomaly rate in the
    window, Netdata's v1 "contexts" shape (SPEC-NETDATA-2 §8.4).

    Parameters: ``after``/``before`` (aliases ``highlight_after``/``highlight_before``; relative
    as in ``/api/v1/data``), ``method`` (``anomaly-rate`` only), ``context``/``contexts`` and
    ``chart``/``charts`` simple patterns, ``options`` (``raw`` keeps percentages instead of
    Netdata's rank weights; ``nonzero`` drops zero rates and is the default when no option is
    given), ``points``, ``group``, ``tier`` (count from that tier only), ``timeout``; pyml adds ``baseline_after`` and
    ``baseline_before``: the value ranked is then the increase of the rate over the baseline's.
    """
    started = time.perf_counter()
    method = params.get("method", "anomaly-rate")
    if method != "anomaly-rate":
        raise ApiError(400, f"method parameter {method!r} is not supported; pyml computes 'anomaly-rate' only")
    options_raw = params.get("options")
    options = {o for o in (options_raw or "").replace("|", ",").replace(" ", ",").split(",") if o}
    unknown = sorted(options - _WEIGHT_OPTIONS)
    if unknown:
        raise ApiError(400, f"options parameter has unknown option(s) {unknown}; known: {sorted(_WEIGHT_OPTIONS)}")
    if not options:
        options = {"nonzero"}
    tier = tier_param(params.get("tier"))
    if tier is not None and tier >= host.tier_count:
        raise ApiError(400, f"tier parameter {tier} does not exist; this host keeps tiers 0..{host.tier_count - 1}")
    after_raw = params.get("after", params.get("highlight_after"))
    before_raw = params.get("before", params.get("highlight_before"))
    after = int(_number("after", after_raw, -600, integer=True))
    before = int(_number("before", before_raw, 0, integer=True))
    with host.reading():
        last = host.last_time or 0
        first = host.first_time or 0
        clock_now = now if now is not None else last
        if before == 0:
            before = last
        if after == 0:
            after = first
        a, b, _ = relative_to_absolute(after, before, clock_now)
    base = None
    if params.get("baseline_after") is not None or params.get("baseline_before") is not None:
        ba = int(_number("baseline_after", params.get("baseline_after"), None, integer=True))
        bb = int(_number("baseline_before", params.get("baseline_before"), None, integer=True))
        base = relative_to_absolute(ba, bb, clock_now)[:2]
    per_tier = [0] * host.tier_count
    ranking = anomaly_ranking(host, a, b, *(base if base else (None, None)),
                              charts=params.get("charts", params.get("chart")),
                              contexts=params.get("contexts", params.get("context")), tier=tier, per_tier=per_tier)
    ids = [f"{e['chart']}|{e['dimension']}" for e in ranking]
    total = len(host.modelled_dimension_ids())
    values = [e["change"] if base else e["anomaly_rate"] for e in ranking]
    keep = [i for i, v in enumerate(values) if not ("nonzero" in options and v == 0.0)]
    raw = np.array([values[i] for i in keep], dtype=np.float64)
    weights = raw if "raw" in options else rank_weights(raw)
    contexts: dict[str, Any] = {}
    for w, i in zip(weights.tolist(), keep):
        entry = ranking[i]
        ctx = contexts.setdefault(entry["context"], {"charts": {}})
        chart = ctx["charts"].setdefault(entry["chart"], {"dimensions": {}})
        chart["dimensions"][entry["dimension"]] = w
    for ctx in contexts.values():
        for chart in ctx["charts"].values():
            chart["weight"] = sum(chart["dimensions"].values()) / len(chart["dimensions"])
        ctx["weight"] = sum(c["weight"] for c in ctx["charts"].values()) / len(ctx["charts"])
    points_read = int(sum(e["points"] for e in ranking))
    shown = ["nonzero" if "nonzero" in options else "", "null2zero", "unaligned", "anomaly-bit",
             "raw" if "raw" in options else ""]
    return {
        "after": a, "before": b, "duration": b - a, "points": int(_number("points", params.get("points"), 0)),
        "statistics": {"query_time_ms": round((time.perf_counter() - started) * 1000.0, 3), "db_queries": total,
                       "query_result_points": len(ids), "binary_searches": 0, "db_points_read": points_read,
                       "db_points_per_tier": per_tier},
        "group": params.get("group", "average"), "method": "anomaly-rate",
        "options": ",".join(o for o in shown if o),
        "contexts": contexts, "weighted_dimensions": len(keep), "total_dimensions_count": total,
    }

