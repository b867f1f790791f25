"""The polling HTTP client against a scripted server: framings, kept-alive connections, failures.

Each test starts a raw TCP server on loopback whose connections answer with
bytes the test writes (whole, or in pieces with pauses between them), so
what reaches the client is exactly what the test says, including answers a
well-behaved server would not give. Every test runs on asyncio's event loop
and on uvloop's.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from typing import Any, Awaitable, Callable, Optional

import pytest

from pyml.sources import _http
from pyml.sources._http import HttpClient, HttpError, HttpResponse
from pyml.sources._loop import event_loop_factory

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def answer(body: bytes, *, headers: str = "", status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}\r\n").encode() + body


async def read_request(reader: asyncio.StreamReader) -> Optional[bytes]:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


class Server:
    """A loopback server whose every connection runs ``handler(reader, writer, connection_number)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: Optional[asyncio.base_events.Server] = None

    async def __aenter__(self) -> "Server":
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer, self.connections)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        self.port: int = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture(autouse=True, params=["asyncio", "uvloop"])
def event_loop_kind(request: Any, monkeypatch: Any) -> str:
    """Every test on asyncio's loop and on uvloop's (a source group's loop when uvloop is installed)."""
    factory = event_loop_factory(request.param)

    def run_on(coro: Any, **kwargs: Any) -> Any:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)

    monkeypatch.setattr(asyncio, "run", run_on)
    return str(request.param)


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


async def get_twice(handler: Handler) -> tuple[HttpResponse, HttpResponse, int]:
    """Two GETs from one client: both answers, and how many connections the server saw."""
    async with Server(handler) as server:
        client = HttpClient("127.0.0.1", server.port)
        first = await client.get("/")
        second = await client.get("/")
        client.close()
    return first, second, server.connections


