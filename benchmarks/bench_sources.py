"""Netdata sources at scale: many agents of thousands of dimensions each, pulled at 1 Hz by one process.

Full scale: 50 simulated Netdata agents (:mod:`pyml.sources.netdata_sim`, in a
process of their own, answering over loopback like Netdata 1.37) of 2,000
dimensions each, mirrored by one ``pyml`` agent (``local=False``, every chart
modelled, defaults otherwise). Measured:

* ``test_parse_allmetrics``: decoding one source's ``allmetrics`` answer:
  by a source's decoder against the answer it learned (what every poll of
  an unchanged shape after the first does), by the compiled scan, and by
  msgspec (the ``fast`` extra) whole and for its values alone, against the
  standard library's ``json`` in the same run;
* ``test_one_second_of_one_source``: one source's second end to end in
  process as a poll takes it (decode, bookkeeping, one ``Host.collect_all``),
  against the ``collect_all`` alone as the baseline;
* ``test_request_polling_client``: one ``allmetrics`` request of a poll, by
  the polling client in a running event loop, against a blocking socket's
  kept-alive GET as the baseline (``test_request_raw``; a simulated agent in
  a process of its own answers both), with each one's thread CPU per request;
* ``test_mirror_start_up``: a source of 100,000 dimensions mirrored into an
  empty host (``/api/v1/charts`` decoded, every chart registered), with a
  short sample history so that the sample store's allocation is left out;
* ``test_sources_at_1hz``: the real thing for ``PYML_SOURCES_SECONDS`` (60)
  seconds after a warm-up in which every dimension gets its model: the CPU
  time of the thread that runs every source (HTTP, JSON, feeding the hosts,
  prediction, detectors) per 10,000 dimensions, plus training at the
  profile's default window amortised over its ``train every`` (one model
  timed, times the dimensions), the resident memory per dimension, and
  whether it keeps up (every second fed, hosts within a few seconds of their
  sources). The hosts of this run keep 5 minutes of samples (see
  ``RUN_CFG``);
* ``test_how_far_one_process_goes``: one agent, sources added in steps
  (``PYML_SOURCES_RAMP``, 50 to 300) until it falls behind: per step, the
  sources' thread's share of a core, seconds fed, catch-ups, lag, memory.

The sources have ``PYML_SOURCE_DIMS_PER_CHART`` (4) dimensions per chart, as
a real Netdata (1,313 dimensions in 329 charts here). ``PYML_PROFILE`` picks
the profile (the package's default otherwise). Run the figures at low load
(``uptime``), e.g.::

    PYTHONPATH=$PWD pytest benchmarks/bench_sources.py -s -p no:cacheprovider
    PYML_PROFILE=netdata-1.33 PYTHONPATH=$PWD pytest benchmarks/bench_sources.py -s -k sources_at_1hz

``PYML_BENCH_SCALE=small`` (CI) runs 3 sources of 200 dimensions for 8 seconds,
and a ramp of 2 and 4 sources. ``PYML_SOURCES_PORT`` sets the simulators' first
port (20310).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import pyml
from pyml.sources import _netdata_json as nj
from pyml.sources._http import HttpClient, split_base_url
from pyml.sources.netdata import NetdataSource
from pyml.sources.netdata_sim import SimulatedNetdata

from budget import median, record
from conftest import SMALL, scaled

SOURCES = int(os.environ.get("PYML_SOURCES", scaled(50, 3)))
DIMS = int(os.environ.get("PYML_SOURCE_DIMS", scaled(2000, 200)))
DIMS_PER_CHART = int(os.environ.get("PYML_SOURCE_DIMS_PER_CHART", 4))   # a real Netdata: 1,313 in 329 charts
SECONDS = int(os.environ.get("PYML_SOURCES_SECONDS", scaled(60, 8)))
RAMP = [int(n) for n in os.environ.get("PYML_SOURCES_RAMP", "50,100,150,200,250,300" if not SMALL else "2,4").split(",")]
RAMP_SECONDS = int(os.environ.get("PYML_SOURCES_RAMP_SECONDS", scaled(40, 6)))
# the first port of the simulators (one per simulator process, the next ones for a ramp's steps)
PORT = int(os.environ.get("PYML_SOURCES_PORT", 20310))
STARTUP_DIMS = scaled(100_000, 5_000)
#: The profile measured: the package's default unless PYML_PROFILE names another.
PROFILE = os.environ.get("PYML_PROFILE", pyml.MLConfig().profile)
#: The sources' event loop (``auto``: uvloop when installed); PYML_SOURCES_EVENT_LOOP=asyncio compares.
EVENT_LOOP = os.environ.get("PYML_SOURCES_EVENT_LOOP", "auto")


def _config(train: int = 0, history: int = 0, every: int = 0) -> pyml.MLConfig:
    """Every chart modelled; with ``train`` etc., a short training window in the profile's own keys."""
    if not train:
        return pyml.MLConfig(profile=PROFILE, charts_to_skip="")
    if PROFILE == "netdata-1.33":
        sizes = dict(min_train_samples=train, max_train_samples=history, train_every=every)
    else:
        sizes = dict(min_training_window=train, training_window=history, train_every=every)
    return pyml.MLConfig(profile=PROFILE, charts_to_skip="", clamp=False, **sizes)


