"""Netdata-compatible HTTP API and Prometheus ``/metrics`` for a :class:`pyml.Host`.

Needs the ``server`` extra (``pip install "pyml-anomaly[server]"``: starlette,
uvicorn and prometheus_client).

Endpoints (GET only; all JSON except ``/metrics``):

* ``/api/v1/info``: basic host fields and ``"ml-info"`` (the ``[ml]`` settings
  of SPEC §5.7 plus the detector's counters; ``{"enabled": false}`` for a
  host without ML);
* ``/api/v1/charts``: every chart, including the detector's own
  ``anomaly_detection.*`` charts (SPEC §1.10 shape);
* ``/api/v1/data``: ``chart``, ``after``, ``before``, ``points``, ``group``,
  ``dimensions``, ``options`` (``anomaly-bit``, ``jsonwrap``, ...), ``format``
  (``json`` only);
* ``/api/v1/anomaly_events``: ``after``/``before`` in **milliseconds**, pairs
  of epoch **seconds** out;
* ``/api/v1/anomaly_event_info``: ``after``/``before`` in seconds (the exact
  bounds of an event), ``null`` if there is no such event;
* ``/api/v1/ml_info``: the counters of the newest detector tick;
* ``/metrics``: Prometheus text format, read from the host at scrape time.

A bad parameter answers HTTP 400 with ``{"error": "..."}`` naming the
parameter; an unknown chart answers 404. The server binds to ``127.0.0.1``
unless told otherwise, bounds the query string, ``points`` and the numbers it
accepts, and only calls the host's query methods, so it may run in another
thread than the one collecting.

    >>> from pyml.api import ApiServer
    >>> with ApiServer(host, port=0) as server:    # doctest: +SKIP
    ...     print(server.url)                      # http://127.0.0.1:<port>
"""

from __future__ import annotations

import json
import math
import platform
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator

try:
    import uvicorn  # noqa: F401  (the serving layer, pyml.api.serve, needs it too)
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"pyml.server needs the 'server' extra (starlette, uvicorn, prometheus_client): "
        f'pip install "pyml-anomaly[server]" ({exc})'
    ) from exc

from .. import __version__
from ..query import GROUPINGS, OPTIONS, DataQuery

if TYPE_CHECKING:
    from ..engine.host import Host

__all__ = ["ApiServer", "HostCollector", "create_app", "DEFAULT_PORT", "DEFAULT_BIND"]

#: Netdata listens on 19999; pyml's agent defaults to the port next to it.
DEFAULT_PORT = 19998
#: Loopback only, unless told otherwise.
DEFAULT_BIND = "127.0.0.1"

#: Longest query string accepted (bytes); longer requests answer 414.
MAX_QUERY_BYTES = 8192
#: Largest ``points`` accepted by ``/api/v1/data``.
MAX_POINTS = 20_000
#: Largest magnitude accepted for a time parameter (seconds or milliseconds).
MAX_TIME = 2**42

_INTERNAL_PREFIX = "anomaly_detection."


