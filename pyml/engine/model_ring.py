"""A dimension's models as one persisted value: the ring of ``(Model, after, before)``.

Profiles with several models per dimension (``netdata-2``, ``pyml``) keep a
ring of models per dimension, each with the time range it was trained on
(``after``/``before``, epoch seconds). The host saves a dimension's whole ring
as one row of the database's ``models`` table whenever a tick installs a new
model, so the ring a restarted host restores is exactly the ring it had
(Netdata keeps one row per training and restores the newest ones instead).
A profile with one model per dimension (``netdata-1.33``) keeps saving the
plain model bytes, so databases written before rings existed still load.

Layout (little-endian): the magic ``b"PYMLRING"``, a format version (uint16),
the number of models (uint16), then per model ``after`` and ``before``
(int64) and the model's own bytes (:meth:`pyml.core.Model.to_bytes`, which
carry their own length, version and CRC) preceded by their length (uint32);
finally a CRC-32 of everything before it. Anything else is refused with a
``ValueError`` that says what is wrong.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any, Sequence

from .. import core

__all__ = ["RING_MAGIC", "decode_ring", "encode_ring", "is_ring"]

RING_MAGIC = b"PYMLRING"
_VERSION = 1
_HEAD = struct.Struct("<8sHH")
_ENTRY = struct.Struct("<qqI")
_CRC = struct.Struct("<I")


def is_ring(blob: bytes) -> bool:
    """Whether ``blob`` is a ring (rather than one model's bytes)."""
    return bytes(blob[: len(RING_MAGIC)]) == RING_MAGIC


def encode_ring(models: Sequence[tuple[Any, int, int]]) -> bytes:
    """The bytes of a ring: ``models`` oldest first, each ``(Model, after, before)``."""
    if len(models) > 0xFFFF:
        raise ValueError(f"a ring holds at most 65535 models, got {len(models)}")
    parts = [_HEAD.pack(RING_MAGIC, _VERSION, len(models))]
    for i, item in enumerate(models):
        try:
            model, after, before = item
        except (TypeError, ValueError):
            raise TypeError(f"models[{i}] must be a (Model, after, before) tuple, got {item!r:.80}") from None
        blob = model.to_bytes()
        parts.append(_ENTRY.pack(int(after), int(before), len(blob)))
        parts.append(blob)
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def decode_ring(blob: bytes) -> list[tuple[Any, int, int]]:
    """The ``(Model, after, before)`` models of a ring, oldest first; ``ValueError`` if damaged."""
    data = bytes(blob)
    if len(data) < _HEAD.size + _CRC.size or not is_ring(data):
        raise ValueError(f"not a model ring ({len(data)} bytes, starts {data[:8]!r})")
    body, (crc,) = data[: -_CRC.size], _CRC.unpack(data[-_CRC.size:])
    if zlib.crc32(body) != crc:
        raise ValueError("model ring is damaged (CRC mismatch)")
    _, version, count = _HEAD.unpack_from(body, 0)
    if version != _VERSION:
        raise ValueError(f"model ring format {version} is not supported (this pyml reads {_VERSION})")
    offset, out = _HEAD.size, []
    for i in range(count):
        if offset + _ENTRY.size > len(body):
            raise ValueError(f"model ring is truncated at model {i} of {count}")
        after, before, size = _ENTRY.unpack_from(body, offset)
        offset += _ENTRY.size
        if offset + size > len(body):
            raise ValueError(f"model ring is truncated inside model {i} of {count}")
        out.append((core.Model.from_bytes(body[offset: offset + size]), int(after), int(before)))
        offset += size
    if offset != len(body):
        raise ValueError(f"model ring has {len(body) - offset} stray bytes after its {count} models")
    return out
