"""A Netdata agent as a source: its charts mirrored into a :class:`pyml.Host`, its values pulled every second.

pyml acts as the ML parent of a Netdata agent it can reach over HTTP, without
touching the agent. One :class:`NetdataSource` per agent runs one poll loop
(Prometheus' scrape loop is the model: its own timeout and backoff, failures
logged once per change of state, nothing shared with other sources but the
event loop they run on and a limit of catch-up requests per second):

1. **Connect.** ``/api/v1/info`` names the host (the entry of
   ``mirrored_hosts_status`` with ``hops`` 0); the :class:`HostProvider`
   (the agent) hands out the :class:`pyml.Host` of that name, or refuses with
   :class:`HostnameConflict` when another source already holds it.
   ``/api/v1/charts`` gives every chart's id, name, title, units, family,
   context, type, priority, ``update_every`` and dimensions (ids and names);
   they are added to the host with one ``add_chart`` per chart (dimension ids
   are the host's dimensions; names are kept in ``Chart.dimension_names`` for
   display), in steps between turns of the event loop, and charts the host
   has that the source does not are removed.
2. **Poll.** ``/api/v1/allmetrics?format=json`` every ``update_every`` seconds
   (at a point of the period set by the URL, between 0.3 and 0.7, when Netdata
   has stored the previous second) gives each chart's newest second
   (``last_updated``) and its values, Netdata's calculated values (rates for
   incremental dimensions), stored as given. A chart whose second did not
   move is skipped (no double counting); one whose second moved by more than
   its ``update_every`` (a missed poll, an outage, a restart of either side)
   is read back from ``/api/v1/data`` from the second after the last one
   taken up to its newest (at most ``catch_up`` seconds): rows the source
   still has are stored, the others stay gaps. A poll whose charts and
   dimensions are those of the previous one is read into arrays by the
   compiled scanner (:func:`decode_value_arrays`; :func:`decode_values`
   when it cannot) and taken in bulk (:class:`_Shape`); while
   every chart is at the same second, that second stands for all their
   ``last_t`` (written back to them when that ends). Catch-ups are bounded per poll (``catch_up_budget``)
   and for all the sources of a group (:class:`CatchUpLimit`, which slows
   them down while polls start late); one put off for longer than
   ``catch_up_wait`` is given up (its seconds stay gaps).
3. **Feed.** Values wait per second until every chart that is keeping up has
   delivered that second (a chart more than ``update_every + lag`` seconds
   behind the source's newest is not waited for), then each second goes into
   the host as one ``collect_all`` row, oldest first; a second that arrives
   after the host moved past it is dropped and counted.

Charts that appear are added (their metadata from ``/api/v1/chart``); charts
absent from three polls in a row are removed; a chart whose dimensions change
is re-synchronised (dimensions that stay keep their samples). Bad input is
logged as an error naming the source and the chart, once per chart and kind
of problem, and costs that chart's value only: a value that is not a number
(a gap), a value beyond the storage word's range (stored saturated), a
``last_updated`` that goes backwards or lies more than ``max_ahead`` seconds
after the source's own clock (its ``Date`` header; the value is skipped), an
answer that is not JSON (the poll fails and is retried). Charts with an
``update_every`` longer than the host's are stored at their own seconds, with
gaps between, and not modelled (as Netdata v1.33).

Timing is on the source's timestamps: pyml stores the source's seconds, not
its own clock's. ``SourceGroup`` runs many sources on one event loop (uvloop's
when installed, else asyncio's; ``event_loop`` chooses) in one thread;
parsing and feeding run on that thread too (one core at most for all
sources), so a host is only ever written by its source. Its first sources all
connect before any polls; then sources start polling 50 ms apart.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from itertools import chain
import math
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Protocol, Sequence
from urllib.parse import quote

import numpy as np

from .. import _core
from ._http import HttpClient, HttpError, HttpResponse, split_base_url
from ._loop import event_loop_factory, resolve_event_loop
from ._netdata_json import (AllmetricsChart, AllmetricsDim, MalformedAnswer, Problem, decode_value_arrays, decode_values,
                            loads, parse_allmetrics, shape_keys)

log = logging.getLogger("pyml.sources.netdata")

__all__ = ["CatchUpLimit", "HostProvider", "HostnameConflict", "NetdataSource", "SourceError", "SourceGroup",
           "SourceStats", "StopSignal"]

#: Charts registered between two turns of the event loop when a source connects.
MIRROR_STEP = 32

#: Largest magnitude a storage word holds; larger values are stored saturated (SPEC §1).
STORAGE_MAX = 1.6777215e21

_INFO_KEYS = ("title", "units", "family", "context", "chart_type", "priority")


class SourceError(Exception):
    """An answer of the source that cannot be used (wrong status, missing fields)."""


class HostnameConflict(RuntimeError):
    """The source's hostname is already served for another source (or the local host)."""


class HostProvider(Protocol):
    """What a source needs from the process that holds the hosts (the agent)."""

    def claim(self, hostname: str, source: "NetdataSource", update_every: int) -> Any:
        """The :class:`pyml.Host` named ``hostname`` for ``source`` (HostnameConflict if held by another)."""

    def release(self, hostname: str, source: "NetdataSource") -> None:
        """``source`` no longer writes to ``hostname`` (its hostname changed)."""


@dataclass
class SourceStats:
    """Counters of one source since it started."""

    polls: int = 0                 #: allmetrics answers taken
    failures: int = 0              #: polls or connects that failed
    ticks: int = 0                 #: seconds fed into the host
    values: int = 0                #: chart values taken from allmetrics
    bulk: int = 0                  #: allmetrics answers taken in bulk (charts and dimensions unchanged)
    learned: int = 0               #: of those, answers read against the previous one's text (not scanned)
    caught_up: int = 0             #: chart rows read back from /api/v1/data
    catch_up_requests: int = 0     #: /api/v1/data requests made to fill gaps
    catch_up_deferred: int = 0     #: catch-ups left to the next poll (over the time budget)
    given_up: int = 0              #: catch-ups put off for longer than ``catch_up_wait``: left as gaps
    dropped: int = 0               #: chart values that came after the host had moved past their second
    problems: int = 0              #: bad values, timestamps or charts reported
    bytes: int = 0                 #: bytes of answers received
    reconnects: int = 0            #: connects after the first


@dataclass
class _Chart:
    """A mirrored chart: what the source says about it and how far it has been taken."""

    id: str
    name: str
    update_every: int
    dims: tuple[str, ...]                       # dimension ids in the source's (allmetrics) order
    names: dict[str, str]
    info: dict[str, Any]
    last_t: Optional[int] = None                # newest second taken (pending or in the host)
    positions: Optional[np.ndarray] = None      # host collect_all index of each of ``dims``
    missing: int = 0                            # consecutive polls without this chart
    mirrored: bool = False                      # the host has it
    hidden: tuple[str, ...] = ()                # dimensions /api/v1/charts hides (cpu's idle): named in queries
    deferred: bool = False                      # its catch-up was left to the next poll: wait for it

    def adopt(self, got: AllmetricsChart) -> None:
        """Take the dimension order of allmetrics, which also lists the dimensions Netdata hides.

        Dimensions allmetrics leaves out (not collected yet) stay, at the end.
        """
        listed = set(self.dims)
        order = tuple(got.dimensions)
        seen = set(order)
        self.dims = order + tuple(d for d in self.dims if d not in seen)
        self.hidden = tuple(d for d in order if d not in listed)
        for d in self.hidden:
            self.names[d] = got.dimensions[d].name or d


@dataclass
class _Plan:
    """What one allmetrics answer asks for besides its values."""

    catch_up: list[tuple[str, int, int, Optional[list[Optional[float]]]]] = field(default_factory=list)
    new_charts: list[tuple[str, AllmetricsChart]] = field(default_factory=list)


