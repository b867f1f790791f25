"""Serving the HTTP API: the socket, uvicorn, connection handling and the middleware stack.

Design
------
:class:`ApiServer` runs uvicorn on a background thread over a socket it
binds itself (so "address in use" is an ``OSError`` at :meth:`start`), with
one of uvicorn's HTTP/1.1 protocols extended by :class:`_Guard`: the
httptools one (a C parser, the ``fast`` extra; :class:`_FastProtocol`) when
it is installed, else the pure-Python h11 one (:class:`_Protocol`;
``ApiServer(http="h11")`` chooses it). Both get:

* **No Nagle delay.** The listening socket is created with
  ``IPPROTO_TCP`` and every accepted connection gets ``TCP_NODELAY``: the
  response's header and body are two writes, and with Nagle on, the second
  waited for the client's delayed ACK (about 40 ms per keep-alive request).
* **A header timeout.** A connection must deliver a request's complete
  headers within ``header_timeout`` seconds of connecting (or of starting a
  later request on a kept-alive connection), else it is closed; idle
  kept-alive connections close after ``keep_alive`` seconds.
* **Queueing, not refusing.** There is no per-request concurrency limit
  (uvicorn's answers 503); up to ``max_connections`` connections are served
  at once and further ones wait, accepted but not read, until one closes.
  Requests are handled by worker threads, so many clients queue there
  rather than fail.
* **A bounded head.** More than ``4 * MAX_QUERY_BYTES`` bytes before a
  request's headers end is answered 400 and the connection closed.

With httptools, a response's status line and headers are held until its
body is written, so both leave in one write (one TCP segment, one wake-up of
the client) instead of two.

The application is wrapped in :class:`~pyml.api.middleware.HostCheck`,
:class:`~pyml.api.dispatch.V1Dispatch` (``GET /api/v1/...`` answered
without the framework's routing; cheap requests seen before on the event
loop) and :class:`~pyml.api.middleware.JsonErrors`: every error answers JSON
and a ``Host`` header naming another site is refused. Proxy headers
(``X-Forwarded-*``) are not read.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Iterable, Mapping

try:
    import h11
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools (uvicorn's "standard" extra) is not installed: the h11 protocol serves
        HttpToolsProtocol = None  # type: ignore[assignment, misc]
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(f'pyml.api needs the \'server\' extra (uvicorn): pip install "pyml-anomaly[server]" ({exc})'
                      ) from exc

from .dispatch import V1Dispatch
from .middleware import HostCheck, JsonErrors, allowed_hosts

if TYPE_CHECKING:
    from ..engine.host import Host

__all__ = ["ApiServer", "DEFAULT_HEADER_TIMEOUT", "DEFAULT_MAX_CONNECTIONS", "HTTP_PARSERS", "listen_socket"]

#: Seconds a client has to send a request's headers.
DEFAULT_HEADER_TIMEOUT = 10.0
#: Connections served at once; more wait (accepted, not read) until one closes.
DEFAULT_MAX_CONNECTIONS = 1024
#: Accepted values of ``ApiServer(http=...)``.
HTTP_PARSERS = ("auto", "httptools", "h11")


class _Gate:
    """How many connections are being served, and those waiting for a turn (one per server)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self.waiting: deque["_Guard"] = deque()


