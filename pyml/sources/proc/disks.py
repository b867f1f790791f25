"""``/proc/diskstats``: per-disk I/O and the system-wide ``system.io``.

Charts per disk ``<dev>`` (Netdata ``proc_diskstats.c``; each appears once its
numbers are not all zero, as with Netdata's ``auto`` defaults):

* ``disk.<dev>`` (reads, writes; KiB/s), ``disk_ops.<dev>`` (reads, writes;
  operations/s), ``disk_qops.<dev>`` (operations in flight),
  ``disk_backlog.<dev>`` (backlog; milliseconds), ``disk_busy.<dev>`` (busy;
  milliseconds), ``disk_util.<dev>`` (utilization; % of time working),
  ``disk_mops.<dev>`` (merged operations/s), ``disk_iotime.<dev>``
  (milliseconds/s), ``disk_await.<dev>``, ``disk_avgsz.<dev>``,
  ``disk_svctm.<dev>`` (per-operation averages over the last interval);
* on kernels with discard/flush statistics also ``disk_ext.<dev>``,
  ``disk_ext_ops.<dev>``, ``disk_ext_mops.<dev>``, ``disk_ext_iotime.<dev>``,
  ``disk_ext_await.<dev>``, ``disk_ext_avgsz.<dev>``;
* ``system.io`` (in, out; KiB/s) sums the physical disks.

Disks matching ``exclude_disks`` (default ``loop* ram*``) and partitions get no
charts, as in Netdata. A disk's type comes from ``/sys`` (``/sys/block/<dev>``
= physical, ``/sys/dev/block/<major>:<minor>/partition`` = partition,
``/sys/devices/virtual/block/<dev>`` or ``slaves/`` = virtual); its chart name
uses its device-mapper name when it has one; its family is its mount point.
Sectors are 512 bytes (the kernel's unit in this file, whatever the hardware).
"""

from __future__ import annotations

import math
import re

from ._files import Files
from ._model import ABSOLUTE, INCREMENTAL, ChartDef, Sample

MODULE = "/proc/diskstats"
SECTOR_KIB = 512.0 / 1024.0

PHYSICAL, PARTITION, VIRTUAL, UNKNOWN = "physical", "partition", "virtual", "unknown"

SYSTEM_IO = ChartDef("system.io", "Disk I/O", "KiB/s", "disk", "system.io", "area", 150, INCREMENTAL, MODULE)

# kind -> (title, units, context, chart_type, priority, algorithm)
_KINDS: dict[str, tuple[str, str, str, str, int, str]] = {
    "disk": ("Disk I/O Bandwidth", "KiB/s", "disk.io", "area", 2000, INCREMENTAL),
    "disk_ext": ("Amount of Discarded Data", "KiB/s", "disk_ext.io", "area", 2001, INCREMENTAL),
    "disk_ops": ("Disk Completed I/O Operations", "operations/s", "disk.ops", "line", 2010, INCREMENTAL),
    "disk_ext_ops": ("Disk Completed Extended I/O Operations", "operations/s", "disk_ext.ops", "line", 2011, INCREMENTAL),
    "disk_qops": ("Disk Current I/O Operations", "operations", "disk.qops", "line", 2015, ABSOLUTE),
    "disk_backlog": ("Disk Backlog", "milliseconds", "disk.backlog", "area", 2020, INCREMENTAL),
    "disk_busy": ("Disk Busy Time", "milliseconds", "disk.busy", "area", 2030, INCREMENTAL),
    "disk_util": ("Disk Utilization Time", "% of time working", "disk.util", "area", 2040, ABSOLUTE),
    "disk_await": ("Average Completed I/O Operation Time", "milliseconds/operation", "disk.await", "line", 2050, ABSOLUTE),
    "disk_ext_await": ("Average Completed Extended I/O Operation Time", "milliseconds/operation", "disk_ext.await", "line", 2051, ABSOLUTE),
    "disk_avgsz": ("Average Completed I/O Operation Bandwidth", "KiB/operation", "disk.avgsz", "area", 2060, ABSOLUTE),
    "disk_ext_avgsz": ("Average Amount of Discarded Data", "KiB/operation", "disk_ext.avgsz", "area", 2060, ABSOLUTE),
    "disk_svctm": ("Average Service Time", "milliseconds/operation", "disk.svctm", "line", 2070, ABSOLUTE),
    "disk_mops": ("Disk Merged Operations", "merged operations/s", "disk.mops", "line", 2080, INCREMENTAL),
    "disk_ext_mops": ("Disk Merged Discard Operations", "merged operations/s", "disk_ext.mops", "line", 2081, INCREMENTAL),
    "disk_iotime": ("Disk Total I/O Time", "milliseconds/s", "disk.iotime", "line", 2090, INCREMENTAL),
    "disk_ext_iotime": ("Disk Total I/O Time for Extended Operations", "milliseconds/s", "disk_ext.iotime", "line", 2091, INCREMENTAL),
}

