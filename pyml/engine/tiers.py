"""Rollup tiers: per-minute and per-hour points beside the per-second sample store.

What a tier point holds
-----------------------
Netdata's tier point (SPEC-NETDATA-2 §8.2), 16 bytes: ``sum``, ``min``, ``max``
as float32, the number of existing samples ``count`` and of anomalous ones
``anomaly_count`` as uint16. Tier ``i`` groups ``grouping`` tier-0 ticks: point
``p`` covers the ticks ``k`` with ``(p - 1) * grouping < k <= p * grouping``
and is stamped with its end, ``p * grouping * update_every`` seconds, so a
tier reads like a chart whose ``update_every`` is ``grouping * update_every``
and whose row ``(stamp - width, stamp]`` holds whole points. Gaps are not
aggregated; a point without samples has ``count = 0`` and NaN ``min``/``max``.
Counts are integers, so anomaly rates (``anomaly_count / count``) are exact
at every resolution.

How points are made (the per-tick cost)
---------------------------------------
Tier 1 accumulates every tick in one compiled pass over the slots
(``_core.accumulate_tier_point``, ``csrc/pyml/tier_point.hpp``): the collected
values (as Netdata feeds its tiers: the value given to tier 0, NaN = gap) go
into ``sum``/``min``/``max``/``count``; the anomaly bits come from the
storage words. Values beyond the storage word's range are
saturated as tier 0 stores them (found by the point's min/max when it closes;
those few slots are recomputed from tier 0's words). When a tick falls in a
later interval the open point is closed: rounded to the 16-byte point,
written, and fed to tier 2, so tier 2 costs nothing per tick: it accumulates
tier-1 points (``grouping`` of tier 2 is a multiple of tier 1's). A read of
points not closed yet folds the open points of the tiers below into them (a
copy; nothing changes), so every stored tick is in a point of every tier.

Layout and integrity (the approach of the sample store)
-------------------------------------------------------
Points are written time-major: a closed point of every slot is one *record*
(a header with the point index, the first tick it aggregates and the width,
a CRC-32 of the header, a CRC-32 per chunk of ``CHUNK_SLOTS`` slots, then the
points), appended with one ``pwrite`` to a *segment file* after reserving the
space with ``posix_fallocate``. Nothing is written through a memory map; reads
map segments read-only. A segment holds records of one width (a capacity
change starts a new segment) for ``segment_points`` points, is never written
again by a later process, and is deleted once all its points are older than
the tier's retention. Record headers are checked at opening; a chunk's CRC the
first time a read touches it. A torn or damaged record is reported by path,
its bytes copied to ``<dir>/quarantine/``, and read as empty points; the rest
stays readable. A full disk is an ``OSError`` at ``fallocate``: the record is
kept in memory (served to reads), logged once, and written when space returns.

Crash safety: tiers are derived data. A process killed at any moment leaves
every record it completed; at opening, each tier's open point is rebuilt from
the level below (tier 1 from tier 0's words through the ``reader`` the host
gives, tier 2 from tier-1 records), and points that were due but not written
are made then. So tiers lose nothing the sample store kept, and a store
without tiers is backfilled as far back as it reaches. Recovered points
aggregate tier 0's stored values (what queries show); live ones the collected
values: the two differ by the storage word's rounding, below float32's.

A slot handed to a new dimension is cleared in O(1): its accumulators are
reset and the first tick that belongs to it is recorded (a small
append-only journal, ``slots.log``); older points of the slot read as empty.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import _core, core

__all__ = ["POINT", "TierSpec", "DEFAULT_TIERS", "Tiers", "TierError", "CHUNK_SLOTS", "tier_bytes", "store_reader"]

log = logging.getLogger("pyml.tiers")

#: A tier point: Netdata's 16-byte layout.
POINT = np.dtype([("sum", "<f4"), ("min", "<f4"), ("max", "<f4"), ("count", "<u2"), ("anomaly_count", "<u2")])
#: Slots per checksummed chunk of a record (4 KiB of points).
CHUNK_SLOTS = 256

_NO_TICK = -(2**62)
#: The largest magnitude a storage word holds; tier 0 saturates beyond it.
_SATURATED = float(core.unpack(core.pack(np.array([np.inf])))[0][0])

_FILE_MAGIC = b"PYMLTSG1"
_FILE = struct.Struct("<8sIIIIq")          # magic, tier, grouping, update_every, width, sequence
_FILE_HEADER = 64                          # the struct, its CRC-32, padding
_REC_MAGIC = b"PYMLTPR1"
_REC = struct.Struct("<8sqqII")            # magic, point index, first tick aggregated, width, chunks
_REC_FIXED = _REC.size + 8                 # + CRC-32 of the struct + 4 bytes padding
_SEGMENT_RE = re.compile(r"^seg-(\d{8})\.tpt$")
_JOURNAL_MAGIC = b"PYMLTSJ1"
_JOURNAL_ENTRY = struct.Struct("<qqI")     # slot, first tick of its dimension, CRC-32 of the two
_JOURNAL_SIZE = _JOURNAL_ENTRY.size + 4    # padded to 24 bytes
_CONFIG_FILE = "tiers.json"
_QUARANTINE = "quarantine"
_RETRY_SECONDS = 5.0


class TierError(RuntimeError):
    """A tier directory that cannot be used (foreign files, or made with other settings)."""


@dataclass(frozen=True)
class TierSpec:
    """One rollup tier: ``grouping`` tier-0 ticks per point, ``points`` points kept."""

    grouping: int
    points: int

    def __post_init__(self) -> None:
        for name in ("grouping", "points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"TierSpec {name} must be a positive integer, got {value!r}")
        if self.grouping > np.iinfo(np.uint16).max:
            raise ValueError(f"TierSpec grouping {self.grouping} is above 65535 (a point counts samples in 16 bits)")


#: Netdata's defaults sized for pyml: per minute for 14 days, per hour for a year.
DEFAULT_TIERS: tuple[TierSpec, ...] = (TierSpec(60, 14 * 24 * 60), TierSpec(3600, 366 * 24))


def tier_bytes(specs: Sequence[TierSpec], dimensions: int) -> int:
    """Bytes the tiers' points take on disk at full retention for ``dimensions`` slots
    (16 bytes per point, record headers and chunk checksums included)."""
    total = 0
    for spec in specs:
        total += spec.points * _record_size(int(dimensions))
    return total


def store_reader(store: object) -> Callable[[np.ndarray, float, float], tuple[np.ndarray, np.ndarray]]:
    """A ``reader`` over a :class:`pyml.engine.storage.SampleStore` for :class:`Tiers`: slots
    beyond the store's capacity read as empty words."""

    def read(slots: np.ndarray, after: float, before: float) -> tuple[np.ndarray, np.ndarray]:
        slots = np.asarray(slots, dtype=np.int64)
        capacity = store.capacity  # type: ignore[attr-defined]
        inside = slots < capacity
        times, words = store.read(slots[inside], after, before)  # type: ignore[attr-defined]
        if inside.all():
            return times, words
        out = np.zeros((slots.size, times.size), dtype=np.uint32)
        out[inside] = words
        return times, out

    return read