CFG = _config()
# The 1 Hz runs keep 5 minutes of samples; every dimension trains once (on 30 s) during the warm-up and
# then about once an hour, so that what is measured is ingestion and the per-second ML path (which do not
# depend on the history's depth) with models in place, and the sample store's 14,400 words per dimension
# stay out of a shared machine's memory. Training at the default window is measured on its own and
# amortised over its period.
RUN_CFG = _config(train=30, history=300, every=3600)


class _Provider:
    def __init__(self, config: pyml.MLConfig = CFG) -> None:
        self.hosts: dict[str, pyml.Host] = {}
        self.config = config

    def claim(self, hostname: str, source: object, update_every: int) -> pyml.Host:
        if hostname not in self.hosts:
            self.hosts[hostname] = pyml.Host(hostname, self.config, update_every=update_every, background=False)
        return self.hosts[hostname]

    def release(self, hostname: str, source: object) -> None:
        pass


def _body(sim: SimulatedNetdata) -> bytes:
    return sim.answer("/api/v1/allmetrics?format=json")[1]


@pytest.fixture(scope="module")
def sim() -> SimulatedNetdata:
    return SimulatedNetdata("bench", charts=DIMS // DIMS_PER_CHART, dims_per_chart=DIMS_PER_CHART)


@pytest.mark.parametrize("backend", ["learned", "compiled", "msgspec", "values", "json"])
def test_parse_allmetrics(benchmark, sim: SimulatedNetdata, backend: str) -> None:
    body = _body(sim)
    if backend == "learned":    # a source's decoder, read against the answer it learned (every poll but the first)
        keys = pyml._core.decode_allmetrics(body)[2]
        decoder = pyml._core.AllmetricsDecoder()
        nj.decode_value_arrays(body, keys, decoder)
        lus, values = benchmark(nj.decode_value_arrays, body, keys, decoder)
        record("parse-learned", benchmark)
        assert decoder.scanned == 1 and decoder.compared >= 1
        assert values[3 * DIMS_PER_CHART + 1] == SimulatedNetdata.value("sim.c3", "d1", int(lus[3]))
        return
    if backend == "compiled":   # what a poll of a known shape takes: arrays, ids checked against the keys
        keys = pyml._core.decode_allmetrics(body)[2]
        lus, values = benchmark(nj.decode_value_arrays, body, keys)
        record("parse-compiled", benchmark)
        assert lus.size == DIMS // DIMS_PER_CHART and values.size == DIMS
        assert values[3 * DIMS_PER_CHART + 1] == SimulatedNetdata.value("sim.c3", "d1", int(lus[3]))
        return
    if backend == "values":
        if nj.msgspec is None:
            pytest.skip("msgspec (the 'fast' extra) is not installed")
        values = benchmark(nj.decode_values, body)
        record("parse-values", benchmark)
        assert values is not None and len(values) == DIMS // DIMS_PER_CHART
        t = values["sim.c3"].last_updated
        assert values["sim.c3"].dimensions["d1"].value == SimulatedNetdata.value("sim.c3", "d1", t)
        return
    if backend == "msgspec":
        if nj.msgspec is None:
            pytest.skip("msgspec (the 'fast' extra) is not installed")
        parse = nj.parse_allmetrics
    else:
        def parse(b: bytes):  # the fallback path, forced
            problems: list = []
            return nj._lenient(json.loads(b), problems), problems
    charts, problems = benchmark(parse, body)
    record(f"parse-{backend}", benchmark)
    assert not problems and len(charts) == DIMS // DIMS_PER_CHART
    t = charts["sim.c3"].last_updated
    assert charts["sim.c3"].dimensions["d1"].value == SimulatedNetdata.value("sim.c3", "d1", t)


def test_parse_budget() -> None:
    fast, slow, values = median("parse-msgspec"), median("parse-json"), median("parse-values")
    compiled, learned = median("parse-compiled"), median("parse-learned")
    print(f"\nallmetrics of {DIMS} dimensions: read against the learned answer {learned * 1e9 / DIMS:.0f} ns, "
          f"compiled into arrays {compiled * 1e9 / DIMS:.0f} ns, msgspec "
          f"{fast * 1e9 / DIMS:.0f} ns, values alone {values * 1e9 / DIMS:.0f} ns, json {slow * 1e9 / DIMS:.0f} ns "
          f"per dimension ({slow / fast:.1f}x)")
    assert fast < slow and compiled < values and learned < compiled


def _connected_source(sim: SimulatedNetdata) -> tuple[NetdataSource, _Provider]:
    provider = _Provider()
    sim.start()
    source = NetdataSource(sim.url, provider)

    async def go() -> None:
        await source.connect()
        source.http.close()

    asyncio.run(go())
    sim.stop()
    return source, provider


def test_one_second_of_one_source(benchmark, sim: SimulatedNetdata) -> None:
    source, provider = _connected_source(sim)
    host = provider.hosts["bench"]
    body = _body(sim)
    start = sim.newest()
    old = b'"last_updated": ' + re.search(rb'"last_updated": (\d+)', body).group(1)  # type: ignore[union-attr]
    # the answers of the next seconds, rendered before timing: every chart one second further each time
    bodies = [body.replace(old, b'"last_updated": ' + str(start + i).encode()) for i in range(1, 40)]
    at = [0]

    def one_second() -> None:
        answer, t = bodies[at[0]], start + 1 + at[0]
        at[0] += 1
        plan = source._take_values(answer, t + 1)   # what a poll does; the first makes the shape
        if plan is None:
            charts, problems = nj.parse_allmetrics(answer)
            source.take_allmetrics(charts, t + 1, problems)
        source._feed()

    benchmark.pedantic(one_second, rounds=30, iterations=1, warmup_rounds=2)
    record("source-second", benchmark)
    assert host.last_time == start + at[0] and source.stats.catch_up_requests == 0
    assert source.stats.bulk == at[0] - 1                 # every second after the first, in bulk
    host.close()


def test_collect_all_alone(benchmark, sim: SimulatedNetdata) -> None:
    source, provider = _connected_source(sim)
    host = provider.hosts["bench"]
    row = np.random.default_rng(1).normal(size=len(host.dimension_ids()))
    t = [sim.newest()]

    def tick() -> None:
        t[0] += 1
        host.collect_all(t[0], row)

    benchmark.pedantic(tick, rounds=30, iterations=1, warmup_rounds=2)
    record("collect-all", benchmark)
    host.close()


def test_source_overhead() -> None:
    whole, tick = median("source-second"), median("collect-all")
    print(f"\none source second of {DIMS} dimensions: {whole * 1e9 / DIMS:.0f} ns per dimension "
          f"(collect_all alone {tick * 1e9 / DIMS:.0f} ns)")


def _raw_get(sock: socket.socket, request: bytes, buffer: bytearray) -> int:
    """The least a kept-alive GET can do: send, then read into ``buffer`` up to the head's Content-Length.

    The body's size; the body is copied out once, as any client hands it on.
    """
    sock.sendall(request)
    view = memoryview(buffer)
    filled, end = 0, -1
    while end < 0:
        filled += sock.recv_into(view[filled:])
        end = buffer.find(b"\r\n\r\n", 0, filled)
    length = int(re.search(rb"(?i)content-length: *(\d+)", bytes(buffer[:end])).group(1))  # type: ignore[union-attr]
    while filled < end + 4 + length:
        filled += sock.recv_into(view[filled:])
    return len(bytes(view[end + 4:end + 4 + length]))


#: Requests per timed round of the request benchmarks.
REQUESTS = 20


@pytest.fixture(scope="module")
def one_sim() -> Any:
    """One simulated agent in a process of its own: ``(host, port, allmetrics path)``; a port of its own,
    as it lives as long as the module."""
    sims = _Sims(1, port=PORT + 7)
    host, port, prefix = split_base_url(sims.urls[0])
    yield host, port, prefix + "/api/v1/allmetrics?format=json"
    sims.stop()


def _thread_cpu_per_call(run: Callable[[], int], calls: int) -> float:
    run()
    started = time.thread_time()
    for _ in range(5):
        run()
    return (time.thread_time() - started) / (5 * calls)


def test_request_raw(benchmark, one_sim: tuple[str, int, str]) -> None:
    """The baseline of a poll's request: a blocking socket's kept-alive GET of ``allmetrics``."""
    host, port, path = one_sim
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray(16 << 20)
        run = lambda: sum(_raw_get(sock, request, buffer) for _ in range(REQUESTS))  # noqa: E731
        cpu = _thread_cpu_per_call(run, REQUESTS)
        benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
    record("request-raw", benchmark)
    print(f"\nallmetrics GET, blocking socket: {cpu * 1e6:.0f} us of thread CPU per request")


def test_request_polling_client(benchmark, one_sim: tuple[str, int, str]) -> None:
    """A poll's request as the sources' thread makes it: the polling client, in a running event loop."""
    host, port, path = one_sim
    client = HttpClient(host, port)
    loop = asyncio.new_event_loop()

    async def requests() -> int:
        size = 0
        for _ in range(REQUESTS):
            response = await client.get(path)
            assert response.status == 200
            size += len(response.body)
        return size

    run = lambda: loop.run_until_complete(requests())  # noqa: E731
    try:
        cpu = _thread_cpu_per_call(run, REQUESTS)
        size = benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1) // REQUESTS
    finally:
        client.close()
        loop.close()
    record("request-client", benchmark)
    print(f"\nallmetrics GET of {size / 1e3:.0f} kB, polling client: {cpu * 1e6:.0f} us of thread CPU per request")


