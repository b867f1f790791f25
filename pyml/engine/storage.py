"""The sample store: storage words per dimension slot, with their time index.

Layout
------
Times are tick numbers ``k = t // update_every``; ticks are grouped in
*blocks* of ``block`` consecutive ticks (block ``b`` holds ticks
``b*block .. b*block + block - 1``).

* **Rows** of the current block are kept time-major: one row per tick, one
  word per slot. A tick costs one contiguous row write. With a directory,
  each row is also written (``pwrite``) into a preallocated *staging file*
  with its tick number and checksums, so a process killed at any moment
  reopens with every tick it completed.
* When a tick of a later block arrives, the rows are transposed into one
  slot-major **block** (``width`` slots x ``block`` ticks, ``width`` being
  the widest row of that block) and, with a directory, appended as one
  record to an append-only **segment file**. A block never changes after
  that, so growth never copies anything: a block simply has as many slots
  as existed when it was written, and a slot beyond a block's width reads
  as empty. Blocks older than the retention (``readable_ticks``) are
  dropped; a segment file is deleted when all its blocks are. A training
  read is one contiguous run of ``block`` words per slot and block.
* A slot handed to a new dimension is *cleared* by recording the first tick
  that belongs to it (the **slot table**); older words of that slot are
  masked on reading. Clearing is O(1) and writes nothing to the samples.

Integrity
---------
Every slot's row of a block record, and every staging row, carries a
64-bit position-weighted checksum of its words (vectorised: about ten
times faster than zlib's CRC-32 here, and it detects any change of one word
and any reordering), and every record header a CRC-32 of itself (tick
numbers, width, the sum of the row checksums). The store's header
(``store.json``) and slot table (``slots.i64``) carry CRC-32s. Record
headers are checked at opening; a slot's row the first time a read touches
it, so a training read after a restart checks the rows it reads, not the
whole history. A damaged record, row or file is reported by path
(``SampleStore.damage``, one error line in the log), copied or moved into
``<dir>/quarantine/`` and read as empty ticks; everything else stays
readable. A segment is never written again after the process that wrote it
stopped (a restart starts a new one), so a torn record left by a killed
process is never overwritten either.

Killed processes
----------------
A SIGKILL keeps what was written (the page cache survives it), so what
matters is the order of the writes. A record's header is written after its
row checksums and words: it commits the record. A process killed before
that leaves zeros where the header goes, which the next opening takes for a
torn write (not damage); the block's ticks are recovered from the staging
file, whose rows are overwritten only by ticks of the next block, after the
record is complete. When the newest staged row belongs to a written block
(a kill between a record and the next row), that record is checked against
the staged rows at opening and rebuilt from them if it does not check out
(stores written header first can hold such a record). A staging file is
created with zeros and then its header; one that is still all zeros is
ignored (its predecessor, deleted only after the new file holds every row,
has the rows).

A write the kernel cuts short at a page boundary (the signal arrives while
it copies) is a torn write too, not damage: a record header whose CRC is
still zero at the end of a segment, and a staging row whose header checks
out but whose words do not when it is the newest row (the tick in flight)
or has an intact copy in another staging file. A row header is 32 bytes at
a multiple of 32 and is written with its words, so it is never cut itself.

Full disks
----------
Nothing is ever written through a writable memory map (a full disk there is
a SIGBUS). Space is reserved with ``posix_fallocate`` before each write, so
a full disk is an ``OSError`` that leaves files as they were. On the first
failure the store logs one line and keeps what it could not write in memory
(``max_unpersisted_bytes``, oldest dropped first beyond it, logged once); it
retries every few ticks and at :meth:`SampleStore.flush`, and logs one line
when everything is on disk again. Reads serve the unwritten data meanwhile.

Format version 1 (one ring file per capacity, written through memory maps)
is converted at opening (see :meth:`SampleStore._upgrade_v1`).
"""

from __future__ import annotations

import logging
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checked import DamagedFile, quarantine_bytes, quarantine_file, read_checked_json, write_atomic, \
    write_checked_json

__all__ = ["SampleStore", "StoreError", "StoreStatus", "words_checksum"]

log = logging.getLogger("pyml.storage")

_FORMAT = "pyml-sample-store"
_VERSION = 2
_NO_TICK = -(2**62)
_TRANSPOSE_CHUNK = 2048
_CHECK_CHUNK = 4096
_RETRY_TICKS = 8
_MASK64 = (1 << 64) - 1

_HEADER_FILE = "store.json"
_SLOTS_FILE = "slots.i64"
_SEGMENT_RE = re.compile(r"^seg-(\d{8})\.blk$")
_STAGING_RE = re.compile(r"^staging-(\d{8})\.rows$")

# Block record: magic, index, first_k, last_k, width, block, update_every, reserved, sum of the row
# checksums, then the CRC-32 of those 56 bytes and 4 bytes of padding; then one uint64 checksum per
# slot row (width of them), then the words (width x block uint32).
_RECORD_MAGIC = b"PYMLBLK2"
_RECORD = struct.Struct("<8sqqqIIIIQ")
_RECORD_HEADER = 64
# Staging file header: magic, alloc (words per row), block, CRC-32 of the first 16 bytes; rows follow.
_STAGING_MAGIC = b"PYMLSTG2"
_STAGING_FILE = struct.Struct("<8sII")
_STAGING_HEADER = 64
# Staging row: tick, width, CRC-32 of (tick, width, checksum), payload checksum; 32-byte row header.
_ROW = struct.Struct("<qIIQ")
_ROW_HEADER = 32
# Slot table: magic, count, CRC-32 of the payload, CRC-32 of these 16 bytes; int64 per slot follows.
_SLOTS_MAGIC = b"PYMLSLT2"
_SLOTS = struct.Struct("<8sqII")
_SLOTS_HEADER = 32

# Version 1 files.
_V1_MAGIC = 0x50594D4C53544F52
_V1_HEADER = "store-header.i64"

_MIX_COLUMNS = np.uint64(0x9E3779B97F4A7C15)
_MIX_ROWS = np.uint64(0xC2B2AE3D27D4EB4F)
_weight_cache: dict[str, np.ndarray] = {}
_FIRST_ROW_WEIGHT = int(_MIX_ROWS) | 1  # ``_weights("r", 1)[0]``: the weight of a block's first row


class StoreError(RuntimeError):
    """A store directory that cannot be used (foreign, corrupt or incompatible files)."""


def _weights(kind: str, n: int) -> np.ndarray:
    cached = _weight_cache.get(kind)
    if cached is None or cached.size < n:
        size = max(n, 1024, 0 if cached is None else 2 * cached.size)
        mix = _MIX_COLUMNS if kind == "c" else _MIX_ROWS
        cached = (np.arange(1, size + 1, dtype=np.uint64) * mix) | np.uint64(1)
        _weight_cache[kind] = cached
    return cached[:n]


