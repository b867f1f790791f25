"""Netdata-compatible HTTP API and Prometheus ``/metrics`` for one or many :class:`pyml.Host`.

Needs the ``server`` extra (``pip install "pyml-anomaly[server]"``: starlette,
uvicorn and prometheus_client).

:func:`create_app` builds the ASGI application; the endpoints (GET only)
follow Netdata v1.37's v1 API, checked against a real agent's answers
(``tests/data/netdata-1.37``):

* ``/api/v1/info``, ``/api/v1/charts``, ``/api/v1/chart``,
  ``/api/v1/contexts``, ``/api/v1/context``: :mod:`pyml.api.documents`;
* ``/api/v1/data``: every parameter, option, grouping and format of
  Netdata's, with its window arithmetic (:mod:`pyml.query`,
  :mod:`pyml.api.formats`);
* ``/api/v1/allmetrics`` (``json``, ``shell``, ``prometheus``,
  ``prometheus_all_hosts``), ``/api/v1/alarms``, ``/api/v1/alarm_log``;
* ``/api/v1/weights?method=anomaly-rate``: metrics ranked by anomaly rate;
* ``/api/v1/anomaly_events``, ``/api/v1/anomaly_event_info``,
  ``/api/v1/ml_info`` (SPEC §5.7);
* ``/metrics``: Prometheus text format, read at scrape time: the one host's
  series, or, when the app serves a mapping of hosts, every host's series
  labelled ``host="<hostname>"``;
* ``/``: the dashboard (:mod:`pyml.api.dashboard`), its assets under
  ``/dashboard/``.

The first host is the default (``/api/v1/...``); every host is also served
under ``/host/<hostname>/api/v1/...`` as a Netdata parent serves its
children. A mapping is served live: hosts added to it later (a Netdata
source that connects) are served from then on; while it is empty, requests
answer HTTP 503. A bad parameter answers HTTP 400 with ``{"error": "..."}`` naming
it; an unknown chart or host, 404 (:mod:`pyml.api.v1`). The server binds to
``127.0.0.1`` unless told otherwise.

    >>> from pyml.api import ApiServer
    >>> with ApiServer(host, port=0) as server:    # doctest: +SKIP
    ...     print(server.url)                      # http://127.0.0.1:<port>
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

try:
    import uvicorn  # noqa: F401  (the serving layer, pyml.api.serve, needs it too)
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"pyml.server needs the 'server' extra (starlette, uvicorn, prometheus_client): "
        f'pip install "pyml-anomaly[server]" ({exc})'
    ) from exc

from .dashboard import dashboard_routes
from .documents import mapping_of
from .dispatch import HostApis
from .v1 import QueryInPath

if TYPE_CHECKING:
    from ..engine.host import Host

__all__ = ["ApiServer", "HostCollector", "HostsCollector", "create_app", "DEFAULT_PORT", "DEFAULT_BIND",
           "MAX_POINTS"]

#: Netdata listens on 19999; pyml's agent defaults to the port next to it.
DEFAULT_PORT = 19998
#: Loopback only, unless told otherwise.
DEFAULT_BIND = "127.0.0.1"

#: Longest query string accepted (bytes); longer requests answer 414.
MAX_QUERY_BYTES = 8192
#: Largest ``points`` accepted by ``/api/v1/data``.
MAX_POINTS = 86_400
#: Largest magnitude accepted for a time parameter (seconds or milliseconds).
MAX_TIME = 2**42

_INTERNAL_PREFIX = "anomaly_detection."


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


class HostsCollector:
    """:class:`HostCollector`'s metrics for every host of a mapping, each series labelled ``host``.

    The mapping is read at every scrape, so hosts added later are exported.
    """

    def __init__(self, hosts: "Mapping[str, Host]", window: int = 600) -> None:
        HostCollector(None, window)  # type: ignore[arg-type]  # checks the window
        self.hosts = hosts
        self.window = window

    def describe(self) -> list[Any]:
        """No fixed description: the metrics depend on the hosts' charts."""
        return []

    def collect(self) -> Iterator[Any]:
        """Yield one family per metric name, with the samples of every host."""
        from prometheus_client.metrics_core import Metric

        merged: dict[str, Any] = {}
        for name, host in list(dict(self.hosts).items()):
            for family in HostCollector(host, self.window).collect():
                out = merged.get(family.name)
                if out is None:
                    out = merged[family.name] = Metric(family.name, family.documentation, family.type)
                for sample in family.samples:
                    out.add_sample(sample.name, {**sample.labels, "host": name}, sample.value)
        yield from merged.values()