class _Shape:
    """The charts and dimensions of a source's ``allmetrics`` answer while they hold still.

    Most polls answer the same charts with the same dimensions in the same
    order, each one second further. Such a poll is taken in bulk: one check of
    the chart ids and of the flattened dimension ids against the shape, one
    list of every value, one array operation per second, instead of a
    comparison and a list per chart. Any change of the source's charts or of
    the host's layout drops the shape (the next regular poll makes a new one).
    """

    __slots__ = ("ids", "charts", "dims", "counts", "starts", "keys", "ue", "ue_all", "dim_chart", "_positions",
                 "_leading")

    def __init__(self, ids: list[str], charts: list[_Chart], dims: list[str], counts: list[int]) -> None:
        self.ids = ids                       # chart ids in the answer's order
        self.charts = charts                 # the mirrored charts, aligned with ``ids``
        self.dims = dims                     # every chart's dimension ids in the answer, flattened
        self.counts = np.asarray(counts, dtype=np.int64)        # dimensions of each chart in the answer
        # where each chart's values start in the flattened ones (and, last, their number)
        self.starts: list[int] = np.concatenate(([0], np.cumsum(self.counts))).tolist()
        starts = self.starts
        # the ids as the compiled decoder checks them (decode_value_arrays)
        self.keys = shape_keys([(c, dims[starts[i]:starts[i + 1]]) for i, c in enumerate(ids)])
        self.ue = np.asarray([c.update_every for c in charts], dtype=np.int64)
        # the update_every of every chart when they all have the same one, else 0
        self.ue_all = int(self.ue[0]) if len(charts) and (self.ue == self.ue[0]).all() else 0
        self.dim_chart = np.repeat(np.arange(len(ids)), self.counts)  # chart index of each flattened value
        self._positions: Optional[np.ndarray] = None
        self._leading: Optional[bool] = None

    def positions(self) -> np.ndarray:
        """Host row index of each flattened value (the layout must be current)."""
        if self._positions is None:
            parts = [c.positions[:k] for c, k in zip(self.charts, self.counts.tolist())]  # type: ignore[index]
            self._positions = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            self._leading = None
        return self._positions

    def leading(self) -> bool:
        """Whether the flattened values are the host row's first ones, in order (the layout must be current)."""
        positions = self.positions()
        if self._leading is None:
            self._leading = bool(np.array_equal(positions, np.arange(positions.size)))
        return self._leading


def _host_of_info(info: Any) -> str:
    """The hostname of the agent answering ``/api/v1/info``."""
    if not isinstance(info, dict):
        raise SourceError(f"/api/v1/info is not a JSON object but {type(info).__name__}")
    for status in info.get("mirrored_hosts_status") or ():
        if isinstance(status, dict) and status.get("hops") == 0 and isinstance(status.get("hostname"), str):
            return status["hostname"]
    hosts = info.get("mirrored_hosts")
    if isinstance(hosts, list) and hosts and isinstance(hosts[0], str) and hosts[0]:
        return hosts[0]
    raise SourceError("/api/v1/info names no host (no mirrored_hosts)")


