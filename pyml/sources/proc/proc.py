"""``ProcCollector``: this machine's metrics from ``/proc``, as Netdata's ``proc.plugin`` charts them.

Typical use (one collection per second)::

    from pyml.sources import ProcCollector

    c = ProcCollector()                 # reads /proc (and /sys) once to discover the charts
    for spec in c.charts():
        host.add_chart(spec.id, spec.dimensions, name=spec.name)
    while True:
        col = c.collect()               # values of every chart at col.t
        for chart_id in col.removed:
            host.remove_chart(chart_id)
        for spec in col.changed:        # dimensions added/removed inside a chart
            ...
        for spec in col.added:
            host.add_chart(spec.id, spec.dimensions, name=spec.name)
        for chart_id, values in col.values.items():
            host.collect(chart_id, col.t, values)

Chart ids, names, dimension names, units, families, contexts and priorities
follow Netdata v1.33 (``proc.plugin``), so Netdata's default ``charts to skip
from training`` selects the same charts for ML (``system.*``, ``cpu.*``,
``mem.*``, ``disk*``, ``ip.*``, ``ipv4.*``, ``net*``, ...). Values are what
Netdata stores: rates per second for counters, and dimensions Netdata draws
below the axis (sent, writes, out, blocked, ...) are negative.

Differences from Netdata, on purpose: values are not interpolated onto the
second boundary (the caller floors timestamps); a counter that goes backwards
gives NaN for that point (Netdata stores zero, or guesses a 32/64-bit
wrap) and flags the chart's reset; ``system.io`` and ``system.net`` start
their rates over (one NaN point) when a disk or interface joins or leaves the
sum, instead of showing its whole counter as one second of traffic;
per-interval averages (``disk_util``, ``disk_await``, ...) are not truncated
to integers.
"""

from __future__ import annotations

import math
import numbers
import os
import time
from collections.abc import Sequence
from typing import Protocol, Union

import numpy as np

from ._files import Files, log, star_pattern
from ._model import ChartSpec, ChartState, Collection, Sample
from .cpu import ProcStat
from .disks import DiskStats
from .interrupts import Interrupts, SoftIrqs, SoftnetStat
from .ip import NetNetstat, NetSnmp, NetSnmp6, NetSockstat
from .memory import MemInfo, VmStat
from .network import NetDev
from .system import Entropy, LoadAvg, Pressure, Uptime

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_EXCLUDE_DISKS = ("loop*", "ram*")
DEFAULT_DISABLE_INTERFACES = ("lo", "fireqos*", "*-ifb")


class _Source(Protocol):
    name: str

    def read(self, files: Files, clock: float) -> list[Sample] | None: ...


