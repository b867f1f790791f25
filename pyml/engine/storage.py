"""The sample store: storage words per dimension slot, with their time index.

Layout (blocked, measured in ``benchmarks/bench_store.py``): each tick writes
one time-major row into a staging buffer of ``block`` rows; when a block is
complete it is transposed into per-slot rings, so a tick costs a contiguous
row write and a training read is one contiguous run per slot plus at most
``block`` staged words.

Times are tick numbers ``k = t // update_every``. Slot columns belong to the
caller (the host maps dimensions to slots); a slot handed to a new dimension
must be cleared with :meth:`SampleStore.clear_slot`.

With ``directory=`` the rings, the staging rows and a small header live in
memory-mapped files, so samples survive a restart of the process. The header's
tick counter is written after the row it covers, so a process killed at any
moment reopens with every tick it completed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

_MAGIC = 0x50594D4C53544F52  # "PYMLSTOR"
_VERSION = 1
_HEADER_FIELDS = ("magic", "version", "update_every", "depth", "block", "capacity", "first_k", "last_k",
                  "flushed_block")
_NO_TICK = -(2**62)
_TRANSPOSE_CHUNK = 2048


class StoreError(RuntimeError):
    """A store directory that cannot be used (foreign, corrupt or incompatible files)."""


class SampleStore:
    """Storage words of many slots over a shared, regular time axis.

    Parameters
    ----------
    min_depth : int
        How many of the most recent ticks must always be readable (the
        training window plus one). The ring depth is rounded up to whole blocks
        plus one block of slack.
    update_every : int
        Seconds between ticks.
    capacity : int
        Initial number of slot columns; grows on demand.
    block : int
        Ticks staged time-major before being transposed into the rings.
    directory : path, optional
        Keep the store in memory-mapped files there (created if missing).
    """

    def __init__(
        self,
        min_depth: int,
        update_every: int = 1,
        *,
        capacity: int = 1024,
        block: int = 64,
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        if int(min_depth) < 1:
            raise ValueError(f"min_depth must be >= 1, got {min_depth!r}")
        if int(update_every) < 1:
            raise ValueError(f"update_every must be >= 1, got {update_every!r}")
        if int(block) < 1:
            raise ValueError(f"block must be >= 1, got {block!r}")
        self._block = int(block)
        self._depth = (-(-int(min_depth) // self._block) + 1) * self._block
        self._update_every = int(update_every)
        self._directory = Path(directory) if directory is not None else None
        capacity = max(1, int(capacity))
        if self._directory is None:
            self._header = np.array([_MAGIC, _VERSION, self._update_every, self._depth, self._block, capacity,
                                     _NO_TICK, _NO_TICK, _NO_TICK], dtype=np.int64)
            self._rings = np.zeros((capacity, self._depth), dtype=np.uint32)
            self._staging = np.zeros((self._block, capacity), dtype=np.uint32)
        else:
            self._open_directory(capacity)

    # ------------------------------------------------------------------ files

    def _path(self, name: str) -> Path:
        assert self._directory is not None
        return self._directory / name

    def _open_directory(self, capacity: int) -> None:
        directory = self._directory
        assert directory is not None
        directory.mkdir(parents=True, exist_ok=True)
        header_path = self._path("store-header.i64")
        if header_path.exists():
            self._header = self._open_header(header_path)
            capacity = int(self._header[5])
            rings_path = self._path(f"store-rings-{capacity}.u32")
            staging_path = self._path(f"store-staging-{capacity}.u32")
            expected = {rings_path: capacity * self._depth * 4, staging_path: self._block * capacity * 4}
            for path, size in expected.items():
                if not path.exists() or path.stat().st_size != size:
                    raise StoreError(f"sample store file {path} is missing or has the wrong size; not touching it")
            self._rings = np.memmap(rings_path, dtype=np.uint32, mode="r+", shape=(capacity, self._depth))
            self._staging = np.memmap(staging_path, dtype=np.uint32, mode="r+", shape=(self._block, capacity))
            self._remove_orphans(capacity)
            return
        existing = [p.name for p in directory.glob("store-*")]
        if existing:
            raise StoreError(f"{directory} holds store files {existing} but no header; not touching them")
        self._rings = self._create_map(self._path(f"store-rings-{capacity}.u32"), (capacity, self._depth))
        self._staging = self._create_map(self._path(f"store-staging-{capacity}.u32"), (self._block, capacity))
        header = np.memmap(header_path.with_suffix(".tmp"), dtype=np.int64, mode="w+", shape=(len(_HEADER_FIELDS),))
        header[:] = [_MAGIC, _VERSION, self._update_every, self._depth, self._block, capacity,
                     _NO_TICK, _NO_TICK, _NO_TICK]
        header.flush()
        del header
        os.replace(header_path.with_suffix(".tmp"), header_path)
        self._header = np.memmap(header_path, dtype=np.int64, mode="r+", shape=(len(_HEADER_FIELDS),))

    def _open_header(self, path: Path) -> np.ndarray:
        if path.stat().st_size != 8 * len(_HEADER_FIELDS):
            raise StoreError(f"sample store header {path} has size {path.stat().st_size}; expected "
                             f"{8 * len(_HEADER_FIELDS)} (foreign or corrupt file)")
        header = np.memmap(path, dtype=np.int64, mode="r+", shape=(len(_HEADER_FIELDS),))
        if int(header[0]) != _MAGIC or int(header[1]) != _VERSION:
            raise StoreError(f"sample store header {path} is not a pyml store of version {_VERSION}")
        stored = {"update_every": int(header[2]), "depth": int(header[3]), "block": int(header[4])}
        wanted = {"update_every": self._update_every, "depth": self._depth, "block": self._block}
        if stored != wanted:
            raise StoreError(f"sample store {path.parent} was made with {stored}, not {wanted}")
        return header

    @staticmethod
    def _create_map(path: Path, shape: tuple[int, int]) -> np.memmap:
        with open(path, "wb") as f:
            f.truncate(shape[0] * shape[1] * 4)
        return np.memmap(path, dtype=np.uint32, mode="r+", shape=shape)

    def _remove_orphans(self, capacity: int) -> None:
        keep = {f"store-rings-{capacity}.u32", f"store-staging-{capacity}.u32", "store-header.i64"}
        assert self._directory is not None
        for path in self._directory.glob("store-*"):
            if path.name not in keep and path.suffix in (".u32", ".tmp"):
                path.unlink()

    # ------------------------------------------------------------------ properties

    @property
    def update_every(self) -> int:
        """Seconds between ticks."""
        return self._update_every

    @property
    def depth(self) -> int:
        """Ring depth in ticks (at least ``min_depth``)."""
        return self._depth

    @property
    def readable_ticks(self) -> int:
        """How many of the most recent ticks are always readable."""
        return self._depth - self._block + 1

    @property
    def capacity(self) -> int:
        """Number of slot columns currently allocated."""
        return int(self._header[5])

    @property
    def last_time(self) -> int | None:
        """Timestamp of the newest tick, or None if nothing was stored."""
        k = int(self._header[7])
        return None if k == _NO_TICK else k * self._update_every

    @property
    def first_time(self) -> int | None:
        """Timestamp of the oldest tick still readable, or None."""
        k = self._first_k()
        return None if k is None else k * self._update_every

    def _first_k(self) -> int | None:
        first, last = int(self._header[6]), int(self._header[7])
        if last == _NO_TICK:
            return None
        return max(first, last - self.readable_ticks + 1)

    # ------------------------------------------------------------------ writing

    def ensure_capacity(self, slots: int) -> None:
        """Make room for at least ``slots`` slot columns (existing data kept)."""
        old = self.capacity
        if slots <= old:
            return
        new = max(int(slots), 2 * old)
        if self._directory is None:
            rings = np.zeros((new, self._depth), dtype=np.uint32)
            staging = np.zeros((self._block, new), dtype=np.uint32)
        else:
            rings = self._create_map(self._path(f"store-rings-{new}.u32"), (new, self._depth))
            staging = self._create_map(self._path(f"store-staging-{new}.u32"), (self._block, new))
        rings[:old] = self._rings
        staging[:, :old] = self._staging
        if self._directory is not None:
            rings.flush()
            staging.flush()
        self._rings, self._staging = rings, staging
        self._header[5] = new  # the switch: reopening now uses the new files
        if self._directory is not None:
            self._remove_orphans(new)

    def clear_slot(self, slot: int) -> None:
        """Forget every word of ``slot`` (for a slot given to a new dimension)."""
        self._check_slot(slot)
        self._rings[slot, :] = 0
        self._staging[:, slot] = 0

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
        remaining slots get the empty word).
        """
        k = self.tick_of(t)
        last = int(self._header[7])
        if last != _NO_TICK and k <= last:
            raise ValueError(f"timestamp {t} is not after the last stored one ({last * self._update_every})")
        if words.dtype != np.uint32 or words.ndim != 1 or words.size > self.capacity:
            raise ValueError(f"words must be a 1-D uint32 array of at most {self.capacity} elements")
        block = self._block
        if last != _NO_TICK and k // block != last // block:
            self._flush_block(last // block)
            self._clear_skipped_blocks(last // block + 1, k // block)
        row = self._staging[k % block]
        row[: words.size] = words
        row[words.size:] = 0
        if last != _NO_TICK:
            # Skipped ticks inside this block become empty rows.
            start = last + 1 if last // block == k // block else (k // block) * block
            for gap in range(start, k):
                self._staging[gap % block] = 0
        else:
            self._staging[: k % block] = 0
            self._header[6] = k
        self._header[7] = k

    def _ring_columns(self, block_index: int) -> slice:
        start = (block_index * self._block) % self._depth
        return slice(start, start + self._block)

    def _flush_block(self, block_index: int) -> None:
        # Copy, then record the copy, then clear the staging rows: a process
        # killed anywhere in between reopens and redoes at most the copy.
        if int(self._header[8]) != block_index:
            columns = self._ring_columns(block_index)
            # Transpose in slot chunks whose staging part stays in cache.
            for start in range(0, self.capacity, _TRANSPOSE_CHUNK):
                stop = min(start + _TRANSPOSE_CHUNK, self.capacity)
                self._rings[start:stop, columns] = self._staging[:, start:stop].T
            self._header[8] = block_index
        self._staging[:] = 0

    def _clear_skipped_blocks(self, first_block: int, end_block: int) -> None:
        """Empty the ring columns of blocks ``first_block .. end_block - 1``, which no tick wrote."""
        blocks_in_ring = self._depth // self._block
        for b in range(first_block, min(end_block, first_block + blocks_in_ring)):
            self._rings[:, self._ring_columns(b)] = 0

    def flush(self) -> None:
        """Write memory-mapped data to its files (no-op in memory)."""
        for array in (self._rings, self._staging, self._header):
            if isinstance(array, np.memmap):
                array.flush()

    # ------------------------------------------------------------------ reading

    def read(self, slots: np.ndarray | list[int], after: float, before: float) -> tuple[np.ndarray, np.ndarray]:
        """Words of ``slots`` for the ticks in ``[after, before]`` that are readable.

        Returns ``(times, words)``: epoch seconds int64[n] oldest first and
        uint32[len(slots), n]. Ticks never written are empty words.
        """
        slots = np.asarray(slots, dtype=np.int64).reshape(-1)
        if slots.size and (slots.min() < 0 or slots.max() >= self.capacity):
            bad = slots[(slots < 0) | (slots >= self.capacity)][0]
            raise IndexError(f"slot {int(bad)} is outside the store (capacity {self.capacity})")
        first = self._first_k()
        if first is None:
            return np.zeros(0, dtype=np.int64), np.zeros((slots.size, 0), dtype=np.uint32)
        last = int(self._header[7])
        k0 = max(first, -(-int(np.ceil(after)) // self._update_every))
        k1 = min(last, int(np.floor(before)) // self._update_every)
        if k1 < k0:
            return np.zeros(0, dtype=np.int64), np.zeros((slots.size, 0), dtype=np.uint32)
        ticks = np.arange(k0, k1 + 1, dtype=np.int64)
        out = np.empty((slots.size, ticks.size), dtype=np.uint32)
        current_block_start = (last // self._block) * self._block
        in_rings = ticks < current_block_start
        n_rings = int(in_rings.sum())
        if n_rings:
            columns = ticks[:n_rings] % self._depth
            out[:, :n_rings] = self._rings[np.ix_(slots, columns)] if slots.size else 0
        if n_rings < ticks.size:
            rows = ticks[n_rings:] % self._block
            out[:, n_rings:] = self._staging[np.ix_(rows, slots)].T if slots.size else 0
        return ticks * self._update_every, out

    def latest(self, slots: np.ndarray | list[int], n: int) -> tuple[np.ndarray, np.ndarray]:
        """The words of the last ``n`` ticks (fewer if not stored yet), oldest first."""
        last = self.last_time
        if last is None:
            return self.read(slots, 0, -1)
        return self.read(slots, last - (n - 1) * self._update_every, last)

    def close(self) -> None:
        """Flush and release the files."""
        self.flush()
