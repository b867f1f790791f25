"""Which charts belong to which subsystem, for explaining host-case events.

An incident of a host case names the subsystem it stresses (``cpu``,
``memory``, ``disk``, ``processes``, ``network``; a scheduled job may name
several, ``"cpu,disk"``). An anomaly event explains it when one of its top
dimensions lies on a chart of that subsystem. The mapping is a table of
shell-style patterns matched against chart ids (:func:`fnmatch.fnmatchcase`);
a chart may belong to several subsystems (``mem.writeback`` moves with disk
writes as much as with memory).

==========  ===================================================================
subsystem   charts
==========  ===================================================================
cpu         ``system.cpu``, ``cpu.cpu<N>`` (per core), ``system.load``,
            ``system.cpu_pressure``
memory      ``system.ram``, ``mem.*``, ``system.memory_some_pressure``,
            ``system.memory_full_pressure``
disk        ``disk.*``, ``disk_*.*``, ``system.io``, ``system.pgpgio``,
            ``system.io_some_pressure``, ``system.io_full_pressure``,
            ``mem.writeback``
processes   ``system.processes``, ``system.forks``, ``system.active_processes``,
            ``system.ctxt``
network     ``net.*``, ``net_*.*``, ``system.net``, ``system.ip``,
            ``system.ipv6``, ``ip.*``, ``ipv4.*``, ``ipv6.*``,
            ``system.softnet_stat``, ``cpu.cpu<N>_softnet_stat``
==========  ===================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

__all__ = ["SUBSYSTEM_CHARTS", "chart_subsystems", "check_subsystems", "in_subsystems", "parse_subsystems"]

#: Subsystem -> chart id patterns.
SUBSYSTEM_CHARTS: dict[str, tuple[str, ...]] = {
    "cpu": ("system.cpu", "cpu.cpu[0-9]", "cpu.cpu[0-9][0-9]", "cpu.cpu[0-9][0-9][0-9]", "system.load",
            "system.cpu_pressure"),
    "memory": ("system.ram", "mem.*", "system.memory_some_pressure", "system.memory_full_pressure"),
    "disk": ("disk.*", "disk_*.*", "system.io", "system.pgpgio", "system.io_some_pressure",
             "system.io_full_pressure", "mem.writeback"),
    "processes": ("system.processes", "system.forks", "system.active_processes", "system.ctxt"),
    "network": ("net.*", "net_*.*", "system.net", "system.ip", "system.ipv6", "ip.*", "ipv4.*", "ipv6.*",
                "system.softnet_stat", "cpu.cpu*_softnet_stat"),
}


def parse_subsystems(text: str) -> tuple[str, ...]:
    """``"cpu,disk"`` -> ``("cpu", "disk")``, each checked (``ValueError`` naming an unknown one)."""
    return check_subsystems(part.strip() for part in str(text).split(",") if part.strip())


def check_subsystems(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple, every one a key of :data:`SUBSYSTEM_CHARTS`."""
    out = tuple(names)
    for name in out:
        if name not in SUBSYSTEM_CHARTS:
            raise ValueError(f"unknown subsystem {name!r}; known: {', '.join(SUBSYSTEM_CHARTS)}")
    if not out:
        raise ValueError("no subsystem given")
    return out


def chart_subsystems(chart_id: str) -> tuple[str, ...]:
    """The subsystems ``chart_id`` belongs to (possibly none), in table order."""
    return tuple(name for name, patterns in SUBSYSTEM_CHARTS.items()
                 if any(fnmatchcase(chart_id, p) for p in patterns))


def in_subsystems(dimension_id: str, subsystems: Iterable[str]) -> bool:
    """Whether the chart of ``"chart|dim"`` belongs to one of ``subsystems``."""
    chart = dimension_id.split("|", 1)[0]
    wanted = set(subsystems)
    return any(name in wanted for name in chart_subsystems(chart))