def _patterns(value: Sequence[str], argument: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split()
    try:
        patterns = tuple(value)
    except TypeError:
        raise TypeError(f"{argument} must be a string or a sequence of strings, got {value!r}") from None
    for p in patterns:
        if not isinstance(p, str):
            raise TypeError(f"{argument} must contain strings, got {p!r}")
    return patterns


def _check_now(now: object) -> float:
    if isinstance(now, bool) or not isinstance(now, numbers.Real):
        raise TypeError(f"now must be a real number of seconds since the epoch or None, got {now!r}")
    t = float(now)
    if not math.isfinite(t):
        raise ValueError(f"now must be finite, got {now!r}")
    return t


class ProcCollector:
    """Netdata-style charts of this machine's ``/proc`` and ``/sys``.

    Parameters
    ----------
    proc_root : str or path-like, default "/proc"
        Directory holding the ``proc`` files (a copy of them makes tests
        deterministic). Raises ``FileNotFoundError`` if it is not a directory.
    sys_root : str or path-like, optional
        Directory holding the ``sys`` files (device types, interface state).
        By default ``/sys`` when ``proc_root`` is ``/proc``, otherwise the
        ``sys`` directory next to ``proc_root`` (it need not exist).
    exclude_disks : sequence of str or str, default ``("loop*", "ram*")``
        Netdata-style ``*`` patterns of block devices that get no charts.
    disable_interfaces : sequence of str or str, default ``("lo", "fireqos*", "*-ifb")``
        Patterns of network interfaces that get no charts.

    Notes
    -----
    The constructor reads every file once to discover the charts, so
    :meth:`charts` is complete before the first :meth:`collect`; counters
    are not primed by it: the first collection yields NaN for every rate.
    A file that is missing or unreadable (common in containers) disables its
    charts, with one logged warning, until it becomes readable; a malformed
    line is skipped, with one warning. The object is not thread-safe: one
    thread collects.
    """

    def __init__(
        self,
        proc_root: PathLike = "/proc",
        sys_root: PathLike | None = None,
        *,
        exclude_disks: Sequence[str] = DEFAULT_EXCLUDE_DISKS,
        disable_interfaces: Sequence[str] = DEFAULT_DISABLE_INTERFACES,
    ) -> None:
        proc = os.fspath(proc_root)
        if not isinstance(proc, str):
            raise TypeError(f"proc_root must be a str path, got {proc_root!r}")
        if not os.path.isdir(proc):
            raise FileNotFoundError(f"proc_root {proc!r} is not a directory")
        if sys_root is None:
            parent = os.path.dirname(os.path.abspath(proc))
            sys_dir = "/sys" if os.path.realpath(proc) == "/proc" else os.path.join(parent, "sys")
        else:
            sys_dir = os.fspath(sys_root)
            if not isinstance(sys_dir, str):
                raise TypeError(f"sys_root must be a str path, got {sys_root!r}")
        disks = star_pattern(_patterns(exclude_disks, "exclude_disks"))
        interfaces = star_pattern(_patterns(disable_interfaces, "disable_interfaces"))

        self._files = Files(proc, sys_dir)
        self._sources: list[_Source] = [
            ProcStat(), LoadAvg(), Pressure(), MemInfo(), VmStat(), DiskStats(disks), NetDev(interfaces),
            NetSnmp(), NetNetstat(), NetSnmp6(), NetSockstat(), Interrupts(), SoftIrqs(), SoftnetStat(),
            Uptime(), Entropy(),
        ]
        self._states: dict[str, ChartState] = {}
        self._callers_clock: bool | None = None  # whether the last collection used ``now``
        self._run(time.time(), time.monotonic())
        self._forget()

    @property
    def proc_root(self) -> str:
        """The directory the ``proc`` files are read from."""
        return self._files.proc_root

    @property
    def sys_root(self) -> str:
        """The directory the ``sys`` files are read from."""
        return self._files.sys_root

    def charts(self) -> list[ChartSpec]:
        """The current charts, in order of appearance (removed charts are gone)."""
        return [state.spec for state in self._states.values()]

    def dimension_count(self) -> int:
        """Number of dimensions over all current charts."""
        return sum(len(state.dims) for state in self._states.values())

    def collect(self, now: float | None = None) -> Collection:
        """Read every source once and return the values of all charts.

        Parameters
        ----------
        now : float, optional
            Timestamp of the collection (seconds since the epoch). By default
            the wall clock, with rates computed over the monotonic clock so
            that wall-clock steps do not distort them; when given, rates are
            computed over the differences of ``now``. If the elapsed time is
            not positive (``now`` not increasing), every rate is NaN for this
            collection and counters restart from the new numbers.

        Returns
        -------
        Collection
            ``values`` for every current chart (see :class:`Collection`), and
            the charts added, removed or changed since the previous call.

        Raises
        ------
        TypeError, ValueError
            If ``now`` is not a finite real number (nothing is read then).
        """
        if now is None:
            callers_clock, t, clock = False, time.time(), time.monotonic()
        else:
            callers_clock = True
            t = clock = _check_now(now)
        if self._callers_clock is not None and callers_clock != self._callers_clock:
            self._forget()  # rates cannot mix the caller's clock with the monotonic one
        self._callers_clock = callers_clock
        return self._run(t, clock)

    def _forget(self) -> None:
        """Make the next collection start every rate afresh (NaN, no reset)."""
        for state in self._states.values():
            state.forget()
        self._files.epoch += 1

    def _run(self, t: float, clock: float) -> Collection:
        self._files.begin()
        try:
            return self._collect_sources(t, clock)
        finally:
            self._files.end()

    def _collect_sources(self, t: float, clock: float) -> Collection:
        files = self._files
        values: dict[str, np.ndarray] = {}
        resets: set[str] = set()
        added: list[ChartSpec] = []
        changed: list[ChartSpec] = []
        states = self._states
        for source in self._sources:
            try:
                samples = source.read(files, clock)
            except Exception as exc:  # noqa: BLE001 -- one broken parser must not stop the others
                files.warn_once(("source-error", source.name), "%s: collection failed (%r); its charts are disabled",
                                source.name, exc)
                log.debug("%s failed", source.name, exc_info=True)
                samples = None
            for sample in samples or ():
                chart = sample.chart
                cid = chart.id
                if cid in values:
                    files.warn_once(("duplicate", cid), "%s: chart %s reported twice; ignoring the second",
                                    source.name, cid)
                    continue
                state = states.get(cid)
                if state is None:
                    if chart.auto:
                        gate = sample.gate
                        if gate is None:
                            gate = any(sample.raw)
                        if not gate:
                            continue
                    state = ChartState(chart, sample.dims)
                    states[cid] = state
                    added.append(state.spec)
                else:
                    if state.sample_dims != sample.dims and state.adopt(sample.dims):
                        changed.append(state.spec)
                    if sample.restart:
                        state.forget()
                vals, reset = state.update(sample.raw, sample.scale, clock)
                values[cid] = vals
                if reset:
                    resets.add(cid)
        removed = [cid for cid in states if cid not in values]
        for cid in removed:
            del states[cid]
        values = {cid: values[cid] for cid in states}
        return Collection(t=t, values=values, resets=resets, added=added, removed=removed, changed=changed)
