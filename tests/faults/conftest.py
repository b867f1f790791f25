"""Fault injection: real full disks (tmpfs), read-only file systems, corrupted bytes, SIGKILL, bad clients.

Every test records the faults it injected in the ``ledger`` (fault, survived,
items lost); pytest prints them as one table at the end of the run:
``PYTHONPATH=$PWD pytest tests/faults -q``. Full disks and read-only file
systems are small tmpfs mounts, which needs root (CI runs as root).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest


@dataclass
class Ledger:
    """Faults tried in this run: ``(fault, survived, lost)`` rows."""

    rows: list[tuple[str, bool, int]] = field(default_factory=list)

    def record(self, fault: str, survived: bool, lost: int = 0) -> None:
        """Add one fault; ``lost`` counts stored items (ticks, events, models, charts) missing afterwards."""
        self.rows.append((fault, bool(survived), int(lost)))


_LEDGER = Ledger()


@pytest.fixture
def ledger() -> Ledger:
    return _LEDGER


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    rows = _LEDGER.rows
    if not rows:
        return
    width = max(len(r[0]) for r in rows)
    write = terminalreporter.write_line
    write("")
    write(f"{'fault injected':<{width}}  survived  data lost")
    for fault, survived, lost in rows:
        write(f"{fault:<{width}}  {'yes' if survived else 'NO':>8}  {lost:>9}")
    survived = sum(1 for r in rows if r[1])
    lost = sum(r[2] for r in rows)
    write(f"{'total: ' + str(len(rows)) + ' faults':<{width}}  {survived:>8}  {lost:>9}")


class SmallDisk:
    """A tmpfs of ``size_kb`` mounted at ``path``; :meth:`fill` and :meth:`free` control its space."""

    def __init__(self, path: Path, size_kb: int) -> None:
        self.path = path
        self.size_kb = size_kb
        self._filler = path / f".filler-{uuid.uuid4().hex}"

    def fill(self) -> None:
        """Take every free byte (writes until ENOSPC)."""
        chunk = b"\0" * 65536
        with open(self._filler, "ab") as f:
            while True:
                try:
                    f.write(chunk)
                    f.flush()
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        for size in (4096, 512, 1):  # the last partial pages
            with contextlib.suppress(OSError), open(self._filler, "ab", buffering=0) as f:
                while True:
                    f.write(b"\0" * size)

    def free(self) -> None:
        """Give the space back."""
        with contextlib.suppress(FileNotFoundError):
            self._filler.unlink()

    def read_only(self, on: bool = True) -> None:
        """Remount read-only (or read-write again)."""
        subprocess.run(["mount", "-o", f"remount,{'ro' if on else 'rw'}", str(self.path)], check=True,
                       capture_output=True)

    def free_kb(self) -> int:
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize // 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator:
    """Factory: ``small_disk(size_kb)`` mounts a tmpfs of that size (unmounted after the test)."""
    mounted: list[Path] = []

    def make(size_kb: int) -> SmallDisk:
        path = tmp_path / f"disk{len(mounted)}"
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs (needs root, as in CI): {done.stderr.strip()}")
        mounted.append(path)
        return SmallDisk(path, size_kb)

    yield make
    for path in reversed(mounted):
        subprocess.run(["mount", "-o", "remount,rw", str(path)], capture_output=True)
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