# Field positions after "major minor name" in /proc/diskstats.
(READS, MREADS, RSECT, RMS, WRITES, MWRITES, WSECT, WMS, QUEUED, BUSY, BACKLOG,
 DISCARDS, MDISCARDS, DSECT, DMS, FLUSHES, FMS) = range(17)

_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape_mount(path: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), path)


def _ratio(num: float, den: float) -> float:
    """Netdata's per-operation average: 0 when nothing was completed."""
    if math.isnan(num) or math.isnan(den):
        return math.nan
    return num / den if den else 0.0


class _Disk:
    """What is known about one block device (internal)."""

    __slots__ = ("charts", "device", "enabled", "kind", "prev", "seen")

    def __init__(self, device: str, name: str, family: str, kind: str, enabled: bool) -> None:
        self.device = device
        self.kind = kind
        self.enabled = enabled
        self.prev: tuple[int, float, list[int]] | None = None  # (epoch, clock, fields)
        self.seen: dict[str, bool] = {}
        self.charts: dict[str, ChartDef] = {}
        for kind_id, (title, units, context, chart_type, priority, algorithm) in _KINDS.items():
            self.charts[kind_id] = ChartDef(
                f"{kind_id}.{device}", title, units, family, context, chart_type, priority, algorithm,
                MODULE, name=f"{kind_id}.{name}", auto=False,
            )

    def sticky(self, key: str, condition: bool) -> bool:
        """Netdata's ``auto``: true from the first time ``condition`` holds."""
        if condition:
            self.seen[key] = True
        return self.seen.get(key, False)


