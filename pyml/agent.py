"""``pyml agent``: this machine's metrics and those of Netdata agents, every second, through ML and onto the HTTP API.

The agent reads ``/proc`` with :class:`pyml.sources.ProcCollector`, feeds a
:class:`pyml.Host` chart by chart (charts and dimensions that appear, vanish
or change are added and removed as they do), lets the host train and detect,
and serves the Netdata-compatible HTTP API of :mod:`pyml.api` from another
thread. Samples, models and anomaly events live in a data directory, so a
restarted agent resumes where the previous one stopped.

With ``netdata=[url, ...]`` it is also the ML parent of those Netdata agents
(:mod:`pyml.sources.netdata`): each becomes a host of its own, named by its
hostname, with its own storage under ``<data dir>/hosts/<hostname>``, its own
models, detector and events; their poll loops share one event loop thread
(:class:`pyml.sources.netdata.SourceGroup`). ``local=False`` leaves this
machine's own collection out. Every host trains on one
:class:`pyml.engine.training_pool.TrainingPool` shared fairly, and the API
serves each under ``/host/<hostname>/api/v1/...`` (the first host also at
``/api/v1/...``). A hostname held by one source (or the local host) is
refused to any other, with an error naming both.

Timestamps are whole seconds on the ``update_every`` grid. A collection whose
second is not after the previous one (the wall clock went backwards, or two
collections fell in the same second) is skipped; a clock going backwards is
logged once when it starts and once when collection resumes. SIGINT and
SIGTERM stop the agent cleanly: the open tick is completed, everything is
written out, and the process exits with status 0 (1 if something could not
be written).

The run loop never stops on a failing collection: a full disk or a failing
database is lived with by the host (data kept in memory within bounds and
written when possible); any other error of a collection is logged once when
it starts (with its traceback) and once when collections succeed again.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, Mapping, Sequence
from urllib.parse import quote

import numpy as np

from .sources import ChartSpec, Collection, ProcCollector
from .config import MLConfig
from .engine.db import DatabaseError
from .engine.host import Host
from .engine.training_pool import TrainingPool
from .engine.storage import StoreError

log = logging.getLogger("pyml.agent")

__all__ = ["Agent", "default_data_dir", "run_agent"]


def default_data_dir() -> Path:
    """The per-user data directory: ``$XDG_STATE_HOME/pyml``, else ``~/.local/state/pyml``."""
    state = os.environ.get("XDG_STATE_HOME", "").strip()
    base = Path(state) if state and os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "pyml"


class DataDirLocked(RuntimeError):
    """Another agent already uses the data directory."""


def _chart_info(spec: ChartSpec) -> dict[str, Any]:
    return {"title": spec.title, "units": spec.units, "family": spec.family, "context": spec.context,
            "chart_type": spec.chart_type, "priority": spec.priority}


class Agent:
    """Collect this machine's metrics into a :class:`pyml.Host` and serve its HTTP API.

    Parameters
    ----------
    data_dir : path
        Where samples, models, events and the chart registry are kept
        (created if missing). One agent at a time may use it.
    config : MLConfig, optional
        ``MLConfig()`` (ML enabled, the default profile, ``pyml``) if not given.
    update_every : int
        Seconds between collections.
    hostname : str, optional
        The host's name; this machine's name by default.
    bind, port : str, int
        Where the HTTP API listens (``port=0`` picks a free port; ``port=None``
        serves no HTTP at all).
    collector : ProcCollector, optional
        The metrics source; ``ProcCollector()`` on ``/proc`` by default.
    background : bool
        Train on the host's worker thread (default).
    flush_every : int
        Seconds between writes of the sample store to disk (also written at exit).
    allow_hosts : iterable of str
        ``Host`` header names the API accepts besides the bind address's
        (``"*"``: any); see :func:`pyml.api.middleware.allowed_hosts`.
    netdata : sequence of str
        URLs of Netdata agents to mirror (``http://host:19999``), each a host.
    local : bool
        Collect this machine's own metrics (default); ``False`` serves only
        the Netdata sources.
    training_threads : int, optional
        Threads of the training pool all hosts share; ``min(4, CPUs)`` by default.
    source_options : mapping, optional
        Keyword arguments of every :class:`pyml.sources.netdata.NetdataSource`
        (``timeout``, ``backoff``, ``catch_up``, ...).
    event_loop : str
        The loop the sources' thread runs: ``"auto"`` (uvloop's when it is
        installed, else asyncio's), ``"asyncio"`` or ``"uvloop"``.

    Use :meth:`run` (blocks until the stop event is set) or drive it with
    :meth:`collect_once`; :meth:`close` writes everything out.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        config: MLConfig | None = None,
        *,
        update_every: int = 1,
        hostname: str | None = None,
        bind: str = "127.0.0.1",
        port: int | None = 19998,
        collector: ProcCollector | None = None,
        background: bool = True,
        flush_every: int = 60,
        allow_hosts: Any = (),
        netdata: Sequence[str] = (),
        local: bool = True,
        training_threads: int | None = None,
        source_options: Mapping[str, Any] | None = None,
        event_loop: str = "auto",
    ) -> None:
        if netdata:
            from .sources._loop import resolve_event_loop

            resolve_event_loop(event_loop)  # an unknown or missing loop is refused before anything is made
        if isinstance(update_every, bool) or not isinstance(update_every, int) or update_every < 1:
            raise ValueError(f"update_every must be a positive integer of seconds, got {update_every!r}")
        if isinstance(flush_every, bool) or not isinstance(flush_every, int) or flush_every < 1:
            raise ValueError(f"flush_every must be a positive integer of seconds, got {flush_every!r}")
        self.data_dir = Path(data_dir)
        self.update_every = update_every
        self.flush_every = flush_every
        if isinstance(netdata, str):
            netdata = [netdata]
        if not local and not netdata:
            raise ValueError("an agent without local collection needs at least one Netdata source")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._lock_data_dir()
        self.server: Any = None
        self.config = config or MLConfig()
        self.background = background
        self.hosts: dict[str, Host] = {}              # hostname -> host; the API serves this mapping live
        self._owners: dict[str, Any] = {}            # hostname -> the source writing it (None: local)
        self._hosts_lock = threading.Lock()
        self.pool: TrainingPool | None = None
        self.sources: list[Any] = []
        self.source_group: Any = None
        self.host: Host | None = None                # the local host
        self.collector: Any = None
        try:
            if background:
                threads = training_threads if training_threads is not None else min(4, os.cpu_count() or 1)
                self.pool = TrainingPool(threads)
            if netdata:
                from .sources.netdata import NetdataSource

                options = dict(source_options or {})
                options.setdefault("flush_every", flush_every)
                self.sources = [NetdataSource(url, self, **options) for url in netdata]
            if local:
                self.collector = collector if collector is not None else ProcCollector()
                self.host = self._new_host(hostname or socket.gethostname() or "localhost", update_every,
                                           self.data_dir)
                self.hosts[self.host.name] = self.host
                self._owners[self.host.name] = None
        except BaseException:
            if self.pool is not None:
                self.pool.close()
            self._unlock_data_dir()
            raise
        self._order: dict[str, np.ndarray] = {}  # chart id -> host order as indices into the collector's values
        self._last_t: int | None = self.host.last_time if self.host is not None else None
        self._last_flush = time.monotonic()
        self.ticks = 0
        self.skipped = 0
        self.failed = 0                        # collections that raised
        self.clean_close = True                # False when close() could not write everything
        self._failing: str | None = None       # the error collections currently end with
        self._behind_clock: int | None = None  # the newest tick while the clock is behind it
        try:
            if self.collector is not None:
                for spec in self.collector.charts():
                    self._add_chart(spec)
            if port is not None:
                from .api import ApiServer

                self.server = ApiServer(self.hosts, bind=bind, port=port,  # type: ignore[arg-type]
                                        allow_hosts=allow_hosts, host_status=self.host_status).start()
            if self.sources:
                from .sources.netdata import SourceGroup

                self.source_group = SourceGroup(self.sources, freeze_gc=True, event_loop=event_loop).start()
        except BaseException:
            if self.server is not None:
                self.server.stop()
            for host in self.hosts.values():
                host.close()
            if self.pool is not None:
                self.pool.close()
            self._unlock_data_dir()
            raise
        if self._last_t is not None and self.host is not None:
            log.info("resuming from %s: %d charts, newest tick at %d", self.data_dir, len(self.host.charts()),
                     self._last_t)
            ahead = self._last_t - time.time()
            if ahead > update_every:
                log.warning("the newest stored tick (%d) is %.0f s ahead of this machine's clock: collections are "
                            "skipped until the clock passes it (move %s away to start afresh)", self._last_t, ahead,
                            self.data_dir)

    # ------------------------------------------------------------------ hosts

    def _new_host(self, name: str, update_every: int, storage_dir: Path) -> Host:
        return Host(name, self.config, update_every=update_every, storage_dir=storage_dir, background=self.background,
                    training_threads=1 if self.pool is not None else 2, training_pool=self.pool)

    def host_dir(self, hostname: str) -> Path:
        """Where the host of a Netdata source keeps its samples, models and events."""
        return self.data_dir / "hosts" / quote(hostname, safe="-_.@")

    def claim(self, hostname: str, source: Any, update_every: int) -> Host:
        """The host named ``hostname`` for ``source`` (a Netdata source), created on first use.

        Raises :class:`pyml.sources.netdata.HostnameConflict` when the name
        belongs to another source or to the local host.
        """
        from .sources.netdata import HostnameConflict

        with self._hosts_lock:
            if hostname in self._owners and self._owners[hostname] is not source:
                owner = self._owners[hostname]
                holder = "this machine's own host" if owner is None else f"the source {owner.url}"
                raise HostnameConflict(f"hostname {hostname!r} is already collected from {holder}; "
                                       f"{source.url} is not mirrored while that holds")
            host = self.hosts.get(hostname)
            if host is None:
                directory = self.host_dir(hostname)
                directory.mkdir(parents=True, exist_ok=True)
                host = self._new_host(hostname, update_every, directory)
                self.hosts[hostname] = host
                self._owners[hostname] = source
            return host

    def host_status(self, host: Host) -> dict[str, Any]:
        """How this agent, a parent, sees one of its hosts (``mirrored_hosts_status`` of ``/api/v1/info``).

        Its own host is ``hops`` 0 and always reachable; the host of a Netdata
        source is a child (``hops`` 1), reachable while its source is
        collecting (not while the source is down, refused, or has moved to
        another hostname).
        """
        with self._hosts_lock:
            if host.name not in self._owners:
                return {"hops": 1, "reachable": False}
            owner = self._owners[host.name]
        if owner is None:
            return {"hops": 0, "reachable": True}
        return {"hops": 1, "reachable": getattr(owner, "state", "") == "up"}

    def release(self, hostname: str, source: Any) -> None:
        """``source`` stopped writing ``hostname``; the host stays served, another source may claim it."""
        with self._hosts_lock:
            if self._owners.get(hostname) is source:
                del self._owners[hostname]

    # ------------------------------------------------------------------ data directory lock

    def _lock_data_dir(self) -> Any:
        path = self.data_dir / "agent.lock"
        handle = open(path, "a+", encoding="utf-8")
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - not on POSIX
            return handle
        except OSError:
            handle.close()
            raise DataDirLocked(f"data directory {self.data_dir} is in use by another pyml agent") from None
        try:  # the process id is for people; the lock is the flock, held even if this fails
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except OSError as exc:
            log.warning("cannot write the process id into %s (%s); the directory is locked all the same", path,
                        exc.strerror or exc)
        return handle

    def _unlock_data_dir(self) -> None:
        if self._lock_file is not None:
            try:
                self._lock_file.close()  # closing releases the lock
            except OSError:  # the process id could not be written (full disk); the descriptor is closed anyway
                pass
            self._lock_file = None

    # ------------------------------------------------------------------ charts

    def _add_chart(self, spec: ChartSpec) -> None:
        """Add (or, for a chart restored from the data directory, merge) a chart."""
        self.host.add_chart(spec.id, spec.dimensions, name=spec.name, **_chart_info(spec))
        self._sync_dimensions(spec)

    def _sync_dimensions(self, spec: ChartSpec) -> None:
        """Make the host chart's dimensions those of ``spec`` and remember how to reorder values."""
        chart = self.host.chart(spec.id)
        wanted = set(spec.dimensions)
        for dim in [d for d in chart.dimensions if d not in wanted]:
            self.host.remove_dimension(spec.id, dim)
        for dim in spec.dimensions:
            if dim not in chart.dimensions:
                self.host.add_dimension(spec.id, dim)
        position = {d: i for i, d in enumerate(spec.dimensions)}
        self._order[spec.id] = np.asarray([position[d] for d in chart.dimensions], dtype=np.int64)

    def _apply_chart_changes(self, col: Collection) -> None:
        for chart_id in col.removed:
            self._order.pop(chart_id, None)
            try:
                self.host.remove_chart(chart_id)
            except KeyError:
                pass
            log.info("chart %s is gone", chart_id)
        for spec in col.added:
            try:
                self.host.chart(spec.id)
            except KeyError:
                self._add_chart(spec)
                log.info("new chart %s (%d dimensions)", spec.id, len(spec.dimensions))
            else:
                self._sync_dimensions(spec)
        for spec in col.changed:
            self._sync_dimensions(spec)
            log.info("chart %s now has dimensions %s", spec.id, spec.dimensions)

    # ------------------------------------------------------------------ collection

    def collect_once(self, now: float | None = None) -> bool:
        """Collect every chart once and feed the host.

        ``now`` (seconds since the epoch) is passed to the collector; by
        default the wall clock. Returns False when the collection was skipped
        because its second is not after the previous one (or there is no
        local collection).
        """
        if self.host is None:
            return False
        col = self.collector.collect() if now is None else self.collector.collect(now)
        self._apply_chart_changes(col)
        t = int(col.t) // self.update_every * self.update_every
        if self._last_t is not None and t <= self._last_t:
            self.skipped += 1
            if t < self._last_t:
                if self._behind_clock is None:
                    self._behind_clock = self._last_t
                    log.warning("the clock went backwards (%d after %d): skipping collections until it passes %d",
                                t, self._last_t, self._last_t)
            else:
                log.debug("a second collection in the second %d: skipping it", t)
            return False
        if self._behind_clock is not None:
            log.warning("the clock is past %d again: collecting (%d collections skipped meanwhile)",
                        self._behind_clock, self.skipped)
            self._behind_clock = None
        for chart_id, values in col.values.items():
            order = self._order.get(chart_id)
            if order is None:  # a chart reported without having been announced
                spec = next(s for s in self.collector.charts() if s.id == chart_id)
                self._add_chart(spec)
                order = self._order[chart_id]
            self.host.collect(chart_id, t, values[order], reset=chart_id in col.resets)
        self._last_t = t
        self.ticks += 1
        if time.monotonic() - self._last_flush >= self.flush_every:
            self.flush()
        return True

    def flush(self) -> None:
        """Complete the local host's open tick and write its sample store to disk.

        The hosts of Netdata sources are written by their own loops.
        """
        if self.host is not None:
            self.host.flush()
        self._last_flush = time.monotonic()

    def run(self, stop: threading.Event, max_ticks: int | None = None) -> None:
        """Collect on every ``update_every`` boundary of the wall clock until ``stop`` is set.

        ``max_ticks`` stops after that many collections (for short runs).
        """
        if self.host is None:  # only Netdata sources: their loops run on their own thread
            stop.wait()
            return
        ue = self.update_every
        while not stop.is_set():
            now = time.time()
            wait = (int(now) // ue + 1) * ue - now
            if stop.wait(min(max(wait, 0.0), ue)):
                break
            self._collect_guarded()
            if max_ticks is not None and self.ticks >= max_ticks:
                break

    def _collect_guarded(self) -> None:
        """One collection; an error is logged when it first appears and when it is gone, never per tick."""
        try:
            self.collect_once()
        except Exception as exc:  # the loop outlives any one collection
            self.failed += 1
            state = f"{type(exc).__name__}: {exc}"
            if state != self._failing:
                expected = isinstance(exc, (ValueError, KeyError, OSError, DatabaseError, StoreError))
                log.error("collection failed (%s); the agent keeps collecting and logs again when this changes",
                          state, exc_info=not expected)
                self._failing = state
            return
        if self._failing is not None:
            log.warning("collections succeed again after %d failed", self.failed)
            self._failing = None

    def close(self) -> None:
        """Stop the sources and the HTTP server, complete open ticks, write everything out, release the data
        directory."""
        if self.source_group is not None:
            self.source_group.stop()  # each source feeds what it has and writes its host
            self.source_group = None
        if self.server is not None:
            self.server.stop()
            self.server = None
        try:
            if self.host is not None:
                self.host.flush()
        finally:
            try:
                with self._hosts_lock:
                    hosts = list(self.hosts.values())
                for host in hosts:
                    try:
                        host.close()
                    except StoreError:  # already logged by the host, with what was not written
                        self.clean_close = False
                    except Exception:  # noqa: BLE001 - one host failing to close must not keep the others open
                        self.clean_close = False
                        log.exception("closing host %r failed", host.name)
                if self.pool is not None:
                    self.pool.close()
            finally:
                self._unlock_data_dir()

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_agent(
    data_dir: str | os.PathLike[str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    *,
    update_every: int = 1,
    bind: str = "127.0.0.1",
    port: int = 19998,
    hostname: str | None = None,
    max_ticks: int | None = None,
    netdata: Sequence[str] = (),
    local: bool = True,
    training_threads: int | None = None,
    allow_hosts: Any = (),
    event_loop: str = "auto",
) -> int:
    """Run the agent in the foreground until SIGINT or SIGTERM; returns the exit status.

    0 after a clean stop; 1 when the agent cannot start (port in use, data
    directory locked or unreadable); 2 for an unreadable configuration file.
    """
    directory = Path(data_dir) if data_dir is not None else default_data_dir()
    if config_path is None:
        config = MLConfig()
    else:
        try:
            config = MLConfig.from_netdata_conf(Path(config_path))
        except OSError as exc:
            print(f"pyml agent: cannot read {config_path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        if not config.enabled:
            log.warning("%s does not enable [ml]: collecting and serving without anomaly detection", config_path)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            agent = Agent(directory, config, update_every=update_every, hostname=hostname, bind=bind, port=port,
                          netdata=netdata, local=local, training_threads=training_threads,
                          allow_hosts=allow_hosts, event_loop=event_loop)
        except ImportError as exc:
            print(f"pyml agent: {exc}", file=sys.stderr)
            return 2
        except (OSError, RuntimeError, ValueError, DatabaseError) as exc:  # port in use, data dir locked or corrupt
            print(f"pyml agent: {exc}", file=sys.stderr)
            return 1
        where = agent.server.url if agent.server is not None else "no HTTP"
        if agent.collector is not None:
            log.info("collecting %d charts every %d s into %s; API on %s", len(agent.collector.charts()),
                     update_every, directory, where)
        for source in agent.sources:
            log.info("mirroring the Netdata agent at %s into %s", source.url, agent.data_dir / "hosts")
        if agent.collector is None:
            log.info("API on %s", where)
        try:
            agent.run(stop, max_ticks=max_ticks)
        finally:
            agent.close()
        log.info("stopped after %d collections (%d skipped, %d failed)", agent.ticks, agent.skipped, agent.failed)
        return 0 if agent.clean_close else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