def serving(answers: list[bytes], log: Optional[list[bytes]] = None) -> Handler:
    """Each request on a connection gets the next of ``answers``; then the connection stays open."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        for data in answers:
            request = await read_request(reader)
            if request is None:
                return
            if log is not None:
                log.append(request)
            writer.write(data)
            await writer.drain()
        await reader.read()
    return handler


def test_content_length_answers_reuse_one_connection() -> None:
    async def main() -> None:
        log: list[bytes] = []
        async with Server(serving([answer(b'{"a": 1}', headers="Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
                                   answer(b"[]")], log)) as server:
            client = HttpClient("127.0.0.1", server.port)
            first = await client.get("/api/v1/info?x=1")
            second = await client.get("/two")
            client.close()
        assert (first.status, first.body, second.body) == (200, b'{"a": 1}', b"[]")
        assert first.headers["content-length"] == "8"
        assert first.date == 784111777.0
        assert server.connections == 1 and client.requests == 2 and client.bytes_received == 10
        assert log[0].startswith(b"GET /api/v1/info?x=1 HTTP/1.1\r\n")
        assert b"Connection: keep-alive\r\n" in log[0] and b"Accept-Encoding" not in log[0]
    run(main())


def test_an_answer_arriving_in_pieces_is_put_together() -> None:
    body = bytes(range(256)) * 4000  # 1 MB: larger than the connection's first buffer
    data = answer(body, headers="X-Long: " + "y" * 5000 + "\r\n")

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        pieces = [data[:1], data[1:7], data[7:40], data[40:5100], data[5100:5107], data[5107:70_000],
                  data[70_000:600_000], data[600_000:]]  # cut inside the status line, the head, the body
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        await reader.read()

    async def main() -> None:
        async with Server(handler) as server:
            client = HttpClient("127.0.0.1", server.port)
            got = await client.get("/")
            client.close()
        assert got.body == body and got.headers["x-long"] == "y" * 5000
    run(main())


def test_chunked_answers_with_extensions_and_trailers() -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;name=value\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: 1\r\n\r\n")

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        for i in range(len(chunked)):  # byte by byte: every state of the parse is met at a read's end
            writer.write(chunked[i:i + 1])
            await writer.drain()
            if i % 5 == 0:
                await asyncio.sleep(0.001)
        await read_request(reader)
        writer.write(answer(b"next"))  # the connection goes on after the trailers
        await reader.read()

    got, after, connections = asyncio.run(get_twice(handler))
    assert (got.body, after.body, connections) == (b"hello world!", b"next", 1)


def test_gzip_is_asked_for_and_decoded() -> None:
    body = b'{"value": 1}' * 100

    async def main() -> None:
        log: list[bytes] = []
        async with Server(serving([answer(gzip.compress(body), headers="Content-Encoding: gzip\r\n")],
                                  log)) as server:
            client = HttpClient("127.0.0.1", server.port, gzip=True)
            got = await client.get("/")
            client.close()
        assert got.body == body and b"Accept-Encoding: gzip\r\n" in log[0]
    run(main())


def test_a_body_without_length_ends_with_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\nContent-Type: text/plain\n\nall of it")  # LF-only lines, too
        await writer.drain()

    got, again, connections = asyncio.run(get_twice(handler))
    assert got.body == again.body == b"all of it" and got.headers["content-type"] == "text/plain"
    assert connections == 2  # a new connection for the second: the first ended with its answer


def test_a_kept_alive_connection_closed_by_the_server_is_replaced_once() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        writer.write(answer(f"connection {n}".encode()))
        await writer.drain()
        if n == 1:
            await read_request(reader)  # the second request: closed unanswered, as an idle timeout would
            return
        await reader.read()

    first, second, connections = asyncio.run(get_twice(handler))
    assert (first.body, second.body, connections) == (b"connection 1", b"connection 2", 2)


def test_answers_that_never_have_a_body_end_with_their_head() -> None:
    # 204 and 304 have no body even without Content-Length; the connection goes on
    first, second, connections = asyncio.run(get_twice(serving([b"HTTP/1.1 204 No Content\r\n\r\n",
                                                                b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"])))
    assert (first.status, first.body, second.status, second.body, connections) == (204, b"", 304, b"", 1)


def test_connection_close_header_closes_after_the_answer() -> None:
    first, second, connections = asyncio.run(get_twice(serving([answer(b"x", headers="Connection: close\r\n"),
                                                                answer(b"y")])))
    assert (first.body, second.body, connections) == (b"x", b"x", 2)  # each connection's first answer


async def failure(handler: Handler, *, timeout: float = 5.0) -> str:
    async with Server(handler) as server:
        client = HttpClient("127.0.0.1", server.port, timeout=timeout)
        with pytest.raises(HttpError) as info:
            await client.get("/path?q=1")
        client.close()
    message = str(info.value)
    assert message.startswith(f"GET http://127.0.0.1:{server.port}/path?q=1: ")
    return message


def answering(data: bytes, then_close: bool = True) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        writer.write(data)
        await writer.drain()
        if not then_close:
            await reader.read()
    return handler


@pytest.mark.parametrize("data, fragment", [
    (b"", "the server closed the connection without answering"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP answer: 'SSH-2.0-OpenSSH'"),
    (b"HTTP/1.1 200 OK\r\nContent-Le", "the connection closed inside the headers"),
    (answer(b"0123456789")[:-3], "the connection closed inside the answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", "Content-Length -5 is out of range"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "invalid literal"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", "more than 100 header lines"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid literal"),
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope", "Error -3"),
])
def test_bad_answers_are_errors_naming_the_request(data: bytes, fragment: str) -> None:
    assert fragment in asyncio.run(failure(answering(data)))


def test_endless_headers_are_refused() -> None:
    data = b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"z" * 70_000
    assert "headers are longer than 65536 bytes" in asyncio.run(failure(answering(data, then_close=False)))


def test_a_body_beyond_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_http, "MAX_BODY", 1000)
    long = answer(b"x" * 1001)
    assert "Content-Length 1001 is out of range" in asyncio.run(failure(answering(long)))
    unframed = b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 5000
    assert "longer than 1000 bytes" in asyncio.run(failure(answering(unframed, then_close=False)))
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"3e9\r\n"
    assert "longer than 1000 bytes" in asyncio.run(failure(answering(chunked, then_close=False)))


def test_no_answer_within_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")  # then nothing more
        await reader.read()

    assert "no answer within 0.3 s" in asyncio.run(failure(silent, timeout=0.3))


def test_a_refused_connection_says_so() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> str:
        client = HttpClient("127.0.0.1", port)
        with pytest.raises(HttpError) as info:
            await client.get("/")
        return str(info.value)
    assert asyncio.run(main()) == f"GET http://127.0.0.1:{port}/: connection refused"


def test_a_cancelled_request_leaves_no_half_read_answer_behind() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_request(reader)
        if n == 1:
            writer.write(answer(b"late answer")[:20])  # half an answer, and the client gives up
            await reader.read()
            return
        writer.write(answer(b"fresh"))
        await reader.read()

    async def main() -> None:
        async with Server(handler) as server:
            client = HttpClient("127.0.0.1", server.port)
            task = asyncio.ensure_future(client.get("/"))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            got = await client.get("/")
            client.close()
        assert got.body == b"fresh" and server.connections == 2
    run(main())
