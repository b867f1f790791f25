"""JSON text of the API's answers: orjson when it is installed, the standard library otherwise.

Design
------
Two encoders keep one contract, so an answer means the same whichever one
wrote it (``tests/test_fastjson.py`` compares them value by value):

* compact text (no spaces), keys in insertion order, UTF-8 bytes;
* a float that is not finite (NaN, inf) is ``null``, as Netdata prints a
  missing value; ``-0.0`` stays ``-0.0``; a float stays a float (``50.0``)
  and an int an int, at any size (ints beyond 64 bits included);
* NumPy scalars are their Python values (``np.int64(3)`` is ``3``,
  ``np.float32(0.1)`` the float it holds); dict keys that are not strings
  become strings as :func:`json.dumps` makes them; anything else is a
  ``TypeError`` naming its type.

Numbers are printed in the shortest form that reads back to the same
double; the two encoders may spell an exponent differently (``1e-07`` and
``1e-7``), which JSON readers do not distinguish.

The hot path of ``/api/v1/data`` is :meth:`JsonEncoder.data_rows`: rows of
``[time, value, ...]`` from NumPy arrays. :class:`OrjsonEncoder` writes the
whole table from one float64 array in native code (no Python object per
value) with the times in its first column, then removes the ``.0`` after
each time with one vectorised pass over the bytes, so times stay integers;
it checks the layout it relies on and takes the slow path when it does not
hold. :class:`StdlibEncoder` builds the rows as Python lists.

orjson was chosen over msgspec (the ``fast`` extra's decoder) by measurement: for a table of
3,600 rows of 10 values, orjson writes the float array in about 1.3 ms of CPU and the byte pass
takes 0.3 to 0.5 ms, where msgspec needs the values as Python lists (1.2 ms to build) and 1.5 ms to
encode them, and the standard library about 10 ms (this 2-core machine, under load).

Documents that embed such a table (``jsonwrap``) are written with
:meth:`JsonEncoder.dumps_with`: the document holds a placeholder string where
the table goes, and the encoded table replaces it.

``ENCODER`` is the encoder in use (:func:`use` changes it, for tests and for
comparing them); ``BACKEND`` names it.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any, Mapping

import numpy as np

try:
    import orjson
except ImportError:  # the "fast" extra is not installed
    orjson = None  # type: ignore[assignment]

__all__ = ["JsonEncoder", "StdlibEncoder", "OrjsonEncoder", "ENCODER", "BACKEND", "available", "use", "dumps",
           "dumps_with", "data_rows", "placeholder"]

#: Stamps from this magnitude on are not written through the float table (exact and without exponent below it).
_STAMP_LIMIT = 10**15
#: Tables of at most this many values are written from Python lists (one pass of orjson, no byte pass).
_SMALL_TABLE = 2048
#: 10, 100, ..., 10**15: the number of a stamp's digits is one plus how many of these it reaches.
_POWERS = 10 ** np.arange(1, 16, dtype=np.int64)


def _default(value: Any) -> Any:
    """What both encoders do with a value JSON has no type for: NumPy scalars and subclasses of float."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable: {value!r}")