def _positive_int(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1 or not math.isfinite(value):
        return default
    return int(value)


class NetdataSource:
    """One Netdata agent mirrored into a pyml host (see the module docstring).

    Parameters
    ----------
    url : str
        ``http://host:port`` of the agent (``host:port`` alone is accepted;
        the port defaults to 19999).
    hosts : HostProvider
        Hands out the host to write to, by hostname.
    timeout : float
        Seconds one request may take.
    backoff : (float, float)
        First and longest wait before retrying after a failure (doubling).
    catch_up : int
        Longest gap, in seconds, read back from ``/api/v1/data``.
    lag : int
        Seconds a chart may fall behind the source's newest second (beyond
        its ``update_every``) and still be waited for.
    max_ahead : int
        Seconds a chart's ``last_updated`` may lie after the source's clock.
    catch_up_wait : int
        Seconds a chart's catch-up may be put off (the process has more to
        do than it can): past that, the chart goes on from its newest second
        and the seconds it missed stay gaps (``stats.given_up``, logged once
        per chart), rather than holding the host back for ever.
    poll_offset : float, optional
        Where in each ``update_every`` period to poll (0..1); 0.5 by default,
        spread by the URL so that many sources do not poll at once.
    catch_up_budget : float, optional
        Seconds one poll may spend reading gaps back (half the period by
        default); what is left over is read at the next poll.
    shared_budget : CatchUpLimit, optional
        How many catch-up requests the sources of a group may make per
        second together (:class:`SourceGroup` hands its own to the sources it
        runs); the source tells it how late each poll started. Without one,
        a poll makes at least one catch-up request.
    flush_every : int
        Seconds between writes of the host's samples to disk; the first
        write comes sooner by a fraction set by the URL, so that many
        sources do not write at once.
    gzip : bool, optional
        Ask for compressed answers; by default only from non-loopback hosts.
    clock : callable
        Wall clock (``time.time``), for when to poll.
    """

    def __init__(self, url: str, hosts: HostProvider, *, timeout: float = 5.0,
                 backoff: tuple[float, float] = (1.0, 60.0), catch_up: int = 3600, lag: int = 5,
                 max_ahead: int = 60, poll_offset: Optional[float] = None, flush_every: int = 60,
                 catch_up_wait: int = 60,
                 catch_up_budget: Optional[float] = None, shared_budget: Optional["CatchUpLimit"] = None,
                 gzip: Optional[bool] = None, clock: Callable[[], float] = time.time) -> None:
        address, port, prefix = split_base_url(url)
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        first, longest = backoff
        if not 0 < first <= longest:
            raise ValueError(f"backoff must be (first, longest) with 0 < first <= longest, got {backoff!r}")
        for key, value in (("catch_up", catch_up), ("lag", lag), ("max_ahead", max_ahead),
                           ("flush_every", flush_every), ("catch_up_wait", catch_up_wait)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be a non-negative integer of seconds, got {value!r}")
        if poll_offset is None:
            poll_offset = 0.3 + 0.4 * (zlib.crc32(url.encode()) % 1000) / 1000.0
        if not 0 <= poll_offset < 1:
            raise ValueError(f"poll_offset must be in [0, 1), got {poll_offset!r}")
        self.url = f"http://{address}:{port}{prefix}"
        self.hosts = hosts
        self.prefix = prefix
        self.backoff = (float(first), float(longest))
        self.catch_up = catch_up
        self.lag = lag
        self.max_ahead = max_ahead
        self.catch_up_wait = catch_up_wait
        self.poll_offset = float(poll_offset)
        self.flush_every = flush_every
        if catch_up_budget is not None and not catch_up_budget > 0:
            raise ValueError(f"catch_up_budget must be a positive number of seconds, got {catch_up_budget!r}")
        self.catch_up_budget = catch_up_budget
        self.shared_budget = shared_budget
        self.after_connect: Optional[Callable[[], None]] = None     # called when the charts are mirrored
        self.clock = clock
        loopback = address in ("localhost", "::1") or address.startswith("127.")
        self.http = HttpClient(address, port, timeout=timeout, gzip=(not loopback) if gzip is None else gzip)
        self.stats = SourceStats()
        self.state = "starting"
        self.state_detail = ""
        self.hostname: Optional[str] = None
        self.host: Any = None
        self.update_every = 1
        self._charts: dict[str, _Chart] = {}
        self._pending: dict[int, dict[str, Sequence[Optional[float]]]] = {}
        self._blocks: dict[int, list[tuple[Optional[np.ndarray], np.ndarray]]] = {}   # second -> bulk values
        self._shape: Optional[_Shape] = None            # the answer's shape while it holds still
        # reads each answer of the shape against the previous one it learned (decode_value_arrays)
        self._decoder = _core.AllmetricsDecoder()
        self._layout_dirty = True
        self._width = 0
        self._row_key: tuple[str, ...] = ()
        self._row_positions = np.zeros(0, dtype=np.int64)
        self._reported: dict[tuple[str, str], str] = {}   # (chart, kind) -> message logged
        self._connected = False
        self._last_flush = time.monotonic() - flush_every * (zlib.crc32(b"flush " + url.encode()) % 1000) / 1000.0
        self._target: Optional[float] = None            # when the previous poll was due
        # the second every mirrored chart has reached, when they all have and are collected every
        # host period (the last answers were taken whole in bulk): the charts' ``last_t`` are then
        # stale and this is their value, written back by _leave_uniform; None otherwise
        self._uniform: Optional[int] = None

    # ------------------------------------------------------------------ logging

    def _set_state(self, state: str, detail: str = "") -> None:
        """Log a change of state (or of the reason of a failure) once."""
        if state == self.state and detail == self.state_detail:
            return
        previous = self.state
        self.state, self.state_detail = state, detail
        if state == "up":
            log.info("netdata source %s: collecting host %r, %d charts, %d dimensions%s", self.url, self.hostname,
                     len(self._charts), sum(len(c.dims) for c in self._charts.values()),
                     f" (after {previous}: {self.stats.failures} failures)" if previous in ("down", "conflict")
                     else "")
        elif state in ("down", "conflict"):
            log.error("netdata source %s: %s; retrying with backoff (up to %g s), other sources are not affected",
                      self.url, detail, self.backoff[1])
        elif state == "stopped":
            log.info("netdata source %s: stopped (%d polls, %d seconds stored, %d values caught up, %d dropped)",
                     self.url, self.stats.polls, self.stats.ticks, self.stats.caught_up, self.stats.dropped)

    def _report(self, problems: Sequence[tuple[str, str, str]]) -> None:
        """Log chart problems ``(chart, kind, message)`` once per chart and kind, grouped per kind."""
        fresh: dict[str, list[tuple[str, str]]] = {}
        for chart, kind, message in problems:
            self.stats.problems += 1
            if self._reported.get((chart, kind)) is None:
                self._reported[(chart, kind)] = message
                fresh.setdefault(kind, []).append((chart, message))
        host = f" (host {self.hostname!r})" if self.hostname else ""
        for kind, items in fresh.items():
            shown = "; ".join(f"chart {c!r}: {m}" if c else m for c, m in items[:5])
            more = f"; and {len(items) - 5} more charts" if len(items) > 5 else ""
            log.error("netdata source %s%s: %s%s", self.url, host, shown, more)

    def _clear_reported(self, chart: str, kind: str) -> None:
        if self._reported:
            self._reported.pop((chart, kind), None)

    # ------------------------------------------------------------------ requests

    async def _get_json(self, path: str, *, allow_404: bool = False) -> Any:
        response: HttpResponse = await self.http.get(self.prefix + path)
        self.stats.bytes += len(response.body)
        if response.status == 404 and allow_404:
            return None
        if response.status != 200:
            text = response.body[:120].decode("utf-8", "replace").strip()
            raise SourceError(f"GET {path} answered HTTP {response.status}: {text!r}")
        try:
            return loads(response.body)
        except MalformedAnswer as exc:
            raise SourceError(f"GET {path}: {exc}") from None

    # ------------------------------------------------------------------ connect and mirror

    async def connect(self) -> None:
        """Read the source's hostname and charts and mirror them into its host."""
        info = await self._get_json("/api/v1/info")
        hostname = _host_of_info(info)
        charts_doc = await self._get_json("/api/v1/charts")
        if not isinstance(charts_doc, dict) or not isinstance(charts_doc.get("charts"), dict):
            raise SourceError("/api/v1/charts has no 'charts' object")
        update_every = _positive_int(charts_doc.get("update_every"), 1)
        response = await self.http.get(self.prefix + "/api/v1/allmetrics?format=json")
        try:
            listed = parse_allmetrics(response.body)[0] if response.status == 200 else {}
        except MalformedAnswer:
            listed = {}
        self._attach(hostname, update_every)
        for _ in self._mirror_steps(charts_doc["charts"], listed):
            await asyncio.sleep(0)
        if self._connected:
            self.stats.reconnects += 1
        self._connected = True
        if self.after_connect is not None:
            self.after_connect()

    def _attach(self, hostname: str, update_every: int) -> None:
        if self.host is not None and hostname != self.hostname:
            log.warning("netdata source %s: the hostname changed from %r to %r; collecting into %r from now on",
                        self.url, self.hostname, hostname, hostname)
            self._feed(final=True)
            self.host.flush()
            self.hosts.release(str(self.hostname), self)
            self._changed()
            self.host, self._charts, self._pending = None, {}, {}
        if self.host is None:
            self.host = self.hosts.claim(hostname, self, update_every)
            self.hostname = hostname
            self.update_every = int(getattr(self.host, "update_every", update_every))
            if update_every != self.update_every:
                log.warning("netdata source %s: host %r collects every %d s, the source every %d s",
                            self.url, hostname, self.update_every, update_every)
            self._changed()

    def _chart_of(self, chart_id: str, doc: dict[str, Any]) -> _Chart:
        dims_doc = doc.get("dimensions")
        if not isinstance(dims_doc, dict):
            raise SourceError(f"chart {chart_id!r} has no dimensions object")
        dims = tuple(str(d) for d in dims_doc)
        names = {str(d): str(v.get("name", d)) if isinstance(v, dict) else str(d) for d, v in dims_doc.items()}
        info = {k: doc[k] for k in _INFO_KEYS if k in doc}
        if "priority" in info:
            info["priority"] = _positive_int(info["priority"], 1000) if info["priority"] != 0 else 0
        for k in ("title", "units", "family", "context", "chart_type"):
            if k in info and not isinstance(info[k], str):
                info[k] = str(info[k])
        name = doc.get("name") if isinstance(doc.get("name"), str) and doc.get("name") else chart_id
        return _Chart(chart_id, name, _positive_int(doc.get("update_every"), self.update_every), dims, names, info)

    def _mirror(self, charts_doc: dict[str, Any], listed: dict[str, AllmetricsChart]) -> None:
        """Make the host's charts the source's (added, merged, re-synchronised, removed)."""
        for _ in self._mirror_steps(charts_doc, listed):
            pass

    def _mirror_steps(self, charts_doc: dict[str, Any], listed: dict[str, AllmetricsChart]) -> Iterator[None]:
        """:meth:`_mirror` in steps of ``MIRROR_STEP`` charts (``connect`` lets the other sources poll between).

        Registering a source of thousands of dimensions takes tens of
        milliseconds; done at once, it would hold up the polls of every
        other source of the event loop, and when many sources connect
        together (the agent starting, a network coming back) they would all
        miss seconds and have to read them back chart by chart.
        """
        self._leave_uniform()
        host = self.host
        problems: list[tuple[str, str, str]] = []
        wanted: dict[str, _Chart] = {}
        for chart_id, doc in charts_doc.items():
            if not isinstance(doc, dict):
                problems.append((str(chart_id), "chart", "is not a JSON object in /api/v1/charts"))
                continue
            try:
                spec = wanted[str(chart_id)] = self._chart_of(str(chart_id), doc)
                if str(chart_id) in listed:
                    spec.adopt(listed[str(chart_id)])
            except SourceError as exc:
                problems.append((str(chart_id), "chart", str(exc)))
        restart_from = host.last_time
        for i, (chart_id, spec) in enumerate(wanted.items()):
            if i and not i % MIRROR_STEP:
                yield
            known = self._charts.get(chart_id)
            if known is not None:
                spec.last_t = known.last_t
            elif restart_from is not None and self._host_has(chart_id):
                spec.last_t = restart_from  # restored from the data directory: catch up from there
            if self._mirror_chart(spec, problems):
                self._charts[chart_id] = spec
        for chart_id in [c for c in self._charts if c not in wanted]:
            self._remove_chart(chart_id, "is gone from the source")
        for chart in list(host.charts()):
            if not chart.internal and chart.id not in self._charts:
                host.remove_chart(chart.id)  # restored from the data directory, gone from the source
                self._changed()
        self._report(problems)

    def _host_has(self, chart_id: str) -> bool:
        try:
            self.host.chart(chart_id)
        except KeyError:
            return False
        return True

    def _mirror_chart(self, spec: _Chart, problems: list[tuple[str, str, str]]) -> bool:
        """Add or re-synchronise one chart in the host; False (and a problem) if the host refuses it."""
        self._changed()
        host = self.host
        names = {d: n for d, n in spec.names.items() if n != d}
        try:
            try:  # a new chart, or one restored from the data directory (add_chart merges those)
                chart = host.add_chart(spec.id, list(spec.dims), name=spec.name, dimension_names=names,
                                       update_every=spec.update_every, **spec.info)
            except ValueError:
                if not self._host_has(spec.id):
                    raise
                chart = host.chart(spec.id)
            if chart.dimensions != list(spec.dims):  # known or restored: follow the source's dimensions
                wanted = set(spec.dims)
                for dim in [d for d in chart.dimensions if d not in wanted]:
                    host.remove_dimension(spec.id, dim)
                have = set(chart.dimensions)
                for dim in spec.dims:
                    if dim not in have:
                        host.add_dimension(spec.id, dim)
            chart.dimension_names = names
            chart.update_every = spec.update_every
            for key, value in spec.info.items():
                setattr(chart, key, value)
        except (ValueError, KeyError) as exc:
            problems.append((spec.id, "chart", f"cannot be mirrored: {exc}"))
            return False
        spec.mirrored = True
        self._changed()
        return True

    def _leave_uniform(self) -> None:
        """Write the second of the uniform state into every chart's ``last_t`` (before anything reads them)."""
        second = self._uniform
        if second is not None:
            self._uniform = None
            for chart in self._charts.values():
                chart.last_t = second

    def _changed(self) -> None:
        """The charts or their dimensions are changing: bulk values become per-chart ones, the shape is gone."""
        self._leave_uniform()
        self._explode()
        self._shape = None
        self._layout_dirty = True

    def _remove_chart(self, chart_id: str, why: str) -> None:
        self._changed()
        self._charts.pop(chart_id, None)
        for second in self._pending.values():
            second.pop(chart_id, None)
        if self._host_has(chart_id):
            self.host.remove_chart(chart_id)
        log.info("netdata source %s: chart %r %s; removed from host %r", self.url, chart_id, why, self.hostname)

    # ------------------------------------------------------------------ polling

    async def poll(self) -> int:
        """One poll: allmetrics, catch-ups, new charts; feeds the host. Returns the seconds fed."""
        response = await self.http.get(self.prefix + "/api/v1/allmetrics?format=json")
        self.stats.bytes += len(response.body)
        if response.status != 200:
            text = response.body[:120].decode("utf-8", "replace").strip()
            raise SourceError(f"allmetrics answered HTTP {response.status}: {text!r}")
        date = response.date
        now = date if date is not None else self.clock()
        plan = self._take_values(response.body, now) if self._shape is not None else None
        if plan is None:  # not the shape of the previous answer (or not decodable for values alone)
            try:
                charts, problems = parse_allmetrics(response.body)
            except MalformedAnswer as exc:
                raise SourceError(f"allmetrics: {exc}") from None
            if not isinstance(charts, dict):
                raise SourceError("allmetrics is not a JSON object")
            plan = self.take_allmetrics(charts, now, problems)
        self.stats.polls += 1
        if plan.new_charts:
            await self._add_new_charts(plan.new_charts, now)
        # catch-ups oldest first, within a time budget of this poll and a rate for all the sources of a
        # group: charts left over keep their last second and are read back at the next
        # poll (one request still covers the whole gap), so a source whose every chart missed a second
        # cannot make the polls late, nor many such sources at once, and late polls miss more seconds
        budget = self.catch_up_budget if self.catch_up_budget is not None else 0.5 * self.update_every
        deadline = time.monotonic() + budget
        shared = self.shared_budget
        todo = sorted(plan.catch_up, key=lambda item: item[1])
        for i, (chart_id, after, lu, values) in enumerate(todo):
            if (i and time.monotonic() > deadline) or (shared is not None and not shared.available()):
                self.stats.catch_up_deferred += len(todo) - i
                given_up = []
                for left in todo[i:]:
                    chart = self._charts.get(left[0])
                    if chart is None:
                        continue
                    if chart.last_t is not None and left[2] - chart.last_t > self.catch_up_wait:
                        given_up.append(self._give_up(chart, left[2], left[3]))
                    else:
                        chart.deferred = True
                if given_up:
                    self._report(given_up)
                break
            if shared is not None:
                shared.take()
            await self._catch_up(chart_id, after, lu, values)
        return self._feed()

    def _give_up(self, chart: _Chart, lu: int, values: Optional[list[Optional[float]]]) -> tuple[str, str, str]:
        """A catch-up put off for longer than ``catch_up_wait``: the chart goes on from ``lu``, the rest stay gaps."""
        self._leave_uniform()
        missed = (chart.last_t, lu)
        if values is not None and len(values) == len(chart.dims):
            self._pending.setdefault(lu, {})[chart.id] = values
            self.stats.values += 1
        chart.last_t = lu
        chart.deferred = False
        self.stats.given_up += 1
        return (chart.id, "late", f"its seconds after {missed[0]} up to {missed[1]} could not be read back within "
                                  f"{self.catch_up_wait} s (more sources than this process keeps up with?); "
                                  f"they stay gaps")

    def _take_values(self, body: bytes, now: float) -> Optional[_Plan]:
        """An answer of the shape's charts and dimensions, decoded for its values alone and taken in bulk.

        None (nothing taken) when the answer is not of the shape, or does not
        decode that way: the caller then decodes it whole (names, problems)
        and takes it the regular way.
        """
        host_last = self.host.last_time
        shape = self._shape
        if host_last is None or shape is None:
            return None
        plan = _Plan()
        problems: list[tuple[str, str, str]] = []
        decoder = self._decoder
        compared = decoder.compared
        arrays = decode_value_arrays(body, shape.keys, decoder)
        if arrays is not None:
            if not self._take_arrays(arrays[0], arrays[1], None, now, host_last, plan, problems):
                return None
            self.stats.learned += decoder.compared - compared
        else:
            charts = decode_values(body)
            if charts is None or not self._take_bulk(charts, now, host_last, plan, problems):  # type: ignore[arg-type]
                return None
        if problems:
            self._report(problems)
        return plan

    def take_allmetrics(self, charts: dict[str, AllmetricsChart], now: float,
                        parse_problems: Sequence[Problem] = ()) -> _Plan:
        """Take one allmetrics answer's values into the pending seconds; say what else is needed."""
        self._leave_uniform()
        plan = _Plan()
        problems: list[tuple[str, str, str]] = [(p.chart, "value", p.message) for p in parse_problems]
        host_last = self.host.last_time
        if self._shape is not None and host_last is not None and self._take_bulk(charts, now, host_last, plan,
                                                                                  problems):
            if problems:
                self._report(problems)
            return plan
        if host_last is None and self._charts and all(c.last_t is None for c in self._charts.values()):
            self._common_start(charts, now)
        pending = self._pending
        limit = now + self.max_ahead
        taken = 0
        get = charts.get
        for chart_id, chart in list(self._charts.items()):
            got = get(chart_id)
            if got is None:
                chart.missing += 1
                continue
            chart.missing = 0
            # the common case inline: the next second, the same dimensions
            lu = got.last_updated
            last = chart.last_t
            if last is not None and lu == last + chart.update_every and lu <= limit:
                dims = got.dimensions
                if tuple(dims) == chart.dims:
                    chart.last_t = lu
                    second = pending.get(lu)
                    if second is None:
                        second = pending[lu] = {}
                    second[chart_id] = [d.value for d in dims.values()]
                    taken += 1
                    continue
            self._take_chart(chart, got, now, host_last, plan, problems)
        self.stats.values += taken
        for chart_id, got in charts.items():
            if chart_id not in self._charts:
                plan.new_charts.append((chart_id, got))
        for chart_id in [c.id for c in self._charts.values() if c.missing >= 3]:
            self._remove_chart(chart_id, "was absent from 3 polls")
        if self._shape is None and not plan.new_charts:
            self._shape = self._shape_of(charts)
        if problems:
            self._report(problems)
        return plan

    def _shape_of(self, charts: dict[str, AllmetricsChart]) -> Optional[_Shape]:
        """The shape of an answer that lists every mirrored chart with its dimensions in order (else None).

        A chart may list fewer dimensions than it has (allmetrics leaves out
        those not collected yet): the first ones, in order.
        """
        if len(charts) != len(self._charts):
            return None
        ids: list[str] = []
        mirrored: list[_Chart] = []
        dims: list[str] = []
        counts: list[int] = []
        for chart_id, got in charts.items():
            chart = self._charts.get(chart_id)
            if chart is None:
                return None
            listed = tuple(got.dimensions)
            if chart.dims[:len(listed)] != listed:
                return None
            ids.append(chart_id)
            mirrored.append(chart)
            dims.extend(listed)
            counts.append(len(listed))
        return _Shape(ids, mirrored, dims, counts)

    def _take_bulk(self, charts: dict[str, AllmetricsChart], now: float, host_last: int, plan: _Plan,
                   problems: list[tuple[str, str, str]]) -> bool:
        """Take an answer of the shape's charts and dimensions in bulk; False (nothing taken) if it differs.

        Charts whose second is the next one are taken together, as one block
        of values per second; the others (not moved, late, ahead of the
        source's clock, or to be caught up) go the per-chart way.
        """
        shape = self._shape
        assert shape is not None
        n = len(shape.ids)
        if len(charts) != n or list(charts) != shape.ids:
            return False
        got = list(charts.values())
        if [d for c in got for d in c.dimensions] != shape.dims:
            return False
        try:
            lus = np.fromiter([c.last_updated for c in got], dtype=np.int64, count=n)
        except (OverflowError, TypeError, ValueError):  # a timestamp beyond int64: the per-chart way reports it
            return False
        values = np.array([d.value for c in got for d in c.dimensions.values()], dtype=np.float64)
        return self._take_arrays(lus, values, got, now, host_last, plan, problems)

    def _take_arrays(self, lus: np.ndarray, values: np.ndarray, got: Optional[list[AllmetricsChart]], now: float,
                     host_last: int, plan: _Plan, problems: list[tuple[str, str, str]]) -> bool:
        """The bulk take of an answer of the shape, as arrays: each chart's ``last_updated``, every value.

        ``got`` holds the answer's charts when it was decoded into objects; when
        it is None (decoded into arrays), a chart that is not one second further
        gets its object made from the arrays for the per-chart way.
        """
        shape = self._shape
        assert shape is not None
        n = len(shape.ids)
        uniform = self._uniform
        oldest, newest = (int(lus.min()), int(lus.max())) if n else (0, 0)
        ok: Optional[np.ndarray] = None
        if (uniform is not None and n and shape.ue_all and oldest == newest == uniform + shape.ue_all
                and newest <= now + self.max_ahead):
            every = True                # the steady state, told by the two reductions alone
        else:
            if uniform is not None:  # every chart's newest second is ``uniform``, each collected every period
                ok = (lus == uniform + shape.ue_all) & (lus <= now + self.max_ahead)
            else:
                lasts = [c.last_t for c in shape.charts]
                if None in lasts:
                    return False
                ok = (lus == np.asarray(lasts, dtype=np.int64) + shape.ue) & (lus <= now + self.max_ahead)
            every = bool(ok.all())
        if every:  # the common case: every chart one second further
            taken = n
            if n and oldest == newest:
                self._blocks.setdefault(newest, []).append((None, values))
            else:
                assert ok is not None
                self._block_per_second(lus, ok, values)
            if n and shape.ue_all == self.update_every and n == len(self._charts) and oldest == newest:
                self._uniform = newest      # every chart's last_t, written when this state ends
            else:
                self._leave_uniform()
                for chart, t in zip(shape.charts, lus.tolist()):
                    chart.last_t = t
        else:
            assert ok is not None
            self._leave_uniform()
            seconds = lus.tolist()
            taken = int(ok.sum())
            if taken:
                self._block_per_second(lus, ok, values)
            charts_of = shape.charts
            for i in np.flatnonzero(ok).tolist():
                charts_of[i].last_t = seconds[i]
            starts = shape.starts
            for i in np.flatnonzero(~ok).tolist():
                if got is not None:
                    chart_got = got[i]
                else:
                    ids = shape.dims[starts[i]:starts[i + 1]]
                    chart_got = AllmetricsChart(last_updated=int(lus[i]), dimensions={
                        d: AllmetricsDim(value=None if math.isnan(v) else v)
                        for d, v in zip(ids, values[starts[i]:starts[i + 1]].tolist())})
                self._take_chart(charts_of[i], chart_got, now, host_last, plan, problems)
        self.stats.values += taken
        self.stats.bulk += 1
        return True

    def _block_per_second(self, lus: np.ndarray, ok: np.ndarray, values: np.ndarray) -> None:
        """One block of values per second among the charts ``ok`` marks."""
        shape = self._shape
        assert shape is not None
        for t in np.unique(lus[ok]).tolist():
            mask = ok & (lus == t)
            block: tuple[Optional[np.ndarray], np.ndarray] = \
                (None, values) if mask.all() else (mask, values[mask[shape.dim_chart]])
            self._blocks.setdefault(t, []).append(block)

    def _explode(self) -> None:
        """Bulk values into per-chart ones (before the charts or dimensions they belong to change)."""
        shape = self._shape
        if not self._blocks or shape is None:
            self._blocks.clear()
            return
        starts = shape.starts
        for t, blocks in self._blocks.items():
            second = self._pending.setdefault(t, {})
            for mask, values in blocks:
                where = range(len(shape.ids)) if mask is None else np.flatnonzero(mask).tolist()
                at = 0
                for i in where:
                    k = starts[i + 1] - starts[i]
                    chart = shape.charts[i]
                    taken: list[Optional[float]] = [None if math.isnan(v) else v for v in values[at:at + k].tolist()]
                    second[shape.ids[i]] = taken + [None] * (len(chart.dims) - k)
                    at += k
        self._blocks.clear()

    def _common_start(self, charts: dict[str, AllmetricsChart], now: float) -> None:
        """A new host's first poll: every chart starts at the same second.

        Each chart's newest second differs (a chart collected every 5 s, or
        late in the second); without this the host's first seconds would hold
        only the charts that happen to be behind. Charts ahead of the oldest
        (at most 10 s older than the newest) are read back from there.
        """
        seconds = [got.last_updated for c, got in charts.items() if c in self._charts
                   and isinstance(got.last_updated, int) and got.last_updated <= now + self.max_ahead]
        if not seconds:
            return
        start = max(min(seconds), max(seconds) - 10)
        for chart_id, chart in self._charts.items():
            got = charts.get(chart_id)
            if got is not None and isinstance(got.last_updated, int) and got.last_updated < start:
                chart.last_t = got.last_updated   # long not updated: it starts with its next second
            else:
                chart.last_t = start - chart.update_every

    def _take_chart(self, chart: _Chart, got: AllmetricsChart, now: float, host_last: Optional[int], plan: _Plan,
                    problems: list[tuple[str, str, str]]) -> None:
        """One chart of an allmetrics answer: its value into the pending second, or a catch-up, or a problem."""
        chart_id = chart.id
        lu = got.last_updated
        last = chart.last_t
        if last is not None and lu <= last:
            if lu < last:
                problems.append((chart_id, "time", f"last_updated went backwards from {last} to {lu}; "
                                                   f"values are skipped until it passes {last}"))
            return
        if lu > now + self.max_ahead:
            problems.append((chart_id, "time", f"last_updated {lu} is {lu - now:.0f} s after the source's "
                                               f"clock; values are skipped"))
            return
        dims = got.dimensions
        if len(dims) == len(chart.dims) and tuple(dims) == chart.dims:
            values = [d.value for d in dims.values()]
        else:
            known = set(chart.dims)
            if any(d not in known for d in dims):
                self._dimensions_changed(chart, dims)
                changed = self._charts.get(chart_id)
                if changed is None:
                    return
                chart = changed
            # some dimensions not listed this time (not collected yet, or re-ordered): no value for them
            values = [dims[d].value if d in dims else None for d in chart.dims]
        if last is not None and lu > last + chart.update_every and self.catch_up > 0:
            if host_last is not None and lu <= host_last:  # too late to store anything of it
                chart.last_t = lu
                self.stats.dropped += 1
                return
            after = max(last + 1, lu - self.catch_up, host_last + 1 if host_last is not None else 0)
            plan.catch_up.append((chart_id, after, lu, values))
            return
        chart.last_t = lu
        if last is None and host_last is not None and lu <= host_last:
            return  # the host is past this second already: start with the next one
        second = self._pending.get(lu)
        if second is None:
            second = self._pending[lu] = {}
        second[chart_id] = values
        self.stats.values += 1
        if self._reported:
            self._clear_reported(chart_id, "time")

    def _dimensions_changed(self, chart: _Chart, dims: dict[str, Any]) -> None:
        self._changed()
        new = tuple(dims)
        gone = [d for d in chart.dims if d not in dims]
        added = [d for d in new if d not in chart.names]
        self._report([(chart.id, "dimensions", f"dimensions changed (added {added}, removed {gone}); "
                                               f"re-synchronised, the others keep their samples")])
        self._reported.pop((chart.id, "dimensions"), None)  # each change is worth a line
        names = {d: str(getattr(v, "name", d) or d) for d, v in dims.items()}
        spec = _Chart(chart.id, chart.name, chart.update_every, new, names, chart.info, chart.last_t)
        spec.hidden = tuple(d for d in chart.hidden if d in dims)
        problems: list[tuple[str, str, str]] = []
        for second in self._pending.values():
            values = second.pop(chart.id, None)
            if values is not None:  # re-order what is pending to the new dimension list
                old = dict(zip(chart.dims, values))
                second[chart.id] = [old.get(d) for d in new]
        if self._mirror_chart(spec, problems):
            self._charts[chart.id] = spec
        else:
            self._remove_chart(chart.id, "cannot follow its dimensions")
        self._report(problems)

    async def _add_new_charts(self, new: list[tuple[str, AllmetricsChart]], now: float) -> None:
        problems: list[tuple[str, str, str]] = []
        for chart_id, got in new:
            doc = await self._get_json(f"/api/v1/chart?chart={quote(chart_id, safe='')}", allow_404=True)
            if not isinstance(doc, dict):  # gone again, or no metadata: what allmetrics says is enough
                doc = {"name": chart_id, "update_every": self.update_every,
                       "dimensions": {d: {"name": v.name} for d, v in got.dimensions.items()}}
            try:
                spec = self._chart_of(chart_id, doc)
            except SourceError as exc:
                problems.append((chart_id, "chart", str(exc)))
                continue
            spec.adopt(got)
            if self._mirror_chart(spec, problems):
                self._charts[chart_id] = spec
                log.info("netdata source %s: new chart %r (%d dimensions) on host %r", self.url, chart_id,
                         len(spec.dims), self.hostname)
                plan = _Plan()
                self._take_chart(spec, got, now, self.host.last_time, plan, problems)
        self._report(problems)

    async def _catch_up(self, chart_id: str, after: int, lu: int, values: Optional[list[Optional[float]]]) -> None:
        """Read a chart's rows from ``after`` to its newest second; the rest of the gap stays empty."""
        self._leave_uniform()
        chart = self._charts.get(chart_id)
        if chart is None:
            return
        self.stats.catch_up_requests += 1
        hidden = "&dimensions=" + quote("|".join(("*",) + chart.hidden), safe="") if chart.hidden else ""
        path = (f"/api/v1/data?chart={quote(chart_id, safe='')}&after={after}&before=0&points=0"
                f"&group=average&format=json&options=jsonwrap|seconds|unaligned{hidden}")
        try:
            doc = await self._get_json(path, allow_404=True)
        except SourceError as exc:
            self._report([(chart_id, "catch-up", f"cannot read its missed seconds back ({exc}); they stay gaps")])
            doc = None
        newest = self.take_rows(chart_id, doc, after) if doc is not None else None
        if values is not None and (newest is None or newest < lu) and chart_id in self._charts:
            if len(values) == len(chart.dims):
                self._pending.setdefault(lu, {})[chart_id] = values
                self.stats.values += 1
        chart = self._charts.get(chart_id)
        if chart is not None:
            chart.last_t = max(lu, newest or lu)
            chart.deferred = False

    def take_rows(self, chart_id: str, doc: Any, after: int) -> Optional[int]:
        """Take the rows of a ``/api/v1/data`` answer (``jsonwrap``) at or after ``after``; the newest second."""
        chart = self._charts.get(chart_id)
        if chart is None:
            return None
        try:
            ids = doc["dimension_ids"]
            rows = doc["result"]["data"]
            if not isinstance(ids, list) or not isinstance(rows, list):
                raise TypeError("dimension_ids or data is not a list")
        except (KeyError, TypeError) as exc:
            self._report([(chart_id, "catch-up", f"/api/v1/data answer without rows ({exc}); the gap stays")])
            return None
        column = {d: i + 1 for i, d in enumerate(ids)}
        take = [column.get(d) for d in chart.dims]
        newest: Optional[int] = None
        host_last = self.host.last_time
        bad = 0
        for row in rows:
            if not isinstance(row, list) or not row or isinstance(row[0], bool) or not isinstance(row[0], (int, float)):
                bad += 1
                continue
            t = int(row[0])
            if t < after:
                continue
            newest = t if newest is None else max(newest, t)
            if host_last is not None and t <= host_last:
                self.stats.dropped += 1
                continue
            values: list[Optional[float]] = []
            for i in take:
                v = row[i] if i is not None and i < len(row) else None
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    bad += 1
                    v = None
                values.append(v)
            if all(v is None for v in values):
                continue  # the source has nothing for that second: a gap
            self._pending.setdefault(t, {})[chart_id] = values
            self.stats.caught_up += 1
        if bad:
            self._report([(chart_id, "catch-up", f"{bad} malformed rows or values in /api/v1/data, read as gaps")])
        return newest

    # ------------------------------------------------------------------ feeding the host

    def _layout(self) -> None:
        """Where each chart's values go in a ``collect_all`` row (rebuilt after registry changes)."""
        index = {d: i for i, d in enumerate(self.host.dimension_ids())}
        for chart in self._charts.values():
            chart.positions = np.fromiter((index[f"{chart.id}|{d}"] for d in chart.dims), dtype=np.int64,
                                          count=len(chart.dims))
        self._width = len(index)
        self._row_key = ()
        self._layout_dirty = False

    def _watermark(self) -> Optional[int]:
        """The newest pending second that every chart keeping up has delivered."""
        if not self._pending and not self._blocks:
            return None
        newest = max(chain(self._pending, self._blocks))
        if self._uniform is not None:  # every chart at the same second, none deferred: the loop below, at once
            return newest if newest - self._uniform > self.update_every + self.lag else min(newest, self._uniform)
        mark = newest
        host_ue = self.update_every
        for chart in self._charts.values():
            last = chart.last_t
            if last is None or (newest - last > chart.update_every + self.lag and not chart.deferred):
                continue  # new, or too far behind to wait for (unless its catch-up is on the way)
            complete = last + chart.update_every - host_ue
            if complete < mark:
                mark = complete
        return mark

    def _feed(self, final: bool = False) -> int:
        """Feed the host every pending second up to the watermark (all of them with ``final``)."""
        if (not self._pending and not self._blocks) or self.host is None:
            return 0
        mark = max(chain(self._pending, self._blocks)) if final else self._watermark()
        if mark is None:
            return 0
        seconds = sorted({t for t in chain(self._pending, self._blocks) if t <= mark})
        if not seconds:
            return 0
        if self._layout_dirty:
            self._layout()
        host = self.host
        fed = 0
        for t in seconds:
            second = self._pending.pop(t, None)
            blocks = self._blocks.pop(t, None)
            last = host.last_time
            if last is not None and t <= last:
                self.stats.dropped += (len(second) if second else 0) + sum(
                    len(self._shape.ids) if mask is None else int(mask.sum())  # type: ignore[union-attr]
                    for mask, _ in blocks or ())
                continue
            shape = self._shape
            if (blocks is not None and len(blocks) == 1 and blocks[0][0] is None and not second
                    and shape is not None and shape.leading()):
                # the common second: every chart of the shape, whose values lead the row in its order
                values = blocks[0][1]
                row = np.empty(self._width)
                row[:values.size] = values
                row[values.size:] = np.nan
            else:
                row = np.full(self._width, np.nan)
                if blocks:
                    assert shape is not None  # blocks are made with the shape, and dropped with it
                    positions = shape.positions()
                    for mask, values in blocks:
                        row[positions if mask is None else positions[mask[shape.dim_chart]]] = values
                if second:
                    self._fill(row, second)
            # NaN (no value) is left out; inf counts as beyond the range
            if np.fmax.reduce(row, initial=0.0) > STORAGE_MAX or np.fmin.reduce(row, initial=0.0) < -STORAGE_MAX:
                self._report_big(row, np.abs(row) > STORAGE_MAX)
            host.collect_all(t, row)
            fed += 1
        self.stats.ticks += fed
        return fed

    def _fill(self, row: np.ndarray, second: dict[str, Sequence[Optional[float]]]) -> None:
        """Put one second's per-chart values into the host row."""
        key = tuple(second)
        if key != self._row_key:
            charts = self._charts
            parts = [charts[c].positions for c in key if c in charts]
            self._row_key = key if len(parts) == len(key) else ()
            self._row_positions = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            if len(parts) != len(key):
                second = {c: v for c, v in second.items() if c in charts}
        flat = list(chain.from_iterable(second.values()))
        if len(flat) != self._row_positions.size:  # a chart's values of the wrong length: skip them
            flat, positions = self._checked(second)
        else:
            positions = self._row_positions
        row[positions] = np.array(flat, dtype=np.float64)

    def _checked(self, second: dict[str, Sequence[Optional[float]]]) -> tuple[list[Optional[float]], np.ndarray]:
        flat: list[Optional[float]] = []
        parts = []
        for chart_id, values in second.items():
            chart = self._charts.get(chart_id)
            if chart is None or chart.positions is None or len(values) != chart.positions.size:
                continue
            flat.extend(values)
            parts.append(chart.positions)
        self._row_key = ()
        return flat, (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64))

    def _report_big(self, row: np.ndarray, big: np.ndarray) -> None:
        ids = self.host.dimension_ids()
        problems = []
        for i in np.flatnonzero(big)[:20]:
            chart, _, dim = ids[int(i)].partition("|")
            problems.append((chart, "huge", f"dimension {dim!r} value {row[i]!r} is beyond the storage range "
                                            f"(+-{STORAGE_MAX:g}); stored saturated"))
        self._report(problems)

    # ------------------------------------------------------------------ the loop

    def _next_poll_in(self) -> float:
        """Seconds to the next poll: one period after the previous one, at once if that has passed.

        A poll that ran late is followed at once rather than skipping a second (a skipped second
        costs a catch-up request per chart); more than a period behind, the schedule starts anew.
        """
        ue = self.update_every
        now = self.clock()
        target = None if self._target is None else self._target + ue
        if target is None or target < now - ue:
            target = math.floor(now / ue) * ue + self.poll_offset * ue
            if target <= now + 0.05:
                target += ue
        self._target = target
        return max(0.0, target - now)

    def flush(self) -> None:
        """Write the host's samples out (the writer of a host is its source, so this runs on its loop)."""
        if self.host is not None:
            self.host.flush()
        self._last_flush = time.monotonic()

    async def run(self, stop: "StopSignal") -> None:
        """Poll until ``stop`` is set; failures are retried with exponential backoff."""
        delay = self.backoff[0]
        while not stop.is_set():
            wait: float
            try:
                if not self._connected or self.state in ("down", "conflict"):
                    await self.connect()
                elif self.shared_budget is not None and self._target is not None:
                    self.shared_budget.observe(self.clock() - self._target)
                await self.poll()
                self._set_state("up")
                delay = self.backoff[0]
                wait = self._next_poll_in()
            except HostnameConflict as exc:
                self.stats.failures += 1
                self._set_state("conflict", str(exc))
                wait, delay = delay, min(delay * 2, self.backoff[1])
            except (HttpError, SourceError) as exc:
                self.stats.failures += 1
                self._set_state("down", str(exc))
                self.http.close()
                wait, delay = delay, min(delay * 2, self.backoff[1])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or a host refusal: keep the loop, log with the traceback once
                self.stats.failures += 1
                detail = f"{type(exc).__name__}: {exc}"
                if detail != self.state_detail:
                    log.exception("netdata source %s: unexpected failure", self.url)
                self._set_state("down", detail)
                self.http.close()
                wait, delay = delay, min(delay * 2, self.backoff[1])
            if self.host is not None and time.monotonic() - self._last_flush >= self.flush_every:
                try:
                    self.flush()
                except Exception:  # noqa: BLE001 - logged; the next flush tries again
                    log.exception("netdata source %s: writing host %r failed", self.url, self.hostname)
                    self._last_flush = time.monotonic()
            if not stop.is_set():
                await stop.pause(wait)
        self.close()

    def close(self) -> None:
        """Feed what is pending, write the host out and close the connection (the host stays open)."""
        try:
            self._feed(final=True)
            self.flush()
        finally:
            self.http.close()
            self._set_state("stopped")


def _wake(waiter: "asyncio.Future[None]") -> None:
    if not waiter.done():
        waiter.set_result(None)


class StopSignal:
    """A group's stop signal: set once, and sources pause on it between polls.

    :meth:`pause` is a timer and a future, woken by either. Between polls a
    source pauses once a second; a timeout around :meth:`asyncio.Event.wait`
    would cost a task cancellation and two exceptions raised and caught per
    pause. Made and used on the group's event loop.
    """

    def __init__(self) -> None:
        self._set = False
        self._event = asyncio.Event()
        self._pausing: set[asyncio.Future[None]] = set()

    def is_set(self) -> bool:
        """Whether the signal was given."""
        return self._set

    def set(self) -> None:
        """Give the signal: every pause ends now, and every later one at once."""
        self._set = True
        self._event.set()
        for waiter in list(self._pausing):
            _wake(waiter)

    async def wait(self) -> None:
        """Until the signal is given."""
        await self._event.wait()

    async def pause(self, seconds: float) -> None:
        """``seconds`` (0 or less: one turn of the loop), or until the signal is given if that comes first."""
        if self._set:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(max(0.0, seconds), _wake, waiter)
        self._pausing.add(waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._pausing.discard(waiter)


class CatchUpLimit:
    """How many catch-up requests many sources may make per second together (a token bucket that yields).

    Reading a missed second back costs a request per chart, a hundred times
    a poll: when many sources miss seconds at once (the process was held up,
    many sources connected together), their catch-ups alone could keep the
    event loop busy, making every poll late, and late polls miss more
    seconds. Sources of a group draw on one limit of requests per second (up
    to a second's worth at once), and polls come first: each poll reports how
    late it started (:meth:`observe`); a poll later than ``late`` halves the
    rate (at most once a second, down to ``floor``), and polls on time bring
    it back to ``per_second`` within ``recover`` seconds. Catch-ups left over
    wait for later polls: their hosts lag, nothing is lost while the sources
    keep the data.
    """

    def __init__(self, per_second: float = 400.0, clock: Callable[[], float] = time.monotonic, *,
                 late: float = 0.25, floor: float = 20.0, recover: float = 20.0) -> None:
        if not per_second >= 1:
            raise ValueError(f"per_second must be at least 1 request a second, got {per_second!r}")
        if not 0 < floor <= per_second:
            raise ValueError(f"floor must be in (0, per_second], got {floor!r}")
        if not late > 0 or not recover > 0:
            raise ValueError(f"late and recover must be positive seconds, got {late!r} and {recover!r}")
        self.per_second = float(per_second)
        self.rate = self.per_second
        self.floor = float(floor)
        self.late = float(late)
        self.recover = float(recover)
        self.clock = clock
        self._tokens = self.per_second
        self._at = clock()
        self._observed = self._at
        self._slowed = -math.inf

    def available(self) -> bool:
        """Whether a catch-up request may start now."""
        now = self.clock()
        self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
        self._at = now
        return self._tokens >= 1

    def take(self) -> None:
        """A catch-up request was made."""
        self._tokens -= 1

    def observe(self, lateness: float) -> None:
        """A poll started ``lateness`` seconds after it was due."""
        now = self.clock()
        if lateness > self.late:
            if now - self._slowed >= 1.0:
                self.rate = max(self.floor, self.rate / 2)
                self._tokens = min(self._tokens, self.rate)
                self._slowed = now
        else:
            self.rate = min(self.per_second, self.rate + self.per_second * (now - self._observed) / self.recover)
        self._observed = now


class SourceGroup:
    """Many :class:`NetdataSource` loops on one event loop, in one thread.

    ``start()`` runs them; ``add(source)`` adds one while running;
    ``stop()`` ends every loop (each feeds what it has and writes its host).
    The sources the group starts with all connect (mirror their charts)
    before any polls, then start polling ``start_spacing`` seconds apart, as
    do sources added later. The sources share one :class:`CatchUpLimit` of
    ``catch_ups_per_second`` (those that bring their own keep it).

    With ``freeze_gc``, every object made so far is moved out of the garbage
    collector's sight (:func:`gc.freeze`) each time a source has mirrored its
    charts. A process holding 100,000 dimensions tracks some 400,000
    objects; while hosts are being set up, each full collection walks all of
    them and stops the event loop for tenths of a second, every source misses
    seconds, and each missed second costs a catch-up request per chart. The
    registry's objects live as long as their hosts, so frozen they cost
    nothing; objects freed later by reference counting are freed as usual.
    For a process that owns its garbage collector (the agent), not a library
    default.

    ``event_loop`` is the loop the thread runs: ``"auto"`` (uvloop's when it is
    installed, about 13 % less CPU for the same polls; else asyncio's),
    ``"asyncio"`` or ``"uvloop"``; :attr:`event_loop` says which one runs.
    """

    def __init__(self, sources: Sequence[NetdataSource] = (), name: str = "pyml-sources",
                 catch_ups_per_second: float = 400.0, freeze_gc: bool = False, event_loop: str = "auto") -> None:
        self.freeze_gc = freeze_gc
        self.event_loop = resolve_event_loop(event_loop)
        self._new_loop = event_loop_factory(self.event_loop)
        self.limit = CatchUpLimit(catch_ups_per_second)
        self.sources: list[NetdataSource] = []
        for source in sources:
            self._adopt(source)
        self.name = name
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[StopSignal] = None
        self._thread: Optional[threading.Thread] = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = threading.Event()
        self._connecting = 0
        self._connected: Optional[asyncio.Event] = None
        self.connect_wait = 60.0       # seconds the first sources wait for each other to connect
        self.start_spacing = 0.05      # seconds between two sources' first polls
        self._next_start = 0.0

    def start(self) -> "SourceGroup":
        """Start the event loop thread with every source's loop."""
        if self._thread is not None:
            raise RuntimeError("the source group is already started")
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _main(self) -> None:
        loop = self._new_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._stop = StopSignal()
        self._connecting = len(self.sources)
        self._connected = asyncio.Event()
        if not self.sources:
            self._connected.set()
        for source in self.sources:
            self._tasks.append(loop.create_task(self._guarded(source, first=True)))
        self._ready.set()
        try:
            loop.run_until_complete(self._stop.wait())
            if self._tasks:
                loop.run_until_complete(asyncio.wait(self._tasks, timeout=30))
        finally:
            loop.close()

    async def _guarded(self, source: NetdataSource, first: bool = False) -> None:
        """Run a source's loop; the sources the group starts with all connect before any of them polls.

        Mirroring thousands of charts keeps the event loop busy; were the
        first sources polling meanwhile, they would miss seconds and read
        them back chart by chart.
        """
        assert self._stop is not None and self._connected is not None
        if first:
            try:
                await source.connect()
            except Exception:  # noqa: BLE001 - its loop connects again and reports the failure
                pass
            finally:
                self._connecting -= 1
                if self._connecting <= 0:
                    self._connected.set()
            try:
                await asyncio.wait_for(self._connected.wait(), self.connect_wait)
            except asyncio.TimeoutError:
                pass
        # sources start polling (added ones, connecting) ``start_spacing`` apart: a source's first poll
        # sets its host up and costs tens of milliseconds, which a hundred sources starting in the same
        # second would pile up into late polls and missed seconds
        now = time.monotonic()
        start = max(now, self._next_start)
        self._next_start = start + self.start_spacing
        if start > now:
            await asyncio.sleep(start - now)
        try:
            await source.run(self._stop)
        except Exception:  # pragma: no cover - run() keeps its own failures; this is the last line
            log.exception("netdata source %s: its loop ended", source.url)

    def _adopt(self, source: NetdataSource) -> None:
        if source.shared_budget is None:
            source.shared_budget = self.limit
        if self.freeze_gc and source.after_connect is None:
            source.after_connect = gc.freeze
        self.sources.append(source)

    def add(self, source: NetdataSource) -> None:
        """Add a source (started at once when the group runs)."""
        self._adopt(source)
        if self._loop is not None:
            def create() -> None:
                self._tasks.append(self._loop.create_task(self._guarded(source)))  # type: ignore[union-attr]
            self._loop.call_soon_threadsafe(create)

    def stop(self, timeout: float = 40.0) -> None:
        """Stop every loop and wait for them to write their hosts out."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