def test_request_budget() -> None:
    """The client's request within 2x the blocking socket's (wall time, the simulated agent's rendering in both)."""
    assert median("request-client") <= 2.0 * median("request-raw")


def test_mirror_start_up(benchmark) -> None:
    big = SimulatedNetdata("big", charts=STARTUP_DIMS // 20, dims_per_chart=20)
    body = big.answer("/api/v1/charts")[1]
    hosts: list[pyml.Host] = []

    # a short sample history: the start-up of the source and the registry, not the sample store's
    # allocation of 14,400 words per dimension (its growth is measured in bench_store_growth)
    short = _config(train=30, history=60, every=3600)

    def start_up() -> None:
        provider = _Provider(short)
        source = NetdataSource("http://127.0.0.1:1", provider)
        doc = nj.loads(body)
        source._attach("big", 1)
        source._mirror(doc["charts"], {})
        hosts.append(provider.hosts["big"])

    benchmark.pedantic(start_up, rounds=2, iterations=1)
    record("start-up", benchmark)
    assert len(hosts[-1].dimension_ids()) == STARTUP_DIMS
    print(f"\nmirroring {STARTUP_DIMS} dimensions: {median('start-up'):.2f} s")
    for h in hosts:
        h.close()


def _rss() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _thread_cpu(native_ids: list[int]) -> float:
    """CPU seconds (user + system) of this process's threads with these ids."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for tid in native_ids:
        try:
            with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])    # utime, stime
    return total / tick


def _training_seconds_per_model() -> float:
    """One training at the profile's default window (14,400 samples for netdata-1.33)."""
    samples = CFG.training_points(1)[1]
    history = np.random.default_rng(3).normal(size=(20, samples))
    started = time.perf_counter()
    for row in history:
        pyml.core.train(row, diff_n=CFG.diff_n or 0, smooth_n=CFG.effective_smooth_n(1), lag_n=CFG.lag_n or 0,
                        max_iterations=CFG.max_kmeans_iters, features=CFG.feature_variant,
                        max_vectors=CFG.max_training_vectors)
    return (time.perf_counter() - started) / len(history)


#: Seconds between two trainings of a dimension at the profile's defaults.
TRAIN_PERIOD = CFG.train_every_ticks(1)


class _Sims:
    """Simulated agents in a process of their own (so that they cost this process nothing), on one port."""

    def __init__(self, sources: int, first: int = 0, port: int = PORT) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pyml.sources.netdata_sim", "--sources", str(sources), "--dims", str(DIMS),
             "--dims-per-chart", str(DIMS_PER_CHART), "--port", str(port), "--first", str(first),
             "--period", "10"],
            stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(Path(pyml.__file__).parent.parent)),
            cwd=tempfile.gettempdir())  # not the checkout: "-m" would import its pyml/, which CI does not build
        self.urls = self.proc.stdout.readline().split()  # type: ignore[union-attr]
        assert len(self.urls) == sources, self.urls

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