def _finite_only(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (containers copied, others as they are)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_only(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_only(v) for v in value]
    if isinstance(value, np.generic):
        return _finite_only(value.item())
    return value


def _stdlib_text(document: Any, indent: int | str | None = None) -> str:
    """The standard library's JSON text of ``document`` under this module's contract."""
    separators = None if indent is not None else (",", ":")
    try:
        return json.dumps(document, indent=indent, allow_nan=False, separators=separators, default=_default)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
    return json.dumps(_finite_only(document), indent=indent, allow_nan=False, separators=separators,
                      default=_default)


def _check_table(stamps: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    stamps = np.asarray(stamps)
    cells = np.asarray(cells, dtype=np.float64)
    if stamps.ndim != 1 or not np.issubdtype(stamps.dtype, np.integer):
        raise ValueError(f"stamps must be a 1-D integer array, got {stamps.dtype} of shape {stamps.shape}")
    if cells.ndim != 2 or cells.shape[0] != stamps.shape[0]:
        raise ValueError(f"cells must be a 2-D array of one row per stamp ({stamps.shape[0]}), "
                         f"got shape {cells.shape}")
    return stamps, cells


class JsonEncoder:
    """The contract of both encoders (see the module docstring)."""

    #: The encoder's name: ``"orjson"`` or ``"json"``.
    name = "json"

    def dumps(self, document: Any) -> bytes:
        """Compact JSON of ``document``."""
        raise NotImplementedError

    def data_rows(self, stamps: np.ndarray, cells: np.ndarray) -> bytes:
        """The JSON array of rows ``[stamps[i], *cells[i]]``: ints, then floats or ``null`` for NaN.

        ``stamps`` is int (P,), ``cells`` float64 (P, D); ValueError naming
        the shapes when they do not fit.
        """
        raise NotImplementedError

    def dumps_with(self, document: Any, raw: Mapping[str, bytes]) -> bytes:
        """Compact JSON of ``document`` in which each string ``key`` of ``raw`` is replaced by the
        JSON text ``raw[key]`` (placeholders from :func:`placeholder`)."""
        body = self.dumps(document)
        for key, text in raw.items():
            token = self.dumps(key)
            if body.count(token) != 1:
                raise ValueError(f"placeholder {key!r} appears {body.count(token)} times in the document, not once")
            body = body.replace(token, text, 1)
        return body


class StdlibEncoder(JsonEncoder):
    """The encoder of the standard library's :mod:`json` (always available)."""

    name = "json"

    def dumps(self, document: Any) -> bytes:
        return _stdlib_text(document).encode("utf-8")

    def data_rows(self, stamps: np.ndarray, cells: np.ndarray) -> bytes:
        stamps, cells = _check_table(stamps, cells)
        rows = [[t, *row] for t, row in zip(stamps.tolist(), cells.tolist())]
        text = json.dumps(rows, separators=(",", ":"), allow_nan=True)
        if not np.isfinite(cells).all():
            # The text holds only numbers: its non-finite ones are these tokens, and become null.
            text = text.replace("NaN", "null").replace("-Infinity", "null").replace("Infinity", "null")
        return text.encode("ascii")


class OrjsonEncoder(JsonEncoder):
    """orjson's encoder (the ``fast`` extra), falling back to the standard library for what orjson
    refuses (ints beyond 64 bits, non-string keys, strings with lone surrogates)."""

    name = "orjson"

    def __init__(self) -> None:
        if orjson is None:
            raise ImportError('OrjsonEncoder needs orjson: pip install "pyml-anomaly[fast]"')
        self._fallback = StdlibEncoder()

    def dumps(self, document: Any) -> bytes:
        try:
            return orjson.dumps(document, default=_default)
        except orjson.JSONEncodeError:
            return self._fallback.dumps(document)

    def data_rows(self, stamps: np.ndarray, cells: np.ndarray) -> bytes:
        stamps, cells = _check_table(stamps, cells)
        n_rows = stamps.shape[0]
        if n_rows == 0:
            return b"[]"
        if cells.size <= _SMALL_TABLE:
            table = cells.tolist()  # few values: Python lists cost less than the byte pass below
            return orjson.dumps([[t, *row] for t, row in zip(stamps.tolist(), table)], default=_default)
        if stamps.min() < 0 or stamps.max() >= _STAMP_LIMIT:
            return self._fallback.data_rows(stamps, cells)
        table = np.empty((n_rows, cells.shape[1] + 1), dtype=np.float64)
        table[:, 0] = stamps
        table[:, 1:] = cells
        text = np.frombuffer(orjson.dumps(table, option=orjson.OPT_SERIALIZE_NUMPY), dtype=np.uint8)
        # Each row is "[<stamp>.0,..." (or "[<stamp>.0]"): drop the ".0" after the stamp's digits.
        starts = np.flatnonzero(text == ord("["))[1:]
        digits = np.searchsorted(_POWERS, stamps, side="right") + 1
        dot = starts + 1 + digits if starts.size == n_rows else None
        after = None if dot is None or dot[-1] + 2 >= text.size else text[dot + 2]
        if after is None or not ((text[dot] == ord(".")).all() and (text[dot + 1] == ord("0")).all()
                                 and ((after == ord(",")) | (after == ord("]"))).all()):
            return self._fallback.data_rows(stamps, cells)  # pragma: no cover - orjson printed stamps otherwise
        keep = np.ones(text.size, dtype=bool)
        keep[dot] = False
        keep[dot + 1] = False
        return text[keep].tobytes()


def available() -> dict[str, JsonEncoder]:
    """Every encoder this installation has, by name (``"json"`` always, ``"orjson"`` with the extra)."""
    found: dict[str, JsonEncoder] = {"json": StdlibEncoder()}
    if orjson is not None:
        found["orjson"] = OrjsonEncoder()
    return found


#: The encoder the API uses: orjson when installed.
ENCODER: JsonEncoder = OrjsonEncoder() if orjson is not None else StdlibEncoder()
#: Its name.
BACKEND: str = ENCODER.name


def use(name: str) -> JsonEncoder:
    """Make the encoder called ``name`` (``"orjson"`` or ``"json"``) the one in use; returns the
    previous one. ValueError naming it when it is not installed."""
    global ENCODER, BACKEND
    encoders = available()
    if name not in encoders:
        raise ValueError(f"JSON encoder {name!r} is not available here; available: {', '.join(encoders)}")
    previous = ENCODER
    ENCODER = encoders[name]
    BACKEND = name
    return previous


def dumps(document: Any, indent: int | str | None = None) -> bytes:
    """JSON of ``document`` with the encoder in use; with ``indent``, the standard library's
    indented text (same contract, for the few answers Netdata indents)."""
    if indent is not None:
        return _stdlib_text(document, indent).encode("utf-8")
    return ENCODER.dumps(document)


def dumps_with(document: Any, raw: Mapping[str, bytes]) -> bytes:
    """:meth:`JsonEncoder.dumps_with` of the encoder in use."""
    return ENCODER.dumps_with(document, raw)


def data_rows(stamps: np.ndarray, cells: np.ndarray) -> bytes:
    """:meth:`JsonEncoder.data_rows` of the encoder in use."""
    return ENCODER.data_rows(stamps, cells)


def placeholder() -> str:
    """A string no answer contains, to mark where :meth:`JsonEncoder.dumps_with` puts a table."""
    return f"pyml-table-{uuid.uuid4().hex}"
