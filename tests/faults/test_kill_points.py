"""A process killed between any two file-system calls: every completed tick reads back, and nothing is damage.

A SIGKILL keeps everything already written (the page cache survives it) and
nothing after it, so a kill is modelled exactly, and deterministically, by
stopping at the n-th call that changes a file: the modules' ``os`` is
replaced by one that raises :class:`Killed` (not an ``OSError``, so no
clean-up path runs) before or after that call, or after writing the first
half of a ``pwrite`` (a write cut short by the signal). The objects are then
abandoned as a dead process's would be (their file descriptors closed, no
method called) and the directory is reopened.

``test_sigkill.py`` kills a real process at random moments; this file tries
every moment of the paths where the order of writes matters.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pytest

import pyml
from pyml import MLConfig
from pyml.engine import checked, storage, tiers
from pyml.engine.storage import SampleStore

B = 8
WIDTH = 300  # rows and records span pages, so writes can be cut short
PAGE = 4096
T0 = 1_700_000_000


class Killed(BaseException):
    """The process died here."""


class KillingOs:
    """Stands in for ``os`` in the store's modules: counts the calls that change files, dies at the ``at``-th.

    ``when`` is ``"before"`` (the call never happens), ``"after"`` (it
    happened) or ``"torn"`` (a ``pwrite`` that spans a page boundary wrote
    up to it: the kernel copies a write page by page and stops between two
    pages for a fatal signal). ``at=0`` never dies: a dry run that counts
    the calls (``names``; ``tearable`` says which could be torn).
    """

    CHANGES = frozenset({"open", "pwrite", "write", "posix_fallocate", "ftruncate", "replace", "rename", "unlink"})

    def __init__(self, at: int = 0, when: str = "before") -> None:
        self.at, self.when = at, when
        self.names: list[str] = []
        self.tearable: list[bool] = []
        self.fds: list[int] = []

    def __getattr__(self, name: str) -> Any:
        real = getattr(os, name)
        if name not in self.CHANGES:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if name == "open" and not (len(args) > 1 and args[1] & os.O_CREAT):
                return real(*args, **kwargs)
            self.names.append(name)
            cut = PAGE - args[2] % PAGE if name == "pwrite" else 0
            self.tearable.append(0 < cut < len(memoryview(args[1]).cast("B")) if name == "pwrite" else False)
            here = len(self.names) == self.at
            if here and self.when == "before":
                raise Killed(f"before call {self.at} ({name})")
            if here and self.when == "torn":
                assert self.tearable[-1], f"call {self.at} ({name}) cannot be torn"
                os.pwrite(args[0], memoryview(args[1]).cast("B")[:cut], args[2])
                raise Killed(f"in call {self.at} (pwrite cut at a page boundary)")
            result = real(*args, **kwargs)
            if name == "open":
                self.fds.append(result)
            if here:
                raise Killed(f"after call {self.at} ({name})")
            return result

        return call

    def bury(self) -> None:
        """Close what the dead process had open (closing changes no file)."""
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass


def kill_points(monkeypatch: pytest.MonkeyPatch, fake: KillingOs, action: Callable[[], Any]) -> bool:
    """Run ``action`` with ``fake`` as the modules' ``os``; True if it was killed."""
    with monkeypatch.context() as m:
        for module in (storage, checked, tiers):
            m.setattr(module, "os", fake)
        try:
            action()
        except Killed:
            fake.bury()
            return True
    return False


def each_kill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: Callable[[Path], Any],
              action: Callable[[Any], Any]) -> Iterator[tuple[int, str, Path, KillingOs]]:
    """Kill ``action(setup(directory))`` at each of its points in a directory of its own; yield each.

    The points: before and after every call that changes a file, and in
    every ``pwrite`` (cut short). ``setup`` runs without faults.
    """
    dry = KillingOs()
    state = setup(tmp_path / "dry")
    assert not kill_points(monkeypatch, dry, lambda: action(state))
    assert dry.names, "the path under test changed no file"
    for n, tearable in enumerate(dry.tearable, 1):
        for when in ("before", "after", "torn"):
            if when == "torn" and not tearable:
                continue
            directory = tmp_path / f"{n}-{when}"
            state = setup(directory)
            fake = KillingOs(n, when)
            assert kill_points(monkeypatch, fake, lambda: action(state)), f"no call {n} the second time"
            yield n, when, directory, fake


def abandon(store: SampleStore, closed: Iterable[int] = ()) -> None:
    """Leave ``store`` as a killed process would: its files closed (but those in ``closed``), nothing else done."""
    fds = {store._staging_fd, *(s.fd for s in store._segments.values())} - {None, *closed}
    for fd in fds:
        os.close(fd)


def words_of(k: int, width: int = WIDTH) -> np.ndarray:
    return (np.arange(width, dtype=np.uint32) * 7 + np.uint32(k * 1000 + 3)).astype(np.uint32)


def open_store(directory: Path) -> SampleStore:
    return SampleStore(3 * B, block=B, capacity=WIDTH, directory=directory)


def filled(directory: Path, ticks: range) -> SampleStore:
    store = open_store(directory)
    for k in ticks:
        store.append(k, words_of(k))
    return store


def lost_ticks(store: SampleStore, ticks: range) -> list[int]:
    times, words = store.read(np.arange(WIDTH), ticks[0], ticks[-1])
    got = {int(t): words[:, i] for i, t in enumerate(times)}
    return [k for k in ticks if k not in got or not np.array_equal(got[k], words_of(k))]


