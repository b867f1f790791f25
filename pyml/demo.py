"""``pyml demo``: a generated host with injected incidents, replayed through the engine.

:func:`generate_host` builds a plausible Linux host: ``system.cpu`` and one
``cpu.cpuN`` chart per core (integer per-core percentages, as jiffies give),
``system.load`` (exponentially damped averages of the run queue),
``system.ram`` and ``mem.available``, ``system.processes``, counters turned
into per-second rates (``system.ctxt``, ``system.intr``, ``system.forks``,
disk operations, network packets), disks and network interfaces with their
operations, throughput, latency, utilisation and (flat) drop charts. Load
follows a daily curve with slow wandering and noise on top.

Five incidents of different kinds are injected at known times after the
first training: a CPU spike on a few cores, a network interface dropping to
zero, a memory leak ramp ended by the process being killed, a disk latency
level shift, and a burst of noise across many charts.

:func:`run_demo` replays the data at full speed through a real
:class:`pyml.Host` (``background=False``; due dimensions train after each
tick), collects the anomaly events and their top dimensions from the host's
own queries, and decides for each incident whether it was caught: an event
overlaps it and one of the event's top dimensions belongs to one of the
incident's charts. :func:`format_report` prints that; :mod:`pyml.plot`
draws it.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from ._arrays import as_count, as_int
from .config import MLConfig
from .profiles import DEFAULT_PROFILE
from .engine.host import Host
from .progress import Progress

__all__ = [
    "DemoEvent",
    "DemoResult",
    "GeneratedHost",
    "Incident",
    "IncidentOutcome",
    "demo_config",
    "format_report",
    "generate_host",
    "run_demo",
]

#: The demo's clock starts on Monday 2026-01-05 at 08:00 UTC.
DEMO_T0 = int(_dt.datetime(2026, 1, 5, 8, 0, tzinfo=_dt.timezone.utc).timestamp())

#: How many of an event's dimensions (by rate) count as its top dimensions.
TOP_DIMENSIONS = 10

_CPU_DIMS = ("guest_nice", "guest", "steal", "softirq", "irq", "user", "system", "nice", "iowait")


@dataclass(frozen=True)
class Incident:
    """An injected incident: ticks ``[start, end)`` of the replay and the charts it touches."""

    kind: str
    description: str
    start: int
    end: int
    charts: tuple[str, ...]

    def times(self, t0: int) -> tuple[int, int]:
        """``(first, last)`` epoch seconds of the incident for a replay starting at ``t0``."""
        return t0 + self.start, t0 + self.end - 1


@dataclass
class GeneratedHost:
    """A generated host: its charts, one value per (tick, dimension), and the incidents."""

    charts: list[tuple[str, list[str]]]
    values: np.ndarray  # float64[ticks, dimensions], dimensions in chart order
    incidents: list[Incident]
    t0: int = DEMO_T0
    seed: int = 0

    @property
    def ticks(self) -> int:
        """Number of ticks (seconds) of data."""
        return int(self.values.shape[0])

    @property
    def dimension_ids(self) -> list[str]:
        """``"chart|dim"`` ids in column order."""
        return [f"{c}|{d}" for c, dims in self.charts for d in dims]


@dataclass(frozen=True)
class DemoEvent:
    """An anomaly event found by the host's detector, with its dimensions ranked by rate."""

    after: int
    before: int
    info: list[list[Any]]  # [[rate, "chart|dim"], ...] rate descending

    @property
    def seconds(self) -> int:
        """Length of the event in seconds."""
        return self.before - self.after

    def top(self, n: int = TOP_DIMENSIONS) -> list[list[Any]]:
        """The ``n`` dimensions with the highest anomaly rate in the event."""
        return self.info[:n]


@dataclass(frozen=True)
class IncidentOutcome:
    """Whether an incident was caught, by which events, and through which dimensions."""

    incident: Incident
    events: list[int]            # indices into DemoResult.events
    dimensions: list[str]        # the incident's dimensions among those events' top dimensions
    flagged: list[str] = field(default_factory=list)  # the incident's dimensions with a stored anomaly bit in it

    @property
    def caught(self) -> bool:
        """An overlapping event has one of the incident's charts among its top dimensions."""
        return bool(self.dimensions)


