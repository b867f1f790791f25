"""Decoding Netdata's JSON answers, fast when it can be and tolerant when it must be.

``/api/v1/allmetrics?format=json`` is read every second from every source, so
its decoding is the hot path of ingestion: with ``msgspec`` installed (the
``fast`` extra) it is decoded straight into small typed structs that keep only
what a source needs (each chart's ``last_updated`` and its dimensions' names
and values), which is several times cheaper than building dictionaries; the
standard library's ``json`` is the fallback and gives the same objects.

A document that does not fit the expected shape is decoded again leniently:
every chart is checked on its own, and what is wrong (a value that is not a
number, a ``last_updated`` that is not an integer, a chart that is not an
object) is reported per chart as a :class:`Problem`, so one bad chart costs
that chart only. A body that is not JSON at all is tried once more with bare
``nan``/``inf`` tokens (which a C ``printf`` produces) quoted, so that they are
reported as non-numeric values of their chart and dimension; if
that fails too, :class:`MalformedAnswer` names the position. Numbers beyond a
double's range are read as infinities (stored saturated).

Most polls only need the values, of an answer whose charts and dimensions
are the ones the previous poll saw: :func:`decode_value_arrays` reads such an
answer with the compiled scanner of ``csrc/pyml/allmetrics.hpp`` straight
into two arrays (each chart's ``last_updated``, every dimension's value in
the answer's order), no Python object per dimension, after checking that its
chart and dimension ids are the expected ones (:func:`shape_keys`); a source's
decoder reads the next answer against the one it learned, comparing the text
between the numbers instead of scanning every byte. When it
cannot (another shape, an escape inside an id, a value that is not a number),
:func:`decode_values` decodes the answer into small structs (``last_updated``, and each dimension's ``value`` without
its name), a third cheaper than :func:`parse_allmetrics`; it gives up (None)
on anything that does not fit, and the caller decodes again with
:func:`parse_allmetrics`, which reports what is wrong.

The other answers (``info``, ``charts``, ``chart``, ``data``) are small or rare
and are decoded into plain Python objects by :func:`loads`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from .. import _core

try:  # the 'fast' extra
    import msgspec
except ImportError:  # pragma: no cover - exercised when the extra is absent
    msgspec = None  # type: ignore[assignment]

__all__ = ["AllmetricsChart", "AllmetricsDim", "AllmetricsValue", "AllmetricsValues", "MalformedAnswer", "Problem",
           "parse_allmetrics", "decode_values", "decode_value_arrays", "shape_keys", "loads", "BACKEND"]

#: Which JSON decoder the hot path uses: ``"msgspec"`` or ``"json"``.
BACKEND = "msgspec" if msgspec is not None else "json"


class MalformedAnswer(ValueError):
    """A body that is not the JSON document expected."""


@dataclass(frozen=True)
class Problem:
    """Something wrong with one chart (or one dimension) of an answer."""

    chart: str
    message: str


if msgspec is not None:

    # gc=False: thousands are made every second and none can be part of a reference cycle (a
    # chart holds a dict of dimensions, which hold strings and numbers), so the collector need not
    # track them

    class AllmetricsDim(msgspec.Struct, gc=False):
        """One dimension of an ``allmetrics`` chart: its display name and value (None: no value)."""

        name: str = ""
        value: Optional[float] = None

    class AllmetricsChart(msgspec.Struct, gc=False):
        """One chart of an ``allmetrics`` answer: newest second and dimensions by id."""

        last_updated: int = 0
        dimensions: dict[str, AllmetricsDim] = {}

    class AllmetricsValue(msgspec.Struct, gc=False):
        """One dimension of an ``allmetrics`` chart as a poll takes it: its value only (None: no value)."""

        value: Optional[float] = None

    class AllmetricsValues(msgspec.Struct, gc=False):
        """One chart of an ``allmetrics`` answer as a poll takes it: newest second and values by dimension id."""

        last_updated: int = 0
        dimensions: dict[str, AllmetricsValue] = {}

    _TYPED = msgspec.json.Decoder(dict[str, AllmetricsChart])
    _VALUES = msgspec.json.Decoder(dict[str, AllmetricsValues])
    _ANY = msgspec.json.Decoder()
    _DecodeError: tuple[type[Exception], ...] = (msgspec.DecodeError,)

else:  # pragma: no cover - the stdlib fallback defines the same two classes

    class AllmetricsDim:  # type: ignore[no-redef]
        """One dimension of an ``allmetrics`` chart: its display name and value (None: no value)."""

        __slots__ = ("name", "value")

        def __init__(self, name: str = "", value: Optional[float] = None) -> None:
            self.name = name
            self.value = value

    class AllmetricsChart:  # type: ignore[no-redef]
        """One chart of an ``allmetrics`` answer: newest second and dimensions by id."""

        __slots__ = ("last_updated", "dimensions")

        def __init__(self, last_updated: int = 0, dimensions: Optional[dict[str, AllmetricsDim]] = None) -> None:
            self.last_updated = last_updated
            self.dimensions = dimensions if dimensions is not None else {}

    _DecodeError = ()

    AllmetricsValue = AllmetricsDim          # type: ignore[misc]  # no cheaper form without msgspec
    AllmetricsValues = AllmetricsChart       # type: ignore[misc]


_BARE_NONFINITE = re.compile(rb'(?<=[:\[,])(\s*)([-+]?(?:nan|inf(?:inity)?))(?=\s*[,}\]])', re.IGNORECASE)


def loads(body: bytes) -> Any:
    """Decode a JSON body into Python objects (MalformedAnswer names the problem)."""
    try:
        if msgspec is not None:
            return _ANY.decode(body)
        return json.loads(body)
    except (ValueError, *_DecodeError) as exc:
        raise MalformedAnswer(f"not valid JSON: {exc}") from None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _lenient_chart(chart_id: str, raw: Any, problems: list[Problem]) -> Optional[AllmetricsChart]:
    """One chart checked field by field; None when nothing of it is usable."""
    if not isinstance(raw, dict):
        problems.append(Problem(chart_id, f"is not a JSON object but {type(raw).__name__}"))
        return None
    lu = raw.get("last_updated")
    if isinstance(lu, float) and lu.is_integer():
        lu = int(lu)
    if not isinstance(lu, int) or isinstance(lu, bool) or lu < 0:
        problems.append(Problem(chart_id, f"has a last_updated that is not a timestamp: {lu!r}"))
        return None
    dims_raw = raw.get("dimensions")
    if not isinstance(dims_raw, dict):
        problems.append(Problem(chart_id, f"has dimensions that are not a JSON object: {dims_raw!r:.80}"))
        return None
    dims: dict[str, AllmetricsDim] = {}
    for dim_id, d in dims_raw.items():
        if not isinstance(d, dict):
            problems.append(Problem(chart_id, f"dimension {dim_id!r} is not a JSON object"))
            continue
        name = d.get("name", dim_id)
        value = d.get("value")
        if value is not None and not _is_number(value):
            problems.append(Problem(chart_id, f"dimension {dim_id!r} has a value that is not a number: "
                                              f"{value!r:.40}"))
            value = None
        elif value is not None:
            try:
                value = float(value)
            except OverflowError:  # an integer beyond float's range: saturates when stored
                value = math.inf if value > 0 else -math.inf
        dims[str(dim_id)] = AllmetricsDim(name=str(name) if isinstance(name, str) else str(dim_id), value=value)
    return AllmetricsChart(last_updated=lu, dimensions=dims)


def _lenient(document: Any, problems: list[Problem]) -> dict[str, AllmetricsChart]:
    if not isinstance(document, dict):
        raise MalformedAnswer(f"allmetrics is not a JSON object but {type(document).__name__}")
    out: dict[str, AllmetricsChart] = {}
    for chart_id, raw in document.items():
        chart = _lenient_chart(str(chart_id), raw, problems)
        if chart is not None:
            out[str(chart_id)] = chart
    return out


def _stdlib_loads(body: bytes) -> Any:
    # numbers beyond a double's range become +-inf (saturated when stored), where msgspec refuses them
    try:
        return json.loads(body)
    except ValueError as exc:
        raise MalformedAnswer(f"not valid JSON: {exc}") from None


def _loads_tolerant(body: bytes, problems: list[Problem]) -> Any:
    try:
        return _stdlib_loads(body)
    except MalformedAnswer as first:
        # quoted, so that the check of each chart names the chart and dimension holding them
        repaired, count = _BARE_NONFINITE.subn(rb'\1"\2"', body)
        if not count:
            raise first from None
        try:
            document = _stdlib_loads(repaired)
        except MalformedAnswer:
            raise first from None
        return document


def parse_allmetrics(body: bytes) -> tuple[dict[str, AllmetricsChart], list[Problem]]:
    """``/api/v1/allmetrics?format=json``: charts by id, and what was wrong with some of them.

    Raises MalformedAnswer when the body is not a JSON object at all.
    """
    problems: list[Problem] = []
    if msgspec is not None:
        try:
            return _TYPED.decode(body), problems
        except msgspec.ValidationError:
            pass  # some chart has the wrong shape: check them one by one
        except msgspec.DecodeError:
            pass  # not JSON as it stands: maybe bare nan/inf
    document = _loads_tolerant(body, problems)
    return _lenient(document, problems), problems


def decode_values(body: bytes) -> Optional[dict[str, "AllmetricsValues"]]:
    """``/api/v1/allmetrics?format=json`` decoded for its values alone, or None when that is not possible.

    Charts by id, each with its ``last_updated`` and its dimensions' values by
    id, in the answer's order (names are skipped, which makes this a third
    cheaper than :func:`parse_allmetrics`). None when msgspec is not
    installed or when the answer does not fit (not JSON, a value that is not
    a number, a chart of the wrong shape): :func:`parse_allmetrics` then
    decodes it and says what is wrong.
    """
    if msgspec is None:
        return None
    try:
        return _VALUES.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def shape_keys(charts: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    """The keys :func:`decode_value_arrays` checks: chart ids, each with its dimension ids, in order."""
    chart_end, dim_end, close = _core.ALLMETRICS_CHART_END, _core.ALLMETRICS_DIMENSION_END, _core.ALLMETRICS_CHART_CLOSE
    parts = []
    for chart_id, dims in charts:
        parts.append(chart_id.encode("utf-8") + chart_end)
        parts.extend(d.encode("utf-8") + dim_end for d in dims)
        parts.append(close)
    return b"".join(parts)


def decode_value_arrays(body: bytes, keys: bytes,
                        decoder: Optional[_core.AllmetricsDecoder] = None) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """``allmetrics`` of the charts and dimensions ``keys`` lists, as ``(last_updated, values)`` arrays.

    ``last_updated`` is int64, one per chart in the answer's order; ``values``
    float64, every chart's dimensions flattened in that order, NaN for a
    ``null`` value or a dimension without one. None when the answer lists
    other charts or dimensions (or others in another order), or holds what the
    compiled scanner leaves to :func:`parse_allmetrics`: an escape inside an
    id, a value that is not a number or null, a ``last_updated`` that is not
    an integer, a number beyond a double's range, or JSON that is not valid.
    The scan runs without the GIL.

    With a ``decoder`` (one per source, kept from poll to poll), an answer
    that equals the previous one outside its ``last_updated`` and ``value``
    tokens, as a source's answers do, is read by comparing the text between
    them with the learned answer's instead of scanning every byte (about
    four times cheaper; ``csrc/pyml/allmetrics.hpp``); the result is the same.
    """
    if decoder is not None:
        return decoder.decode(body, keys)
    return _core.decode_allmetrics(body, keys)