def row_checksums(words: np.ndarray, first_row: int = 0) -> np.ndarray:
    """uint64 checksum of each row of a 2-D uint32 array: ``wr[i] * sum_j words[i, j] * wc[j]`` mod 2**64.

    ``first_row`` is the index of ``words[0]`` in its block (the row weight
    ``wr`` depends on it, so two rows swapped are detected).
    """
    rows, cols = words.shape
    wc = _weights("c", cols)
    wr = _weights("r", first_row + rows)[first_row:]
    out = np.empty(rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, rows, _CHECK_CHUNK):
            part = np.asarray(words[start:start + _CHECK_CHUNK]).astype(np.uint64) @ wc
            out[start:start + part.size] = part * wr[start:start + part.size]
    return out


def _sum64(values: np.ndarray) -> int:
    with np.errstate(over="ignore"):
        return int(np.add.reduce(values, dtype=np.uint64)) & _MASK64


def words_checksum(words: np.ndarray) -> int:
    """64-bit checksum of a 2-D uint32 array: ``sum_ij words[i, j] * wc[j] * wr[i]`` modulo 2**64.

    The weights are odd, so any change of a single word changes the sum; two
    words swapped change it unless they are equal.
    """
    rows, cols = words.shape
    if rows == 1:
        return _row_checksum(words[0])
    wc, wr = _weights("c", cols), _weights("r", rows)
    total = 0
    with np.errstate(over="ignore"):
        for start in range(0, rows, _CHECK_CHUNK):
            part = np.asarray(words[start:start + _CHECK_CHUNK]).astype(np.uint64) @ wc
            total = (total + int(part @ wr[start:start + _CHECK_CHUNK])) & _MASK64
    return total


def _row_checksum(words: np.ndarray) -> int:
    """:func:`words_checksum` of one row (a 1-D uint32 array), the value of ``words.reshape(1, -1)``.

    The checksum of every staged tick: one integer dot product (uint32 words
    promoted to uint64, wrapping modulo 2**64 as the 2-D form does), without
    the chunking and the temporary uint64 copy of the rows.
    """
    return (int(np.dot(words, _weights("c", words.size))) * _FIRST_ROW_WEIGHT) & _MASK64


@dataclass
class StoreStatus:
    """Whether the store's files are up to date, and what it had to give up or set aside.

    ``persisting`` is False while writes fail (``error`` says why);
    ``unpersisted_bytes`` are kept in memory meanwhile; ``dropped_ticks``
    counts ticks given up because the memory bound was reached;
    ``damage`` lists the damaged parts found (path and what).
    """

    persisting: bool = True
    error: str | None = None
    unpersisted_bytes: int = 0
    dropped_ticks: int = 0
    damage: list[str] = field(default_factory=list)


class _Block:
    """One block of ticks, slot-major: ``words[slot, tick % block]``."""

    __slots__ = ("index", "first_k", "last_k", "words", "checksum", "path", "offset", "state", "sums", "rows_ok")

    def __init__(self, index: int, first_k: int, last_k: int, words: np.ndarray, checksum: int = 0,
                 path: Path | None = None, offset: int = 0, state: str = "ok") -> None:
        self.index, self.first_k, self.last_k = index, first_k, last_k
        self.words = words
        self.checksum = checksum
        self.path, self.offset = path, offset
        self.state = state  # "ok", "unverified" (on disk: rows checked as reads touch them), "damaged", "pending"
        self.sums: np.ndarray | None = None       # per-row checksums (on disk)
        self.rows_ok: np.ndarray | None = None    # per row: 0 not checked yet, 1 good, 2 damaged

    @property
    def width(self) -> int:
        return int(self.words.shape[0])


class _Segment:
    """An append-only file of block records (the active one is open for writing)."""

    __slots__ = ("path", "fd", "size", "indices")

    def __init__(self, path: Path, fd: int | None, size: int) -> None:
        self.path, self.fd, self.size = path, fd, size
        self.indices: set[int] = set()