@dataclass
class DemoResult:
    """Everything a demo run found."""

    generated: GeneratedHost
    config: MLConfig
    events: list[DemoEvent]
    outcomes: list[IncidentOutcome]
    times: np.ndarray            # int64[ticks]: the tick timestamps
    host_rate: np.ndarray        # float64[ticks]: fraction of modelled dimensions anomalous per tick
    trained: np.ndarray          # int64[ticks]: dimensions with a model per tick
    group_rates: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    replay_seconds: float = 0.0
    first_trained: int | None = None   # tick of the first model

    @property
    def caught(self) -> int:
        """How many incidents were caught."""
        return sum(o.caught for o in self.outcomes)

    @property
    def unexplained_events(self) -> list[int]:
        """Indices of events that overlap no incident."""
        explained = {i for o in self.outcomes for i in o.events}
        return [i for i in range(len(self.events)) if i not in explained]


# ---------------------------------------------------------------------------- generation


def _ar1(rng: np.random.Generator, n: int, k: int, phi: float, sigma: float) -> np.ndarray:
    """``k`` AR(1) series of length ``n`` with stationary standard deviation ``sigma``."""
    shocks = rng.normal(0.0, sigma * np.sqrt(1.0 - phi * phi), (n, k))
    out = np.empty((n, k))
    prev = rng.normal(0.0, sigma, k)
    for i in range(n):
        prev = phi * prev + shocks[i]
        out[i] = prev
    return out


def _damped(x: np.ndarray, seconds: float) -> np.ndarray:
    """The kernel's load-average recursion (per second) of a run-queue series."""
    decay = np.exp(-1.0 / seconds)
    out = np.empty_like(x)
    acc = float(x[0])
    for i, v in enumerate(x.tolist()):
        acc = acc * decay + v * (1.0 - decay)
        out[i] = acc
    return out


def _rate_of_counter(rng: np.random.Generator, lam: np.ndarray) -> np.ndarray:
    """Per-second rate of a monotonically increasing counter whose increments are Poisson(``lam``)."""
    counter = np.cumsum(rng.poisson(np.maximum(lam, 0.0)), axis=0)
    return np.diff(counter, axis=0, prepend=counter[:1] * 0).astype(np.float64)


def _layout(dims: int) -> tuple[int, int, int]:
    """Cores, disks and network interfaces for about ``dims`` dimensions."""
    base = 9 + 3 + 4 + 1 + 2 + 1 + 1 + 1 + 2 + 2 + 1  # system.* and mem.* charts below
    per_core, per_disk, per_nic = 9, 7, 7
    cores, disks, nics = 2, 1, 1
    total = base + cores * per_core + disks * per_disk + nics * per_nic
    if total > dims:
        raise ValueError(f"dims must be at least {total} (two cores, one disk, one interface), got {dims}")
    cycle = ("core", "core", "disk", "nic", "core", "core")
    step = 0
    while True:
        kind = cycle[step % len(cycle)]
        step += 1
        cost = {"core": per_core, "disk": per_disk, "nic": per_nic}[kind]
        if total + cost > dims:
            # Try the cheaper kinds once before stopping.
            if total + min(per_disk, per_nic) > dims:
                break
            continue
        total += cost
        if kind == "core":
            cores += 1
        elif kind == "disk":
            disks += 1
        else:
            nics += 1
        if step > 10 * dims:
            break
    return cores, disks, nics


