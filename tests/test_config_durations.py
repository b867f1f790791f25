"""Netdata's duration syntax (pyml.durations): parsing, canonical formatting, round trips."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyml.durations import UNITS, DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("6h", 21600), ("15m", 900), ("3h", 10800), ("7d", 604800), ("5m", 300), ("24h", 86400), ("1d", 86400),
        ("1h30m", 5400), ("30m1h", 5400), ("1h 30m", 5400), (" 1 h 30 m ", 5400),  # order and spaces free
        ("3600", 3600), ("0", 0), ("+60", 60),  # a bare number is seconds
        ("1.5d", 129600), ("0.5h", 1800), (".5m", 30), ("2.", 2),  # decimals
        ("1h-15m", 2700), ("15d-12h", 1252800), ("1d-0.5d", 43200),  # signed terms
        ("-1m15s", -75), ("-1m-15s", -45),  # a leading minus negates the whole expression
        ("never", 0), ("off", 0), ("NEVER", 0), ("Off", 0),
        ("6H", 21600), ("15M", 900), ("1MO", 2592000), ("1Y", 31536000), ("2W", 1209600),  # any case
        ("1min", 60), ("2minutes", 120), ("1minute", 60), ("3hours", 10800), ("1hr", 3600), ("2hrs", 7200),
        ("1day", 86400), ("2days", 172800), ("1week", 604800), ("1wk", 604800), ("1month", 2592000),
        ("1q", 7776000), ("1quarter", 7776000), ("1year", 31536000), ("1a", 31536000),
        ("1sec", 1), ("1secs", 1), ("1second", 1), ("2seconds", 2),
        ("1500ms", 2), ("1400ms", 1), ("499999999ns", 0), ("500000000ns", 1), ("2500000us", 3),  # nearest second
        ("0.5", 1), ("-0.5", -1), ("1.5s", 2), ("1.4s", 1),  # halves away from zero
        ("1y2mo3w4d", 31536000 + 2 * 2592000 + 3 * 604800 + 4 * 86400),
        ("1h30", 3630),  # a term without a unit is seconds wherever it is
    ],
)
def test_parse(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"), ("   ", "empty"), ("-", "no number"),
        ("6x", "unknown unit 'x'"), ("1e3", "unknown unit 'e'"), ("5 apples", "unknown unit 'apples'"),
        ("h", "'h' is not a duration term"), ("1h ago", "'ago' is not a duration term"),
        ("1h,30m", "',30m' is not a duration term"), ("never ever", "'never ever' is not a duration term"),
        ("1h never", "'never' is not a duration term"), ("--", "'-' is not a duration term"),
    ],
)
def test_parse_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DurationError, match=re.escape(message)) as info:
        parse_duration(text)
    assert isinstance(info.value, ValueError) and str(info.value).startswith(repr(text) + ": ")
    assert info.value.text == text and message in info.value.reason


@pytest.mark.parametrize("bad", [3600, None, b"6h", 6.0])
def test_parse_takes_text_only(bad: Any) -> None:
    with pytest.raises(TypeError, match="a duration must be a str"):
        parse_duration(bad)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (21600, "6h"), (5400, "1h30m"), (900, "15m"), (604800, "7d"), (86400, "1d"), (10800, "3h"), (300, "5m"),
        (1, "1s"), (61, "1m1s"), (90061, "1d1h1m1s"), (0, "off"), (-75, "-1m15s"), (-21600, "-6h"),
        (2592000, "1mo"), (31536000, "1y"), (40 * 86400, "1mo10d"), (400 * 86400, "1y1mo5d"),
        (14 * 86400, "14d"),  # weeks are never written
    ],
)
def test_format(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("bad", [1.0, "6h", True, None])
def test_format_takes_integers_only(bad: Any) -> None:
    with pytest.raises(TypeError, match="seconds must be an integer"):
        format_duration(bad)


def test_units_are_lower_case_and_positive() -> None:
    assert all(name == name.lower() and length > 0 for name, length in UNITS.items())
    assert UNITS["m"] == 60 and UNITS["mo"] == 30 * 86400 and UNITS["y"] == 365 * 86400


@settings(max_examples=500, deadline=None)
@given(st.integers(-(10**12), 10**12))
def test_format_then_parse_is_the_identity(seconds: int) -> None:
    text = format_duration(seconds)
    assert parse_duration(text) == seconds
    assert text == text.strip() and " " not in text


_UNIT_NAMES = sorted(UNITS)


@st.composite
def _duration_texts(draw: st.DrawFn) -> str:
    """Arbitrary valid duration texts: terms with signs, decimals, spaces and units in any case."""
    terms = []
    for _ in range(draw(st.integers(1, 4))):
        whole = draw(st.integers(0, 10**6))
        number = str(whole)
        if draw(st.booleans()):
            number += "." + str(draw(st.integers(0, 999)))
        if draw(st.booleans()):
            number = draw(st.sampled_from(["+", "-"])) + number
        unit = draw(st.sampled_from(_UNIT_NAMES + [""]))
        unit = "".join(c.upper() if draw(st.booleans()) else c for c in unit)
        space = draw(st.sampled_from(["", " ", "\t"]))
        terms.append(f"{number}{space}{unit}")
    text = draw(st.sampled_from(["", " "])).join(terms)
    return draw(st.sampled_from(["", "-"])) + text


@settings(max_examples=500, deadline=None)
@given(_duration_texts())
def test_parse_then_format_is_canonical(text: str) -> None:
    seconds = parse_duration(text)
    canonical = format_duration(seconds)
    assert parse_duration(canonical) == seconds
    assert format_duration(parse_duration(canonical)) == canonical
