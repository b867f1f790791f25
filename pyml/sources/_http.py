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

Each connection is an :class:`asyncio.BufferedProtocol` (``_Connection``):
the socket reads straight into one buffer kept for the connection's life, the
answer is parsed as its bytes arrive (the head once, then the body by its
framing), and the request's future is resolved when the answer is complete.
An answer of any size costs the event loop one wake-up of the polling task
and one copy of its body; a stream reader would wake it for every header line
and copy the body twice. The deadline is one timer per request that fails the
future and drops the connection.

Only what polling needs is here: GET, status, headers, body. Failures are
:class:`HttpError` with a message naming the URL and what went wrong, so the
caller can log one line per change of state.
"""

from __future__ import annotations

import asyncio
import calendar
import email.utils
import functools
import os
import zlib
from dataclasses import dataclass
from typing import Any, Awaitable, Optional, TypeVar
from urllib.parse import urlsplit

__all__ = ["HttpClient", "HttpError", "HttpResponse", "split_base_url"]

#: Largest answer accepted (bytes): a 100,000-dimension allmetrics is ~12 MB.
MAX_BODY = 256 * 1024 * 1024
_MAX_HEADER_LINES = 100
#: Longest header block accepted (bytes).
_MAX_HEAD_BYTES = 64 * 1024
#: A connection's buffer to begin with, and the least free room offered to each read.
_INITIAL_BUFFER = 256 * 1024
_MIN_READ = 64 * 1024

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


@functools.lru_cache(maxsize=256)  # the sources polled in one second answer the same Date
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


class _Stale(Exception):
    """A kept-alive connection the server closed before answering: the request is sent again on a new one."""


class _Connection(asyncio.BufferedProtocol):
    """One connection: answers are read into one buffer, kept across requests, and parsed as they arrive.

    The socket reads straight into the buffer (no chunk objects, no copies
    but the body's), and the request's future is resolved once, when its
    answer is complete, so an answer costs the event loop one wake-up of the
    requesting task whatever the number of reads it takes. The parse is
    incremental: the head once, then the body as its framing says
    (``Content-Length``, chunked, or until the connection closes).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: Optional[asyncio.Transport] = None
        self.buffer = bytearray(_INITIAL_BUFFER)
        self.start = 0          # where the answer being read begins
        self.filled = 0         # bytes held
        self.lost = False       # the connection is gone (closed by either side)
        self._waiter: Optional[asyncio.Future[HttpResponse]] = None
        self._new_answer()

    def _new_answer(self) -> None:
        self.status = -1                       # not parsed yet
        self.headers: dict[str, str] = {}
        self.body_at = 0
        self.length = -1                       # Content-Length; -1: chunked or until the connection closes
        self.chunked = False
        self.chunk_at = 0                      # where the next chunk's size line begins
        self.chunks: list[bytes] = []
        self.chunk_total = 0

    # ------------------------------------------------------------------ the protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        buffer = self.buffer
        if self.start and self.start == self.filled:
            self.start = self.filled = 0
        need = max(self.body_at + self.length if self.length >= 0 else 0, self.filled + _MIN_READ)
        if need > len(buffer) and self.start:  # room at the front first: move the answer there
            held = self.filled - self.start
            buffer[:held] = buffer[self.start:self.filled]
            self.body_at -= self.start
            self.chunk_at -= self.start
            need -= self.start
            self.start, self.filled = 0, held
        if need > len(buffer):
            buffer.extend(bytes(max(need, 2 * len(buffer)) - len(buffer)))
        return memoryview(buffer)[self.filled:]

    def buffer_updated(self, nbytes: int) -> None:
        self.filled += nbytes
        self._advance()

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.lost = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self.filled == self.start:  # not a byte of the answer
            waiter.set_exception(_Stale() if exc is None or isinstance(exc, ConnectionError) else exc)
        elif self.status >= 0 and self.length < 0 and not self.chunked:
            body = bytes(memoryview(self.buffer)[self.body_at:self.filled])  # the body ends when the connection does
            self.headers["connection"] = "close"
            self._complete(body, self.filled)
        elif exc is not None:
            waiter.set_exception(exc)
        else:
            where = "headers" if self.status < 0 else "answer"
            waiter.set_exception(EOFError(f"the connection closed inside the {where}"))

    # ------------------------------------------------------------------ requests

    def send(self, request: bytes) -> asyncio.Future[HttpResponse]:
        """Send ``request``; the future is its answer."""
        assert self.transport is not None
        waiter = self._waiter = self._loop.create_future()
        self.transport.write(request)
        if self.filled > self.start:  # bytes already held: the answer's beginning
            self._advance()
        return waiter

    def expire(self) -> None:
        """The request's deadline passed: fail it and drop the connection."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(asyncio.TimeoutError())
        self.abort()

    def abort(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------------ parsing

    def _advance(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            self._parse()
        except (ValueError, zlib.error) as exc:
            waiter.set_exception(exc)
            self.abort()

    def _parse(self) -> None:
        buffer, filled = self.buffer, self.filled
        if self.status < 0:
            if not self._parse_head(buffer, filled):
                return
        if self.length >= 0:
            end = self.body_at + self.length
            if filled >= end:
                self._complete(bytes(memoryview(buffer)[self.body_at:end]), end)  # one copy
        elif self.chunked:
            self._parse_chunks(buffer, filled)
        elif filled - self.body_at > MAX_BODY:
            raise ValueError(f"the answer is longer than {MAX_BODY} bytes")

    def _parse_head(self, buffer: bytearray, filled: int) -> bool:
        start = self.start
        limit = min(filled, start + _MAX_HEAD_BYTES)
        head_end = buffer.find(b"\r\n\r\n", start, limit)
        body_at = head_end + 4
        bare = buffer.find(b"\n\n", start, head_end if head_end >= 0 else limit)  # lines ended by LF alone
        if bare >= 0:
            head_end, body_at = bare, bare + 2
        if head_end < 0:
            if filled - start > _MAX_HEAD_BYTES:
                raise ValueError(f"the answer's headers are longer than {_MAX_HEAD_BYTES} bytes")
            return False
        lines = buffer[start:head_end].decode("latin-1").split("\n")
        parts = lines[0].split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ValueError(f"not an HTTP answer: {lines[0][:80]!r}")
        if len(lines) - 1 > _MAX_HEADER_LINES:
            raise ValueError(f"more than {_MAX_HEADER_LINES} header lines")
        headers = self.headers
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(parts[1])
        if status in (204, 304):  # never a body, whatever the headers say
            self.length = 0
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            self.chunked = True
            self.chunk_at = body_at
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if not 0 <= length <= MAX_BODY:
                raise ValueError(f"Content-Length {length} is out of range")
            self.length = length
        self.body_at = body_at
        self.status = status
        return True

    def _parse_chunks(self, buffer: bytearray, filled: int) -> None:
        at = self.chunk_at
        while True:
            line_end = buffer.find(b"\n", at, filled)
            if line_end < 0:
                if filled - at > _MAX_HEAD_BYTES:
                    raise ValueError("a chunk's size line is too long")
                break
            size = int(bytes(buffer[at:line_end]).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:  # the last chunk, then trailers up to an empty line
                line_start = line_end + 1
                while True:
                    line_end = buffer.find(b"\n", line_start, filled)
                    if line_end < 0:
                        self.chunk_at = at
                        return
                    if buffer[line_start:line_end].strip() == b"":
                        self._complete(b"".join(self.chunks), line_end + 1)
                        return
                    line_start = line_end + 1
            if size < 0 or self.chunk_total + size > MAX_BODY:
                raise ValueError(f"the answer is longer than {MAX_BODY} bytes")
            data_end = line_end + 1 + size
            if filled < data_end + 2:
                break
            self.chunks.append(bytes(memoryview(buffer)[line_end + 1:data_end]))
            self.chunk_total += size
            at = data_end + 2  # the CRLF after the chunk
        self.chunk_at = at

    def _complete(self, body: bytes, end: int) -> None:
        response = HttpResponse(self.status, self.headers, body)
        self.start = end
        if self.start == self.filled:
            self.start = self.filled = 0
        self._new_answer()
        assert self._waiter is not None
        self._waiter.set_result(response)


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
        self._connection: Optional[_Connection] = None
        self._host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._request_tail = (f" HTTP/1.1\r\nHost: {self._host_header}\r\nConnection: keep-alive\r\n"
                              f"User-Agent: pyml\r\nAccept: application/json\r\n"
                              + ("Accept-Encoding: gzip\r\n" if gzip else "") + "\r\n").encode("latin-1")
        self.requests = 0
        self.bytes_received = 0

    async def get(self, path: str) -> HttpResponse:
        """GET ``path`` (with its query string); HttpError on any failure."""
        loop = asyncio.get_running_loop()
        try:
            response = await self._get(loop, path, loop.time() + self.timeout)
        except asyncio.TimeoutError:
            self.close()
            raise HttpError(f"GET http://{self._host_header}{path}: no answer within {self.timeout:g} s") from None
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            self.close()
            if isinstance(exc, OSError) and exc.errno:
                reason = os.strerror(exc.errno).lower()  # "connection refused", not asyncio's wording
            else:
                reason = str(exc) or type(exc).__name__
            raise HttpError(f"GET http://{self._host_header}{path}: {reason}") from None
        except BaseException:  # cancelled: the connection may be inside an answer
            self.close()
            raise
        self.requests += 1
        self.bytes_received += len(response.body)
        if response.headers.get("connection", "").lower() == "close":
            self.close()
        return response

    async def _get(self, loop: asyncio.AbstractEventLoop, path: str, deadline: float) -> HttpResponse:
        request = b"GET " + path.encode("latin-1") + self._request_tail
        while True:
            connection = self._connection
            fresh = connection is None or connection.lost
            if connection is None or fresh:
                self.close()
                connection = self._connection = await self._connect(loop, deadline)
            waiter = connection.send(request)
            timer = loop.call_at(deadline, connection.expire)
            try:
                response = await waiter
            except _Stale:
                if fresh:
                    raise EOFError("the server closed the connection without answering") from None
                self.close()  # the server closed the kept-alive connection meanwhile: once more on a new one
                continue
            finally:
                timer.cancel()
            if response.headers.get("content-encoding", "").lower() == "gzip":
                response.body = zlib.decompress(response.body, 16 + zlib.MAX_WBITS)
            return response

    async def _connect(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        _, connection = await within(loop.create_connection(lambda: _Connection(loop), self.host, self.port),
                                     max(0.0, deadline - loop.time()))
        return connection

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._connection is not None:
            try:
                self._connection.abort()
            except Exception:  # noqa: BLE001 - closing a broken transport
                pass
        self._connection = None