class _Window:
    """CPU, seconds fed and catch-ups of an agent's sources over a window of wall time."""

    def __init__(self, agent: object) -> None:
        self.agent = agent
        self.ingest = [agent.source_group._thread.native_id]            # type: ignore[attr-defined]
        self.train = [t.native_id for t in agent.pool._threads]          # type: ignore[attr-defined]
        self.cpu0 = time.process_time()
        self.ingest0 = _thread_cpu(self.ingest)
        self.train0 = _thread_cpu(self.train)
        self.ticks0 = sum(s.stats.ticks for s in agent.sources)          # type: ignore[attr-defined]
        self.catch0 = sum(s.stats.catch_up_requests for s in agent.sources)  # type: ignore[attr-defined]
        self.wall0 = time.perf_counter()

    def close(self) -> dict[str, float]:
        agent = self.agent
        wall = time.perf_counter() - self.wall0
        now = time.time()
        hosts = list(agent.hosts.values())                               # type: ignore[attr-defined]
        return {
            "wall": wall,
            "process": (time.process_time() - self.cpu0) / wall,
            "ingest": (_thread_cpu(self.ingest) - self.ingest0) / wall,
            "train": (_thread_cpu(self.train) - self.train0) / wall,
            "ticks": sum(s.stats.ticks for s in agent.sources) - self.ticks0,   # type: ignore[attr-defined]
            "catch": sum(s.stats.catch_up_requests for s in agent.sources) - self.catch0,  # type: ignore[attr-defined]
            "lag": max(now - h.last_time for h in hosts),
            "dims": sum(len(h.dimension_ids()) for h in hosts),
            "trained": sum(h.ml_info()["trained-dimensions"] for h in hosts),
            "bulk": sum(s.stats.bulk for s in agent.sources) / max(1, sum(s.stats.polls for s in agent.sources)),  # type: ignore[attr-defined]
        }


