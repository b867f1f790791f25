"""Reading netdata.conf text: its ``[ml]`` lines and the value of each key.

Design
------
Two steps, kept apart from :class:`~pyml.MLConfig` so that each is small:

1. :func:`read_conf` turns a path or a text into the ``[ml]`` lines as
   :class:`Line` records (number, key, value), in file order, plus the
   ``[db]`` section's ``update every`` (the only other value pyml reads: the
   sample-count migration needs it). It knows the file format only: sections,
   comments, ``key = value``, a UTF-8 byte-order mark, line endings. It raises
   ``ValueError`` naming the file and line for a malformed ``[ml]`` line and
   for a file that is not UTF-8.
2. :func:`parse_value` turns one value's text into the Python value of its
   :class:`~pyml.profiles.Key` (by the key's ``kind``), raising ``ValueError``
   naming the line, the key and the value when the text is not of that kind.
   It applies what is peculiar to the text form: a negative integer wraps to a
   huge unsigned number in Netdata (so it means the key's maximum), a window
   size is truncated to whole ticks. Ranges, defaults and clamps are
   :class:`~pyml.MLConfig`'s business.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

from .durations import DurationError, parse_duration
from .profiles import GROUPING_METHODS, Key

_LOG = logging.getLogger("pyml.config")

#: Characters C's ``isspace`` accepts: what netdata trims around lines, keys and values.
C_SPACE = " \t\n\v\f\r"

#: The words ``enabled`` and the other boolean keys accept (any case).
TRUE_WORDS = frozenset({"yes", "true", "on", "auto", "on demand"})
FALSE_WORDS = frozenset({"no", "false", "off"})

_BOM = "\ufeff"

# C base-0 integers (strtoll(..., 0)): hex with 0x, octal with a leading 0, else decimal.
_C_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
# Decimal floating-point literals (what netdata's str2ld reads; no nan/inf accepted here).
_C_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class Line:
    """One ``key = value`` line of a section."""

    number: int
    key: str
    value: str


@dataclass(frozen=True)
class ConfText:
    """What pyml reads of a netdata.conf.

    Attributes
    ----------
    origin : str
        ``"<path>: "`` for a file, ``""`` for a text: the prefix of messages.
    ml : list of Line
        The ``[ml]`` lines, in file order (repeated keys included).
    db_update_every : Line or None
        The last ``update every`` line of ``[db]``, if any.
    """

    origin: str
    ml: List[Line]
    db_update_every: Optional[Line]

    def where(self, number: int) -> str:
        """How messages name line ``number``."""
        return f"{self.origin}line {number}"


def read_conf(source: Any) -> ConfText:
    """The ``[ml]`` lines (and ``[db] update every``) of a netdata.conf path or text.

    A ``str`` containing a newline is text; any other ``str`` or an
    ``os.PathLike`` is a path. A leading UTF-8 byte-order mark is ignored.
    Lines whose first non-blank character is ``#`` are comments; lines outside
    ``[ml]`` and ``[db]`` are not looked at.

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        If the file is not UTF-8 (naming the file), or an ``[ml]`` line is not
        ``key = value`` (naming the line).
    TypeError
        If ``source`` is neither a path nor a string.
    """
    text, origin = _read_source(source)
    if text.startswith(_BOM):
        text = text[len(_BOM):]
    ml: List[Line] = []
    db_update_every: Optional[Line] = None
    section: Optional[str] = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(C_SPACE)
        if not line or line.startswith("#"):
            continue
        if len(line) >= 2 and line[0] == "[" and line[-1] == "]":
            section = line[1:-1]
            continue
        if section == "db":
            name, equals, value = line.partition("=")
            if equals and name.strip(C_SPACE) == "update every":
                db_update_every = Line(number, "update every", value.strip(C_SPACE))
            continue
        if section != "ml":
            continue
        where = f"{origin}line {number}"
        name, equals, value = line.partition("=")
        if not equals:
            raise ValueError(f"{where}: expected 'key = value' in [ml], got {line!r}")
        name, value = name.strip(C_SPACE), value.strip(C_SPACE)
        if not name:
            raise ValueError(f"{where}: no key before '=' in {line!r}")
        ml.append(Line(number, name, value))
    return ConfText(origin, ml, db_update_every)


def _read_source(source: Any) -> Tuple[str, str]:
    """The text of ``source`` and a prefix naming it in messages."""
    if isinstance(source, str) and "\n" in source:
        return source, ""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"source must be a path or the text of a netdata.conf, got {type(source).__name__}: {source!r}"
        )
    path = Path(source)
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read(), f"{path}: "
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


# --------------------------------------------------------------------------- values


def parse_value(key: Key, value: str, where: str, clamp: bool) -> Any:
    """Convert one netdata.conf value for ``key``; errors name ``where``, the key and the value.

    With ``clamp=False`` values outside ``key.hard_low``/``key.hard_high``
    are rejected here, so that the error names the line.
    """
    bad = f"{where}: {key.conf_key!r} = {value!r}"
    kind = key.kind
    if kind == "bool":
        word = value.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"{bad}: expected yes/no (or true/false, on/off, auto, on demand)")
    if kind in ("pattern", "choice"):
        if "\0" in value:
            raise ValueError(f"{bad}: contains a NUL character")
        if kind == "choice" and not clamp and value not in GROUPING_METHODS:
            valid = ", ".join(sorted(set(GROUPING_METHODS.values())))
            raise ValueError(f"{bad}: not a grouping method Netdata knows (one of: {valid}, or an alias of one)")
        return value
    if kind == "int":
        return _parse_int(key, value, bad, clamp)
    if kind == "duration":
        try:
            seconds = parse_duration(value)
        except DurationError as exc:
            raise ValueError(f"{bad}: not a duration: {exc.reason}") from None
        if not clamp:
            if seconds < 0:
                raise ValueError(f"{bad}: must not be negative")
            _checked(key, seconds, bad)
        return seconds
    # "float", "percent" and "window"
    if _C_FLOAT.fullmatch(value) is None:
        raise ValueError(f"{bad}: expected a decimal number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{bad}: must be finite")
    if kind == "window":
        whole = int(number)  # truncation toward zero, as the reference's cast to size_t
        if whole != number:
            _LOG.warning("%s: window sizes are whole ticks; using %d", bad, whole)
        if not clamp:
            _checked(key, whole, bad)
        return whole
    if not clamp:
        _checked(key, number, bad)
    return number


def parse_c_int(value: str) -> Optional[int]:
    """``value`` as C's ``strtoll(value, NULL, 0)`` reads a whole value, or ``None``."""
    match = _C_INT.fullmatch(value)
    if match is None:
        return None
    sign, digits = match.groups()
    if digits[:2] in ("0x", "0X"):
        number = int(digits, 16)
    elif len(digits) > 1 and digits[0] == "0":
        number = int(digits, 8)
    else:
        number = int(digits)
    return -number if sign == "-" else number


