"""Sources of real metrics for pyml, charted the way Netdata charts them.

``ProcCollector`` reads this machine's ``/proc`` (and ``/sys``) and returns
Netdata ``proc.plugin`` charts: ``system.cpu``, ``cpu.cpuN``, ``system.load``,
``system.ram``, ``mem.*``, ``system.io``, ``disk*.<dev>``, ``system.net``,
``net*.<iface>``, ``system.interrupts``, ``system.softirqs``, ``ipv4.*``,
``ip.*`` and more, so that Netdata's default ``charts to skip from training``
selects the same charts for ML.

    >>> from pyml.sources import ProcCollector
    >>> c = ProcCollector(proc_root="/proc")
    >>> specs = c.charts()          # list of ChartSpec
    >>> col = c.collect()           # Collection: t, values, resets, added, removed, changed
"""

from __future__ import annotations

from ._model import ChartSpec, Collection
from .proc import ProcCollector

__all__ = ["ChartSpec", "Collection", "ProcCollector"]