def _record_size(width: int) -> int:
    chunks = -(-width // CHUNK_SLOTS)
    head = _REC_FIXED + 4 * chunks
    head += -head % 16
    return head + POINT.itemsize * width


def _empty_row(width: int) -> np.ndarray:
    row = np.zeros(width, dtype=POINT)
    row["min"] = np.nan
    row["max"] = np.nan
    return row


# ---------------------------------------------------------------------- accumulators


class _Open:
    """The open point of one tier: float64 accumulators over every slot."""

    def __init__(self, width: int) -> None:
        self.p: int | None = None          # index of the open point
        self.first_k: int | None = None    # first tick aggregated into it
        self.sum = np.zeros(width)
        self.min = np.full(width, np.nan)
        self.max = np.full(width, np.nan)
        # a point counts at most ``grouping`` <= 65535 samples; same-type adds keep the tick vectorised
        self.count = np.zeros(width, dtype=np.uint16)
        self.normal = np.zeros(width, dtype=np.uint32)  # tier 1: samples whose word says "not anomalous"
        self.anomalous = np.zeros(width, dtype=np.int64)  # higher tiers: anomalous samples

    @property
    def width(self) -> int:
        return int(self.sum.size)

    def grow(self, width: int) -> None:
        old = self.width
        if width <= old:
            return
        for name, fill in (("sum", 0.0), ("min", np.nan), ("max", np.nan), ("count", 0), ("normal", 0),
                           ("anomalous", 0)):
            array = getattr(self, name)
            grown = np.full(width, fill, dtype=array.dtype)
            grown[:old] = array
            setattr(self, name, grown)

    def reset(self, slots: slice | np.ndarray | int = slice(None)) -> None:
        self.sum[slots] = 0.0
        self.min[slots] = np.nan
        self.max[slots] = np.nan
        self.count[slots] = 0
        self.normal[slots] = 0
        self.anomalous[slots] = 0

    def row(self, anomaly_from_bits: bool) -> np.ndarray:
        """The open point as 16-byte points (not reset)."""
        row = np.empty(self.width, dtype=POINT)
        row["sum"] = self.sum
        row["min"] = self.min
        row["max"] = self.max
        row["count"] = self.count
        if anomaly_from_bits:
            row["anomaly_count"] = np.maximum(self.count.astype(np.int64) - self.normal, 0)
        else:
            row["anomaly_count"] = self.anomalous
        return row


def _add_point(acc: _Open, row: np.ndarray) -> None:
    """Add a closed point of the tier below (16-byte points, no wider than ``acc``) to ``acc``."""
    n = row.size
    counts = row["count"]
    np.add(acc.sum[:n], np.where(counts > 0, row["sum"], 0.0), out=acc.sum[:n])
    np.fmin(acc.min[:n], row["min"], out=acc.min[:n])
    np.fmax(acc.max[:n], row["max"], out=acc.max[:n])
    np.add(acc.count[:n], counts, out=acc.count[:n])
    acc.anomalous[:n] += row["anomaly_count"]


# ---------------------------------------------------------------------- point logs (one per tier)


class _Segment:
    """Records of one width: a file (read through a read-only map) or an in-memory array."""

    def __init__(self, width: int, capacity: int, path: Path | None = None, fd: int | None = None,
                 first_offset: int = _FILE_HEADER) -> None:
        self.width = width
        self.capacity = capacity                       # records it may hold
        self.path = path
        self.fd = fd                                   # open for appending (this process's segment) or None
        self.record_size = _record_size(width)
        self.chunks = -(-width // CHUNK_SLOTS)
        self.first_offset = first_offset
        self._n = 0
        self._ps = np.zeros(16, dtype=np.int64)            # point index of each record
        self._first_ks = np.zeros(16, dtype=np.int64)      # first tick each aggregated
        self._bad = np.zeros((16, self.chunks), dtype=bool)      # chunks found damaged
        self._checked = np.zeros((16, self.chunks), dtype=bool)  # chunks whose CRC was checked
        self.memory: np.ndarray | None = None if path is not None else np.zeros((capacity, width), dtype=POINT)
        self._map: np.ndarray | None = None

    @property
    def count(self) -> int:
        return self._n

    @property
    def ps(self) -> np.ndarray:
        return self._ps[: self._n]

    @property
    def first_ks(self) -> np.ndarray:
        return self._first_ks[: self._n]

    @property
    def bad(self) -> np.ndarray:
        return self._bad[: self._n]

    @property
    def checked(self) -> np.ndarray:
        return self._checked[: self._n]

    def full(self) -> bool:
        return self._n >= self.capacity

    def _add(self, p: int, first_k: int, checked: bool) -> None:
        n = self._n
        if n == self._ps.size:  # amortised doubling: a scan of many records stays linear
            self._ps = np.concatenate([self._ps, np.zeros(n, dtype=np.int64)])
            self._first_ks = np.concatenate([self._first_ks, np.zeros(n, dtype=np.int64)])
            self._bad = np.concatenate([self._bad, np.zeros((n, self.chunks), dtype=bool)])
            self._checked = np.concatenate([self._checked, np.zeros((n, self.chunks), dtype=bool)])
        self._ps[n], self._first_ks[n] = p, first_k
        self._bad[n] = False
        self._checked[n] = checked
        self._n = n + 1

    def truncate(self, n: int) -> None:
        """Forget the records from ``n`` on (a torn tail)."""
        self._n = min(self._n, n)
        self._map = None

    def offset_of(self, i: int) -> int:
        return self.first_offset + i * self.record_size

    def encode(self, p: int, first_k: int, row: np.ndarray) -> bytes:
        payload = row.tobytes()
        crcs = np.array([zlib.crc32(payload[c * CHUNK_SLOTS * 16:(c + 1) * CHUNK_SLOTS * 16])
                         for c in range(self.chunks)], dtype="<u4")
        head = _REC.pack(_REC_MAGIC, p, first_k, self.width, self.chunks)
        fixed = head + struct.pack("<II", zlib.crc32(head), 0)
        body = fixed + crcs.tobytes()
        body += b"\0" * (-len(body) % 16)
        return body + payload

    def append(self, p: int, first_k: int, row: np.ndarray) -> None:
        """Store one record; OSError (nothing recorded) when a file cannot take it."""
        i = self.count
        if self.memory is not None:
            self.memory[i] = row
            self._add(p, first_k, True)
            return
        assert self.fd is not None
        data = self.encode(p, first_k, row)
        offset = self.offset_of(i)
        os.posix_fallocate(self.fd, offset, len(data))
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written
        self._add(p, first_k, True)

    def points(self) -> np.ndarray:
        """(records, width) view of the points."""
        if self.memory is not None:
            return self.memory[: self.count]
        end = self.offset_of(self.count)
        if self._map is None or self._map.size < end:
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r") if end else np.zeros(0, np.uint8)
        head = self.record_size - POINT.itemsize * self.width
        return np.ndarray((self.count, self.width), dtype=POINT, buffer=self._map,
                          offset=self.first_offset + head, strides=(self.record_size, POINT.itemsize))

    def verify(self, rows: np.ndarray, chunk_ids: np.ndarray, on_damage: Callable[["_Segment", int, str], None]) -> None:
        """Check the CRCs of these chunks of these records (once each); mark damaged ones."""
        if self.memory is not None or rows.size == 0 or chunk_ids.size == 0:
            return
        todo = ~self.checked[np.ix_(rows, chunk_ids)]
        if not todo.any():
            return
        points = self.points()
        assert self._map is not None
        for ri, ci in zip(*np.nonzero(todo)):
            r, c = int(rows[ri]), int(chunk_ids[ci])
            stored = int.from_bytes(self._map[self.offset_of(r) + _REC_FIXED + 4 * c:
                                              self.offset_of(r) + _REC_FIXED + 4 * c + 4].tobytes(), "little")
            chunk = points[r, c * CHUNK_SLOTS:(c + 1) * CHUNK_SLOTS]
            if zlib.crc32(np.ascontiguousarray(chunk).tobytes()) != stored:
                self.bad[r, c] = True
                on_damage(self, r, f"checksum of slots {c * CHUNK_SLOTS}..{(c + 1) * CHUNK_SLOTS - 1} does not match")
            self.checked[r, c] = True

    def close(self) -> None:
        self._map = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _PointLog:
    """Closed points of one tier, oldest first, in segments; retention by whole points."""

    def __init__(self, tier: int, spec: TierSpec, update_every: int, directory: Path | None,
                 segment_points: int) -> None:
        self.tier = tier
        self.spec = spec
        self.update_every = update_every
        self.directory = directory
        self.segment_points = segment_points
        self.segments: list[_Segment] = []
        self.pending: list[tuple[int, int, np.ndarray]] = []   # (p, first_k, row) not yet on disk
        self.damage: list[str] = []
        self._failing_since: float | None = None
        self._retry_at = 0.0
        self._next_sequence = 1
        self._reported: set[tuple[str, int]] = set()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._open_files()

    # -------------------------------------------------------------- files

    def _open_files(self) -> None:
        assert self.directory is not None
        names = sorted(p.name for p in self.directory.iterdir() if _SEGMENT_RE.match(p.name))
        for name in names:
            seq = int(_SEGMENT_RE.match(name).group(1))  # type: ignore[union-attr]
            self._next_sequence = max(self._next_sequence, seq + 1)
            segment = self._scan(self.directory / name)
            if segment is not None and segment.count:
                self.segments.append(segment)
        # Points must increase across segments; a segment that goes back is another history: drop it.
        last = _NO_TICK
        kept = []
        for seg in self.segments:
            if seg.ps[0] <= last:
                self._report(seg.path, 0, f"its points start at {int(seg.ps[0])}, not after {last}; not used")
                continue
            kept.append(seg)
            last = int(seg.ps[-1])
        self.segments = kept

    def _scan(self, path: Path) -> _Segment | None:
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                head = f.read(_FILE_HEADER)
                if len(head) < _FILE.size + 4:
                    raise ValueError("shorter than its header")
                fields = _FILE.unpack_from(head)
                if fields[0] != _FILE_MAGIC or zlib.crc32(head[:_FILE.size]) != int.from_bytes(
                        head[_FILE.size:_FILE.size + 4], "little"):
                    raise ValueError("not a pyml tier segment (magic or header checksum)")
                _, tier, grouping, update_every, width, _ = fields
                if (tier, grouping, update_every) != (self.tier, self.spec.grouping, self.update_every):
                    raise ValueError(f"made for tier {tier}, grouping {grouping}, update_every {update_every}")
                segment = _Segment(width, 1 << 62, path=path)
                offset = _FILE_HEADER
                while offset + _REC_FIXED <= size:
                    f.seek(offset)
                    fixed = f.read(_REC_FIXED)
                    magic, p, first_k, rec_width, chunks = _REC.unpack_from(fixed)
                    crc = int.from_bytes(fixed[_REC.size:_REC.size + 4], "little")
                    if magic != _REC_MAGIC or crc != zlib.crc32(fixed[:_REC.size]) or rec_width != width or \
                            chunks != segment.chunks or (segment.count and p <= segment.ps[-1]):
                        self._report(path, offset, "record header damaged or out of order; the rest of the "
                                                   "segment is not used", length=size - offset)
                        break
                    if offset + segment.record_size > size:
                        self._report(path, offset, "record cut short (the process was stopped while writing it)",
                                     length=size - offset)
                        break
                    segment._add(p, first_k, False)
                    offset += segment.record_size
            # The newest record of each segment is the one a stopped process may have torn: check it now.
            if segment.count:
                last = segment.count - 1
                segment.verify(np.array([last]), np.arange(segment.chunks), self._on_damage)
                if segment.bad[last].any():
                    segment.truncate(last)
            return segment
        except (OSError, ValueError, struct.error) as exc:
            self._report(path, 0, f"unreadable ({exc}); not used", whole=True)
            return None

    def _on_damage(self, segment: _Segment, record: int, problem: str) -> None:
        assert segment.path is not None
        self._report(segment.path, segment.offset_of(record), problem, length=segment.record_size)

    def _report(self, path: Path | None, offset: int, problem: str, *, length: int = 0, whole: bool = False) -> None:
        if path is None or (str(path), offset) in self._reported:
            return
        self._reported.add((str(path), offset))
        message = f"{path}: {problem}" + (f" (bytes {offset}..{offset + length})" if length else "")
        self.damage.append(message)
        assert self.directory is not None
        target_dir = self.directory / _QUARANTINE
        try:
            target_dir.mkdir(exist_ok=True)
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            target = target_dir / f"{stamp}-{path.name}.at{offset}.bad"
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read(length) if length else (f.read() if whole else b"")
            target.write_bytes(data)
            log.error("%s; a copy is in %s", message, target)
        except OSError as exc:
            log.error("%s; could not copy it to %s: %s", message, target_dir, exc)

    def _new_segment(self, width: int) -> _Segment:
        if self.directory is None:
            return _Segment(width, min(self.segment_points, 256))
        path = self.directory / f"seg-{self._next_sequence:08d}.tpt"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            head = _FILE.pack(_FILE_MAGIC, self.tier, self.spec.grouping, self.update_every, width,
                              self._next_sequence)
            head += zlib.crc32(head).to_bytes(4, "little")
            head += b"\0" * (_FILE_HEADER - len(head))
            os.posix_fallocate(fd, 0, _FILE_HEADER)
            os.pwrite(fd, head, 0)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._next_sequence += 1
        return _Segment(width, self.segment_points, path=path, fd=fd)

    # -------------------------------------------------------------- writing

    @property
    def last_p(self) -> int | None:
        if self.pending:
            return self.pending[-1][0]
        for seg in reversed(self.segments):
            if seg.count:
                return int(seg.ps[-1])
        return None

    def append(self, p: int, first_k: int, row: np.ndarray) -> None:
        """Keep a closed point (written now, or kept in memory while the disk refuses it)."""
        self.pending.append((p, first_k, row))
        self._write_pending(force=False)
        self._drop_old()

    def _write_pending(self, force: bool) -> None:
        if not self.pending or (not force and self._failing_since is not None and time.monotonic() < self._retry_at):
            return
        while self.pending:
            p, first_k, row = self.pending[0]
            try:
                seg = self.segments[-1] if self.segments else None
                if seg is None or seg.width != row.size or seg.full() or \
                        (seg.memory is None and seg.fd is None):
                    seg = self._new_segment(row.size)
                    self.segments.append(seg)
                seg.append(p, first_k, row)
            except OSError as exc:
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                    log.error("tier %d points cannot be written to %s (%s); keeping them in memory and retrying",
                              self.tier, self.directory, exc)
                self._retry_at = time.monotonic() + _RETRY_SECONDS
                self._trim_pending()
                return
            self.pending.pop(0)
        if self._failing_since is not None:
            log.warning("tier %d points are written to %s again", self.tier, self.directory)
            self._failing_since = None

    def _trim_pending(self) -> None:
        excess = len(self.pending) - self.spec.points
        if excess > 0:
            del self.pending[:excess]

    def _drop_old(self) -> None:
        last = self.last_p
        if last is None:
            return
        oldest_kept = last - self.spec.points + 1
        while self.segments and self.segments[0].count and int(self.segments[0].ps[-1]) < oldest_kept \
                and len(self.segments) > 1:
            seg = self.segments.pop(0)
            seg.close()
            if seg.path is not None:
                try:
                    seg.path.unlink()
                except OSError as exc:
                    log.warning("could not delete expired tier segment %s: %s", seg.path, exc)

    def flush(self) -> None:
        self._write_pending(force=True)
        for seg in self.segments:
            if seg.fd is not None:
                try:
                    os.fsync(seg.fd)
                except OSError as exc:
                    log.warning("could not sync %s: %s", seg.path, exc)

    def close(self) -> None:
        self.flush()
        for seg in self.segments:
            seg.close()

    # -------------------------------------------------------------- reading

    def first_p(self) -> int | None:
        last = self.last_p
        if last is None:
            return None
        oldest_kept = last - self.spec.points + 1
        for seg in self.segments:
            if seg.count and seg.ps[-1] >= oldest_kept:
                return max(int(seg.ps[np.searchsorted(seg.ps, oldest_kept)]), oldest_kept)
        for p, _, _ in self.pending:
            if p >= oldest_kept:
                return p
        return None

    def first_k(self) -> int | None:
        """The first tick the oldest kept point aggregated."""
        first = self.first_p()
        if first is None:
            return None
        for seg in self.segments:
            i = int(np.searchsorted(seg.ps, first))
            if i < seg.count and seg.ps[i] == first:
                return int(seg.first_ks[i])
        for p, first_k, _ in self.pending:
            if p == first:
                return first_k
        return None

    def read(self, slots: np.ndarray, p0: int, p1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points of ``slots`` with index in ``[p0, p1]`` (kept ones only): ``(ps, first_ks, points)``,
        points (len(slots), n); slots beyond a record's width and damaged chunks read as empty."""
        first = self.first_p()
        if first is not None:
            p0 = max(p0, first)
        ps_out: list[np.ndarray] = []
        ks_out: list[np.ndarray] = []
        parts: list[np.ndarray] = []
        for seg in self.segments:
            if not seg.count or seg.ps[-1] < p0 or seg.ps[0] > p1:
                continue
            lo, hi = np.searchsorted(seg.ps, p0), np.searchsorted(seg.ps, p1, side="right")
            if hi <= lo:
                continue
            rows = np.arange(lo, hi)
            inside = slots < seg.width
            chunks = np.unique(slots[inside] // CHUNK_SLOTS)
            seg.verify(rows, chunks, self._on_damage)
            points = seg.points()
            block = np.empty((slots.size, rows.size), dtype=POINT)
            block[:] = _empty_row(1)[0]
            if inside.any():
                block[inside] = points[lo:hi][:, slots[inside]].T
                bad = seg.bad[lo:hi]
                if bad.any():
                    hit = bad[:, slots[inside] // CHUNK_SLOTS].T          # (inside slots, rows)
                    sub = block[inside]
                    sub[hit] = _empty_row(1)[0]
                    block[inside] = sub
            ps_out.append(seg.ps[lo:hi])
            ks_out.append(seg.first_ks[lo:hi])
            parts.append(block)
        pend = [(p, k, row) for p, k, row in self.pending if p0 <= p <= p1]
        if pend:
            block = np.empty((slots.size, len(pend)), dtype=POINT)
            block[:] = _empty_row(1)[0]
            for j, (_, _, row) in enumerate(pend):
                inside = slots < row.size
                block[inside, j] = row[slots[inside]]
            ps_out.append(np.array([p for p, _, _ in pend], dtype=np.int64))
            ks_out.append(np.array([k for _, k, _ in pend], dtype=np.int64))
            parts.append(block)
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((slots.size, 0), dtype=POINT)
        return np.concatenate(ps_out), np.concatenate(ks_out), np.concatenate(parts, axis=1)

    def disk_bytes(self) -> int:
        total = 0
        for seg in self.segments:
            if seg.path is not None:
                try:
                    total += seg.path.stat().st_blocks * 512
                except OSError:
                    pass
        return total


# ---------------------------------------------------------------------- the tiers of one host


class Tiers:
    """Rollup tiers of one host's slots, fed once per tick (see the module docstring).

    Parameters
    ----------
    update_every : int
        Seconds between tier-0 ticks.
    specs : sequence of TierSpec
        Tier 1, 2, ...: each ``grouping`` a multiple of the previous one's.
    capacity : int
        Initial slot columns (grows with :meth:`ensure_capacity`).
    directory : path, optional
        Keep the points in files there (created if missing); in memory otherwise.
    reader : callable, optional
        ``reader(slots, after, before) -> (times, words)`` over tier 0 (the
        sample store's ``read``): used to rebuild open points at opening,
        backfill, and saturated values.
    segment_points : sequence of int, optional
        Points per segment file of each tier (default: a day of tier 1, 30
        days of tier 2, or ``points`` if fewer).
    """

    def __init__(self, update_every: int, specs: Sequence[TierSpec] = DEFAULT_TIERS, *, capacity: int = 1024,
                 directory: str | os.PathLike[str] | None = None,
                 reader: Callable[[np.ndarray, float, float], tuple[np.ndarray, np.ndarray]] | None = None,
                 segment_points: Sequence[int] | None = None) -> None:
        if isinstance(update_every, bool) or not isinstance(update_every, (int, np.integer)) or update_every < 1:
            raise ValueError(f"update_every must be a positive integer, got {update_every!r}")
        self.update_every = int(update_every)
        self.specs = tuple(specs)
        for i, spec in enumerate(self.specs):
            if not isinstance(spec, TierSpec):
                raise TypeError(f"tier {i + 1} must be a TierSpec, got {spec!r}")
            if i and spec.grouping % self.specs[i - 1].grouping:
                raise ValueError(f"tier {i + 1} grouping {spec.grouping} is not a multiple of tier {i}'s "
                                 f"({self.specs[i - 1].grouping})")
        self._reader = reader
        # without rollup tiers nothing is kept, on disk or in memory
        self._directory = Path(directory) if directory is not None and self.specs else None
        width = max(1, int(capacity))
        if segment_points is None:
            segment_points = [min(s.points, 1440 if i == 0 else 720) for i, s in enumerate(self.specs)]
        if len(segment_points) != len(self.specs):
            raise ValueError(f"segment_points needs one entry per tier ({len(self.specs)}), got {segment_points!r}")
        if self._directory is not None:
            try:
                self._directory.mkdir(parents=True, exist_ok=True)
                self._check_config()
            except OSError as exc:  # a full disk or read-only mount at start-up: tiers are derived data
                log.error("cannot write the tier settings in %s (%s); keeping the tiers in memory for this run "
                          "(rebuilt from the samples at the next start)", self._directory, exc.strerror or exc)
                try:  # a half-written settings file would make the next start refuse the directory
                    (self._directory / (_CONFIG_FILE + ".tmp")).unlink()
                except OSError:
                    pass
                self._directory = None
        self._logs = [
            _PointLog(i + 1, spec, self.update_every,
                      None if self._directory is None else self._directory / f"tier-{i + 1}", int(seg))
            for i, (spec, seg) in enumerate(zip(self.specs, segment_points))
        ]
        self._open = [_Open(width) for _ in self.specs]
        self._born = np.full(width, _NO_TICK, dtype=np.int64)   # first tick of each slot's dimension
        self._journal_fd: int | None = None
        if self._directory is not None:
            self._open_journal()
        self._last_k: int | None = None
        self._recovered = not self.specs

    # -------------------------------------------------------------- configuration files

    def _check_config(self) -> None:
        assert self._directory is not None
        path = self._directory / _CONFIG_FILE
        wanted = {"format": "pyml-tiers", "version": 1, "update_every": self.update_every,
                  "groupings": [s.grouping for s in self.specs]}
        if path.exists():
            try:
                stored = json.loads(path.read_text(encoding="utf-8"))
                body = {k: v for k, v in stored.items() if k != "crc32"}
                if stored.get("crc32") != zlib.crc32(json.dumps(body, sort_keys=True).encode()):
                    raise ValueError("checksum mismatch")
            except (OSError, ValueError) as exc:
                raise TierError(f"tier settings {path} are unreadable or damaged ({exc}); not touching the tiers") \
                    from None
            if {k: stored.get(k) for k in wanted} != wanted:
                raise TierError(f"tiers in {self._directory} were made with update_every {stored.get('update_every')} "
                                f"and groupings {stored.get('groupings')}, not {self.update_every} and "
                                f"{wanted['groupings']}; remove that directory to rebuild them from the samples")
            return
        tmp = path.with_name(path.name + ".tmp")
        # A first start killed before the rename below leaves only the temporary file: it is rewritten.
        foreign = [p.name for p in self._directory.iterdir() if p.name not in (_QUARANTINE, tmp.name)]
        if foreign:
            raise TierError(f"{self._directory} holds {sorted(foreign)} but no {_CONFIG_FILE}; not touching them")
        body = dict(wanted)
        document = dict(body, crc32=zlib.crc32(json.dumps(body, sort_keys=True).encode()))
        tmp.write_text(json.dumps(document), encoding="utf-8")
        os.replace(tmp, path)

    def _open_journal(self) -> None:
        assert self._directory is not None
        path = self._directory / "slots.log"
        entries: dict[int, int] = {}
        if path.exists():
            data = path.read_bytes()
            if data[:8] != _JOURNAL_MAGIC:
                raise TierError(f"{path} is not a pyml slot journal; not touching the tiers")
            offset = 8
            while offset + _JOURNAL_SIZE <= len(data):
                slot, born, crc = _JOURNAL_ENTRY.unpack_from(data, offset)
                if crc != zlib.crc32(data[offset:offset + 16]) or slot < 0:
                    log.error("%s: entry at byte %d is damaged or cut short; later entries are not used", path, offset)
                    break
                entries[slot] = born
                offset += _JOURNAL_SIZE
        if entries:
            top = max(entries) + 1
            if top > self._born.size:
                self._grow(top)
            for slot, born in entries.items():
                self._born[slot] = born
        # Rewrite it compactly (atomically), then append to it.
        tmp = path.with_name("slots.log.tmp")
        blob = bytearray(_JOURNAL_MAGIC)
        for slot, born in sorted(entries.items()):
            blob += self._journal_entry(slot, born)
        try:
            with open(tmp, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            self._journal_fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:  # full disk or read-only mount: slot reuses of this run are not journaled
            log.error("cannot rewrite the tier slot journal %s (%s); slot reuses of this run are not recorded",
                      path, exc.strerror or exc)
            try:
                tmp.unlink()
            except OSError:
                pass

    @staticmethod
    def _journal_entry(slot: int, born: int) -> bytes:
        head = struct.pack("<qq", slot, born)
        return head + struct.pack("<II", zlib.crc32(head), 0)

    # -------------------------------------------------------------- properties

    @property
    def count(self) -> int:
        """Number of rollup tiers (tier 0, the sample store, not counted)."""
        return len(self.specs)

    @property
    def capacity(self) -> int:
        """Slot columns currently allocated."""
        return int(self._born.size)

    @property
    def min_history(self) -> int:
        """Tier-0 ticks the sample store must keep so an open tier-1 point can be rebuilt."""
        return self.specs[0].grouping + 1 if self.specs else 1

    def step(self, tier: int) -> int:
        """Seconds per point of ``tier`` (1-based; tier 0 is ``update_every``)."""
        self._check_tier(tier)
        return self.update_every * (self.specs[tier - 1].grouping if tier else 1)

    def _check_tier(self, tier: int) -> None:
        if isinstance(tier, bool) or not isinstance(tier, (int, np.integer)) or not 0 <= tier <= self.count:
            raise ValueError(f"tier {tier!r} does not exist; tiers are 0..{self.count}")

    def _check_rollup(self, tier: int) -> None:
        self._check_tier(tier)
        if tier == 0:
            raise ValueError("tier 0 is the sample store; ask the host about it")

    def first_time(self, tier: int) -> int | None:
        """First second of data the oldest kept point of ``tier`` aggregated (None if empty)."""
        self._check_rollup(tier)
        self._ensure_recovered()
        k = self._logs[tier - 1].first_k()
        if k is None:
            k = self._open[tier - 1].first_k
        return None if k is None else k * self.update_every

    def first_point(self, tier: int) -> int | None:
        """End time of the oldest kept point of ``tier``, or None."""
        self._check_rollup(tier)
        self._ensure_recovered()
        p = self._logs[tier - 1].first_p()
        return None if p is None else p * self.step(tier)

    def last_point(self, tier: int) -> int | None:
        """End time of the newest closed point of ``tier``, or None."""
        self._check_rollup(tier)
        self._ensure_recovered()
        p = self._logs[tier - 1].last_p
        return None if p is None else p * self.step(tier)

    @property
    def damage(self) -> list[str]:
        """Damaged records and files found so far (each also logged and copied to quarantine)."""
        return [d for lg in self._logs for d in lg.damage]

    def disk_bytes(self) -> int:
        """Bytes the tiers' segment files occupy on disk (0 in memory)."""
        return sum(lg.disk_bytes() for lg in self._logs)

    # -------------------------------------------------------------- slots

    def _grow(self, width: int) -> None:
        old = self._born.size
        born = np.full(width, _NO_TICK, dtype=np.int64)
        born[:old] = self._born
        self._born = born
        for acc in self._open:
            acc.grow(width)

    def ensure_capacity(self, slots: int) -> None:
        """Make room for at least ``slots`` slot columns."""
        if slots > self._born.size:
            self._grow(max(int(slots), 2 * self._born.size))

    def clear_slot(self, slot: int) -> None:
        """Forget ``slot``'s points (it now belongs to a new dimension). O(1)."""
        if not 0 <= slot < self.capacity:
            raise IndexError(f"slot {slot} is outside the tiers (capacity {self.capacity})")
        newest = [lg.last_p * spec.grouping for lg, spec in zip(self._logs, self.specs) if lg.last_p is not None]
        if self._last_k is not None:
            newest.append(self._last_k)
        born = max(newest) + 1 if newest else _NO_TICK
        if born == self._born[slot]:
            for acc in self._open:
                acc.reset(slot)
            return
        self._born[slot] = born
        for acc in self._open:
            acc.reset(slot)
        if self._journal_fd is not None:
            try:
                os.write(self._journal_fd, self._journal_entry(slot, born))
            except OSError as exc:
                log.error("could not record the reuse of slot %d in the tier journal: %s", slot, exc)

    # -------------------------------------------------------------- the per-tick path

    def append(self, t: float, values: np.ndarray, words: np.ndarray) -> None:
        """Feed one tier-0 tick: ``values`` (float64, NaN = gap) and ``words`` (uint32) by slot.

        The host calls this once per completed tick, after the sample store
        took the same words; ``t`` must increase.
        """
        k = int(t // self.update_every)
        self._ensure_recovered(until_k=k - 1)  # the store already holds tick k: it is fed below
        if not self.specs:
            return
        if self._last_k is not None and k <= self._last_k:
            raise ValueError(f"tick {t} is not after the last one fed to the tiers ({self._last_k * self.update_every})")
        n = words.size
        if n > self.capacity:
            self.ensure_capacity(n)
        self._accumulate(k, values[:n], words)
        self._last_k = k

    def _accumulate(self, k: int, values: np.ndarray, words: np.ndarray) -> None:
        acc = self._open[0]
        g = self.specs[0].grouping
        p = -(-k // g)
        if acc.p is not None and acc.p != p:
            self._close(0)
        if acc.p is None:
            acc.p, acc.first_k = p, k
        n = words.size
        # one compiled pass (csrc/pyml/tier_point.hpp): sum, min, max and count of the values that are not
        # NaN (inf - inf in a sum is saturated when the point closes), and the words that say "normal"
        _core.accumulate_tier_point(np.ascontiguousarray(values, dtype=np.float64),
                                    np.ascontiguousarray(words, dtype=np.uint32), acc.sum[:n], acc.min[:n],
                                    acc.max[:n], acc.count[:n], acc.normal[:n])

    def _close(self, i: int) -> None:
        """Write tier ``i``'s open point (0-based) and feed it to the tier above."""
        acc = self._open[i]
        assert acc.p is not None and acc.first_k is not None
        row = acc.row(anomaly_from_bits=(i == 0))
        if i == 0:
            self._saturate(acc, row)
        p, first_k = acc.p, acc.first_k
        self._logs[i].append(p, first_k, row)
        acc.reset()
        acc.p = acc.first_k = None
        if i + 1 < len(self.specs):
            self._feed(i + 1, p * self.specs[i].grouping, first_k, row)

    def _saturate(self, acc: _Open, row: np.ndarray) -> None:
        """Points whose samples went beyond the storage word's range: as tier 0 stored them."""
        with np.errstate(invalid="ignore"):
            over = np.flatnonzero((np.abs(acc.min) > _SATURATED) | (np.abs(acc.max) > _SATURATED) |
                                  ~np.isfinite(acc.sum))
        if over.size == 0:
            return
        g = self.specs[0].grouping
        assert acc.p is not None
        lo, hi = ((acc.p - 1) * g + 1) * self.update_every, acc.p * g * self.update_every
        if self._reader is not None:
            _, words = self._reader(over, lo, hi)
            values, _, exists = _core.unpack(np.ascontiguousarray(words).reshape(-1))
            values = np.where(exists, values, np.nan).reshape(words.shape)
            with np.errstate(invalid="ignore"), np.errstate(all="ignore"):
                row["sum"][over] = np.nansum(values, axis=1)
                row["min"][over] = np.nanmin(np.where(np.isnan(values), np.inf, values), axis=1)
                row["max"][over] = np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=1)
        else:
            row["min"][over] = np.clip(acc.min[over], -_SATURATED, _SATURATED)
            row["max"][over] = np.clip(acc.max[over], -_SATURATED, _SATURATED)
            row["sum"][over] = np.clip(np.nan_to_num(acc.sum[over]), -_SATURATED * acc.count[over],
                                       _SATURATED * acc.count[over])

    def _feed(self, i: int, end_k: int, first_k: int, row: np.ndarray) -> None:
        """Add a closed point of tier ``i - 1`` (ending at tick ``end_k``) to tier ``i``'s open point."""
        acc = self._open[i]
        g = self.specs[i].grouping
        p = -(-end_k // g)
        if acc.p is not None and acc.p != p:
            self._close(i)
        if acc.p is None:
            acc.p, acc.first_k = p, first_k
        else:
            acc.first_k = min(acc.first_k if acc.first_k is not None else first_k, first_k)
        if row.size > acc.width:
            self.ensure_capacity(row.size)
        _add_point(acc, row)

    def _open_points(self, i: int) -> list[tuple[int, int, np.ndarray]]:
        """Tier ``i``'s open points (0-based) as points, ``[(p, first tick, row), ...]`` oldest first.

        A point of the tier below is fed to this one when it closes, which is
        when a tick of a later point arrives; until then its ticks are folded
        in here, as the closing will do: into the open point, or into the
        next point when they belong there (which is then open too). So every
        stored tick is in a point of every tier, and a point whose last tick
        is stored reads whole before the next tick comes.
        """
        acc = self._open[i]
        if i == 0:
            return [] if acc.p is None else [(acc.p, acc.first_k if acc.first_k is not None else acc.p,
                                              acc.row(anomaly_from_bits=True))]
        below = self._open_points(i - 1)
        g_below, g = self.specs[i - 1].grouping, self.specs[i].grouping
        points: dict[int, tuple[int, _Open | None]] = {}
        if acc.p is not None:
            points[acc.p] = (acc.first_k if acc.first_k is not None else acc.p, None)
        for p_below, first_below, row in below:
            p = -(-(p_below * g_below) // g)
            first, folded = points.get(p, (first_below, None))
            if folded is None:  # a copy of the accumulator to fold into (the open point is not changed)
                folded = _Open(max(acc.width, row.size))
                if p == acc.p:
                    for name in ("sum", "min", "max", "count", "anomalous"):
                        getattr(folded, name)[: acc.width] = getattr(acc, name)
            folded.grow(row.size)
            _add_point(folded, row)
            points[p] = (min(first, first_below), folded)
        return [(p, first, (acc if folded is None else folded).row(anomaly_from_bits=False))
                for p, (first, folded) in sorted(points.items())]

    # -------------------------------------------------------------- rebuilding after a restart

    def _ensure_recovered(self, until_k: int | None = None) -> None:
        if self._recovered:
            return
        self._recovered = True
        # From the top: tier i's open point from tier i-1's points after tier i's last one; tier 1 from tier 0.
        for i in range(len(self.specs) - 1, -1, -1):
            last = self._logs[i].last_p
            after_k = last * self.specs[i].grouping if last is not None else None
            if i > 0:
                below = self._logs[i - 1]
                g_below = self.specs[i - 1].grouping
                p0 = (after_k // g_below + 1) if after_k is not None else -(2**61)
                top = below.last_p
                if top is None or top < p0:
                    continue
                ps, first_ks, points = below.read(np.arange(self.capacity), p0, top)
                for j in range(ps.size):
                    row = self._masked(points[:, j].copy(), int(ps[j]) * g_below)
                    self._feed(i, int(ps[j]) * g_below, int(first_ks[j]), row)
            else:
                self._replay_tier0(after_k, until_k)

    def _masked(self, row: np.ndarray, end_k: int) -> np.ndarray:
        old = self._born[: row.size] > end_k
        if old.any():
            row[old] = _empty_row(1)[0]
        return row

    def _replay_tier0(self, after_k: int | None, until_k: int | None) -> None:
        if self._reader is None:
            return
        slots = np.arange(self.capacity)
        start = (after_k + 1) * self.update_every if after_k is not None else 0
        end = until_k * self.update_every if until_k is not None else 2**62
        # Two tier-1 points at a time, so memory stays bounded (about 1.5 KB per slot).
        span = self.specs[0].grouping * self.update_every * 2
        probe_t, _ = self._reader(slots[:1], start, end)
        if probe_t.size == 0:
            return
        first, last = int(probe_t[0]), int(probe_t[-1])
        lo = first
        while lo <= last:
            hi = min(lo + span - 1, last)
            times, words = self._reader(slots, lo, hi)
            if times.size:
                values, _, exists = _core.unpack(np.ascontiguousarray(words).reshape(-1))
                values = np.where(exists, values, np.nan).reshape(words.shape)
                for j in range(times.size):
                    k = int(times[j]) // self.update_every
                    column = np.ascontiguousarray(words[:, j])
                    self._accumulate(k, np.ascontiguousarray(values[:, j]), column)
                    self._last_k = k
            lo = hi + 1

    # -------------------------------------------------------------- reading

    def read(self, tier: int, slots: Sequence[int] | np.ndarray, after: float, before: float, *,
             include_open: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points of ``slots`` of ``tier`` (1-based) whose end lies in ``[after, before]`` (seconds).

        Returns ``(ends, first_ticks, points)``: end times int64[n] oldest first, the
        first tick each point aggregated, and POINT ``(len(slots), n)``. With
        ``include_open``, the points not closed yet (partial: every stored tick
        they cover, the ticks of the open points of the tiers below included)
        are added when their end is in the range; there are two when the ticks
        below already reach into the next point. Points older than a slot's
        current dimension read as empty.
        """
        self._check_rollup(tier)
        self._ensure_recovered()
        slots = np.asarray(slots, dtype=np.int64).reshape(-1)
        if slots.size and (slots.min() < 0 or slots.max() >= self.capacity):
            raise IndexError(f"slot {int(slots.max())} is outside the tiers (capacity {self.capacity})")
        step = self.step(tier)
        p0 = int(-(-np.ceil(after) // step))
        p1 = int(np.floor(before) // step)
        lg = self._logs[tier - 1]
        ps, first_ks, points = lg.read(slots, p0, p1)
        for p_open, first_open, row in self._open_points(tier - 1) if include_open else []:
            if not (p0 <= p_open <= p1 and (lg.last_p is None or p_open > lg.last_p)):
                continue
            inside = slots < row.size
            column = np.empty((slots.size, 1), dtype=POINT)
            column[:] = _empty_row(1)[0]
            column[inside, 0] = row[slots[inside]]
            ps = np.append(ps, p_open)
            first_ks = np.append(first_ks, first_open)
            points = np.concatenate([points, column], axis=1)
        if points.size:
            g = self.specs[tier - 1].grouping
            old = self._born[slots][:, None] > (ps * g)[None, :]
            if old.any():
                points[old] = _empty_row(1)[0]
        return ps * step, first_ks, points

    # -------------------------------------------------------------- lifecycle

    def flush(self) -> None:
        """Write kept points to disk (retrying what a full disk refused) and sync the files."""
        for lg in self._logs:
            lg.flush()
        if self._journal_fd is not None:
            try:
                os.fsync(self._journal_fd)
            except OSError as exc:
                log.warning("could not sync the tier slot journal: %s", exc)

    def close(self) -> None:
        """Flush and release the files (the open points are rebuilt at the next opening)."""
        for lg in self._logs:
            lg.close()
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
