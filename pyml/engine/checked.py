"""Small files that carry their own checksum, written atomically, and a quarantine for damaged parts.

Design
------
pyml keeps a few small state files next to its samples (the store's header,
its slot table, the host's chart registry). Each is written the same way:
the whole content goes to ``<name>.tmp``, is synced, and replaces the file
with ``os.replace``, so a reader sees either the old or the new content,
never a mix. Each content carries a CRC-32:

* JSON files have a top-level ``"crc32"`` member: the CRC-32 of the
  document without that member, serialised canonically (sorted keys, no
  spaces), so the file stays readable and editable by a person who
  recomputes it with :func:`json_checksum`.

A file whose checksum does not match is *damaged*: :class:`DamagedFile`
names it and says what is wrong. A damaged file is never overwritten in
place; :func:`quarantine_file` moves it (or :func:`quarantine_bytes` copies
a byte range of it) into ``<data dir>/quarantine/``, where it stays for
inspection, and the caller goes on with what remains.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from pathlib import Path
from typing import Any

__all__ = ["DamagedFile", "json_checksum", "read_checked_json", "write_checked_json", "write_atomic",
           "quarantine_file", "quarantine_bytes", "QUARANTINE_DIR"]

log = logging.getLogger("pyml.storage")

#: Name of the folder (inside a data directory) that receives damaged files and byte ranges.
QUARANTINE_DIR = "quarantine"


class DamagedFile(ValueError):
    """A state file whose content fails its checksum or structure checks.

    ``path`` is the file; the message names it and the problem.
    """

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


def json_checksum(document: dict[str, Any]) -> int:
    """CRC-32 of ``document`` without its ``"crc32"`` member, serialised canonically."""
    body = {k: v for k, v in document.items() if k != "crc32"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return zlib.crc32(text.encode("ascii"))


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``<path>.tmp`` + fsync + rename; nothing half-written remains.

    Raises ``OSError`` (for example ENOSPC) with the old file untouched and
    the temporary file removed.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def write_checked_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` with its ``"crc32"`` member, atomically (see :func:`write_atomic`)."""
    body = {k: v for k, v in document.items() if k != "crc32"}
    body["crc32"] = json_checksum(body)
    write_atomic(path, json.dumps(body, allow_nan=False).encode("utf-8"))


def read_checked_json(path: Path, *, required: bool = True) -> dict[str, Any]:
    """Read a JSON object and check its ``"crc32"``.

    ``required=False`` accepts a document without the member (files written
    before checksums existed). Raises :class:`DamagedFile` for bytes that are
    not UTF-8 JSON, a non-object, or a checksum mismatch; ``OSError`` when
    the file cannot be read.
    """
    raw = path.read_bytes()
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DamagedFile(path, f"not JSON ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    if not isinstance(document, dict):
        raise DamagedFile(path, f"not a JSON object (a {type(document).__name__})")
    stored = document.get("crc32")
    if stored is None:
        if required:
            raise DamagedFile(path, "has no crc32 member")
        return document
    if isinstance(stored, bool) or not isinstance(stored, int) or stored != json_checksum(document):
        raise DamagedFile(path, f"checksum mismatch (stored {stored!r}, content gives {json_checksum(document)})")
    return document


def _quarantine_target(data_dir: Path, name: str) -> Path:
    folder = data_dir / QUARANTINE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    target = folder / f"{stamp}-{name}"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{stamp}-{n}-{name}"
    return target


def quarantine_file(data_dir: Path, path: Path, reason: str) -> Path | None:
    """Move the damaged file ``path`` into ``<data_dir>/quarantine/``; returns where it went.

    Logs one error line naming the file, the reason and the new place.
    Returns None (and logs) if the move fails; the file is then left where it
    was, untouched.
    """
    try:
        target = _quarantine_target(data_dir, path.name)
        os.replace(path, target)
    except OSError as exc:
        log.error("%s is damaged (%s); could not move it to %s/: %s", path, reason, QUARANTINE_DIR, exc)
        return None
    log.error("%s is damaged (%s); moved to %s", path, reason, target)
    return target


def quarantine_bytes(data_dir: Path, path: Path, offset: int, length: int, reason: str) -> Path | None:
    """Copy ``length`` bytes of ``path`` at ``offset`` into ``<data_dir>/quarantine/``.

    The source file is not changed (its damaged part is simply never used
    again). Returns the copy's path, or None when the copy failed (logged).
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(max(0, length))
        target = _quarantine_target(data_dir, f"{path.name}.at{offset}.bad")
        write_atomic(target, data)
    except OSError as exc:
        log.error("%s bytes %d..%d are damaged (%s); could not copy them to %s/: %s", path, offset,
                  offset + length, reason, QUARANTINE_DIR, exc)
        return None
    log.error("%s bytes %d..%d are damaged (%s); not used, a copy is in %s", path, offset, offset + length,
              reason, target)
    return target
