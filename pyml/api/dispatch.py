"""The v1 API's short path: ``GET /api/v1/<endpoint>`` answered without the web framework's layers.

Design
------
:class:`HostApis` is what every route of ``/api/v1/...`` does: find the
served host (the first one, or ``<hostname>`` of ``/host/<hostname>/...``),
refuse a query string longer than the limit (414), parse it as Starlette
does (``parse_qsl`` of the latin-1 text, blank values kept) and call
:meth:`pyml.api.v1.V1Api.handle`. :func:`pyml.api.create_app` routes
through it, and so does :class:`V1Dispatch`.

:class:`V1Dispatch` is an ASGI wrapper that :class:`pyml.api.ApiServer` puts
in front of the application. A ``GET`` whose path is ``/api/v1/<endpoint>``
or ``/host/<hostname>/api/v1/<endpoint>`` (a percent-encoded ``?`` in the
path splits it, as :class:`pyml.api.v1.QueryInPath` does) is answered
directly, and its response's status, headers and body go out as two ASGI
messages; the routing, request and middleware objects of the framework are
skipped. The endpoint runs on the event loop's worker threads, except a
request seen before whose answer then took less than ``INLINE_BELOW``
(0.5 ms): it is answered on the event loop itself, which saves two thread
switches (most of a small answer's time), and goes back to the threads as
soon as it takes longer (a larger window, or a wait for a tick in progress).
Requests are remembered by path and query string, the most recent
``INLINE_MEMORY`` of them.
Everything else (other methods, the dashboard, ``/metrics``) goes to the
wrapped application. The answers are the ones the framework's routes give
(``tests/test_dispatch.py`` compares them); an exception escaping an
endpoint is logged and answers a JSON 500 naming it, as
:class:`pyml.api.middleware.JsonErrors` does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Mapping
from urllib.parse import parse_qsl

from starlette.responses import Response

from .middleware import _json_body
from .v1 import ApiError, V1Api, error_response

if TYPE_CHECKING:
    from ..engine.host import Host

__all__ = ["HostApis", "V1Dispatch", "route_of", "INLINE_BELOW"]

log = logging.getLogger("pyml.api")

_API = "/api/v1/"
_HOST = "/host/"


def route_of(path: str) -> tuple[str | None, str] | None:
    """``(hostname, endpoint)`` of a v1 API path (hostname None for ``/api/v1/...``), or None.

    Path segments are as the framework's ``{name}`` parameters match them: non-empty, without ``/``.
    """
    if path.startswith(_API):
        endpoint = path[len(_API):]
        return (None, endpoint) if endpoint and "/" not in endpoint else None
    if path.startswith(_HOST):
        hostname, _, rest = path[len(_HOST):].partition("/")
        if hostname and rest.startswith(_API[1:]):
            endpoint = rest[len(_API) - 1:]
            if endpoint and "/" not in endpoint:
                return hostname, endpoint
    return None


class HostApis:
    """The :class:`~pyml.api.v1.V1Api` of each served host, made on first use.

    Parameters
    ----------
    served : mapping of hostname to Host
        Read at every request (hosts may be added while serving; empty answers 503).
    hosts : iterable of Host
        Every host served (``mirrored_hosts``), passed to each V1Api.
    host_type : type
        The class a served value must be (``pyml.Host``); anything else answers 500.
    max_query_bytes : int
        Longest query string accepted; longer ones answer 414.
    **api_options
        ``max_points``, ``clock``, ``host_status`` of :class:`~pyml.api.v1.V1Api`.
    """

    def __init__(self, served: "Mapping[str, Host]", hosts: Iterable["Host"], host_type: type, *,
                 max_query_bytes: int, **api_options: Any) -> None:
        self.served = served
        self.hosts = hosts
        self.host_type = host_type
        self.max_query_bytes = max_query_bytes
        self.api_options = api_options
        self._apis: dict[str, V1Api] = {}

    def api(self, hostname: str | None) -> V1Api:
        """The V1Api of ``hostname`` (its name or ``host_id``; the first host when None); ApiError otherwise."""
        current = dict(self.served)
        if not current:
            raise ApiError(503, "no host is collected yet")
        name = next(iter(current)) if hostname is None else hostname
        host = current.get(name)
        if host is None:
            host = next((h for h in current.values() if h.host_id == name), None)
            if host is None:
                raise ApiError(404, f"host {name!r} is not served here; hosts: {', '.join(current)}")
            name = host.name
        api = self._apis.get(name)
        if api is None or api.host is not host:
            if not isinstance(host, self.host_type):
                raise ApiError(500, f"hosts[{name!r}] is not a pyml.Host")
            api = self._apis[name] = V1Api(host, self.hosts, **self.api_options)  # type: ignore[arg-type]
        return api

    def answer(self, hostname: str | None, endpoint: str, query_string: bytes) -> Response:
        """The response to ``/api/v1/<endpoint>?<query_string>`` of ``hostname`` (errors included)."""
        if len(query_string) > self.max_query_bytes:
            return error_response(414, f"query string longer than {self.max_query_bytes} bytes")
        items = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        try:
            return self.api(hostname).handle(endpoint, items)
        except ApiError as exc:
            return error_response(exc.status, exc.message)


App = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[dict[str, Any]], Awaitable[None]]],
               Awaitable[None]]


#: An answer measured below this many seconds is computed on the event loop when asked again.
INLINE_BELOW = 0.0005
#: How many cheap requests (path and query string) are remembered, most recent first.
INLINE_MEMORY = 4096


class V1Dispatch:
    """ASGI: answer ``GET`` v1 API paths through ``apis`` directly, pass the rest to ``app``.

    ``inline_below`` (seconds) is the cost under which a request that was seen before is answered
    on the event loop instead of a worker thread (0 turns that off).
    """

    def __init__(self, app: App, apis: HostApis, *, inline_below: float = INLINE_BELOW) -> None:
        if isinstance(inline_below, bool) or not isinstance(inline_below, (int, float)) or \
                not 0 <= inline_below <= 0.1:
            raise ValueError(f"inline_below must be a number of seconds in [0, 0.1], got {inline_below!r}")
        self.app = app
        self.apis = apis
        self.inline_below = float(inline_below)
        self._cheap: OrderedDict[tuple[str | None, str, bytes], None] = OrderedDict()

    def _timed(self, hostname: str | None, endpoint: str, query: bytes) -> tuple[Response, float]:
        started = time.perf_counter()
        response = self.apis.answer(hostname, endpoint, query)
        return response, time.perf_counter() - started

    async def _answer(self, hostname: str | None, endpoint: str, query: bytes) -> Response:
        """The response, computed here when this request was cheap last time, else on a worker thread."""
        key = (hostname, endpoint, query)
        if key in self._cheap:
            response, took = self._timed(hostname, endpoint, query)
            if took >= self.inline_below:
                self._cheap.pop(key, None)
            else:
                self._cheap.move_to_end(key)
            return response
        loop = asyncio.get_running_loop()
        response, took = await loop.run_in_executor(None, self._timed, hostname, endpoint, query)
        if took < self.inline_below:
            self._cheap[key] = None
            if len(self._cheap) > INLINE_MEMORY:
                self._cheap.popitem(last=False)
        return response

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] == "http" and scope.get("method") == "GET":
            path = scope["path"]
            query = scope.get("query_string", b"")
            if "?" in path:
                path, _, extra = path.partition("?")
                extra_bytes = extra.encode("latin-1", "replace")
                query = extra_bytes + (b"&" + query if query else b"")
            route = route_of(path)
            if route is not None:
                try:
                    response = await self._answer(route[0], route[1], query)
                except Exception as exc:
                    log.exception("%s %s failed", scope.get("method"), scope.get("path"))
                    headers, body = _json_body(500, f"internal error: {type(exc).__name__}: {exc}")
                    await send({"type": "http.response.start", "status": 500, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
                await send({"type": "http.response.start", "status": response.status_code,
                            "headers": response.raw_headers})
                await send({"type": "http.response.body", "body": response.body})
                return
        await self.app(scope, receive, send)