class SampleStore:
    """Storage words of many slots over a shared, regular time axis.

    Parameters
    ----------
    min_depth : int
        How many of the most recent ticks must always be readable (the
        training window plus one). The depth is rounded up to whole blocks
        plus one block of slack.
    update_every : int
        Seconds between ticks.
    capacity : int
        Initial number of slot columns; grows on demand (cheaply: nothing is
        copied).
    block : int
        Ticks staged time-major before being written as one block.
    directory : path, optional
        Keep the store in files there (created if missing).
    max_unpersisted_bytes : int
        With a directory: how much data that could not be written (disk
        full, I/O errors) is kept in memory until it can be; beyond it the
        oldest is dropped (logged).
    """

    def __init__(
        self,
        min_depth: int,
        update_every: int = 1,
        *,
        capacity: int = 1024,
        block: int = 64,
        directory: str | os.PathLike[str] | None = None,
        max_unpersisted_bytes: int = 256 * 2**20,
    ) -> None:
        if int(min_depth) < 1:
            raise ValueError(f"min_depth must be >= 1, got {min_depth!r}")
        if int(update_every) < 1:
            raise ValueError(f"update_every must be >= 1, got {update_every!r}")
        if int(block) < 1:
            raise ValueError(f"block must be >= 1, got {block!r}")
        if int(max_unpersisted_bytes) < 0:
            raise ValueError(f"max_unpersisted_bytes must be >= 0, got {max_unpersisted_bytes!r}")
        self._block = int(block)
        self._depth = (-(-int(min_depth) // self._block) + 1) * self._block
        self._update_every = int(update_every)
        self._directory = Path(directory) if directory is not None else None
        self._max_unpersisted = int(max_unpersisted_bytes)
        self._since = np.full(max(1, int(capacity)), _NO_TICK, dtype=np.int64)
        self._blocks: list[_Block] = []          # sorted by index; replaced, never mutated in place
        self._rows = np.zeros((self._block, 0), dtype=np.uint32)  # current block, time-major
        self._row_k = np.full(self._block, -1, dtype=np.int64)
        self._row_width = np.zeros(self._block, dtype=np.int64)
        self._first_k: int | None = None
        self._last_k: int | None = None
        # files
        self._segments: dict[Path, _Segment] = {}
        self._active: _Segment | None = None
        self._staging_fd: int | None = None
        self._staging_path: Path | None = None
        self._staging_alloc = 0
        self._old_staging: list[Path] = []
        self._rows_on_disk = True                 # every current row is in the staging file
        self._slots_dirty = False
        self._header_pending = False
        # state
        self._error: str | None = None            # the write failure being lived with, if any
        self._dropped_ticks = 0
        self._dropping = False
        self._ticks_since_retry = 0
        self.damage: list[str] = []
        self._quarantined: set[tuple[Path, int]] = set()
        if self._directory is not None:
            self._open_directory()

    # ------------------------------------------------------------------ properties

    @property
    def update_every(self) -> int:
        """Seconds between ticks."""
        return self._update_every

    @property
    def depth(self) -> int:
        """Retention in ticks, whole blocks (at least ``min_depth`` + one block)."""
        return self._depth

    @property
    def readable_ticks(self) -> int:
        """How many of the most recent ticks are always readable."""
        return self._depth - self._block + 1

    @property
    def block(self) -> int:
        """Ticks per block."""
        return self._block

    @property
    def capacity(self) -> int:
        """Number of slot columns currently addressable."""
        return int(self._since.size)

    @property
    def directory(self) -> Path | None:
        """The store's directory, or None in memory."""
        return self._directory

    @property
    def last_time(self) -> int | None:
        """Timestamp of the newest tick, or None if nothing was stored."""
        return None if self._last_k is None else self._last_k * self._update_every

    @property
    def first_time(self) -> int | None:
        """Timestamp of the oldest tick still readable, or None."""
        k = self._first_readable()
        return None if k is None else k * self._update_every

    def _first_readable(self) -> int | None:
        if self._last_k is None or self._first_k is None:
            return None
        return max(self._first_k, self._last_k - self.readable_ticks + 1)

    def status(self) -> StoreStatus:
        """Persistence state: see :class:`StoreStatus`."""
        return StoreStatus(persisting=self._error is None, error=self._error,
                           unpersisted_bytes=self._unpersisted_bytes(), dropped_ticks=self._dropped_ticks,
                           damage=list(self.damage))

    def disk_bytes(self) -> int:
        """Bytes of disk the store's files occupy (allocated blocks; 0 in memory)."""
        if self._directory is None:
            return 0
        total = 0
        for path in self._directory.iterdir():
            if path.is_file():
                total += path.stat().st_blocks * 512
        return total

    def data_bytes(self) -> int:
        """Bytes of words the store holds: 4 x slots x ticks over its blocks and current rows."""
        total = sum(4 * b.width * self._block for b in self._blocks if b.state != "damaged")
        current = self._row_k >= 0
        if current.any():
            total += 4 * int(self._row_width.max()) * self._block
        return total

    # ------------------------------------------------------------------ opening

    def _path(self, name: str) -> Path:
        assert self._directory is not None
        return self._directory / name

    def _report(self, message: str) -> None:
        self.damage.append(message)

    def _open_directory(self) -> None:
        directory = self._directory
        assert directory is not None
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / _V1_HEADER).exists():
            self._upgrade_v1()
            return
        header = self._path(_HEADER_FILE)
        ours = [p.name for p in directory.iterdir()
                if _SEGMENT_RE.match(p.name) or _STAGING_RE.match(p.name) or p.name == _SLOTS_FILE]
        if header.exists():
            self._check_header(header)
        elif ours:
            log.error("sample store %s has data files but no %s; writing a new header from the data", directory,
                      _HEADER_FILE)
            self._report(f"{header}: missing; rewritten")
            self._write_header()
        else:
            leftovers = [p.name for p in directory.glob("store-*")]
            if leftovers:
                raise StoreError(f"{directory} holds store files {leftovers} but no header; not touching them "
                                 f"(move them away to start an empty store there)")
            try:
                self._write_header()
            except OSError as exc:  # a full disk at start-up: run in memory until it can be written
                self._header_pending = True
                self._fail(exc)
        self._load_slots()
        self._load_segments()
        self._load_staging()
        widest = max([b.width for b in self._blocks] + [int(self._row_width.max())])
        self.ensure_capacity(widest)
        self._expire()

    def _write_header(self) -> None:
        write_checked_json(self._path(_HEADER_FILE), {"format": _FORMAT, "version": _VERSION,
                                                      "update_every": self._update_every, "block": self._block})

    def _check_header(self, path: Path) -> None:
        try:
            doc = read_checked_json(path)
        except DamagedFile as exc:
            # The header holds only the store's parameters, which every record repeats: rebuild it.
            self._report(f"{path}: {exc.problem}; rewritten")
            quarantine_file(self._directory, path, exc.problem)  # type: ignore[arg-type]
            self._write_header()
            return
        if doc.get("format") != _FORMAT:
            raise StoreError(f"sample store header {path} is not a pyml sample store (format {doc.get('format')!r})")
        if doc.get("version") != _VERSION:
            raise StoreError(f"sample store header {path} has version {doc.get('version')!r}; this pyml reads "
                             f"version {_VERSION} (and converts version 1)")
        stored = {"update_every": doc.get("update_every"), "block": doc.get("block")}
        wanted = {"update_every": self._update_every, "block": self._block}
        if stored != wanted:
            raise StoreError(f"sample store {path.parent} was made with {stored}, not {wanted}; use the same "
                             f"update_every or another directory")

    def _load_slots(self) -> None:
        path = self._path(_SLOTS_FILE)
        if not path.exists():
            return
        raw = path.read_bytes()
        problem = None
        if len(raw) < _SLOTS_HEADER:
            problem = f"{len(raw)} bytes, shorter than its header"
        else:
            magic, n, payload_crc, header_crc = _SLOTS.unpack_from(raw)
            if magic != _SLOTS_MAGIC or header_crc != zlib.crc32(raw[:20]):
                problem = "header checksum mismatch"
            elif n < 0 or len(raw) != _SLOTS_HEADER + 8 * n:
                problem = f"size {len(raw)} does not fit {n} slots"
            elif zlib.crc32(raw[_SLOTS_HEADER:]) != payload_crc:
                problem = "checksum mismatch"
        if problem is not None:
            self._report(f"{path}: {problem}; slots reused before the damage may show older samples")
            quarantine_file(self._directory, path, problem)  # type: ignore[arg-type]
            self._slots_dirty = True
            return
        since = np.frombuffer(raw, dtype="<i8", offset=_SLOTS_HEADER).astype(np.int64)
        self.ensure_capacity(since.size)
        self._since[: since.size] = since

    def commit_slots(self) -> None:
        """Write the slot table if slots were cleared since it was last written.

        Call before anything that assigns cleared slots to new owners is
        written (the host's registry). Raises ``OSError`` when it cannot be
        written (the table stays pending).
        """
        if self._directory is None or not self._slots_dirty:
            return
        used = self._since.size
        payload = self._since[:used].astype("<i8").tobytes()
        head = struct.pack("<8sqI", _SLOTS_MAGIC, used, zlib.crc32(payload))
        pad = bytes(_SLOTS_HEADER - len(head) - 4)
        write_atomic(self._path(_SLOTS_FILE), head + struct.pack("<I", zlib.crc32(head)) + pad + payload)
        self._slots_dirty = False

    def _load_segments(self) -> None:
        assert self._directory is not None
        found: dict[int, _Block] = {}
        for path in sorted(p for p in self._directory.iterdir() if _SEGMENT_RE.match(p.name)):
            segment = _Segment(path, None, path.stat().st_size)
            self._segments[path] = segment
            for block in self._scan_segment(path, segment.size):
                segment.indices.add(block.index)
                found[block.index] = block  # a later segment's copy of a block wins
        self._blocks = [found[i] for i in sorted(found)]
        for block in self._blocks:
            self._first_k = block.first_k if self._first_k is None else min(self._first_k, block.first_k)
            self._last_k = block.last_k if self._last_k is None else max(self._last_k, block.last_k)

    def _scan_segment(self, path: Path, size: int) -> list[_Block]:
        blocks: list[_Block] = []
        if size == 0:
            return blocks
        with open(path, "rb") as f:
            data = np.memmap(f, dtype=np.uint8, mode="r", shape=(size,))
            offset = 0
            while offset < size:
                parsed = self._parse_record(data, offset, size)
                if isinstance(parsed, _Block):
                    parsed.path = path
                    self._map_record(parsed, path, offset, parsed.width)
                    parsed.state = "unverified"
                    blocks.append(parsed)
                    offset += _record_size(parsed.width, self._block)
                    continue
                # Damaged or torn: find the next record header that checks out.
                following = self._next_record(data, offset + 8, size)
                if following is None and parsed == "torn":
                    log.warning("sample store: %s ends with an interrupted write at byte %d (%d bytes); ignored",
                                path, offset, size - offset)
                    break
                end = size if following is None else following
                self._report(f"{path}: bytes {offset}..{end} damaged ({parsed}); read as empty ticks")
                quarantine_bytes(self._directory, path, offset, end - offset, str(parsed))  # type: ignore[arg-type]
                if following is None:
                    break
                offset = following
            del data
        return blocks

    def _parse_record(self, data: np.ndarray, offset: int, size: int) -> _Block | str:
        if size - offset < _RECORD_HEADER:
            return "torn"
        head = bytes(data[offset:offset + _RECORD_HEADER])
        fields = _RECORD.unpack_from(head)
        magic, index, first_k, last_k, width, block, update_every, _, checksum = fields
        (crc,) = struct.unpack_from("<I", head, _RECORD.size)
        if magic != _RECORD_MAGIC or crc != zlib.crc32(head[:_RECORD.size]):
            if not any(head[_RECORD.size:]):
                # Space reserved, header never written, or cut short at a page boundary (records start at
                # multiples of 8, so a cut header lacks its whole CRC). The caller treats it as damage unless
                # nothing follows it.
                return "torn"
            return "bad record header"
        if block != self._block or update_every != self._update_every:
            return f"record of another store (block {block}, update_every {update_every})"
        if not (index * block <= first_k <= last_k < (index + 1) * block) or width < 1:
            return "record header out of range"
        if size - offset < _record_size(width, block):
            return "torn"
        placeholder = np.empty((width, 0), dtype=np.uint32)  # the words are mapped once the record is accepted
        return _Block(index, first_k, last_k, placeholder, checksum, None, offset, "unverified")

    def _next_record(self, data: np.ndarray, start: int, size: int) -> int | None:
        magic = np.frombuffer(_RECORD_MAGIC, dtype=np.uint8)
        position = start
        while position + _RECORD_HEADER <= size:
            window = np.asarray(data[position:min(size, position + (1 << 22))])
            hits = np.flatnonzero(window[: max(0, window.size - 7)] == magic[0])
            for hit in hits:
                at = position + int(hit)
                if bytes(data[at:at + 8]) == _RECORD_MAGIC and isinstance(self._parse_record(data, at, size), _Block):
                    return at
            position += max(1, window.size - 7)
        return None

    def _load_staging(self) -> None:
        assert self._directory is not None
        rows: dict[int, tuple[np.ndarray, Path]] = {}
        bad: list[tuple[Path, int, int, int, int | None, str]] = []
        for path in sorted(p for p in self._directory.iterdir() if _STAGING_RE.match(p.name)):
            self._old_staging.append(path)
            for k, words in self._scan_staging(path, bad):
                rows[k] = (words, path)
        flushed = {b.index for b in self._blocks}
        newest = max(rows, default=None)
        for path, r, start, size, k, problem in bad:
            # A row header is written with its words in one pwrite and never straddles a page, so a write cut
            # short by a kill leaves the header of the tick in flight (newer than every intact row) over words
            # partly written; a row being copied into a new staging file has its intact copy in the old one.
            if k is not None and (k in rows or newest is None or k > newest):
                log.warning("sample store: %s: row %d: %s, a write cut short when its process ended; %s", path, r,
                            problem, "the intact copy is used" if k in rows else "that tick was not completed")
                continue
            self._report(f"{path}: row {r}: {problem}; read as an empty tick")
            quarantine_bytes(self._directory, path, start, size, problem)
        current = None if newest is None else newest // self._block
        if self._last_k is not None and current is not None and current <= self._last_k // self._block:
            current = None  # every staged row is older than the newest written block
            if newest is not None and newest // self._block in flushed:
                # Killed after writing that block and before the next row: check its record against the rows.
                b = newest // self._block
                self._check_against_staged(next(x for x in self._blocks if x.index == b),
                                           {k: words for k, (words, _) in rows.items() if k // self._block == b})
        orphans: dict[int, list[int]] = {}
        for k in rows:
            b = k // self._block
            if b == current:
                continue
            if b not in flushed and (self._last_k is None or k > self._last_k - self._depth):
                orphans.setdefault(b, []).append(k)  # a block whose write never completed
        for b in sorted(orphans):
            ks = sorted(orphans[b])
            width = max(rows[k][0].size for k in ks)
            words = np.zeros((width, self._block), dtype=np.uint32)
            for k in ks:
                words[: rows[k][0].size, k % self._block] = rows[k][0]
            self._add_block(_Block(b, ks[0], ks[-1], words, state="pending"))
            log.warning("sample store %s: ticks %d..%d were staged but not written as a block; recovered",
                        self._directory, ks[0] * self._update_every, ks[-1] * self._update_every)
        if current is not None:
            for k in sorted(k for k in rows if k // self._block == current):
                words = rows[k][0]
                self._put_row(k, words)
                self._first_k = k if self._first_k is None else min(self._first_k, k)
                self._last_k = k if self._last_k is None else max(self._last_k, k)
        for b in self._blocks:
            self._first_k = b.first_k if self._first_k is None else min(self._first_k, b.first_k)
            self._last_k = b.last_k if self._last_k is None else max(self._last_k, b.last_k)
        # Rewritten into a new staging file by the first append (or retry); the old files go then.
        self._rows_on_disk = not self._old_staging or not (self._row_k >= 0).any()
        if any(b.state == "pending" for b in self._blocks) or not self._rows_on_disk:
            self._retry()

    def _check_against_staged(self, block: _Block, staged: dict[int, np.ndarray]) -> None:
        """Verify a written block whose rows are still staged; rebuild it from them if it fails.

        The block written last before a process was killed is the one a torn
        record would hold: records used to be written header first, so a
        process killed between the header and the words left a valid header
        over zeros. The staged rows are intact, so the ticks are recovered
        from them; slot rows of the record that check out are kept for ticks
        that are not staged.
        """
        assert block.path is not None
        sums = np.memmap(block.path, dtype="<u8", mode="r", offset=block.offset + _RECORD_HEADER,
                         shape=(block.width,))
        if _sum64(sums) != block.checksum:
            good = np.zeros(block.width, dtype=bool)
            problem = "the row checksums do not add up to the header's"
        else:
            good = row_checksums(np.asarray(block.words)) == np.asarray(sums)
            problem = f"{int((~good).sum())} slot row(s) fail their checksum"
        if good.all():
            block.sums, block.rows_ok, block.state = sums, np.ones(block.width, dtype=np.int8), "unverified"
            return
        width = max([block.width] + [w.size for w in staged.values()])
        words = np.zeros((width, self._block), dtype=np.uint32)
        words[: block.width][good] = block.words[good]
        for k, row in staged.items():
            words[: row.size, k % self._block] = row
            words[row.size:, k % self._block] = 0
        ks = sorted(staged)
        first, last = min(block.first_k, ks[0]), max(block.last_k, ks[-1])
        message = (f"{block.path}: record at byte {block.offset} (ticks {block.first_k * self._update_every}.."
                   f"{block.last_k * self._update_every}): {problem}; rebuilt from the staged rows of ticks "
                   f"{ks[0] * self._update_every}..{ks[-1] * self._update_every}")
        self._report(message)
        log.error("sample store: %s", message)
        key = (block.path, block.offset)
        if self._directory is not None and key not in self._quarantined:
            self._quarantined.add(key)
            quarantine_bytes(self._directory, block.path, block.offset, _record_size(block.width, self._block),
                             problem)
        self._add_block(_Block(block.index, first, last, words, state="pending"))

    def _scan_staging(self, path: Path, bad: list[tuple[Path, int, int, int, int | None, str]]
                      ) -> list[tuple[int, np.ndarray]]:
        """The intact rows of a staging file, ``(tick, words)``; rows that fail their checks go to ``bad``.

        ``bad`` gets ``(path, row, offset, size, tick or None, problem)``; the
        tick only when the row's header checks out.
        """
        raw = path.read_bytes()
        out: list[tuple[int, np.ndarray]] = []
        if raw.count(0) == len(raw):
            # Created, and killed before its header was written: it holds no row (the previous file has them).
            log.warning("sample store: %s was never written (interrupted creation); ignored", path)
            return out
        if len(raw) < _STAGING_HEADER:
            self._report(f"{path}: {len(raw)} bytes, shorter than its header")
            return out
        magic, alloc, block = _STAGING_FILE.unpack_from(raw)
        (crc,) = struct.unpack_from("<I", raw, _STAGING_FILE.size)
        row_size = _ROW_HEADER + 4 * alloc
        if magic != _STAGING_MAGIC or crc != zlib.crc32(raw[:_STAGING_FILE.size]) or block != self._block:
            self._report(f"{path}: bad header; its rows are not used")
            quarantine_bytes(self._directory, path, 0, len(raw), "bad staging header")  # type: ignore[arg-type]
            return out
        if len(raw) < _STAGING_HEADER + self._block * row_size:
            log.warning("sample store: %s is shorter than its %d rows (interrupted creation); rows present are used",
                        path, self._block)
        for r in range(self._block):
            start = _STAGING_HEADER + r * row_size
            if start + _ROW_HEADER > len(raw):
                break
            head = raw[start:start + _ROW_HEADER]
            if not any(head):
                continue  # never written
            k, width, head_crc, checksum = _ROW.unpack_from(head)
            problem = None
            if head_crc != zlib.crc32(struct.pack("<qIQ", k, width, checksum)):
                problem = "bad row header"
            elif width > alloc or k < 0 or k % self._block != r or start + _ROW_HEADER + 4 * width > len(raw):
                problem = "row header out of range"
            else:
                words = np.frombuffer(raw, dtype="<u4", count=width, offset=start + _ROW_HEADER).astype(np.uint32)
                if words_checksum(words.reshape(1, -1)) != checksum:
                    # Header intact, words not: damage, or a write cut short by a kill (judged by the caller).
                    bad.append((path, r, start, row_size, k, f"checksum mismatch in the row of tick "
                                                             f"{k * self._update_every}"))
                else:
                    out.append((k, words))
                continue
            bad.append((path, r, start, row_size, None, problem))
        return out

    # ------------------------------------------------------------------ version 1

    def _upgrade_v1(self) -> None:
        """Convert a version-1 store (ring files written through memory maps) to this format.

        The old files are removed only after the new ones are written and
        synced; a conversion interrupted by a crash is redone from the old
        files at the next opening. If the disk cannot hold both, a
        :class:`StoreError` says how much space is needed.
        """
        directory = self._directory
        assert directory is not None
        header_path = directory / _V1_HEADER
        fields = np.fromfile(header_path, dtype="<i8")
        how = (f"move {directory} away (pyml then starts an empty store) or restore it from a backup; "
               f"pyml does not change it")
        if fields.size != 9 or int(fields[0]) != _V1_MAGIC or int(fields[1]) != 1:
            raise StoreError(f"sample store header {header_path} is not a pyml store of version 1 or 2; {how}")
        update_every, depth, block, capacity, first_k, last_k, flushed = (int(x) for x in fields[2:])
        if update_every != self._update_every or block != self._block:
            raise StoreError(f"sample store {directory} was made with update_every={update_every}, "
                             f"block={block}; not {self._update_every}, {self._block}")
        rings_path = directory / f"store-rings-{capacity}.u32"
        staging_path = directory / f"store-staging-{capacity}.u32"
        plausible = (depth > 0 and depth % block == 0 and 0 < capacity < 2**31
                     and (last_k == _NO_TICK or (first_k != _NO_TICK and first_k <= last_k)))
        sizes_ok = (rings_path.exists() and staging_path.exists()
                    and rings_path.stat().st_size == capacity * depth * 4
                    and staging_path.stat().st_size == block * capacity * 4)
        if not plausible or not sizes_ok:
            raise StoreError(f"version-1 sample store {directory} is inconsistent (header {header_path}: "
                             f"first tick {first_k}, last tick {last_k}, capacity {capacity}; or ring files of the "
                             f"wrong size) and has no checksums to tell what is intact; {how}")
        for path in list(directory.iterdir()):  # an earlier, interrupted conversion
            if _SEGMENT_RE.match(path.name) or _STAGING_RE.match(path.name) or path.name in (_HEADER_FILE,
                                                                                             _SLOTS_FILE):
                path.unlink()
        rings = np.memmap(rings_path, dtype=np.uint32, mode="r", shape=(capacity, depth))
        staging = np.memmap(staging_path, dtype=np.uint32, mode="r", shape=(block, capacity))
        self._write_header()
        try:
            if last_k != _NO_TICK:
                first = max(first_k, last_k - (depth - block + 1) + 1)
                current = last_k // block
                for b in range(first // block, current):
                    start = b * block
                    columns = slice(start % depth, start % depth + block)
                    words = np.array(rings[:, columns])
                    lo, hi = max(first, start), start + block - 1
                    if lo > start:
                        words[:, : lo - start] = 0
                    self._first_k = lo if self._first_k is None else self._first_k
                    if words.any():
                        converted = _Block(b, lo, hi, words)
                        self._write_block(converted)
                        self._add_block(converted)
                for k in range(max(first, current * block), last_k + 1):
                    # A version-1 process killed just after copying the block kept it in the rings only.
                    source = rings[:, k % depth] if flushed == current else staging[k % block]
                    self._put_row(k, np.array(source))
                self._first_k = first if self._first_k is None else self._first_k
                self._last_k = last_k
                if not self._write_all_rows():
                    raise OSError(self._error or "cannot write the staging rows")
            if self._active is not None:
                os.fsync(self._active.fd)  # type: ignore[arg-type]
            self._sync_directory()
        except OSError as exc:
            needed = rings_path.stat().st_size + staging_path.stat().st_size
            raise StoreError(f"cannot convert the version-1 sample store {directory} ({exc}); it needs up to "
                             f"{needed / 2**20:.0f} MiB free next to the old files, which are left as they were")
        del rings, staging
        for name in (_V1_HEADER, rings_path.name, staging_path.name):
            (directory / name).unlink()
        for path in directory.glob("store-*.u32"):
            path.unlink()
        log.warning("sample store %s converted from version 1 (checksummed blocks from now on)", directory)

    # ------------------------------------------------------------------ writing

    def ensure_capacity(self, slots: int) -> None:
        """Make room for at least ``slots`` slot columns (nothing is copied but the slot table)."""
        old = self._since.size
        if slots <= old:
            return
        new = max(int(slots), 2 * old)
        since = np.full(new, _NO_TICK, dtype=np.int64)
        since[:old] = self._since
        self._since = since

    def clear_slot(self, slot: int) -> None:
        """Forget every word of ``slot`` (for a slot given to a new dimension); O(1), nothing is written."""
        since = self._since
        if not 0 <= slot < since.size:
            raise IndexError(f"slot {slot} is outside the store (capacity {since.size})")
        since[slot] = _NO_TICK if self._last_k is None else self._last_k + 1
        self._slots_dirty = True

    def _check_slot(self, slot: int) -> None:
        if not 0 <= slot < self.capacity:
            raise IndexError(f"slot {slot} is outside the store (capacity {self.capacity})")

    def tick_of(self, t: float) -> int:
        """The tick number of timestamp ``t`` (floored to the update_every grid)."""
        return int(t // self._update_every)

    def append(self, t: float, words: np.ndarray) -> None:
        """Store one tick: ``words[i]`` is the word of slot ``i``.

        ``t`` must be later than the previous tick; ticks skipped in between
        become empty words. ``words`` may be shorter than the capacity (the
        remaining slots get the empty word). A failure to write to disk does
        not raise: see :meth:`status`.
        """
        k = self.tick_of(t)
        last = self._last_k
        if last is not None and k <= last:
            raise ValueError(f"timestamp {t} is not after the last stored one ({last * self._update_every})")
        if words.dtype != np.uint32 or words.ndim != 1 or words.size > self.capacity:
            raise ValueError(f"words must be a 1-D uint32 array of at most {self.capacity} elements")
        if last is not None and k // self._block != last // self._block:
            self._close_block()
        self._put_row(k, words)
        if self._first_k is None:
            self._first_k = k
        self._last_k = k
        if last is None or k // self._block != last // self._block:
            self._expire()
        if self._directory is not None:
            if self._error is None:
                self._write_row(k)
            else:
                self._ticks_since_retry += 1
                if self._ticks_since_retry >= _RETRY_TICKS:
                    self._retry()

    def _put_row(self, k: int, words: np.ndarray) -> None:
        # Words of a row beyond its width are never read (``_row_width`` masks them), so growing the
        # rows allocates without touching the new memory.
        width = words.size
        if width > self._rows.shape[1]:
            grown = np.empty((self._block, max(width, self._rows.shape[1] * 5 // 4)), dtype=np.uint32)
            grown[:, : self._rows.shape[1]] = self._rows
            self._rows = grown
        row = k % self._block
        self._rows[row, :width] = words
        self._row_k[row] = k
        self._row_width[row] = width

    def _close_block(self) -> None:
        """Turn the current rows into a block (written to disk, or kept pending)."""
        valid = self._row_k >= 0
        if not valid.any():
            return
        ks = self._row_k[valid]
        width = int(self._row_width[valid].max())
        words = np.zeros((width, self._block), dtype=np.uint32)
        for start in range(0, width, _TRANSPOSE_CHUNK):
            stop = min(start + _TRANSPOSE_CHUNK, width)
            words[start:stop] = self._rows[:, start:stop].T
        words[:, ~valid] = 0
        for row in np.flatnonzero(valid & (self._row_width < width)):
            words[self._row_width[row]:, row] = 0
        block = _Block(int(ks[0]) // self._block, int(ks.min()), int(ks.max()), words)
        self._row_k[:] = -1
        self._row_width[:] = 0
        if self._directory is None:
            self._add_block(block)
            return
        block.state = "pending"
        self._add_block(block)
        if self._error is None:
            try:
                self._write_block(block)
            except OSError as exc:
                self._fail(exc)
        else:
            self._retry()
        self._bound_memory()

    def _add_block(self, block: _Block) -> None:
        blocks = [b for b in self._blocks if b.index != block.index]
        blocks.append(block)
        blocks.sort(key=lambda b: b.index)
        self._blocks = blocks

    def _segment_blocks(self) -> int:
        # Each segment holds at most a sixteenth of the retention, so expired blocks waiting for their
        # segment to go cost at most 1/16 of the disk.
        return max(1, (self._depth // self._block) // 16)

    def _open_segment(self) -> _Segment:
        assert self._directory is not None
        numbers = [int(m.group(1)) for p in self._segments for m in [_SEGMENT_RE.match(p.name)] if m]
        path = self._path(f"seg-{max(numbers, default=0) + 1:08d}.blk")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        segment = _Segment(path, fd, 0)
        self._segments[path] = segment
        return segment

    def _write_block(self, block: _Block) -> None:
        """Append ``block`` as one record (space reserved first); raises OSError with nothing half-written."""
        segment = self._active
        if segment is None or len(segment.indices) >= self._segment_blocks():
            if segment is not None and segment.fd is not None:
                os.fsync(segment.fd)
                os.close(segment.fd)
                segment.fd = None
            segment = self._active = self._open_segment()
        assert segment.fd is not None
        words = np.ascontiguousarray(block.words, dtype=np.uint32)
        sums = row_checksums(words).astype("<u8")
        checksum = _sum64(sums)
        head = _RECORD.pack(_RECORD_MAGIC, block.index, block.first_k, block.last_k, block.width, self._block,
                            self._update_every, 0, checksum)
        head += struct.pack("<I", zlib.crc32(head)) + bytes(_RECORD_HEADER - _RECORD.size - 4)
        offset = segment.size
        total = _record_size(block.width, self._block)
        try:
            os.posix_fallocate(segment.fd, offset, total)
            # The header goes last: it commits the record. Killed before it, the process leaves zeros there,
            # which the next opening reads as a torn write and recovers the block from the staged rows.
            _pwrite_all(segment.fd, memoryview(sums).cast("B"), offset + _RECORD_HEADER)
            _pwrite_all(segment.fd, memoryview(words).cast("B"), offset + _RECORD_HEADER + 8 * block.width)
            _pwrite_all(segment.fd, head, offset)
        except OSError:
            try:
                os.ftruncate(segment.fd, offset)
            except OSError:
                pass
            raise
        segment.size = offset + total
        segment.indices.add(block.index)
        self._map_record(block, segment.path, offset, block.width)
        block.checksum, block.path, block.offset, block.state = checksum, segment.path, offset, "ok"

    def _map_record(self, block: _Block, path: Path, offset: int, width: int) -> None:
        """Point ``block`` at its record's words (read-only map) and row checksums (read lazily)."""
        block.words = np.memmap(path, dtype=np.uint32, mode="r", offset=offset + _RECORD_HEADER + 8 * width,
                                shape=(width, self._block))
        block.path, block.offset = path, offset
        block.sums, block.rows_ok = None, None

    def _new_staging_file(self, alloc: int) -> None:
        assert self._directory is not None
        numbers = [int(m.group(1)) for p in self._directory.iterdir() for m in [_STAGING_RE.match(p.name)] if m]
        path = self._path(f"staging-{max(numbers, default=0) + 1:08d}.rows")
        size = _STAGING_HEADER + self._block * (_ROW_HEADER + 4 * alloc)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.posix_fallocate(fd, 0, size)
            head = _STAGING_FILE.pack(_STAGING_MAGIC, alloc, self._block)
            _pwrite_all(fd, head + struct.pack("<I", zlib.crc32(head)) + bytes(_STAGING_HEADER - len(head) - 4), 0)
        except OSError:
            os.close(fd)
            path.unlink()
            raise
        if self._staging_fd is not None:
            os.close(self._staging_fd)
            assert self._staging_path is not None
            self._old_staging.append(self._staging_path)
        self._staging_fd, self._staging_path, self._staging_alloc = fd, path, alloc

    def _write_row(self, k: int) -> None:
        row = k % self._block
        width = int(self._row_width[row])
        try:
            if self._staging_fd is None or width > self._staging_alloc:
                self._write_all_rows_or_raise()
                return
            self._pwrite_row(row)
        except OSError as exc:
            self._fail(exc)

    def _pwrite_row(self, row: int) -> None:
        assert self._staging_fd is not None
        k, width = int(self._row_k[row]), int(self._row_width[row])
        words = np.ascontiguousarray(self._rows[row, :width])
        checksum = _row_checksum(words)
        head = _ROW.pack(k, width, zlib.crc32(struct.pack("<qIQ", k, width, checksum)), checksum)
        head += bytes(_ROW_HEADER - _ROW.size)
        offset = _STAGING_HEADER + row * (_ROW_HEADER + 4 * self._staging_alloc)
        _pwrite_all(self._staging_fd, head + memoryview(words).cast("B").tobytes(), offset)

    def _write_all_rows_or_raise(self) -> None:
        """(Re)create the staging file wide enough and write every current row; then drop older files."""
        width = int(self._row_width.max()) if (self._row_k >= 0).any() else 0
        if self._staging_fd is None or width > self._staging_alloc:
            alloc = width + max(width // 16, 64)  # room to grow before a rewrite
            self._new_staging_file(-(-alloc // 64) * 64)
        for row in np.flatnonzero(self._row_k >= 0):
            self._pwrite_row(int(row))
        self._rows_on_disk = True
        for path in self._old_staging:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        self._old_staging = []

    def _write_all_rows(self) -> bool:
        try:
            self._write_all_rows_or_raise()
            return True
        except OSError as exc:
            self._fail(exc)
            return False

    def _fail(self, exc: OSError) -> None:
        """Record a write failure; log once per episode."""
        self._ticks_since_retry = 0
        self._rows_on_disk = False
        if self._error is None:
            self._error = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
            log.error("sample store %s: cannot write (%s); keeping new samples in memory (up to %s) and "
                      "retrying every %d ticks", self._directory, self._error, _size(self._max_unpersisted),
                      _RETRY_TICKS)

    def _retry(self) -> bool:
        """Try to write everything pending; True when the store is up to date again."""
        self._ticks_since_retry = 0
        if self._directory is None:
            return True
        try:
            if self._header_pending:
                self._write_header()
                self._header_pending = False
            for block in [b for b in self._blocks if b.state == "pending"]:
                self._write_block(block)
            if not self._rows_on_disk or self._staging_fd is None and (self._row_k >= 0).any():
                self._write_all_rows_or_raise()
            self.commit_slots()
        except OSError as exc:
            self._rows_on_disk = False
            self._fail(exc)
            return False
        if self._error is not None:
            log.warning("sample store %s: writing again; every sample kept in memory is on disk", self._directory)
            self._error = None
            self._dropping = False
        return True

    def _unpersisted_bytes(self) -> int:
        return sum(b.words.nbytes for b in self._blocks if b.state == "pending")

    def _bound_memory(self) -> None:
        while self._unpersisted_bytes() > self._max_unpersisted:
            oldest = next(b for b in self._blocks if b.state == "pending")
            self._blocks = [b for b in self._blocks if b is not oldest]
            self._dropped_ticks += oldest.last_k - oldest.first_k + 1
            if not self._dropping:
                self._dropping = True
                log.error("sample store %s: more than %s of samples could not be written; dropping the oldest of "
                          "them (from time %d on) to stay within that bound", self._directory,
                          _size(self._max_unpersisted), oldest.first_k * self._update_every)

    def _expire(self) -> None:
        """Drop blocks wholly older than the retention; delete segments left without a live block."""
        if self._last_k is None:
            return
        oldest_block = (self._last_k - self.readable_ticks + 1) // self._block  # holds the first readable tick
        if self._blocks and self._blocks[0].index < oldest_block:
            self._blocks = [b for b in self._blocks if b.index >= oldest_block]
        if self._directory is None:
            return
        for path, segment in list(self._segments.items()):
            if segment is self._active:
                continue
            if all(i < oldest_block for i in segment.indices):
                try:
                    path.unlink()
                except OSError as exc:
                    log.warning("sample store: cannot delete the expired segment %s: %s", path, exc)
                    continue
                del self._segments[path]

    def flush(self) -> None:
        """Write what is pending and sync the files to disk (no-op in memory); never raises for I/O."""
        if self._directory is None:
            return
        if self._error is not None or self._slots_dirty:
            self._retry()
        try:
            for fd in (None if self._active is None else self._active.fd, self._staging_fd):
                if fd is not None:
                    os.fsync(fd)
            self._sync_directory()
        except OSError as exc:
            self._fail(exc)

    def _sync_directory(self) -> None:
        assert self._directory is not None
        fd = os.open(self._directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ reading

    def _check_rows(self, block: _Block, rows: np.ndarray) -> np.ndarray:
        """Which of ``rows`` (slots below the block's width) hold good words; checks each row once."""
        if block.state != "unverified":
            return np.full(rows.size, block.state != "damaged")
        if block.rows_ok is None:
            assert block.path is not None
            sums = np.memmap(block.path, dtype="<u8", mode="r", offset=block.offset + _RECORD_HEADER,
                             shape=(block.width,))
            if _sum64(sums) != block.checksum:
                self._damaged(block, "the row checksums do not add up to the header's", None)
                block.state = "damaged"
                return np.zeros(rows.size, dtype=bool)
            block.sums, block.rows_ok = sums, np.zeros(block.width, dtype=np.int8)
        assert block.sums is not None and block.rows_ok is not None
        todo = np.unique(rows[block.rows_ok[rows] == 0])
        if todo.size:
            good = np.zeros(todo.size, dtype=bool)
            for start in range(0, todo.size, _CHECK_CHUNK):
                part = todo[start:start + _CHECK_CHUNK]
                words = np.asarray(block.words[part])
                expected = np.asarray(block.sums[part])
                with np.errstate(over="ignore"):
                    got = (words.astype(np.uint64) @ _weights("c", self._block)) * _weights("r", block.width)[part]
                good[start:start + part.size] = got == expected
            block.rows_ok[todo] = np.where(good, 1, 2)
            if not good.all():
                self._damaged(block, f"{int((~good).sum())} slot row(s) fail their checksum", todo[~good])
        return block.rows_ok[rows] == 1

    def _damaged(self, block: _Block, problem: str, slots: np.ndarray | None) -> None:
        what = "" if slots is None else f" (slots {', '.join(str(int(x)) for x in slots[:5])}" + \
            (", ...)" if slots.size > 5 else ")")
        message = (f"{block.path}: record at byte {block.offset} (ticks {block.first_k * self._update_every}.."
                   f"{block.last_k * self._update_every}): {problem}{what}; read as empty ticks")
        self._report(message)
        key = (block.path, block.offset)
        if self._directory is not None and block.path is not None and key not in self._quarantined:
            self._quarantined.add(key)
            quarantine_bytes(self._directory, block.path, block.offset, _record_size(block.width, self._block),
                             problem)

    def read(self, slots: np.ndarray | list[int], after: float, before: float) -> tuple[np.ndarray, np.ndarray]:
        """Words of ``slots`` for the ticks in ``[after, before]`` that are readable.

        Returns ``(times, words)``: epoch seconds int64[n] oldest first and
        uint32[len(slots), n]. Ticks never written, and parts found damaged,
        are empty words.
        """
        slots = np.asarray(slots, dtype=np.int64).reshape(-1)
        if slots.size and (slots.min() < 0 or slots.max() >= self.capacity):
            bad = slots[(slots < 0) | (slots >= self.capacity)][0]
            raise IndexError(f"slot {int(bad)} is outside the store (capacity {self.capacity})")
        first = self._first_readable()
        empty = np.zeros(0, dtype=np.int64), np.zeros((slots.size, 0), dtype=np.uint32)
        if first is None:
            return empty
        last = self._last_k
        assert last is not None
        k0 = max(first, -(-int(np.ceil(after)) // self._update_every))
        k1 = min(last, int(np.floor(before)) // self._update_every)
        if k1 < k0:
            return empty
        ticks = np.arange(k0, k1 + 1, dtype=np.int64)
        out = np.zeros((slots.size, ticks.size), dtype=np.uint32)
        if slots.size:
            B = self._block
            top = int(slots.max())
            # A few slots are copied row by row (basic indexing costs a fraction of a fancy one).
            few = [(out[j], s) for j, s in enumerate(slots.tolist())] if slots.size <= 4 else None
            blocks = self._blocks
            if few is not None and self._read_rows_whole(blocks, few, top, k0, k1):
                blocks = []  # every block of the range was read
            for block in blocks:
                base = block.index * B
                lo, hi = max(k0, base), min(k1, base + B - 1)
                if lo > hi:
                    continue
                state = block.state
                if (state == "ok" or state == "pending") and top < block.words.shape[0]:
                    # The common case, kept short (a training read visits every block of its window):
                    # every slot is inside the block and every row is good.
                    if few is not None:
                        words = block.words
                        for row, s in few:
                            row[lo - k0:hi - k0 + 1] = words[s, lo - base:hi - base + 1]
                    else:
                        out[:, lo - k0:hi - k0 + 1] = block.words[slots, lo - base:hi - base + 1]
                    continue
                if state == "damaged":
                    continue
                inside = np.flatnonzero(slots < block.width)
                if not inside.size:
                    continue
                good = self._check_rows(block, slots[inside])
                inside = inside[good]
                if inside.size == slots.size:
                    out[:, lo - k0:hi - k0 + 1] = block.words[slots, lo % B:hi % B + 1]
                elif inside.size:
                    out[inside, lo - k0:hi - k0 + 1] = block.words[slots[inside], lo % B:hi % B + 1]
            current = ticks[ticks >= (last // B) * B]
            if current.size:
                rows = current % B
                present = self._row_k[rows] == current
                width = self._rows.shape[1]
                inside = slots < width
                columns = np.flatnonzero(present) + (current[0] - k0)
                if columns.size and inside.any():
                    picked = self._rows[np.ix_(rows[present], slots[inside])].T
                    picked[slots[inside][:, None] >= self._row_width[rows[present]][None, :]] = 0
                    out[np.ix_(np.flatnonzero(inside), columns)] = picked
            since = self._since[slots]
            if (since > k0).any():
                out[ticks[None, :] < since[:, None]] = 0
        return ticks * self._update_every, out

    def _read_rows_whole(self, blocks: list[_Block], rows: list[tuple[np.ndarray, int]], top: int, k0: int,
                         k1: int) -> bool:
        """Fill ``rows`` (``(out row, slot)`` pairs) from the blocks holding ticks ``k0..k1`` at once.

        Only when those blocks have consecutive indices, are all good (in
        memory or verified) and hold every slot (``top`` is the largest):
        then each slot's words are one concatenation of its block rows, with
        no per-block work beyond a view (a training read of one slot visits
        hundreds of blocks). Returns False, having written nothing, otherwise.
        """
        B = self._block
        first, last = k0 // B, k1 // B
        span = [b for b in blocks if first <= b.index <= last]
        if not span or span[-1].index - span[0].index + 1 != len(span):
            return False
        for b in span:
            if not (b.state == "ok" or b.state == "pending") or top >= b.words.shape[0]:
                return False
        base = span[0].index * B
        lo, hi = max(k0, base), min(k1, (span[-1].index + 1) * B - 1)
        for row, slot in rows:
            joined = np.concatenate([b.words[slot] for b in span])
            row[lo - k0:hi - k0 + 1] = joined[lo - base:hi - base + 1]
        return True

    def latest(self, slots: np.ndarray | list[int], n: int) -> tuple[np.ndarray, np.ndarray]:
        """The words of the last ``n`` ticks (fewer if not stored yet), oldest first."""
        last = self.last_time
        if last is None:
            return self.read(slots, 0, -1)
        return self.read(slots, last - (n - 1) * self._update_every, last)

    def close(self) -> None:
        """Write what is pending, sync and release the files; logs what could not be written."""
        if self._directory is None:
            return
        self.flush()
        if self._error is not None:
            lost = self._unpersisted_bytes()
            log.error("sample store %s: closing with %d bytes of samples not written (%s); they are lost",
                      self._directory, lost, self._error)
        for segment in self._segments.values():
            if segment.fd is not None:
                os.close(segment.fd)
                segment.fd = None
        self._active = None
        if self._staging_fd is not None:
            os.close(self._staging_fd)
            self._staging_fd = None


def _record_size(width: int, block: int) -> int:
    """Bytes of a block record: header, one checksum per slot row, the words."""
    return _RECORD_HEADER + 8 * width + 4 * width * block


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB"


def _pwrite_all(fd: int, data: Any, offset: int) -> None:
    view = memoryview(data).cast("B")
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:
            raise OSError(28, "short write")
        view = view[written:]
        offset += written
