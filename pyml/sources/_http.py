"""A small asynchronous HTTP/1.1 GET client for polling Netdata agents.

One :class:`HttpClient` per source keeps one keep-alive connection open
(Netdata's web server closes the connection after each answer unless asked
with ``Connection: keep-alive``) and sends one request at a time on it. Every
request has a deadline covering connect, send and the whole answer; any
failure closes the connection, and the next request opens a new one. Answers
may carry ``Content-Length`` or ``Transfer-Encoding: chunked``, and
``Content-Encoding: gzip`` when the client asks for it (worth it across a
network: an ``allmetrics`` answer shrinks about tenfold; not on loopback,
where decompressing costs more than it saves).

Only what polling needs is here: GET, status, headers, body. Failures are
:class:`HttpError` with a message naming the URL and what went wrong, so the
caller can log one line per change of state.
"""

from __future__ import annotations

import asyncio
import calendar
import email.utils
import os
import zlib
from dataclasses import dataclass
from typing import Any, Awaitable, Optional, TypeVar
from urllib.parse import urlsplit

__all__ = ["HttpClient", "HttpError", "HttpResponse", "split_base_url"]

#: Largest answer accepted (bytes): a 100,000-dimension allmetrics is ~12 MB.
MAX_BODY = 256 * 1024 * 1024
_MAX_HEADER_LINES = 100

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}

_T = TypeVar("_T")


async def within(awaitable: Awaitable[_T], seconds: float) -> _T:
    """``await awaitable`` with a deadline (``asyncio.TimeoutError`` past it).

    On Python 3.11 and later with :func:`asyncio.timeout`, which runs the
    awaitable in the calling task, where :func:`asyncio.wait_for` makes a
    task of its own for every call (a poll of many sources makes two a second
    each).
    """
    timeout: Any = getattr(asyncio, "timeout", None)
    if timeout is None:  # pragma: no cover - Python < 3.11
        return await asyncio.wait_for(awaitable, seconds)
    async with timeout(seconds):
        return await awaitable


def http_date(value: str) -> Optional[float]:
    """Epoch seconds of an HTTP ``Date`` header (RFC 9110's preferred form read directly, others via email.utils)."""
    parts = value.split()
    # "Sun, 06 Nov 1994 08:49:37 GMT": read without the general parser, which costs more than a poll's bookkeeping
    if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS and len(parts[4]) == 8:
        try:
            day, hh, mm, ss = int(parts[1]), *(int(x) for x in parts[4].split(":"))
            if 1 <= day <= 31 and 0 <= hh <= 23 and 0 <= mm <= 59 and 0 <= ss <= 59:
                return float(calendar.timegm((int(parts[3]), _MONTHS[parts[2]], day, hh, mm, ss, 0, 0, 0)))
        except ValueError:
            pass
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class HttpError(Exception):
    """A request that did not produce an answer (connect, timeout, protocol, size)."""


@dataclass
class HttpResponse:
    """An answer: status code, headers (lower-case names) and the decoded body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def date(self) -> Optional[float]:
        """The server's clock from the ``Date`` header (epoch seconds), if any."""
        value = self.headers.get("date")
        if not value:
            return None
        return http_date(value)


def split_base_url(url: str) -> tuple[str, int, str]:
    """``(host, port, path prefix)`` of an ``http://host[:port][/prefix]`` URL (ValueError otherwise)."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"a Netdata URL must be a non-empty string, got {url!r}")
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme != "http":
        raise ValueError(f"only http:// Netdata URLs are supported, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"the Netdata URL {url!r} names no host")
    try:
        port = parts.port or 19999
    except ValueError:
        raise ValueError(f"the Netdata URL {url!r} has a bad port") from None
    if parts.query or parts.fragment:
        raise ValueError(f"the Netdata URL {url!r} must not have a query or fragment")
    return parts.hostname, port, parts.path.rstrip("/")


class HttpClient:
    """GET requests to one server over one kept-alive connection.

    Parameters
    ----------
    host, port : str, int
        The server.
    timeout : float
        Seconds a whole request may take (connect, send, read).
    gzip : bool
        Ask for gzip-compressed answers.
    """

    def __init__(self, host: str, port: int, timeout: float = 5.0, gzip: bool = False) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.gzip = gzip
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.requests = 0
        self.bytes_received = 0

    async def get(self, path: str) -> HttpResponse:
        """GET ``path`` (with its query string); HttpError on any failure."""
        try:
            return await within(self._get(path), self.timeout)
        except asyncio.TimeoutError:
            self.close()
            raise HttpError(f"GET http://{self._host_header}{path}: no answer within {self.timeout:g} s") from None
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                zlib.error) as exc:
            self.close()
            if isinstance(exc, OSError) and exc.errno:
                reason = os.strerror(exc.errno).lower()  # "connection refused", not asyncio's wording
            else:
                reason = str(exc) or type(exc).__name__
            raise HttpError(f"GET http://{self._host_header}{path}: {reason}") from None

    async def _get(self, path: str) -> HttpResponse:
        fresh = self._writer is None
        if fresh:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        assert self._reader is not None and self._writer is not None
        request = (f"GET {path} HTTP/1.1\r\nHost: {self._host_header}\r\nConnection: keep-alive\r\n"
                   f"User-Agent: pyml\r\nAccept: application/json\r\n"
                   + ("Accept-Encoding: gzip\r\n" if self.gzip else "") + "\r\n")
        try:
            self._writer.write(request.encode("latin-1"))
            await self._writer.drain()
            status_line = await self._reader.readline()
        except (ConnectionError, OSError):
            if fresh:
                raise
            # the server closed the kept-alive connection meanwhile: once more on a new one
            self.close()
            return await self._get(path)
        if not status_line:
            if fresh:
                raise EOFError("the server closed the connection without answering")
            self.close()
            return await self._get(path)
        response = await self._read_response(status_line)
        self.requests += 1
        self.bytes_received += len(response.body)
        if response.headers.get("connection", "").lower() == "close":
            self.close()
        return response

    async def _read_response(self, status_line: bytes) -> HttpResponse:
        assert self._reader is not None
        parts = status_line.decode("latin-1").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADER_LINES):
            line = await self._reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise EOFError("the connection closed inside the headers")
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            raise ValueError(f"more than {_MAX_HEADER_LINES} header lines")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if not 0 <= length <= MAX_BODY:
                raise ValueError(f"Content-Length {length} is out of range")
            body = await self._reader.readexactly(length)
        else:  # the body ends when the connection does
            body = await self._reader.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise ValueError(f"the answer is longer than {MAX_BODY} bytes")
            headers["connection"] = "close"
        if headers.get("content-encoding", "").lower() == "gzip":
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        return HttpResponse(status, headers, body)

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks: list[bytes] = []
        total = 0
        while True:
            line = await self._reader.readline()
            if not line:
                raise EOFError("the connection closed inside a chunked answer")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await self._reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise ValueError(f"the answer is longer than {MAX_BODY} bytes")
            chunks.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)  # CRLF after the chunk

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - closing a broken transport
                pass
        self._reader = self._writer = None
