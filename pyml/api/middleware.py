"""ASGI middleware of the HTTP API: JSON for every error, and a ``Host`` header check.

Design
------
Both wrap any ASGI application and know nothing of the endpoints, so the
endpoints (``pyml.api.server``) stay plain.

* :class:`JsonErrors` makes every error answer JSON, ``{"error": "..."}``:
  a response with status >= 400 that is not JSON already (Starlette's own
  404 and 405, for instance) is rewritten with its text as the message, and
  an exception escaping the application becomes a 500 whose message names
  the exception (the traceback goes to the log, once per request). Normal
  responses pass through untouched and unbuffered.
* :class:`HostCheck` refuses, with 403, a request whose ``Host`` header does
  not name this server: a page on another site that makes a browser resolve
  its own domain to 127.0.0.1 (DNS rebinding) sends its own domain as
  ``Host`` and so cannot read the API of an agent bound to loopback.
  :func:`allowed_hosts` derives what is accepted from the bind address,
  plus names the user adds (``*`` accepts any).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from typing import Any, Awaitable, Callable, Iterable

__all__ = ["HostCheck", "JsonErrors", "allowed_hosts", "host_of"]

log = logging.getLogger("pyml.api")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def _json_body(status: int, message: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"error": message}).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode("ascii"))]
    return headers, body


class JsonErrors:
    """Answer every error with ``{"error": ...}`` JSON (see the module docstring)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"started": False, "rewrite": None, "chunks": [], "held": None}

        async def send_json(status: int, text: str, extra: list[tuple[bytes, bytes]]) -> None:
            headers, body = _json_body(status, text)
            state["started"] = True
            await send({"type": "http.response.start", "status": status, "headers": headers + extra})
            await send({"type": "http.response.body", "body": body})

        async def wrapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = dict((k.lower(), v) for k, v in message.get("headers", []))
                is_json = headers.get(b"content-type", b"").startswith(b"application/json")
                if status >= 400 and not is_json:
                    state["rewrite"] = (status, message)
                    return
                state["started"] = True
                await send(message)
                return
            if message["type"] == "http.response.body" and state["rewrite"] is not None:
                state["chunks"].append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                status, start = state["rewrite"]
                text = b"".join(state["chunks"]).decode("utf-8", "replace").strip() or _reason(status)
                extra = [(k, v) for k, v in start.get("headers", [])
                         if k.lower() not in (b"content-type", b"content-length")]
                state["rewrite"] = None
                if status >= 500:
                    # Starlette answers an exception with a plain 500 and then raises it: wait for it, so
                    # the JSON can say what failed.
                    state["held"] = (status, text, extra)
                    return
                await send_json(status, text, extra)
                return
            await send(message)

        try:
            await self.app(scope, receive, wrapped_send)
        except Exception as exc:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if state["started"]:
                raise  # too late for another status line; the server closes the connection
            await send_json(500, f"internal error: {type(exc).__name__}: {exc}", [])
            return
        if state["held"] is not None:
            await send_json(*state["held"])


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def host_of(value: str) -> str:
    """The host part of a ``Host`` header (port removed, brackets of IPv6 removed), lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Names a ``Host`` header may carry for a server bound to ``bind``.

    Loopback binds accept the loopback names and addresses; a specific
    address accepts itself; a wildcard bind (``0.0.0.0``, ``::``) accepts
    any IP address and this machine's names (the entry ``"*ip"`` stands for
    "any IP address"). ``extra`` adds names (``"*"`` accepts anything).
    """
    names = {host_of(h) if h not in ("*", "*ip") else h for h in extra if h.strip()}
    address = host_of(bind)
    if address in ("", "0.0.0.0", "::"):
        names.update({"*ip", *_LOOPBACK_NAMES})
        for name in (socket.gethostname(), socket.getfqdn()):
            if name:
                names.add(name.lower())
        return frozenset(names)
    names.add(address)
    loopback = address in _LOOPBACK_NAMES or (_is_ip(address) and ipaddress.ip_address(address).is_loopback)
    if loopback:
        names.update({*_LOOPBACK_NAMES, "127.0.0.1", "::1"})
    return frozenset(names)


class HostCheck:
    """Refuse (403, JSON) requests whose ``Host`` is not in ``allowed`` (see :func:`allowed_hosts`)."""

    def __init__(self, app: App, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)
        self.any_host = "*" in self.allowed
        self.any_ip = "*ip" in self.allowed

    def accepts(self, header: str | None) -> bool:
        """Whether a request with this ``Host`` header value is served (None: no header, accepted)."""
        if header is None or self.any_host:
            return True
        name = host_of(header)
        return name in self.allowed or (self.any_ip and _is_ip(name))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
            if not self.accepts(header):
                shown = sorted(h for h in self.allowed if h != "*ip")
                headers, body = _json_body(403, f"Host header {header!r} is not one this server answers to "
                                                f"({', '.join(shown)}); add it with --allow-host")
                await send({"type": "http.response.start", "status": 403, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
