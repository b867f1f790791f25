"""``/proc/meminfo`` and ``/proc/vmstat``: memory usage, swap, paging, page faults.

Charts (Netdata ``proc_meminfo.c``, ``proc_vmstat.c``), MiB unless noted:

* ``system.ram``: free, used, cached, buffers, where cached is
  ``Cached + SReclaimable - Shmem`` and used is ``MemTotal - MemFree - cached - Buffers``;
* ``mem.available`` (avail), ``system.swap`` (free, used; once swap exists),
  ``mem.hwcorrupt``, ``mem.committed``, ``mem.writeback``, ``mem.kernel``,
  ``mem.slab``, ``mem.hugepages``, ``mem.transparent_hugepages``;
* ``system.swapio`` and ``system.pgpgio`` (in, out; KiB/s), ``mem.pgfaults``
  (minor, major; faults/s), ``mem.oom_kill`` (kills/s).
"""

from __future__ import annotations

import resource

from ._files import Files
from ._model import ABSOLUTE, INCREMENTAL, ChartDef, Sample

MEMINFO = "/proc/meminfo"
VMSTAT = "/proc/vmstat"
MIB = 1.0 / 1024.0  # meminfo reports kB


def _mem(chart_id: str, title: str, family: str, chart_type: str, priority: int, auto: bool = False) -> ChartDef:
    return ChartDef(chart_id, title, "MiB", family, chart_id, chart_type, priority, ABSOLUTE, MEMINFO, auto=auto)


RAM = _mem("system.ram", "System RAM", "ram", "stacked", 200)
AVAILABLE = _mem("mem.available", "Available RAM for applications", "system", "area", 1010)
SWAP = _mem("system.swap", "System Swap", "swap", "stacked", 201, auto=True)
HWCORRUPT = _mem("mem.hwcorrupt", "Corrupted Memory, detected by ECC", "ecc", "line", 1500, auto=True)
COMMITTED = _mem("mem.committed", "Committed (Allocated) Memory", "system", "area", 1030)
WRITEBACK = _mem("mem.writeback", "Writeback Memory", "kernel", "line", 1100)
KERNEL = _mem("mem.kernel", "Memory Used by Kernel", "kernel", "stacked", 1101)
SLAB = _mem("mem.slab", "Reclaimable Kernel Memory", "slab", "stacked", 1200)
HUGEPAGES = _mem("mem.hugepages", "Dedicated HugePages Memory", "hugepages", "stacked", 1251, auto=True)
THP = _mem("mem.transparent_hugepages", "Transparent HugePages Memory", "hugepages", "stacked", 1250, auto=True)

SWAPIO = ChartDef("system.swapio", "Swap I/O", "KiB/s", "swap", "system.swapio", "area", 250, INCREMENTAL, VMSTAT)
PGPGIO = ChartDef(
    "system.pgpgio", "Memory Paged from/to disk", "KiB/s", "disk", "system.pgpgio", "area", 151,
    INCREMENTAL, VMSTAT, auto=False,
)
PGFAULTS = ChartDef(
    "mem.pgfaults", "Memory Page Faults", "faults/s", "system", "mem.pgfaults", "line", 1040,
    INCREMENTAL, VMSTAT, auto=False,
)
OOM_KILL = ChartDef("mem.oom_kill", "Out of Memory Kills", "kills/s", "system", "mem.oom_kill", "line", 1020, INCREMENTAL, VMSTAT)