class _Guard:
    """TCP_NODELAY, a header timeout and a connection gate: what both uvicorn protocols get here.

    A protocol class mixes this in before uvicorn's and calls :meth:`_guard_start` from
    ``connection_made`` and :meth:`_guard_end` from ``connection_lost``.
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    gate: _Gate = _Gate(DEFAULT_MAX_CONNECTIONS)
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop

    def _guard_start(self, transport: asyncio.Transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - a closed socket
                pass
        self._header_timer: asyncio.TimerHandle | None = None
        self._admitted = False
        if self.gate.active < self.gate.limit:
            self._admit()
        else:
            transport.pause_reading()
            self.gate.waiting.append(self)

    def _admit(self) -> None:
        self._admitted = True
        self.gate.active += 1
        self.transport.resume_reading()
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _guard_end(self) -> None:
        self._disarm_header_timer()
        if self._admitted:
            self._admitted = False
            self.gate.active -= 1
            while self.gate.waiting and self.gate.active < self.gate.limit:
                nxt = self.gate.waiting.popleft()
                if not nxt.transport.is_closing():
                    nxt._admit()
        else:
            try:
                self.gate.waiting.remove(self)
            except ValueError:
                pass


class _HeadHeld:
    """A transport for one response: its first write (the status line and headers) is held and
    sent with the next one (the body), or at :meth:`flush` / :meth:`close`."""

    __slots__ = ("_transport", "_held", "_first")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = bytes(data)
            return
        if self._held is not None:
            data, self._held = self._held + data, None
        self._transport.write(data)

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Protocol(_Guard, H11Protocol):
    """uvicorn's h11 protocol (pure Python) with :class:`_Guard`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._guard_start(transport)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
            self._arm_header_timer()  # part of a request's headers: they must all come in time
        elif self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._guard_end()
        super().connection_lost(exc)


if HttpToolsProtocol is not None:

    class _FastProtocol(_Guard, HttpToolsProtocol):  # type: ignore[misc, valid-type]
        """uvicorn's httptools protocol (a C parser) with :class:`_Guard` and a bound on a request's
        head: more than ``max_head_bytes`` before its headers end is answered 400 and closed, as
        the h11 protocol does with ``h11_max_incomplete_event_size``."""

        max_head_bytes: int = 4 * 8192

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._head_bytes = 0
            self._in_head = True
            self._guard_start(transport)

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
                if self._head_bytes > self.max_head_bytes:
                    self.send_400_response("Invalid HTTP request received.")
                    return
            super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm_header_timer()  # the first bytes of a request: its headers must all come in time

        def on_headers_complete(self) -> None:
            self._disarm_header_timer()
            self._in_head = False
            previous = self.cycle
            super().on_headers_complete()
            cycle = self.cycle
            if cycle is not previous and cycle is not None and not self.expect_100_continue:
                # The response's head waits for its body, so both leave in one write (one segment).
                held = _HeadHeld(cycle.transport)
                cycle.transport = held  # type: ignore[assignment]
                finished = cycle.on_response

                def on_response() -> None:
                    held.flush()
                    finished()

                cycle.on_response = on_response

        def on_response_complete(self) -> None:
            self._in_head = True
            self._head_bytes = 0
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._guard_end()
            super().connection_lost(exc)