@pytest.mark.parametrize("in_flight", [2 * B, 2 * B + 2], ids=["closing-a-block", "row-across-a-page"])
def test_a_kill_during_a_tick_loses_no_completed_tick(tmp_path, monkeypatch, ledger, in_flight):
    """Kill a tick anywhere: the one that closes a block (the block's record, then the tick's row), or one
    whose row spans a page boundary (its write can be cut short).

    With the record's header written first, a kill after the header and
    before the words left a record that checked out at opening: the block's
    ticks read as empty (reported as damage only once a read touched them)
    and their staged copy was not used.
    """
    completed = range(0, in_flight)  # block 0 written, block 1 staged (and block 2 begun)
    tried = lost = 0
    for n, when, directory, fake in each_kill(tmp_path, monkeypatch, lambda d: filled(d, completed),
                                              lambda store: store.append(in_flight, words_of(in_flight))):
        tried += 1
        reopened = open_store(directory)
        where = f"killed {when} call {n} ({fake.names[-1]}; calls {fake.names})"
        assert reopened.damage == [], where
        missing = lost_ticks(reopened, completed)
        _, words = reopened.read(np.arange(WIDTH), in_flight, in_flight)
        assert words.shape[1] == 0 or not words.any() or np.array_equal(words[:, 0], words_of(in_flight)), where
        # the store goes on from there, and what it recovered is on disk for the next opening
        reopened.append(in_flight + 1, words_of(in_flight + 1))
        reopened.append(3 * B, words_of(3 * B))  # closes the block in flight: recovered rows written
        reopened.close()
        again = open_store(directory)
        assert again.damage == [], where
        missing += [k for k in lost_ticks(again, completed) if k not in missing]
        again.close()
        lost += len(missing)
        assert missing == [], f"{where}: completed ticks {missing} lost"
    ledger.record(f"kill at each of {tried} points of tick {in_flight % B} of a block", True, lost)


def test_a_kill_while_a_store_reopens_loses_no_completed_tick(tmp_path, monkeypatch, ledger):
    """Opening a store with staged rows copies them into a new staging file, then deletes the old one."""
    completed = range(0, B + B // 2)  # block 0 written, half of block 1 staged

    def killed_writer(directory: Path) -> Path:
        abandon(filled(directory, completed))
        return directory

    tried = lost = 0
    for n, when, directory, fake in each_kill(tmp_path, monkeypatch, killed_writer, open_store):
        tried += 1
        reopened = open_store(directory)
        where = f"killed {when} call {n} ({fake.names[-1]}) while reopening"
        assert reopened.damage == [], where
        missing = lost_ticks(reopened, completed)
        reopened.close()
        lost += len(missing)
        assert missing == [], f"{where}: completed ticks {missing} lost"
    ledger.record(f"kill at each of {tried} points of a reopening", True, lost)


def test_a_record_written_header_first_and_killed_is_rebuilt_from_the_staged_rows(tmp_path, monkeypatch, ledger):
    """The state a kill left with the earlier write order: a valid header over zeros, the rows still staged."""
    store = filled(tmp_path, range(0, 2 * B))
    fake = KillingOs(6, "before")  # a new segment, its space, row sums, words, header; not the next row
    assert kill_points(monkeypatch, fake, lambda: store.append(2 * B, words_of(2 * B)))
    assert fake.names == ["open", "posix_fallocate", "pwrite", "pwrite", "pwrite", "pwrite"], fake.names
    abandon(store, closed=fake.fds)
    segment = sorted(tmp_path.glob("seg-*.blk"))[-1]
    data = bytearray(segment.read_bytes())
    data[64:] = bytes(len(data) - 64)  # only the header written (the record is the segment's only one)
    segment.write_bytes(bytes(data))
    reopened = open_store(tmp_path)
    assert len(reopened.damage) == 1 and "rebuilt from the staged rows" in reopened.damage[0], reopened.damage
    assert str(segment) in reopened.damage[0]
    missing = lost_ticks(reopened, range(0, 2 * B))
    assert missing == []
    reopened.close()
    again = open_store(tmp_path)  # written again as a new record: nothing left to report
    assert lost_ticks(again, range(0, 2 * B)) == [] and again.damage == []
    again.close()
    ledger.record("a record's header without its words (earlier write order), rows staged", True, len(missing))


def test_a_staging_file_killed_at_its_creation_is_not_damage(tmp_path, monkeypatch):
    """Created and reserved, killed before its header: all zeros; the previous staging file has the rows."""
    abandon(filled(tmp_path, range(0, B // 2)))
    fake = KillingOs(2, "after")  # the new file's creation and reservation; its header never written
    assert kill_points(monkeypatch, fake, lambda: open_store(tmp_path))
    assert fake.names == ["open", "posix_fallocate"], fake.names
    assert len(list(tmp_path.glob("staging-*.rows"))) == 2
    reopened = open_store(tmp_path)
    assert reopened.damage == []
    assert lost_ticks(reopened, range(0, B // 2)) == []
    reopened.close()


def test_a_host_killed_during_its_first_start_starts_again(tmp_path, monkeypatch, ledger):
    """Every point of a new host's start and close (store header, tier settings, slot table, registry)."""
    def start(directory: Path) -> None:
        pyml.Host("killed", MLConfig(), storage_dir=directory, background=False).close()

    tried = 0
    for n, when, directory, fake in each_kill(tmp_path, monkeypatch, lambda d: d, start):
        tried += 1
        host = pyml.Host("killed", MLConfig(), storage_dir=directory, background=False)
        assert host._store.damage == [] and host._tiers.damage == [], f"killed {when} call {n} ({fake.names[-1]})"
        host.close()
    ledger.record(f"kill at each of {tried} points of a host's first start", True, 0)