class DiskStats:
    """Source of ``/proc/diskstats``."""

    name = MODULE

    def __init__(self, exclude: re.Pattern[str]) -> None:
        self._exclude = exclude
        self._disks: dict[tuple[int, int, str], _Disk] = {}
        self._physical: frozenset[tuple[int, int, str]] | None = None  # the disks summed in system.io last time

    # -- discovery -----------------------------------------------------------

    def _kind(self, files: Files, major: int, minor: int, device: str) -> str:
        sys_name = device.replace("/", "!")
        kind = PHYSICAL if files.sys_exists(f"block/{sys_name}") else UNKNOWN
        if files.sys_exists(f"dev/block/{major}:{minor}/partition"):
            return PARTITION
        if files.sys_exists(f"devices/virtual/block/{sys_name}") or files.sys_listdir(f"dev/block/{major}:{minor}/slaves"):
            return VIRTUAL
        return kind

    def _mount_points(self, files: Files) -> dict[str, str]:
        text = files.proc("self/mountinfo")
        points: dict[str, str] = {}
        for line in (text or "").splitlines():
            words = line.split()
            if len(words) >= 5 and words[2] not in points:
                points[words[2]] = _unescape_mount(words[4])
        return points

    def _new_disk(self, files: Files, major: int, minor: int, device: str, mounts: dict[str, str]) -> _Disk:
        sys_name = device.replace("/", "!")
        name = files.sys(f"block/{sys_name}/dm/name") or device
        kind = self._kind(files, major, minor, device)
        excluded = bool(self._exclude.match(device) or self._exclude.match(name))
        family = mounts.get(f"{major}:{minor}", name)
        return _Disk(device, name, family, kind, enabled=not excluded and kind != PARTITION)

    # -- collection ----------------------------------------------------------

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("diskstats")
        if text is None:
            self._disks.clear()
            self._physical = None
            return None
        samples: list[Sample] = []
        present: dict[tuple[int, int, str], _Disk] = {}
        mounts: dict[str, str] | None = None
        system_read = system_write = 0
        physical = []
        for line in text.splitlines():
            words = line.split()
            if len(words) < 14:
                if words:
                    files.malformed(MODULE, line)
                continue
            try:
                major, minor = int(words[0]), int(words[1])
                f = [int(w) for w in words[3:20]]
            except ValueError:
                files.malformed(MODULE, line)
                continue
            device = words[2]
            key = (major, minor, device)
            disk = self._disks.get(key)
            if disk is None:
                if mounts is None:
                    mounts = self._mount_points(files)
                disk = self._new_disk(files, major, minor, device, mounts)
            present[key] = disk
            if disk.kind == PHYSICAL:
                physical.append(key)
                system_read += f[RSECT]
                system_write += f[WSECT]
            if disk.enabled:
                samples.extend(self._disk_samples(disk, f, files.epoch, clock))
        self._disks = present
        # A disk that comes or goes is not I/O: restart the sum's rates then.
        members = frozenset(physical)
        restart = self._physical is not None and members != self._physical
        self._physical = members
        samples.append(Sample(SYSTEM_IO, ("in", "out"), (system_read, system_write), (SECTOR_KIB, -SECTOR_KIB),
                              restart=restart))
        return samples

    def _disk_samples(self, disk: _Disk, f: list[int], epoch: int, clock: float) -> list[Sample]:
        has_discards = len(f) > DISCARDS
        has_flushes = len(f) > FLUSHES
        f = f + [0] * (17 - len(f))
        c = disk.charts
        s = disk.sticky
        out: list[Sample] = []

        def ext(discards: float, flushes: float) -> tuple[tuple[str, ...], tuple[float, ...]]:
            """The discard dimension, and the flush one when the kernel counts flushes."""
            if has_flushes:
                return ("discards", "flushes"), (discards, flushes)
            return ("discards",), (discards,)

        io = s("io", bool(f[RSECT] or f[WSECT] or f[DSECT]))
        ops = s("ops", bool(f[READS] or f[WRITES] or f[DISCARDS] or f[FLUSHES]))
        qops = s("qops", bool(f[QUEUED]))
        backlog = s("backlog", bool(f[BACKLOG]))
        busy = s("busy", bool(f[BUSY]))
        mops = s("mops", bool(f[MREADS] or f[MWRITES] or f[MDISCARDS]))
        iotime = s("iotime", bool(f[RMS] or f[WMS] or f[DMS] or f[FMS]))

        if io:
            out.append(Sample(c["disk"], ("reads", "writes"), (f[RSECT], f[WSECT]), (SECTOR_KIB, -SECTOR_KIB), True))
            if has_discards:
                out.append(Sample(c["disk_ext"], ("discards",), (f[DSECT],), SECTOR_KIB, True))
        if ops:
            out.append(Sample(c["disk_ops"], ("reads", "writes"), (f[READS], f[WRITES]), (1.0, -1.0), True))
            if has_discards:
                out.append(Sample(c["disk_ext_ops"], *ext(f[DISCARDS], f[FLUSHES]), 1.0, True))
        if qops:
            out.append(Sample(c["disk_qops"], ("operations",), (f[QUEUED],), 1.0, True))
        if backlog:
            out.append(Sample(c["disk_backlog"], ("backlog",), (f[BACKLOG],), 1.0, True))

        # Per-interval figures computed here from the previous numbers of this disk.
        prev = disk.prev
        disk.prev = (epoch, clock, f)
        if prev is not None and prev[0] == epoch and clock > prev[1]:
            elapsed = clock - prev[1]
            d = [float(a - b) if a >= b else math.nan for a, b in zip(f, prev[2])]
        else:
            elapsed = math.nan
            d = [math.nan] * 17

        if busy:
            out.append(Sample(c["disk_busy"], ("busy",), (f[BUSY],), 1.0, True))
            util = min(100.0, d[BUSY] / (10.0 * elapsed)) if not math.isnan(d[BUSY] + elapsed) else math.nan
            out.append(Sample(c["disk_util"], ("utilization",), (util,), 1.0, True))
        if mops:
            out.append(Sample(c["disk_mops"], ("reads", "writes"), (f[MREADS], f[MWRITES]), (1.0, -1.0), True))
            if has_discards:
                out.append(Sample(c["disk_ext_mops"], ("discards",), (f[MDISCARDS],), 1.0, True))
        if iotime:
            out.append(Sample(c["disk_iotime"], ("reads", "writes"), (f[RMS], f[WMS]), (1.0, -1.0), True))
            if has_discards:
                out.append(Sample(c["disk_ext_iotime"], *ext(f[DMS], f[FMS]), 1.0, True))
        if iotime and ops:
            await_ = (_ratio(d[RMS], d[READS]), _ratio(d[WMS], d[WRITES]))
            out.append(Sample(c["disk_await"], ("reads", "writes"), await_, (1.0, -1.0), True))
            if has_discards:
                ext_await = ext(_ratio(d[DMS], d[DISCARDS]), _ratio(d[FMS], d[FLUSHES]))
                out.append(Sample(c["disk_ext_await"], *ext_await, 1.0, True))
        if io and ops:
            avgsz = (_ratio(d[RSECT], d[READS]), _ratio(d[WSECT], d[WRITES]))
            out.append(Sample(c["disk_avgsz"], ("reads", "writes"), avgsz, (SECTOR_KIB, -SECTOR_KIB), True))
            if has_discards:
                out.append(Sample(c["disk_ext_avgsz"], ("discards",), (_ratio(d[DSECT], d[DISCARDS]),), SECTOR_KIB, True))
        if busy and ops:
            out.append(Sample(c["disk_svctm"], ("svctm",), (_ratio(d[BUSY], d[READS] + d[WRITES]),), 1.0, True))
        return out
