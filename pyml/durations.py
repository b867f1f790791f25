"""Netdata's duration syntax: ``6h``, ``1h30m``, ``15m``, ``7d``, ``never``.

Design
------
Current Netdata writes every time-valued ``[ml]`` key as a duration and reads
it back with one parser (SPEC-NETDATA-2 §2.1). pyml reads and writes the same
text, as whole seconds:

* **Parsing** (:func:`parse_duration`). A duration is one or more terms
  ``<number><unit>`` that are summed: ``1h30m`` is 5400 s and ``1h-15m`` is
  2700 s. Numbers may have decimals (``1.5d``) and a sign; whitespace may
  separate terms and a number from its unit. Units are case-insensitive (:data:`UNITS`:
  ``ns`` … ``s``, ``m``/``min``, ``h``, ``d``, ``w``, ``mo``, ``q``, ``y``
  and their long forms; a month is 30 days and a year 365, as in Netdata);
  a number without a unit is seconds. A leading ``-`` negates the whole
  expression (``-1m15s`` is -75 s). The words ``never`` and ``off`` are 0.
  Each term is converted exactly (rational arithmetic, no floating-point
  rounding) and the sum is rounded to the nearest second, halves away from
  zero, as Netdata rounds.
* **Formatting** (:func:`format_duration`): the canonical form Netdata writes
  back, the largest units first without repeating one (``21600`` -> ``6h``,
  ``5400`` -> ``1h30m``, ``604800`` -> ``7d``); only ``y``, ``mo``, ``d``,
  ``h``, ``m`` and ``s`` are used, and 0 is ``off``.

``parse_duration(format_duration(n)) == n`` for every integer ``n``, and
formatting what was parsed gives the canonical form.

What this module does not do: Netdata's ``ago`` suffix (relative timestamps,
meaningless for a setting) is rejected, and numbers with an exponent (``1e3``)
are not numbers here. What a negative duration means for a key is the
caller's business (the ``[ml]`` reader takes its magnitude).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Dict, Tuple

__all__ = ["UNITS", "DurationError", "format_duration", "parse_duration"]

_NS_PER_SECOND = 10**9

#: Every unit the parser accepts (lower case) and its length in seconds.
UNITS: Dict[str, Fraction] = {}


def _add_units(seconds: Fraction, *names: str) -> None:
    for name in names:
        UNITS[name] = seconds


_add_units(Fraction(1, 10**9), "ns", "nanosecond", "nanoseconds")
_add_units(Fraction(1, 10**6), "us", "microsecond", "microseconds")
_add_units(Fraction(1, 10**3), "ms", "millisecond", "milliseconds")
_add_units(Fraction(1), "s", "sec", "secs", "second", "seconds")
_add_units(Fraction(60), "m", "min", "minute", "minutes")
_add_units(Fraction(3600), "h", "hr", "hrs", "hour", "hours")
_add_units(Fraction(86400), "d", "day", "days")
_add_units(Fraction(7 * 86400), "w", "wk", "week", "weeks")
_add_units(Fraction(30 * 86400), "mo", "month", "months")
_add_units(Fraction(90 * 86400), "q", "quarter", "quarters")
_add_units(Fraction(365 * 86400), "y", "a", "year", "years")

#: The units of the canonical form, largest first, with their length in seconds.
_FORMAT_UNITS: Tuple[Tuple[str, int], ...] = (
    ("y", 365 * 86400), ("mo", 30 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1),
)

_TERM = re.compile(r"\s*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*([A-Za-z]*)")
_WORDS_FOR_ZERO = frozenset({"never", "off"})


class DurationError(ValueError):
    """A text that is not a duration.

    The message names the text and says what is wrong with it; ``reason`` is
    what is wrong alone (for messages that name the text already).
    """

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text!r}: {reason}")
        self.text = text
        self.reason = reason


def parse_duration(text: str) -> int:
    """Whole seconds of a Netdata duration such as ``"6h"``, ``"1h30m"`` or ``"900"``.

    Parameters
    ----------
    text : str
        The duration (see the module documentation for the syntax).

    Returns
    -------
    int
        Seconds, rounded to the nearest second (halves away from zero); negative
        if the text says so.

    Raises
    ------
    DurationError
        (a ``ValueError``) if ``text`` is empty, has an unknown unit, or has
        anything else that is not a term; the message names the offending part.
    TypeError
        If ``text`` is not a ``str``.

    Examples
    --------
    >>> parse_duration("6h"), parse_duration("1h30m"), parse_duration("1.5d"), parse_duration("never")
    (21600, 5400, 129600, 0)
    """
    if not isinstance(text, str):
        raise TypeError(f"a duration must be a str, got {type(text).__name__}: {text!r}")
    body = text.strip()
    if not body:
        raise DurationError(text, "empty; expected a duration such as 6h, 15m or 1h30m")
    if body.lower() in _WORDS_FOR_ZERO:
        return 0
    sign = 1
    if body[0] == "-":
        sign, body = -1, body[1:]
    total = Fraction(0)
    position = 0
    terms = 0
    while position < len(body):
        match = _TERM.match(body, position)
        if match is None:
            rest = body[position:].strip()
            if not rest:
                break
            raise DurationError(text, f"{rest!r} is not a duration term (<number><unit>, e.g. 6h, 15m, 1h30m)")
        number, unit = match.groups()
        if unit:
            seconds = UNITS.get(unit.lower())
            if seconds is None:
                raise DurationError(
                    text, f"unknown unit {unit!r} (units: s, m or min, h, d, w, mo, q, y, ms, us, ns "
                    "and their long forms)"
                )
        else:
            seconds = Fraction(1)
        # Netdata rounds each term to whole nanoseconds before summing.
        total += Fraction(_round_half_away(Fraction(number) * seconds * _NS_PER_SECOND), _NS_PER_SECOND)
        position = match.end()
        terms += 1
    if not terms:
        raise DurationError(text, "no number; expected a duration such as 6h, 15m or 1h30m")
    return sign * _round_half_away(total)


def format_duration(seconds: int) -> str:
    """The canonical text of a duration in whole seconds: ``21600`` -> ``"6h"``.

    Largest units first, each at most once (``y``, ``mo``, ``d``, ``h``, ``m``,
    ``s``; a month is 30 days, a year 365), a leading ``-`` for negative
    values, and ``"off"`` for 0, as Netdata writes durations back.

    Raises
    ------
    TypeError
        If ``seconds`` is not an integer (a ``bool`` is not).

    Examples
    --------
    >>> format_duration(21600), format_duration(5400), format_duration(604800), format_duration(0)
    ('6h', '1h30m', '7d', 'off')
    """
    if isinstance(seconds, bool) or not hasattr(seconds, "__index__"):
        raise TypeError(f"seconds must be an integer, got {type(seconds).__name__}: {seconds!r}")
    value = int(seconds)
    if value == 0:
        return "off"
    sign = "-" if value < 0 else ""
    rest = abs(value)
    parts = []
    for unit, length in _FORMAT_UNITS:
        count, rest = divmod(rest, length)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


def _round_half_away(value: Fraction) -> int:
    """``value`` rounded to the nearest integer, halves away from zero (C's ``round``)."""
    magnitude = abs(value)
    whole = int(magnitude + Fraction(1, 2))
    return whole if value >= 0 else -whole