def parse_c_float(value: str) -> Optional[float]:
    """``value`` as a finite decimal number, or ``None``."""
    if _C_FLOAT.fullmatch(value) is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _parse_int(key: Key, value: str, bad: str, clamp: bool) -> int:
    number = parse_c_int(value)
    if number is None:
        raise ValueError(f"{bad}: expected an integer (decimal, 0x hex or 0 octal)")
    if number < 0:
        if not clamp:
            raise ValueError(f"{bad}: must not be negative")
        if callable(key.high):
            # The maximum depends on other keys: wrap as netdata does and let the clamp bring it down.
            _LOG.warning("%s: negative value wraps to a huge unsigned number in netdata", bad)
            return int(number % 2**64)
        maximum = key.bound("high", {})
        _LOG.warning(
            "%s: negative value wraps to a huge unsigned number in netdata; using the maximum %r", bad, maximum,
        )
        return int(maximum)
    if not clamp:
        _checked(key, number, bad)
    return number


def hard_check(key: Key, field: str, value: Any) -> None:
    """Reject ``value`` if it is outside what ``key`` accepts even with ``clamp=False``."""
    if key.hard_low is None:
        return
    if not key.hard_low <= value <= key.hard_high:
        high = "" if key.hard_high == math.inf else f", at most {key.hard_high}"
        raise ValueError(f"{field} must be at least {key.hard_low}{high}, got {value!r}")


def _checked(key: Key, value: Any, bad: str) -> None:
    try:
        hard_check(key, key.field, value)
    except ValueError as exc:
        raise ValueError(f"{bad}: {exc}") from None