def _parse_keyed(text: str, files: Files, module: str, wanted: frozenset[str] | None = None) -> dict[str, int]:
    """``key[:] value [unit]`` lines into a dict of integers (only ``wanted`` keys if given)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        words = line.split(None, 2)
        if len(words) < 2:
            if words:
                files.malformed(module, line)
            continue
        key = words[0].rstrip(":")
        if wanted is not None and key not in wanted:
            continue
        try:
            out[key] = int(words[1])
        except ValueError:
            files.malformed(module, line)
    return out


VMSTAT_KEYS = frozenset(("pswpin", "pswpout", "pgpgin", "pgpgout", "pgfault", "pgmajfault", "oom_kill"))


class MemInfo:
    """Source of ``/proc/meminfo``."""

    name = MEMINFO

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("meminfo")
        if text is None:
            return None
        m = _parse_keyed(text, files, MEMINFO)
        g = m.get
        samples: list[Sample] = []
        if "MemTotal" in m and "MemFree" in m:
            cached = g("Cached", 0) + g("SReclaimable", 0) - g("Shmem", 0)
            buffers = g("Buffers", 0)
            used = m["MemTotal"] - m["MemFree"] - cached - buffers
            samples.append(Sample(RAM, ("free", "used", "cached", "buffers"), (m["MemFree"], used, cached, buffers), MIB))
        if "MemAvailable" in m:
            samples.append(Sample(AVAILABLE, ("avail",), (m["MemAvailable"],), MIB))
        if "SwapTotal" in m and "SwapFree" in m:
            samples.append(Sample(SWAP, ("free", "used"), (m["SwapFree"], m["SwapTotal"] - m["SwapFree"]), MIB))
        if "HardwareCorrupted" in m:
            samples.append(Sample(HWCORRUPT, ("HardwareCorrupted",), (m["HardwareCorrupted"],), MIB))
        if "Committed_AS" in m:
            samples.append(Sample(COMMITTED, ("Committed_AS",), (m["Committed_AS"],), MIB))
        writeback = ("Dirty", "Writeback", "FuseWriteback", "NfsWriteback", "Bounce")
        samples.append(Sample(WRITEBACK, writeback, tuple(g(k, 0) for k in writeback), MIB))
        kernel = ("Slab", "KernelStack", "PageTables", "VmallocUsed") + (("Percpu",) if "Percpu" in m else ())
        samples.append(Sample(KERNEL, kernel, tuple(g(k, 0) for k in kernel), MIB))
        samples.append(Sample(SLAB, ("reclaimable", "unreclaimable"), (g("SReclaimable", 0), g("SUnreclaim", 0)), MIB))
        if "HugePages_Total" in m:
            size_kb = g("Hugepagesize", 0)
            total, free, rsvd, surp = g("HugePages_Total", 0), g("HugePages_Free", 0), g("HugePages_Rsvd", 0), g("HugePages_Surp", 0)
            raw = (free, total - free - rsvd, surp, rsvd)
            samples.append(Sample(HUGEPAGES, ("free", "used", "surplus", "reserved"), raw, size_kb * MIB, gate=total != 0))
        if "AnonHugePages" in m or "ShmemHugePages" in m:
            samples.append(Sample(THP, ("anonymous", "shmem"), (g("AnonHugePages", 0), g("ShmemHugePages", 0)), MIB))
        return samples


class VmStat:
    """Source of ``/proc/vmstat``."""

    name = VMSTAT

    def __init__(self) -> None:
        self._page_kib = resource.getpagesize() / 1024.0

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("vmstat")
        if text is None:
            return None
        v = _parse_keyed(text, files, VMSTAT, VMSTAT_KEYS)
        g = v.get
        samples: list[Sample] = []
        if "pswpin" in v or "pswpout" in v:
            page = self._page_kib
            samples.append(Sample(SWAPIO, ("in", "out"), (g("pswpin", 0), g("pswpout", 0)), (page, -page)))
        if "pgpgin" in v or "pgpgout" in v:
            samples.append(Sample(PGPGIO, ("in", "out"), (g("pgpgin", 0), g("pgpgout", 0)), (1.0, -1.0)))
        if "pgfault" in v or "pgmajfault" in v:
            samples.append(Sample(PGFAULTS, ("minor", "major"), (g("pgfault", 0), g("pgmajfault", 0)), (1.0, -1.0)))
        if "oom_kill" in v:
            samples.append(Sample(OOM_KILL, ("kills",), (v["oom_kill"],)))
        return samples