def listen_socket(bind: str, port: int) -> socket.socket:
    """A bound TCP socket (IPv6 when ``bind`` contains ``:``); ``OSError`` naming the address if it fails."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {bind} port {port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


class ApiServer:
    """Serve a host's HTTP API on a background thread (uvicorn).

    Parameters
    ----------
    host : pyml.Host or mapping of hostname to Host
        The host (or hosts, served live: see :func:`pyml.api.create_app`) to serve.
    bind : str
        Address to listen on; loopback (``127.0.0.1``) by default. An IPv6
        address (containing ``:``) listens on IPv6.
    port : int
        TCP port; 0 picks a free one (see :attr:`port` after :meth:`start`).
    allow_hosts : iterable of str
        ``Host`` header names accepted besides those of the bind address
        (:func:`pyml.api.middleware.allowed_hosts`); ``"*"`` accepts any.
    header_timeout : float
        Seconds a client has to send a request's headers.
    keep_alive : float
        Seconds an idle kept-alive connection stays open.
    max_connections : int
        Connections served at once; more wait until one closes.
    http : str
        The HTTP/1.1 parser: ``"httptools"`` (C, the ``fast`` extra), ``"h11"`` (pure Python), or
        ``"auto"``: httptools when installed. :attr:`http` says which one serves.
    **app_options
        Passed to :func:`pyml.api.create_app` (``max_points``, ``metrics_window``, ...).

    The socket is bound by :meth:`start`, so an address in use raises
    ``OSError`` there. Use as a context manager, or call :meth:`stop`.
    """

    def __init__(self, host: "Host | Mapping[str, Host]", bind: str | None = None, port: int | None = None, *,
                 allow_hosts: Iterable[str] = (), header_timeout: float = DEFAULT_HEADER_TIMEOUT,
                 keep_alive: float = 5.0, max_connections: int = DEFAULT_MAX_CONNECTIONS, http: str = "auto",
                 **app_options: Any) -> None:
        from .server import DEFAULT_BIND, DEFAULT_PORT, create_app

        bind = DEFAULT_BIND if bind is None else bind
        port = DEFAULT_PORT if port is None else port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer in [0, 65535], got {port!r}")
        if not isinstance(bind, str) or not bind:
            raise ValueError(f"bind must be a non-empty address string, got {bind!r}")
        for name, value in (("header_timeout", header_timeout), ("keep_alive", keep_alive)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 3600:
                raise ValueError(f"{name} must be a number of seconds in (0, 3600), got {value!r}")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError(f"max_connections must be a positive integer, got {max_connections!r}")
        if http not in HTTP_PARSERS:
            raise ValueError(f"http must be one of {', '.join(HTTP_PARSERS)}, got {http!r}")
        if http == "httptools" and HttpToolsProtocol is None:
            raise ValueError("http='httptools' needs the httptools package: pip install \"pyml-anomaly[fast]\"")
        if isinstance(allow_hosts, str):
            allow_hosts = [allow_hosts]
        self.host = host
        self.bind = bind
        self._requested_port = port
        self.app = create_app(host, **app_options)
        self.allowed_hosts = allowed_hosts(bind, allow_hosts)
        self.asgi = HostCheck(V1Dispatch(JsonErrors(self.app), self.app.state.pyml_apis), self.allowed_hosts)
        self.header_timeout = float(header_timeout)
        self.keep_alive = float(keep_alive)
        self.max_connections = max_connections
        self.http = "h11" if http == "h11" or HttpToolsProtocol is None else "httptools"
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the requested one until :meth:`start`)."""
        if self._socket is not None:
            return int(self._socket.getsockname()[1])
        return self._requested_port

    @property
    def url(self) -> str:
        """``http://address:port`` of the server."""
        address = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"http://{address}:{self.port}"

    def start(self, timeout: float = 10.0) -> "ApiServer":
        """Bind the socket and start serving; returns when the server accepts connections."""
        from .server import MAX_QUERY_BYTES

        if self._thread is not None:
            raise RuntimeError("the server is already started")
        self._socket = listen_socket(self.bind, self._requested_port)
        base = _Protocol if HttpToolsProtocol is None or self.http == "h11" else _FastProtocol
        protocol = type("PymlHttpProtocol", (base,), {"header_timeout": self.header_timeout,
                                                      "gate": _Gate(self.max_connections),
                                                      "max_head_bytes": 4 * MAX_QUERY_BYTES})
        # loop="asyncio", not uvicorn's "auto" (uvloop when installed): the connection gate pauses reading
        # in connection_made, and on uvloop's loop a connection paused there was read and served anyway
        # (tests/faults/test_http_faults.py, run with uvloop installed).
        config = uvicorn.Config(self.asgi, http=protocol, loop="asyncio", log_level="warning", access_log=False,
                                lifespan="off",
                                proxy_headers=False,
                                timeout_keep_alive=max(1, round(self.keep_alive)), limit_concurrency=None,
                                backlog=2048, h11_max_incomplete_event_size=4 * MAX_QUERY_BYTES)
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [self._socket]},
                                        name="pyml-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the HTTP server on {self.bind}:{self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._server = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> "ApiServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