def generate_host(dims: int = 300, hours: float = 6.0, seed: int = 1, t0: int = DEMO_T0) -> GeneratedHost:
    """Generate about ``dims`` dimensions of a Linux host over ``hours`` hours at one sample per second.

    Deterministic for a given ``(dims, hours, seed, t0)``. Incidents start
    after the first third of the data (training uses the first quarter) and
    are spread evenly to the end; their lengths shrink for short replays so
    that they never overlap.
    """
    as_int("dims", dims)
    as_count("seed", seed, 0, "a non-negative integer")
    if not isinstance(hours, (int, float, np.integer, np.floating)) or isinstance(hours, bool) \
            or not np.isfinite(hours) or hours < 0.5:
        raise ValueError(f"hours must be at least 0.5, got {hours!r}")
    n = int(round(float(hours) * 3600))
    cores, disks, nics = _layout(int(dims))
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    hour = ((t0 + i) % 86400) / 3600.0
    daily = 0.5 - 0.5 * np.cos(2 * np.pi * (hour - 4.0) / 24.0)           # low at 04:00, high at 16:00
    load = np.clip(0.2 + 0.5 * daily + _ar1(rng, n, 1, 0.999, 0.06)[:, 0], 0.05, 0.95)

    # ---- incidents: where and how long (ticks)
    first = n // 3
    spacing = (n - first) // 5
    def window(slot: int, nominal: int) -> tuple[int, int]:
        length = max(30, min(nominal, int(spacing * 0.4)))
        start = first + slot * spacing + int(rng.integers(spacing // 10, spacing // 4))
        return start, start + length

    cpu_w, net_w, mem_w, disk_w, noise_w = (window(0, 300), window(1, 180), window(2, 600),
                                             window(3, 900), window(4, 90))

    charts: list[tuple[str, list[str]]] = []
    columns: list[np.ndarray] = []

    def add(chart: str, dims_values: dict[str, np.ndarray]) -> None:
        charts.append((chart, list(dims_values)))
        columns.extend(np.asarray(v, dtype=np.float64) for v in dims_values.values())

    # ---- CPU: integer per-core percentages (jiffies at 100 Hz)
    factor = rng.uniform(0.6, 1.4, cores)
    user = 100 * 0.45 * load[:, None] * factor[None, :] + _ar1(rng, n, cores, 0.95, 2.0) \
        + rng.normal(0, 1.5, (n, cores))
    spike_cores = list(range(1, min(cores, 4)))
    a, b = cpu_w
    user[a:b, spike_cores] = rng.normal(94.0, 2.0, (b - a, len(spike_cores)))
    user = np.clip(np.rint(user), 0, 100)
    system = np.clip(np.rint(0.3 * user + rng.normal(0, 0.8, (n, cores))), 0, None)
    system[a:b, spike_cores] = np.clip(np.rint(rng.normal(4.0, 1.0, (b - a, len(spike_cores)))), 0, None)
    disk_activity = np.clip(0.2 + load + _ar1(rng, n, 1, 0.98, 0.1)[:, 0], 0.05, None)
    iowait = np.rint(np.clip(rng.exponential(1.0, (n, cores)) * disk_activity[:, None], 0, None))
    irq = (rng.random((n, cores)) < 0.05).astype(np.float64)
    irq[:, 0] += (rng.random(n) < 0.3)
    net_level = np.clip(0.3 + load, 0.1, None)
    softirq = np.rint(np.clip(rng.normal(0.5, 0.5, (n, cores)) * net_level[:, None], 0, None))
    nice = (rng.random((n, cores)) < 0.02) * rng.integers(1, 10, (n, cores))
    zero = np.zeros(n)
    total = user + system + iowait + irq + softirq + nice
    over = np.maximum(total - 100, 0)                       # keep each core within 100 %
    user = user - over
    per_core = {"guest_nice": np.zeros((n, cores)), "guest": np.zeros((n, cores)), "steal": np.zeros((n, cores)),
                "softirq": softirq, "irq": irq, "user": user, "system": system, "nice": nice, "iowait": iowait}
    add("system.cpu", {d: np.round(per_core[d].mean(axis=1), 2) for d in _CPU_DIMS})
    for c in range(cores):
        add(f"cpu.cpu{c}", {d: per_core[d][:, c] for d in _CPU_DIMS})
    runnable = (user + system + nice).sum(axis=1) / 100.0
    blocked = rng.poisson(0.2 + iowait.sum(axis=1) / 100.0 * 4).astype(np.float64)
    add("system.load", {name: np.round(_damped(runnable + blocked, s), 2)
                        for name, s in (("load1", 60.0), ("load5", 300.0), ("load15", 900.0))})

    # ---- memory (MiB): slow working-set changes, a page cache that grows, a leak ramp then an OOM kill
    total_mib = 16384.0 * max(1, cores // 8)
    used = 3000 + 2500 * load + _ar1(rng, n, 1, 0.995, 40.0)[:, 0] + rng.normal(0, 2.0, n)
    a, b = mem_w
    slope = 6.0                                               # MiB per second
    used[a:b] += slope * np.arange(b - a)
    cached = np.minimum(4000 + 0.05 * i + _ar1(rng, n, 1, 0.999, 60.0)[:, 0], total_mib - used - 1200)
    buffers = 300 + _ar1(rng, n, 1, 0.99, 5.0)[:, 0]
    free = total_mib - used - cached - buffers
    add("system.ram", {"free": np.round(free, 1), "used": np.round(used, 1), "cached": np.round(cached, 1),
                       "buffers": np.round(buffers, 1)})
    add("mem.available", {"avail": np.round(free + 0.8 * cached, 1)})

    # ---- kernel counters as per-second rates (integers)
    add("system.processes", {"running": rng.poisson(1 + runnable).astype(np.float64), "blocked": blocked})
    add("system.ctxt", {"switches": _rate_of_counter(rng, 2000 + 30000 * load)})
    add("system.intr", {"interrupts": _rate_of_counter(rng, 1500 + 12000 * load)})
    add("system.forks", {"started": _rate_of_counter(rng, 3 + 25 * load)})
    tcp = np.rint(80 + 400 * load + _ar1(rng, n, 1, 0.99, 8.0)[:, 0])
    add("ipv4.tcpsock", {"connections": np.clip(tcp, 0, None)})

    # ---- disks
    disk_reads_kib, disk_writes_kib = zero.copy(), zero.copy()
    lat_disk = min(1, disks - 1)
    for d in range(disks):
        name = f"sd{chr(ord('a') + d)}" if d < 26 else f"sd{d}"
        weight = rng.uniform(0.3, 1.5) / (1 + d)
        ops_r = _rate_of_counter(rng, 40 * weight * disk_activity)
        flush = ((i + d) % 5 == 0) * 60 * weight                # writeback every 5 s
        ops_w = _rate_of_counter(rng, 25 * weight * disk_activity + flush)
        kib_r = np.rint(ops_r * rng.lognormal(np.log(24), 0.3, n))
        kib_w = np.rint(ops_w * rng.lognormal(np.log(48), 0.3, n))
        await_base = rng.uniform(0.4, 3.0)
        await_r = np.where(ops_r > 0, await_base * rng.lognormal(0, 0.25, n), 0.0)
        await_w = np.where(ops_w > 0, 1.5 * await_base * rng.lognormal(0, 0.25, n), 0.0)
        if d == lat_disk:
            a, b = disk_w
            await_r[a:b] *= 8.0
            await_w[a:b] *= 8.0
        util = np.clip((ops_r * await_r + ops_w * await_w) / 10.0, 0, 100)
        disk_reads_kib += kib_r
        disk_writes_kib += kib_w
        add(f"disk.{name}", {"reads": kib_r, "writes": -kib_w})
        add(f"disk_ops.{name}", {"reads": ops_r, "writes": -ops_w})
        add(f"disk_await.{name}", {"reads": np.round(await_r, 2), "writes": np.round(-await_w, 2)})
        add(f"disk_util.{name}", {"utilization": np.round(util, 2)})
    add("system.io", {"in": disk_reads_kib, "out": -disk_writes_kib})

    # ---- network interfaces
    rx_total, tx_total = zero.copy(), zero.copy()
    for k in range(nics):
        name = f"eth{k}"
        weight = rng.uniform(0.5, 2.0) / (1 + 2 * k)
        pk_rx = rng.poisson(900 * weight * net_level).astype(np.float64)
        pk_tx = rng.poisson(700 * weight * net_level).astype(np.float64)
        mcast = rng.poisson(0.5, n).astype(np.float64)
        if k == 0:
            a, b = net_w
            pk_rx[a:b] = pk_tx[a:b] = mcast[a:b] = 0.0
        kbit_rx = np.round(pk_rx * rng.lognormal(np.log(900), 0.2, n) * 8 / 1000, 3)
        kbit_tx = np.round(pk_tx * rng.lognormal(np.log(400), 0.2, n) * 8 / 1000, 3)
        rx_total += kbit_rx
        tx_total += kbit_tx
        add(f"net.{name}", {"received": kbit_rx, "sent": -kbit_tx})
        add(f"net_packets.{name}", {"received": pk_rx, "sent": -pk_tx, "multicast": mcast})
        add(f"net_drops.{name}", {"inbound": zero, "outbound": zero})
    add("system.net", {"received": np.round(rx_total, 3), "sent": np.round(-tx_total, 3)})

    values = np.column_stack(columns)

    # ---- a burst of noise across many charts (not the flat ones)
    a, b = noise_w
    chart_cols: list[tuple[str, slice]] = []
    col = 0
    for chart, chart_dims in charts:
        chart_cols.append((chart, slice(col, col + len(chart_dims))))
        col += len(chart_dims)
    lively = [(c, s) for c, s in chart_cols if np.std(np.diff(values[: n // 4, s], axis=0)) > 0]
    picked = sorted(rng.choice(len(lively), size=max(1, int(0.4 * len(lively))), replace=False).tolist())
    noisy_charts = []
    for j in picked:
        chart, s = lively[j]
        spread = np.std(np.diff(values[: n // 4, s], axis=0), axis=0)
        burst = rng.normal(0.0, 1.0, (b - a, s.stop - s.start)) * 6.0 * spread
        sign = np.sign(np.median(values[: n // 4, s], axis=0))
        sign[sign == 0] = 1.0
        values[a:b, s] = sign * np.abs(values[a:b, s] + sign * burst)   # keep each series on its side of 0
        noisy_charts.append(chart)

    spike_names = ", ".join(str(c) for c in spike_cores)
    lat_name = f"sd{chr(ord('a') + lat_disk)}"
    incidents = [
        Incident("cpu-spike", f"CPU spike on cores {spike_names}", *cpu_w,
                 tuple(f"cpu.cpu{c}" for c in spike_cores)),
        Incident("network-drop", "eth0 traffic drops to zero", *net_w, ("net.eth0", "net_packets.eth0")),
        Incident("memory-leak", f"memory leak ({slope:g} MiB/s) ended by an OOM kill", *mem_w,
                 ("system.ram", "mem.available")),
        Incident("disk-latency", f"{lat_name} latency level shift (x8)", *disk_w,
                 (f"disk_await.{lat_name}", f"disk_util.{lat_name}")),
        Incident("noise-burst", f"noise burst across {len(noisy_charts)} charts", *noise_w, tuple(noisy_charts)),
    ]
    return GeneratedHost(charts, values, incidents, t0=t0, seed=int(seed))


# ---------------------------------------------------------------------------- replay


def demo_config(ticks: int, profile: str = DEFAULT_PROFILE) -> MLConfig:
    """Lab-sized settings of ``profile`` for a replay of ``ticks`` seconds (``clamp=False``).

    Models train on (and need) a quarter of the data and retrain every
    quarter; everything else is the profile's default.
    """
    from .lab.profiles import TrainingSizing, profile_config

    quarter = max(60, as_count("ticks", ticks, 1, "a positive integer") // 4)
    return profile_config(profile, TrainingSizing(quarter, quarter, quarter))


def _overlaps(event: DemoEvent, first: int, last: int) -> bool:
    return event.after <= last and event.before >= first


def _group_of(chart: str) -> str:
    """The heat strip's row of a chart: one per disk and per interface, so one device's trouble is not
    averaged away over its siblings; all cores share a row (``system.cpu`` shows a few busy ones)."""
    family, _, instance = chart.partition(".")
    if family == "cpu":
        return "cpu cores"
    if chart.startswith(("system.ram", "mem.")):
        return "memory"
    if family.startswith("disk"):
        return f"disk {instance}"
    if family.startswith("net"):
        return f"net {instance}"
    return "system"


def _row_order(name: str) -> tuple[int, str]:
    fixed = ("cpu cores", "system", "memory")
    if name in fixed:
        return fixed.index(name), ""
    return (3 if name.startswith("disk ") else 4), name


def run_demo(dims: int = 300, hours: float = 6.0, seed: int = 1, *, progress: bool = False,
             top: int = TOP_DIMENSIONS, minute_rates: bool = True, profile: str = DEFAULT_PROFILE) -> DemoResult:
    """Generate a host, replay it through :class:`pyml.Host` and match events to incidents.

    Parameters
    ----------
    dims, hours, seed
        What :func:`generate_host` generates.
    progress : bool
        Show a progress bar on stderr (tqdm's when installed, else a line rewritten in place).
    top : int
        How many of an event's dimensions (by rate) count as its top dimensions.
    minute_rates : bool
        Also compute per-minute anomaly rates by chart group (for the plot).
    profile : str
        The detection profile (``"pyml"``, ``"netdata-2"`` or ``"netdata-1.33"``).
    """
    as_count("top", top, 1, "a positive integer")
    gen = generate_host(dims, hours, seed)
    n = gen.ticks
    cfg = demo_config(n, profile)
    host = Host("demo-host", cfg, background=False, history=n)
    try:
        for chart, chart_dims in gen.charts:
            host.add_chart(chart, chart_dims)
        times = gen.t0 + np.arange(n, dtype=np.int64)
        host_rate = np.zeros(n)
        trained = np.zeros(n, dtype=np.int64)
        first_trained: int | None = None
        bar = Progress(n, "replay", progress, unit="ticks")
        started = time.perf_counter()
        values = gen.values
        step = 500
        for k in range(n):
            host.collect_all(int(times[k]), values[k])
            report = host.train_due()
            if report.trained and first_trained is None:
                first_trained = k
            result = host.last_detector_result
            if result is not None:
                host_rate[k] = result.host_anomaly_rate
                trained[k] = result.trained
            if (k + 1) % step == 0:
                bar.update(step)
        bar.update(n - bar.done)
        bar.close()
        replay_seconds = time.perf_counter() - started

        events = []
        for after, before in host.anomaly_events(0, (int(times[-1]) + 1) * 1000):
            info = host.anomaly_event_info(after, before) or []
            events.append(DemoEvent(int(after), int(before), [[float(r), str(d)] for r, d in info]))

        outcomes = []
        for inc in gen.incidents:
            first_t, last_t = inc.times(gen.t0)
            hits, dims_found = [], []
            for j, ev in enumerate(events):
                if not _overlaps(ev, first_t, last_t):
                    continue
                hits.append(j)
                for _, dim_id in ev.top(top):
                    if dim_id.split("|", 1)[0] in inc.charts and dim_id not in dims_found:
                        dims_found.append(dim_id)
            outcomes.append(IncidentOutcome(inc, hits, dims_found, _flagged(host, inc, first_t, last_t)))

        group_rates: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if minute_rates:
            group_rates = _minute_rates(host, gen, int(times[0]), int(times[-1]))
    finally:
        host.close()
    return DemoResult(gen, cfg, events, outcomes, times, host_rate, trained, group_rates, replay_seconds,
                      first_trained)


def _flagged(host: Host, incident: Incident, first: int, last: int) -> list[str]:
    """The incident's dimensions whose stored anomaly bit is set at least once from ``first`` to ``last``."""
    out = []
    for chart in incident.charts:
        answer = host.data(chart, first, last, options="anomaly-bit")
        rows = answer["data"]
        for j, name in enumerate(answer["labels"][1:], 1):
            if any((row[j] or 0) > 0 for row in rows):
                out.append(f"{chart}|{name}")
    return out


def _minute_rates(host: Host, gen: GeneratedHost, after: int, before: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-minute anomaly rate (%) of each row of charts (:func:`_group_of`), from the host's ``anomaly-bit`` queries.

    Rows come in the order cores, system, memory, then disks and interfaces by name.
    """
    points = max(1, (before - after + 1) // 60)
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    stamps: np.ndarray | None = None
    for chart, chart_dims in gen.charts:
        rows = host.data(chart, after, before, points=points, options="anomaly-bit")["data"][::-1]
        if not rows:
            continue
        arr = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64)
        if stamps is None:
            stamps = arr[:, 0].astype(np.int64)
        group = _group_of(chart)
        part = np.nan_to_num(arr[:, 1:], nan=0.0).sum(axis=1)
        sums[group] = sums.get(group, 0.0) + part
        counts[group] = counts.get(group, 0) + len(chart_dims)
    if stamps is None:
        return {}
    return {g: (stamps, sums[g] / counts[g]) for g in sorted(sums, key=_row_order)}


# ---------------------------------------------------------------------------- report


def _clock(t: int) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%H:%M:%S")


def _length(seconds: int) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _dims_text(pairs: Iterable[Sequence[Any]], limit: int) -> str:
    return ", ".join(f"{d} {100 * r:.0f}%" for r, d in list(pairs)[:limit])


def format_report(result: DemoResult, top: int = 3) -> str:
    """A plain-text report: settings, events with their top dimensions, and the incidents caught."""
    gen, cfg = result.generated, result.config
    n = gen.ticks
    lines = [
        f"pyml demo: host 'demo-host', {len(gen.dimension_ids)} dimensions in {len(gen.charts)} charts, "
        f"{n / 3600:g} h at 1 s ({n} ticks) from {_dt.datetime.fromtimestamp(gen.t0, _dt.timezone.utc):%Y-%m-%d %H:%M} "
        f"UTC, seed {gen.seed}",
        f"profile {cfg.profile}, lab-sized (clamp=False): models train on the last {cfg.training_points(1)[1]} "
        f"samples once {cfg.training_points(1)[0]} exist (1/4 of the data) and retrain every "
        f"{cfg.train_every_ticks(1)} s; everything else at the profile's defaults",
    ]
    first = "never" if result.first_trained is None else _clock(int(result.times[result.first_trained]))
    lines.append(f"replayed through pyml.Host in {result.replay_seconds:.1f} s "
                 f"({n / max(result.replay_seconds, 1e-9):,.0f} ticks/s); first models at {first}")
    lines.append("")
    lines.append(f"anomaly events ({len(result.events)}):")
    if result.events:
        lines.append(f"  {'#':>3}  {'from':>8}  {'to':>8}  {'length':>8}  top dimensions (anomaly rate in the event)")
    for j, ev in enumerate(result.events, 1):
        lines.append(f"  {j:>3}  {_clock(ev.after)}  {_clock(ev.before)}  {_length(ev.seconds):>8}  "
                     f"{_dims_text(ev.top(top), top)}")
    lines.append("")
    lines.append("injected incidents:")
    for o in result.outcomes:
        a, b = o.incident.times(gen.t0)
        head = f"  {o.incident.description:<44} {_clock(a)}-{_clock(b)}  "
        if o.caught:
            ids = ", ".join(str(e + 1) for e in o.events)
            dims = ", ".join(o.dimensions[:top]) + (", ..." if len(o.dimensions) > top else "")
            lines.append(head + f"CAUGHT by event {ids} ({dims})")
        elif o.events:
            lines.append(head + f"missed: event {', '.join(str(e + 1) for e in o.events)} overlaps it "
                         f"but its top dimensions are elsewhere")
        else:
            lines.append(head + "missed: no event")
        if not o.caught:
            flagged = ", ".join(o.flagged[:top]) + (", ..." if len(o.flagged) > top else "")
            lines.append(f"  {'':<44} {'':<17}  " + (f"anomaly bits stored on {len(o.flagged)} of its dimensions "
                                                     f"({flagged})" if o.flagged else "no anomaly bit on its charts"))
    others = result.unexplained_events
    lines.append("")
    flagged = sum(bool(o.flagged) for o in result.outcomes)
    lines.append(f"{result.caught} of {len(result.outcomes)} incidents caught by an event; "
                 f"{len(others)} event(s) outside every incident; {flagged} of {len(result.outcomes)} "
                 f"incidents with anomaly bits stored on their own dimensions")
    return "\n".join(lines)
