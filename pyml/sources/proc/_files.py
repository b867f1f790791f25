"""Reading ``/proc`` and ``/sys`` files under configurable roots, with warnings once.

Every problem (a missing or unreadable file, a malformed line) is logged once
on the ``pyml.collectors`` logger and then stays quiet until it is solved, so a
container without ``/proc/pressure`` gets one warning, not one per second.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Hashable, Iterable

log = logging.getLogger("pyml.collectors")


class Files:
    """Access to the files of one collector (internal)."""

    def __init__(self, proc_root: str, sys_root: str) -> None:
        self.proc_root = proc_root
        self.sys_root = sys_root
        self._warned: set[Hashable] = set()
        self._cache: dict[str, str | None] | None = None
        # Bumped when previous numbers stop being comparable (another clock);
        # sources that keep their own previous numbers compare it.
        self.epoch = 0

    def begin(self) -> None:
        """Start a collection: a file read twice in it is read once."""
        self._cache = {}

    def end(self) -> None:
        """End a collection (drop the texts read)."""
        self._cache = None

    # -- warnings ------------------------------------------------------------

    def warn_once(self, key: Hashable, message: str, *args: object) -> None:
        """Log ``message % args`` as a warning the first time ``key`` is seen."""
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def solved(self, key: Hashable) -> None:
        """Forget ``key``, so that the problem is reported again if it recurs."""
        self._warned.discard(key)

    def malformed(self, module: str, line: str) -> None:
        """Report a line of ``module`` that cannot be parsed (once per line key)."""
        words = line.split()
        key = ("malformed", module, words[0] if words else "")
        self.warn_once(key, "%s: skipping malformed line %r", module, line[:200])

    # -- reading -------------------------------------------------------------

    def proc(self, rel: str) -> str | None:
        """Text of ``<proc_root>/<rel>``, or None (with a warning once) if unreadable."""
        cache = self._cache
        if cache is not None and rel in cache:
            return cache[rel]
        text = self._read_proc(rel)
        if cache is not None:
            cache[rel] = text
        return text

    def _read_proc(self, rel: str) -> str | None:
        path = os.path.join(self.proc_root, rel)
        key = ("unreadable", path)
        try:
            data = _read_bytes(path)
        except OSError as exc:
            self.warn_once(key, "cannot read %s (%s); its charts are disabled until it is readable", path, exc.strerror or exc)
            return None
        if key in self._warned:
            self._warned.discard(key)
            log.info("%s is readable again", path)
        return data.decode("utf-8", "replace")

    def sys(self, rel: str) -> str | None:
        """Stripped text of ``<sys_root>/<rel>``, or None without a warning (optional data)."""
        try:
            return _read_bytes(os.path.join(self.sys_root, rel)).decode("utf-8", "replace").strip()
        except OSError:
            return None

    def sys_exists(self, rel: str) -> bool:
        """Whether ``<sys_root>/<rel>`` exists."""
        return os.path.exists(os.path.join(self.sys_root, rel))

    def sys_listdir(self, rel: str) -> list[str]:
        """Entries of the directory ``<sys_root>/<rel>`` (empty if absent)."""
        try:
            return os.listdir(os.path.join(self.sys_root, rel))
        except OSError:
            return []


def _read_bytes(path: str) -> bytes:
    """Whole content of a (pseudo-)file; unbuffered, cheaper than ``open`` for tiny files."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        chunks: list[bytes] = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def star_pattern(patterns: Iterable[str]) -> re.Pattern[str]:
    """One regular expression matching any of Netdata-style ``*`` patterns.

    Only ``*`` is special (any run of characters), as in Netdata's simple
    patterns; everything else matches literally.
    """
    alternatives = [".*".join(re.escape(part) for part in p.split("*")) for p in patterns]
    if not alternatives:
        return re.compile(r"(?!)")
    return re.compile("(?:" + "|".join(alternatives) + r")\Z", re.DOTALL)