class _HostsView:
    """The hosts of a live mapping, read afresh at every iteration (``mirrored_hosts``)."""

    def __init__(self, hosts: "Mapping[str, Host]") -> None:
        self._hosts = hosts

    def __iter__(self) -> Iterator["Host"]:
        return iter(list(dict(self._hosts).values()))

    def __len__(self) -> int:
        return len(self._hosts)


# ---------------------------------------------------------------------- application


def create_app(hosts: "Host | Mapping[str, Host]", *, max_points: int = MAX_POINTS, metrics_window: int = 600,
               max_query_bytes: int = MAX_QUERY_BYTES, clock: Callable[[], float] | None = None,
               host_status: "Callable[[Host], Mapping[str, Any]] | None" = None) -> Starlette:
    """The ASGI application serving one host or several (see the module docstring for the endpoints).

    Parameters
    ----------
    hosts : pyml.Host or mapping of hostname to Host
        The hosts to serve; the first is the default host, answered at
        ``/api/v1/...``; every host is also answered under Netdata's parent
        paths ``/host/<hostname>/api/v1/...`` (its ``host_id`` works too).
        Only their public read view is used. A mapping is read at every
        request (hosts may be added while serving; empty answers 503), and
        ``/metrics`` labels every series with ``host``.
    max_points : int
        Largest ``points`` accepted by ``/api/v1/data``.
    metrics_window : int
        Seconds over which ``/metrics`` computes anomaly rates.
    max_query_bytes : int
        Longest query string accepted; longer requests answer HTTP 414.
    clock : callable, optional
        Wall clock (``time.time``) for windows relative to *now*, as Netdata
        (now = clock - 1 s); by default *now* is each host's newest tick.
    host_status : callable, optional
        ``host_status(host) -> {"hops": int, "reachable": bool}``: how a
        parent sees each host it serves. With it ``/api/v1/info`` lists the
        hosts as a Netdata parent does (the same list, in the order served,
        whichever host is asked; each with its hops and whether it is
        reachable now); without it the asked host comes first with hops 0.

    The application never refuses a request for load: endpoints run on the
    thread pool, and requests beyond it wait their turn.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}")
    if isinstance(max_query_bytes, bool) or not isinstance(max_query_bytes, int) or max_query_bytes < 1:
        raise ValueError(f"max_query_bytes must be a positive integer, got {max_query_bytes!r}")
    if host_status is not None and not callable(host_status):
        raise TypeError(f"host_status must be callable, got {host_status!r}")
    from ..engine.host import Host as _Host

    live = not isinstance(hosts, _Host)
    if live:
        if not isinstance(hosts, Mapping):
            raise ValueError(f"hosts must be a pyml.Host or a mapping of hostname to Host, got {hosts!r}")
        served: Mapping[str, Host] = hosts
        if hosts:
            mapping_of(hosts)  # checks the hosts given now
    else:
        served = mapping_of(hosts)
    view = _HostsView(served)
    apis = HostApis(served, view, _Host, max_query_bytes=max_query_bytes, max_points=max_points, clock=clock,
                    host_status=host_status)
    registry = CollectorRegistry(auto_describe=False)
    if live:
        registry.register(HostsCollector(served, metrics_window))  # type: ignore[arg-type]
    else:
        registry.register(HostCollector(next(iter(served.values())), metrics_window))  # type: ignore[arg-type]

    def v1(request: Request) -> Response:
        return apis.answer(request.path_params.get("hostname"), request.path_params["endpoint"],
                           request.scope.get("query_string", b""))

    def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/api/v1/{endpoint}", v1),
        Route("/host/{hostname}/api/v1/{endpoint}", v1),
        Route("/metrics", metrics),
        *dashboard_routes(),   # "/" and "/dashboard/...": pyml.api.dashboard
    ]
    app = Starlette(routes=routes, middleware=[Middleware(QueryInPath)])
    app.state.pyml_apis = apis  # the v1 routes' answers, for pyml.api.dispatch.V1Dispatch
    return app


# The serving layer (socket, uvicorn, connection handling, middleware) lives in pyml.api.serve.
from .serve import ApiServer  # noqa: E402  (re-exported; imported last because it uses create_app)