class ApiError(Exception):
    """A request the API refuses: an HTTP status and the message of ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------- helpers


def _json(document: Any, status: int = 200, indent: int | str | None = None) -> Response:
    body = json.dumps(document, indent=indent, allow_nan=False)
    return Response(body, status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _param(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _parse_number(name: str, raw: str | None, *, integer: bool = False) -> float:
    """One numeric query parameter; ``ApiError(400)`` naming it when missing or bad."""
    if raw is None:
        raise ApiError(400, f"missing {name} parameter")
    number: float
    try:
        number = int(raw, 0)
    except ValueError:
        if integer:
            raise ApiError(400, f"{name} parameter must be an integer, got {raw!r}") from None
        try:
            number = float(raw)
        except ValueError:
            raise ApiError(400, f"{name} parameter must be a number, got {raw!r}") from None
    if not math.isfinite(number) or abs(number) > MAX_TIME:
        raise ApiError(400, f"{name} parameter must be a finite number of magnitude at most {MAX_TIME}, got {raw!r}")
    return number


def _range_params(params: dict[str, str]) -> tuple[float, float]:
    after_raw, before_raw = _param(params, "after"), _param(params, "before")
    if after_raw is None or before_raw is None:
        missing = " and ".join(n for n, v in (("after", after_raw), ("before", before_raw)) if v is None)
        raise ApiError(400, f"missing after/before parameters ({missing} not given)")
    after = _parse_number("after", after_raw)
    before = _parse_number("before", before_raw)
    if after > before:
        raise ApiError(400, f"after parameter ({after_raw}) is later than before parameter ({before_raw})")
    if after < 0:
        raise ApiError(400, f"after parameter must not be negative, got {after_raw!r}")
    return after, before


def _split_list(raw: str | None) -> list[str]:
    if raw is None:
        return []
    return [item.strip() for item in raw.replace("|", ",").split(",") if item.strip()]


def _first_entry(host: "Host") -> int:
    store = getattr(host, "_store", None)
    first = getattr(store, "first_time", None)
    return int(first) if first is not None else 0


def _history(host: "Host") -> int:
    store = getattr(host, "_store", None)
    return int(getattr(store, "readable_ticks", 0))


# ---------------------------------------------------------------------- documents


def info_document(host: "Host") -> dict[str, Any]:
    """The ``/api/v1/info`` object: basic host fields and ``"ml-info"``."""
    if host.ml_enabled:
        ml_info: dict[str, Any] = dict(host.config.ml_info())
        ml_info["enabled"] = True
        counters = host.ml_info()
        ml_info.update({k: v for k, v in counters.items() if k != "version"})
    else:
        ml_info = {"enabled": False}
    charts = host.charts()
    uname = platform.uname()
    return {
        "version": __version__,
        "uid": host.host_id,
        "mirrored_hosts": [host.name],
        "mirrored_hosts_status": [{"guid": host.host_id, "hostname": host.name, "reachable": True}],
        "os_name": uname.system,
        "kernel_name": uname.system,
        "kernel_version": uname.release,
        "architecture": uname.machine,
        "hostname": host.name,
        "update_every": host.update_every,
        "history": _history(host),
        "memory_mode": "ram" if host.storage_dir is None else "map",
        "charts-count": len(charts),
        "metrics-count": sum(len(c.dimensions) for c in charts),
        "last_entry": host.last_time or 0,
        "ml-info": ml_info,
    }


def _chart_type(chart_id: str) -> str:
    return chart_id.split(".", 1)[0] if "." in chart_id else chart_id


def charts_document(host: "Host") -> dict[str, Any]:
    """The ``/api/v1/charts`` object (SPEC §1.10), every chart of the host."""
    first, last = _first_entry(host), host.last_time or 0
    duration = (last - first + host.update_every) if last else 0
    charts: dict[str, Any] = {}
    n_dims = 0
    for chart in host.charts():
        internal = chart.internal
        n_dims += len(chart.dimensions)
        charts[chart.id] = {
            "id": chart.id,
            "name": chart.name,
            "type": _chart_type(chart.id),
            "family": chart.family or _chart_type(chart.id),
            "context": chart.context or chart.id,
            "title": chart.title or chart.name,
            "priority": chart.priority,
            "plugin": "netdata" if internal else "pyml",
            "module": "ml" if internal else "",
            "enabled": True,
            "units": chart.units,
            "data_url": f"/api/v1/data?chart={chart.id}",
            "chart_type": chart.chart_type,
            "duration": duration,
            "first_entry": first,
            "last_entry": last,
            "update_every": host.update_every,
            "dimensions": {d: {"name": d} for d in chart.dimensions},
            "ml": bool(chart.modelled),
        }
    return {
        "hostname": host.name,
        "version": __version__,
        "release_channel": "stable",
        "os": platform.system().lower(),
        "timezone": time.strftime("%Z"),
        "update_every": host.update_every,
        "history": _history(host),
        "memory_mode": "ram" if host.storage_dir is None else "map",
        "custom_info": "",
        "charts": charts,
        "charts_count": len(charts),
        "dimensions_count": n_dims,
        "alarms_count": 0,
        "rrd_memory_bytes": 0,
        "hosts_count": 1,
        "hosts": [{"hostname": host.name}],
    }


def _find_chart(host: "Host", wanted: str) -> str:
    """The id of the chart with id (or else name) ``wanted``; ``ApiError(404)`` if none."""
    try:
        return host.chart(wanted).id
    except KeyError:
        pass
    for chart in host.charts():
        if chart.name == wanted:
            return chart.id
    raise ApiError(404, f"chart {wanted!r} not found")


def data_document(host: "Host", params: dict[str, str], max_points: int = MAX_POINTS) -> dict[str, Any]:
    """``/api/v1/data`` from query parameters; ``ApiError`` for a bad request."""
    wanted = _param(params, "chart")
    if wanted is None:
        raise ApiError(400, "missing chart parameter")
    chart_id = _find_chart(host, wanted)
    after_raw, before_raw = _param(params, "after"), _param(params, "before")
    after = 0.0 if after_raw is None else _parse_number("after", after_raw)
    before = 0.0 if before_raw is None else _parse_number("before", before_raw)
    points_raw = _param(params, "points")
    points = 0
    if points_raw is not None:
        try:
            points = int(points_raw, 10)
        except ValueError:
            raise ApiError(400, f"points parameter must be a non-negative integer, got {points_raw!r}") from None
        if points < 0 or points > max_points:
            raise ApiError(400, f"points parameter must be between 0 and {max_points}, got {points_raw!r}")
    group = _param(params, "group") or "average"
    if group not in GROUPINGS:
        raise ApiError(400, f"group parameter {group!r} is unknown; known: {', '.join(GROUPINGS)}")
    fmt = _param(params, "format") or "json"
    if fmt != "json":
        raise ApiError(400, f"format parameter {fmt!r} is not supported; only 'json' is")
    options = _split_list(_param(params, "options"))
    unknown = sorted(set(options).difference(OPTIONS))
    if unknown:
        raise ApiError(400, f"options parameter has unknown option(s) {unknown}; known: {', '.join(OPTIONS)}")
    dimensions = _split_list(_param(params, "dimensions"))
    chart = host.chart(chart_id)
    missing = [d for d in dimensions if d not in chart.dimensions]
    if missing:
        raise ApiError(400, f"dimensions parameter names dimension(s) {missing} that chart {chart_id!r} does not have")
    try:
        DataQuery(host).resolve_range(after, before)
    except ValueError:
        raise ApiError(400, f"after parameter ({after_raw}) resolves to later than before parameter "
                            f"({before_raw})") from None
    try:
        return host.data(chart_id, after, before, points=points, group=group,
                         dimensions=dimensions or None, options=options)
    except KeyError:  # removed between the check and the query
        raise ApiError(404, f"chart {wanted!r} not found") from None


# ---------------------------------------------------------------------- /metrics


class HostCollector:
    """A ``prometheus_client`` collector reading a :class:`pyml.Host` at scrape time.

    Metrics (all gauges):

    * ``pyml_dimension_anomaly_bit{chart,dimension}``: the anomaly bit of the
      newest tick, for every modelled dimension with a value there;
    * ``pyml_chart_anomaly_rate{chart}``: mean anomaly rate (0–1) of the
      chart's modelled dimensions over the last ``window`` seconds;
    * ``pyml_host_anomaly_rate``: anomalous / existing modelled points over
      the last ``window`` seconds;
    * ``pyml_detector_host_anomaly_rate``: the newest tick's fraction of
      anomalous dimensions (what the detector compares with its threshold);
    * ``pyml_dimensions{state}``: ``total``, ``trained``, ``normal`` and
      ``anomalous`` modelled dimensions at the newest tick;
    * ``pyml_prediction_duration_seconds`` and
      ``pyml_training_duration_seconds{stat="total"|"max"}``: from the
      ``anomaly_detection.prediction_stats`` and ``training_stats`` charts at
      the newest tick;
    * ``pyml_last_collected_timestamp_seconds``: the newest tick.
    """

    def __init__(self, host: "Host", window: int = 600) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive number of seconds, got {window!r}")
        self.host = host
        self.window = window

    def describe(self) -> list[Any]:
        """No fixed description: the metrics depend on the host's charts."""
        return []

    def _last_value(self, chart_id: str, t: int) -> list[float | None]:
        try:
            rows = self.host.data(chart_id, t, t)["data"]
        except (KeyError, ValueError):
            return []
        return list(rows[0][1:]) if rows else []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield the metric families (called by the registry at every scrape).

        They are computed from one consistent state of the host: ticks that
        complete meanwhile wait (:meth:`pyml.Host.reading`).
        """
        with self.host.reading():
            families = list(self._families())
        yield from families

    def _families(self) -> Iterator[GaugeMetricFamily]:
        host = self.host
        last = host.last_time
        counts = GaugeMetricFamily("pyml_dimensions", "Modelled dimensions at the newest tick, by state",
                                   labels=["state"])
        info = host.ml_info()
        for state in ("total", "trained", "normal", "anomalous"):
            counts.add_metric([state], float(info[f"{state}-dimensions"]))
        yield counts
        if last is None:
            return
        yield GaugeMetricFamily("pyml_last_collected_timestamp_seconds", "Time of the newest completed tick",
                                value=float(last))
        bits = GaugeMetricFamily("pyml_dimension_anomaly_bit",
                                 "Anomaly bit of the newest tick (1 anomalous, 0 normal), per modelled dimension",
                                 labels=["chart", "dimension"])
        for dim_id, rate in host.anomaly_rates(last, last).items():
            chart, _, dim = dim_id.partition("|")
            bits.add_metric([chart, dim], 1.0 if rate > 0 else 0.0)
        yield bits
        start = max(last - self.window + host.update_every, 0)
        first = host.first_time
        if first is not None:
            start = max(start, first)  # never wider than the store keeps
        per_chart: dict[str, list[float]] = {}
        for dim_id, rate in host.anomaly_rates(start, last).items():
            per_chart.setdefault(dim_id.partition("|")[0], []).append(rate)
        chart_rates = GaugeMetricFamily(
            "pyml_chart_anomaly_rate",
            f"Mean anomaly rate (0-1) of the chart's modelled dimensions over the last {self.window} s",
            labels=["chart"])
        for chart, rates in per_chart.items():
            chart_rates.add_metric([chart], sum(rates) / len(rates))
        yield chart_rates
        yield GaugeMetricFamily("pyml_host_anomaly_rate",
                                f"Anomalous / existing modelled points (0-1) over the last {self.window} s",
                                value=host.host_anomaly_rate(start, last))
        result = host.last_detector_result
        if result is not None:
            yield GaugeMetricFamily("pyml_detector_host_anomaly_rate",
                                    "Fraction of anomalous modelled dimensions at the newest tick",
                                    value=float(result.host_anomaly_rate))
        if not host.ml_enabled:
            return
        prediction = self._last_value(f"{_INTERNAL_PREFIX}prediction_stats", last)
        if prediction and prediction[0] is not None:
            yield GaugeMetricFamily("pyml_prediction_duration_seconds",
                                    "Wall time of the newest detector tick (whole milliseconds)",
                                    value=prediction[0] / 1000.0)
        training = self._last_value(f"{_INTERNAL_PREFIX}training_stats", last)
        if len(training) == 2 and None not in training:
            family = GaugeMetricFamily("pyml_training_duration_seconds",
                                       "Training since the previous tick: total and longest single dimension",
                                       labels=["stat"])
            family.add_metric(["total"], float(training[0]) / 1000.0)  # type: ignore[arg-type]
            family.add_metric(["max"], float(training[1]) / 1000.0)  # type: ignore[arg-type]
            yield family


# ---------------------------------------------------------------------- application


def create_app(host: "Host", *, max_points: int = MAX_POINTS, metrics_window: int = 600,
               max_query_bytes: int = MAX_QUERY_BYTES) -> Starlette:
    """The ASGI application serving ``host`` (see the module docstring for the endpoints).

    Parameters
    ----------
    host : pyml.Host
        The host to serve; only its query methods are called.
    max_points : int
        Largest ``points`` accepted by ``/api/v1/data``.
    metrics_window : int
        Seconds over which ``/metrics`` computes anomaly rates.
    max_query_bytes : int
        Longest query string accepted; longer requests answer HTTP 414.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}")
    if isinstance(max_query_bytes, bool) or not isinstance(max_query_bytes, int) or max_query_bytes < 1:
        raise ValueError(f"max_query_bytes must be a positive integer, got {max_query_bytes!r}")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HostCollector(host, metrics_window))  # type: ignore[arg-type]

    def endpoint(build: Callable[[dict[str, str]], Response]) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            if len(request.url.query) > max_query_bytes:
                return _error(414, f"query string longer than {max_query_bytes} bytes")
            try:
                return build(dict(request.query_params))
            except ApiError as exc:
                return _error(exc.status, exc.message)
            except ValueError as exc:
                return _error(400, str(exc))
        return handle

    def info(params: dict[str, str]) -> Response:
        return _json(info_document(host))

    def charts(params: dict[str, str]) -> Response:
        return _json(charts_document(host))

    def data(params: dict[str, str]) -> Response:
        return _json(data_document(host, params, max_points))

    def anomaly_events(params: dict[str, str]) -> Response:
        after, before = _range_params(params)
        return _json(host.anomaly_events(after, before), indent=4)

    def anomaly_event_info(params: dict[str, str]) -> Response:
        after, before = _range_params(params)
        return _json(host.anomaly_event_info(after, before), indent="\t")

    def ml_info(params: dict[str, str]) -> Response:
        return _json(host.ml_info(), indent="\t")

    def metrics(params: dict[str, str]) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/api/v1/info", endpoint(info)),
        Route("/api/v1/charts", endpoint(charts)),
        Route("/api/v1/data", endpoint(data)),
        Route("/api/v1/anomaly_events", endpoint(anomaly_events)),
        Route("/api/v1/anomaly_event_info", endpoint(anomaly_event_info)),
        Route("/api/v1/ml_info", endpoint(ml_info)),
        Route("/metrics", endpoint(metrics)),
    ]
    return Starlette(routes=routes)


# The serving layer (socket, uvicorn, connection handling, middleware) lives in pyml.api.serve.
from .serve import ApiServer  # noqa: E402  (re-exported; imported last because it uses create_app)