def _wait_connected(agent: object, n: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (len(agent.hosts) == n and all(  # type: ignore[attr-defined]
            h.last_time is not None for h in agent.hosts.values())):               # type: ignore[attr-defined]
        time.sleep(0.2)
    assert len(agent.hosts) == n, [s.state_detail for s in agent.sources]  # type: ignore[attr-defined]


def _settle(agent: object, first: float, quiet: float = 10.0, longest: float = 180.0) -> float:
    """Wait at least ``first`` seconds, then until no catch-up was needed for ``quiet`` seconds (at most
    ``longest``): sources that connect together miss their first seconds and read them back for a while."""
    started = time.monotonic()
    time.sleep(first)
    count = lambda: sum(s.stats.catch_up_requests for s in agent.sources)  # noqa: E731  # type: ignore[attr-defined]
    last, calm = count(), time.monotonic()
    while time.monotonic() - started < longest:
        time.sleep(1.0)
        now = count()
        if now != last:
            last, calm = now, time.monotonic()
        elif time.monotonic() - calm >= quiet:
            break
    return time.monotonic() - started


def test_sources_at_1hz(tmp_path: Path) -> None:
    from pyml.agent import Agent

    sims = _Sims(SOURCES)
    try:
        rss0 = _rss()
        started = time.perf_counter()
        agent = Agent(tmp_path, RUN_CFG, port=None, local=False, netdata=sims.urls, training_threads=1,
                      event_loop=EVENT_LOOP)
        loop_name = agent.source_group.event_loop
        try:
            _wait_connected(agent, SOURCES)
            connected = time.perf_counter() - started
            settled = _settle(agent, scaled(45, 6), scaled(10, 2))   # every dimension has its model (trained on 30 s) by then
            window = _Window(agent)
            time.sleep(SECONDS)
            got = window.close()
            rss = _rss() - rss0
        finally:
            agent.close()
    finally:
        sims.stop()
    dims, wall = got["dims"], got["wall"]
    per_10k = got["ingest"] * 100 / (dims / 10_000)
    train = _training_seconds_per_model() * dims / TRAIN_PERIOD * 100 / (dims / 10_000)
    load = os.getloadavg()
    print(f"\n{SOURCES} sources x {DIMS} dimensions ({DIMS_PER_CHART} per chart) = {dims} dimensions at 1 Hz, "
          f"profile {PROFILE}, {loop_name} event loop, for {wall:.0f} s (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}):"
          f"\n  connected and mirrored in {connected:.1f} s; start-up catch-ups over after {settled:.0f} s; "
          f"{got['trained']} dimensions trained; {got['bulk']:.0%} of polls taken in bulk"
          f"\n  ingestion + ML ticks (the sources' thread: HTTP, JSON, feeding, prediction, detector): "
          f"{got['ingest'] * 100:.1f} % of one core = {per_10k:.3f} % per 10,000 dimensions"
          f"\n  training at the default window ({CFG.training_points(1)[1]} samples), amortised over "
          f"{TRAIN_PERIOD} s: {train:.3f} % per 10,000 dimensions"
          f"\n  total: {per_10k + train:.3f} % of one core per 10,000 dimensions (whole process meanwhile, "
          f"lab-sized training included: {got['process'] * 100:.1f} %)"
          f"\n  seconds fed: {got['ticks']} of {SOURCES * wall:.0f}; catch-up requests: {got['catch']}; "
          f"host lag behind the wall clock: max {got['lag']:.1f} s"
          f"\n  resident memory: {rss / dims:.0f} bytes per dimension ({rss / 2**20:.0f} MiB) with "
          f"{RUN_CFG.training_points(1)[1] + 1} samples kept; at the default window the sample store adds "
          f"{(CFG.training_points(1)[1] + 1) * 4 / 1024:.1f} KiB per dimension (memory-mapped files)")
    assert got["ticks"] >= 0.9 * SOURCES * wall, "the sources fell behind"
    assert got["lag"] < 10


def test_how_far_one_process_goes(tmp_path: Path) -> None:
    """Sources added 50 at a time to one running agent until it falls behind (or the list ends)."""
    from pyml.agent import Agent
    from pyml.sources.netdata import NetdataSource

    sims: list[_Sims] = []
    rows = []
    agent = None
    try:
        have = 0
        for n in RAMP:
            sims.append(_Sims(n - have, have, PORT + len(sims)))   # every source of a step on one port
            if agent is None:
                agent = Agent(tmp_path, RUN_CFG, port=None, local=False, netdata=sims[-1].urls, training_threads=1,
                              event_loop=EVENT_LOOP)
            else:
                for url in sims[-1].urls:
                    source = NetdataSource(url, agent, flush_every=60)
                    agent.sources.append(source)
                    agent.source_group.add(source)
            have = n
            _wait_connected(agent, n)
            settled = _settle(agent, scaled(45, 6), scaled(10, 2))
            window = _Window(agent)
            time.sleep(RAMP_SECONDS)
            got = window.close()
            got["sources"] = n
            got["rss"] = _rss()
            rows.append(got)
            behind = got["ticks"] < 0.95 * n * got["wall"] or got["lag"] > 10
            print(f"\n{n} sources, {got['dims']} dimensions: sources' thread {got['ingest'] * 100:.0f} % of a core "
                  f"({got['ingest'] * 100 / (got['dims'] / 10_000):.3f} % per 10,000), process "
                  f"{got['process'] * 100:.0f} %, seconds fed {got['ticks']} of {n * got['wall']:.0f}, "
                  f"catch-ups {got['catch']} (settled after {settled:.0f} s), lag {got['lag']:.1f} s, "
                  f"RSS {got['rss'] / 2**30:.2f} GiB, "
                  f"load {os.getloadavg()[0]:.2f}" + ("  <- behind" if behind else ""), flush=True)
            if behind:
                break
    finally:
        if agent is not None:
            agent.close()
        for s in sims:
            s.stop()
    assert rows and rows[0]["ticks"] >= 0.9 * rows[0]["sources"] * rows[0]["wall"]
