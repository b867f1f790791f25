"""A simulated Netdata agent on loopback: the answers a source reads, for tests and benchmarks.

:class:`SimulatedNetdata` serves, over real HTTP/1.1 with keep-alive, the five
endpoints :class:`pyml.sources.netdata.NetdataSource` uses, shaped (and for
``allmetrics``, whitespace and number format included) as Netdata 1.37
answers them: ``/api/v1/info``, ``/api/v1/charts``, ``/api/v1/chart``,
``/api/v1/allmetrics?format=json`` and ``/api/v1/data`` (``points=0``,
``jsonwrap``, ``seconds``). Every chart is "collected" every second of the
wall clock from the simulator's start; its values are a pure function of
chart, dimension and second (:meth:`SimulatedNetdata.value`), so a test knows
what a mirror must hold without asking. Faults can be switched on while it
runs: refusing connections, a restart that loses the history, answers that
are not JSON, non-numeric or huge values, timestamps that jump, charts and
dimensions that come and go, seconds that are missing from the history.

``python -m pyml.sources.netdata_sim --sources 50 --dims 2000 --port 20310``
runs 50 of them on one port (``http://127.0.0.1:20310/sim000`` ...,
:func:`serve_many`) until interrupted, for the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import json
import math
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

__all__ = ["SimulatedNetdata", "SimChart", "serve_many"]


@dataclass
class SimChart:
    """A simulated chart: id, dimension ids (and names), ``update_every``."""

    id: str
    dims: list[str]
    names: dict[str, str] = field(default_factory=dict)
    update_every: int = 1
    family: str = "sim"
    units: str = "value"
    priority: int = 1000
    created: int = 0                 # first second it has values


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class SimulatedNetdata:
    """A fake Netdata agent (see the module docstring).

    Parameters
    ----------
    hostname : str
        What ``/api/v1/info`` names.
    charts : int
        Number of charts (``sim.c0`` ...).
    dims_per_chart : int
        Dimensions of each chart (``d0`` ...; names ``name_d0`` ... for odd ones).
    port : int
        Loopback port; 0 picks a free one.
    retention : int
        Seconds of history ``/api/v1/data`` answers.
    clock : callable
        The wall clock; the newest collected second is ``floor(clock()) - 1``.
    update_every : int
        The agent's ``update every`` (``/api/v1/charts``) and its charts'.
    period : int, optional
        Make values repeat every ``period`` seconds, so that answers are
        rendered once per phase and served at little cost (for benchmarks
        where the simulator must stay cheap next to what it measures).
    """

    def __init__(self, hostname: str = "sim", charts: int = 10, dims_per_chart: int = 5, port: int = 0,
                 retention: int = 3600, clock: Callable[[], float] = time.time, period: Optional[int] = None,
                 update_every: int = 1) -> None:
        self.hostname = hostname
        self.update_every = update_every
        self.period = period
        self._phase_cache: dict[int, tuple[bytes, bytes]] = {}
        self.retention = retention
        self.clock = clock
        self.started = int(clock()) - 1
        self.charts: dict[str, SimChart] = {}
        for c in range(charts):
            dims = [f"d{i}" for i in range(dims_per_chart)]
            names = {d: f"name_{d}" for i, d in enumerate(dims) if i % 2}
            self.add_chart(SimChart(f"sim.c{c}", dims, names, priority=1000 + c, update_every=update_every))
        # faults, changed by tests while serving
        self.lock = threading.Lock()
        self.refusing = False
        self.malformed = False
        self.bad_values: dict[tuple[str, str], str] = {}     # (chart, dim) -> JSON text written as its value
        self.time_shift: dict[str, int] = {}                  # chart -> seconds added to its last_updated
        self.holes: set[int] = set()                          # seconds missing from /api/v1/data
        self.stale: dict[str, int] = {}                       # chart -> seconds its allmetrics lags behind
        self.requests: dict[str, int] = {}
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._port = port
        self._render_cache: tuple[int, bytes] = (-1, b"")
        self._connections: set[socket.socket] = set()

    # ------------------------------------------------------------------ model

    def add_chart(self, chart: SimChart) -> None:
        """Add a chart (it has values from the current second on)."""
        chart.created = max(chart.created, int(self.clock()) - 1) if self.charts else self.started
        self.charts[chart.id] = chart
        self._render_cache = (-1, b"")

    def remove_chart(self, chart_id: str) -> None:
        """Remove a chart."""
        del self.charts[chart_id]
        self._render_cache = (-1, b"")

    def set_dimensions(self, chart_id: str, dims: list[str]) -> None:
        """Change a chart's dimensions."""
        self.charts[chart_id].dims = list(dims)
        self._render_cache = (-1, b"")

    @staticmethod
    def value(chart_id: str, dim: str, t: int) -> float:
        """The value of a dimension at second ``t`` (exact in 7 decimals)."""
        h = sum(ord(ch) for ch in chart_id) * 31 + sum(ord(ch) for ch in dim) * 7
        return float(((t * (1 + h % 5) + h) % 997) * 0.25 + (h % 3))

    def newest(self) -> int:
        """The newest collected second."""
        return int(math.floor(self.clock())) - 1

    def first(self) -> int:
        """The oldest second still kept."""
        return max(self.started, self.newest() - self.retention + 1)

    def restart(self) -> None:
        """Lose the whole history, as an agent with ``[db] mode = ram`` restarting."""
        with self.lock:
            self.started = self.newest()  # the second it restarted in is its first
            for chart in self.charts.values():
                chart.created = self.started
            self._render_cache = (-1, b"")

    def _chart_last(self, chart: SimChart, newest: int) -> int:
        last = newest - self.stale.get(chart.id, 0)
        return last - (last % chart.update_every)

    # ------------------------------------------------------------------ documents

    def _charts_doc(self) -> dict[str, Any]:
        first, newest = self.first(), self.newest()
        return {"hostname": self.hostname, "version": "v1.37.1", "os": "linux", "update_every": self.update_every,
                "history": self.retention, "memory_mode": "ram",
                "charts": {c.id: self._chart_doc(c, first, newest) for c in self.charts.values()}}

    def _chart_doc(self, c: SimChart, first: int, newest: int) -> dict[str, Any]:
        return {"id": c.id, "name": c.id, "type": c.id.split(".")[0], "family": c.family, "context": c.id,
                "title": f"simulated {c.id}", "priority": c.priority, "plugin": "sim", "module": "",
                "units": c.units, "chart_type": "line", "update_every": c.update_every,
                "first_entry": max(first, c.created), "last_entry": newest,
                "dimensions": {d: {"name": c.names.get(d, d)} for d in c.dims}}

    def _value_at(self, chart_id: str, dim: str, t: int) -> float:
        return self.value(chart_id, dim, t if self.period is None else t % self.period)

    def _allmetrics(self) -> bytes:
        newest = self.newest()
        if self._render_cache[0] == newest and not (self.bad_values or self.time_shift or self.stale):
            return self._render_cache[1]
        if self.period is not None and not (self.bad_values or self.time_shift or self.stale):
            phase = newest % self.period
            cached = self._phase_cache.get(phase)
            if cached is None:
                saved, self.period = self.period, None
                try:  # render with the phase's values and a placeholder for the timestamp
                    body = self._render(newest - newest % saved + phase, saved)
                finally:
                    self.period = saved
                cached = self._phase_cache[phase] = (body, str(newest - newest % saved + phase).encode())
            body = cached[0].replace(b'"last_updated": ' + cached[1], b'"last_updated": ' + str(newest).encode())
            self._render_cache = (newest, body)
            return body
        body = self._render(newest, None)
        self._render_cache = (newest, body)
        return body

    def _render(self, newest: int, period: Optional[int]) -> bytes:
        out: list[str] = ["{"]
        first_chart = True
        for c in self.charts.values():
            last = self._chart_last(c, newest) + self.time_shift.get(c.id, 0)
            out.append(("" if first_chart else ",") + f'\n\t"{c.id}": {{\n\t\t"name":"{c.id}",\n\t\t"family":'
                       f'"{c.family}",\n\t\t"context":"{c.id}",\n\t\t"units":"{c.units}",\n\t\t"last_updated": '
                       f'{last},\n\t\t"dimensions": {{')
            first_chart = False
            t = self._chart_last(c, newest)
            tv = t if period is None else t % period
            for i, d in enumerate(c.dims):
                bad = self.bad_values.get((c.id, d))
                text = bad if bad is not None else "%0.7f" % self.value(c.id, d, tv)
                out.append(("" if i == 0 else ",") + f'\n\t\t\t"{d}": {{\n\t\t\t\t"name": "{c.names.get(d, d)}",'
                           f'\n\t\t\t\t"value": {text}\n\t\t\t}}')
            out.append("\n\t\t}\n\t}")
        out.append("\n}")
        return "".join(out).encode()

    def _data(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        chart = self.charts.get(query.get("chart", [""])[0])
        if chart is None:
            return 404, "Chart is not found: " + query.get("chart", [""])[0]
        newest, first = self.newest(), max(self.first(), chart.created)
        after = int(float(query.get("after", ["-600"])[0]))
        before = int(float(query.get("before", ["0"])[0]))
        if after <= 0:
            after += newest
        if before <= 0:
            before += newest
        lo, hi = max(after, first), min(before, self._chart_last(chart, newest))
        if lo > hi:
            return 404, "No metrics where matched to query."
        rows = []
        for t in range(hi, lo - 1, -1):
            if t % chart.update_every:
                continue
            if t in self.holes:
                rows.append([t] + [None] * len(chart.dims))
            else:
                rows.append([t] + [self._value_at(chart.id, d, t) for d in chart.dims])
        doc = {"api": 1, "id": chart.id, "name": chart.id, "update_every": chart.update_every, "first_entry": first,
               "last_entry": newest, "before": hi, "after": lo,
               "dimension_names": [chart.names.get(d, d) for d in chart.dims], "dimension_ids": list(chart.dims),
               "result": {"labels": ["time"] + [chart.names.get(d, d) for d in chart.dims], "data": rows}}
        return 200, doc

    def answer(self, path: str) -> tuple[int, bytes]:
        """The status and body of a GET of ``path``."""
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        endpoint = parts.path.rsplit("/", 1)[-1]
        self.requests[endpoint] = self.requests.get(endpoint, 0) + 1
        with self.lock:
            if self.malformed and endpoint in ("allmetrics", "charts", "info"):
                return 200, b'{"sim.c0": {"last_updated": 12, "dimensions": {'
            if endpoint == "info":
                doc: Any = {"version": "v1.37.1", "uid": f"uid-{self.hostname}", "mirrored_hosts": [self.hostname],
                            "mirrored_hosts_status": [{"guid": f"uid-{self.hostname}", "hostname": self.hostname,
                                                       "reachable": True, "hops": 0}]}
                return 200, json.dumps(doc).encode()
            if endpoint == "charts":
                return 200, json.dumps(self._charts_doc()).encode()
            if endpoint == "chart":
                chart = self.charts.get(query.get("chart", [""])[0])
                if chart is None:
                    return 404, b"Chart is not found"
                return 200, json.dumps(self._chart_doc(chart, self.first(), self.newest())).encode()
            if endpoint == "allmetrics":
                return 200, self._allmetrics()
            if endpoint == "data":
                status, doc = self._data(query)
                return status, (doc.encode() if isinstance(doc, str) else json.dumps(doc).encode())
        return 404, b"not found"

    # ------------------------------------------------------------------ serving

    @property
    def port(self) -> int:
        """The port listened on."""
        return self._server.server_address[1] if self._server is not None else self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "SimulatedNetdata":
        """Listen and serve on a thread."""
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without this, Nagle's algorithm holds the body back
            # until the client's delayed acknowledgement of the headers (40 ms per answer on Linux)
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with sim.lock:
                    sim._connections.add(self.connection)

            def finish(self) -> None:
                with sim.lock:
                    sim._connections.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                status, body = sim.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if body[:1] == b"{" else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def date_time_string(self, timestamp: Optional[float] = None) -> str:
                return email.utils.formatdate(sim.clock() if timestamp is None else timestamp, usegmt=True)

        self._server = _Server(("127.0.0.1", self._port), Handler)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"sim-{self.hostname}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection: connections are refused until :meth:`start` again."""
        with self.lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> "SimulatedNetdata":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def serve_many(sims: list[SimulatedNetdata], port: int, ready: Optional[Callable[[int], None]] = None,
                     stop: Optional["asyncio.Event"] = None) -> None:
    """Serve many simulated agents on one port, each under its hostname: ``http://127.0.0.1:port/<hostname>``.

    One asyncio loop answers every source (keep-alive, each answer in one
    write), so that a benchmark of hundreds of sources needs one port and
    no thread per connection. ``ready(port)`` is called once listening.
    """
    by_name = {sim.hostname: sim for sim in sims}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                parts = line.decode("latin-1").split()
                target = parts[1] if len(parts) >= 2 else "/"
                name, _, rest = target.lstrip("/").partition("/")
                sim = by_name.get(name)
                status, body = sim.answer("/" + rest) if sim is not None else (404, b"no such source")
                now = sim.clock() if sim is not None else time.time()
                head = (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                        f"Content-Type: {'application/json' if body[:1] == b'{' else 'text/plain'}\r\n"
                        f"Content-Length: {len(body)}\r\nDate: {email.utils.formatdate(now, usegmt=True)}\r\n"
                        f"Connection: keep-alive\r\n\r\n")
                writer.write(head.encode("latin-1") + body)
                await writer.drain()
        except (ConnectionError, OSError):
            return
        except asyncio.CancelledError:
            # the server stopping: the connection ends quietly (a cancelled handler would otherwise make
            # Python 3.11's stream callback log a traceback at every shutdown)
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    if ready is not None:
        ready(server.sockets[0].getsockname()[1])
    async with server:
        if stop is None:
            await server.serve_forever()
        else:
            await stop.wait()


def main(argv: Optional[list[str]] = None) -> int:
    """Serve many simulated agents on one port until SIGINT/SIGTERM (for the benchmark)."""
    parser = argparse.ArgumentParser(description="simulated Netdata agents on loopback, one port for all")
    parser.add_argument("--sources", type=int, default=1)
    parser.add_argument("--dims", type=int, default=2000, help="dimensions per source")
    parser.add_argument("--dims-per-chart", type=int, default=10)
    parser.add_argument("--port", type=int, default=20310, help="the port every source is served on")
    parser.add_argument("--period", type=int, default=60, help="values repeat every this many seconds")
    parser.add_argument("--first", type=int, default=0, help="number in the first source's hostname (sim000)")
    args = parser.parse_args(argv)
    sims = [SimulatedNetdata(f"sim{args.first + i:03d}", charts=max(1, args.dims // args.dims_per_chart),
                             dims_per_chart=args.dims_per_chart, period=args.period)
            for i in range(args.sources)]

    def ready(port: int) -> None:
        print(" ".join(f"http://127.0.0.1:{port}/{s.hostname}" for s in sims), flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_many(sims, args.port, ready, stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
