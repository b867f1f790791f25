"""``/api/v1/data`` over one host: selection, window, grouping and the result of a query.

The design in three steps, each its own piece:

1. **Which dimensions**: the ``dimensions`` simple pattern (Netdata's words
   separated by ``,`` or ``|``, ``*`` wildcards, ``!`` negation) matched
   against dimension ids and names (``match-ids`` / ``match-names`` narrow
   it); a pattern that matches nothing is a :class:`NoMatch` (HTTP 404).
2. **Which rows**: :func:`pyml.query.window.plan_window` (Netdata's window
   arithmetic) gives the row stamps; each row groups the samples in
   ``(stamp - width, stamp]``. Samples are read through the host's public
   read view (:meth:`pyml.Host.read_words`) as storage words and unpacked
   with the 80-bit path the reference's queries show; with ``anomaly-bit`` an
   existing sample is 100 when anomalous and 0 when not (SPEC §1.7).
3. **One value per row**: :func:`pyml.query.grouping.group_blocks`.

The result, :class:`DataResult`, keeps values and empty flags apart; options
that only change the presentation (``abs``, ``percentage``, ``null2zero``,
``flip``, ``ms``, ``nonzero``, ...) are applied when it is rendered, by
:meth:`DataResult.rows` here and by the formats of :mod:`pyml.api.formats`.
``DataResult.document()`` is the JSON object of SPEC §1.10 (``labels`` and
``data``, or the ``jsonwrap`` envelope with Netdata v1.37's keys).

Everything is vectorised over dimensions and samples; only the rarely used
``ses``/``des``/percentile groupings and virtual points on a host with
``update_every > 1`` loop in Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from .. import _core
from ..patterns import SimplePattern
from .grouping import GROUPINGS, canonical_group, group_blocks
from .tiers import absolute_window, choose_tier, tier_counts, tier_param, tier_query
from .window import QueryWindow, plan_window

if TYPE_CHECKING:
    from ..engine.host import Chart, Host

__all__ = ["DataQuery", "DataResult", "NoMatch", "GROUPINGS", "OPTIONS", "parse_number", "parse_options",
           "dimension_pattern"]

#: Netdata v1.37's ``options`` names (and pyml's ``anomaly_bit``), each mapped to its canonical name,
#: the first name of its flag in Netdata's table (what ``jsonwrap`` lists).
_OPTION_NAMES: dict[str, str] = {
    "nonzero": "nonzero", "flip": "flip", "reversed": "flip", "reverse": "flip", "jsonwrap": "jsonwrap",
    "min2max": "min2max", "ms": "ms", "milliseconds": "ms", "abs": "abs", "absolute": "abs",
    "absolute_sum": "abs", "absolute-sum": "abs", "display_absolute": "display_absolute",
    "display-absolute": "display_absolute", "seconds": "seconds", "null2zero": "null2zero",
    "objectrows": "objectrows", "google_json": "google_json", "google-json": "google_json",
    "percentage": "percentage", "unaligned": "unaligned", "match_ids": "match_ids", "match-ids": "match_ids",
    "match_names": "match_names", "match-names": "match_names", "anomaly-bit": "anomaly-bit",
    "anomaly_bit": "anomaly-bit", "selected-tier": "selected-tier", "raw": "raw",
    "jw-anomaly-rates": "jw-anomaly-rates", "natural-points": "natural-points",
    "virtual-points": "virtual-points", "all-dimensions": "all-dimensions",
}
#: Every accepted option name.
OPTIONS: tuple[str, ...] = tuple(_OPTION_NAMES)
_OPTION_ORDER = tuple(dict.fromkeys(_OPTION_NAMES.values()))


#: How ``jsonwrap`` spells a grouping (Netdata prints ``incremental_sum``).
_GROUP_NAMES = {"incremental-sum": "incremental_sum"}


class NoMatch(LookupError):
    """The ``dimensions`` pattern selects no dimension of the chart (Netdata answers 404)."""


def parse_number(name: str, value: Any) -> float:
    """A finite number from a query parameter; ValueError naming the parameter otherwise."""
    if value is None:
        raise ValueError(f"missing {name} parameter")
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def parse_options(options: Sequence[str] | str) -> frozenset[str]:
    """Canonical option names from a list or a ``,``/``|``/space separated string.

    ValueError names unknown options (Netdata ignores them; pyml refuses what
    it would otherwise silently not do).
    """
    if isinstance(options, str):
        items = options.replace("|", ",").replace(" ", ",").split(",")
    else:
        items = list(options)
    chosen = [o.strip() for o in items if o and o.strip()]
    unknown = sorted({o for o in chosen if o not in _OPTION_NAMES})
    if unknown:
        raise ValueError(f"options parameter has unknown option(s) {unknown}; known: {', '.join(OPTIONS)}")
    return frozenset(_OPTION_NAMES[o] for o in chosen)


def options_text(options: Iterable[str]) -> str:
    """Options in Netdata's order, comma separated (the ``options`` of ``jsonwrap``)."""
    chosen = set(options)
    return ",".join(o for o in _OPTION_ORDER if o in chosen)


def dimension_pattern(text: str) -> SimplePattern:
    """A Netdata simple pattern whose words are separated by ``,`` or ``|`` (as ``dimensions=`` is)."""
    out = []
    for ch in text:
        if ch in ",|\t\r\n\f\v":
            out.append(" ")
        elif ch == " ":
            out.append("\\ ")
        else:
            out.append(ch)
    return SimplePattern("".join(out))


@dataclass
class DataResult:
    """A grouped query of one chart (see the module docstring)."""

    chart: "Chart"
    dimensions: list[str]          #: shown dimensions, chart order
    window: QueryWindow
    values: np.ndarray             #: float64 (D, P), rows oldest first; all queried dimensions
    empty: np.ndarray              #: bool (D, P)
    shown: np.ndarray              #: bool (D,): selected (not hidden); False only for percentage totals
    nonzero: np.ndarray            #: bool (D,): has a non-zero sample, or was named by the pattern
    queried: list[str]             #: every queried dimension (shown ones and, with percentage, the rest)
    options: frozenset[str]
    group: str
    update_every: int
    first_entry: int
    last_entry: int
    latest_values: list[float | None]
    db_points: int
    anomaly_rates: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  #: percent (D, P)
    tier: int = 0                  #: the tier that answered (0: every sample)
    tiers: int = 1                 #: tiers the host keeps (``db_points_per_tier`` lists each)

    # ------------------------------------------------------------------ presentation

    def visible(self) -> list[int]:
        """Indices (into ``queried``) of the dimensions an answer lists."""
        keep = self.shown & (self.nonzero if "nonzero" in self.options else True)
        return [i for i in range(len(self.queried)) if keep[i]]

    def presented(self) -> tuple[np.ndarray, np.ndarray]:
        """Values after ``abs`` and ``percentage`` (of all queried dimensions), with empty flags."""
        values = self.values
        if "abs" in self.options:
            values = np.abs(values)
        if "percentage" in self.options:
            total = np.where(self.empty, 0.0, values).sum(axis=0)
            total = np.where(total == 0.0, 1.0, total)
            values = values * 100.0 / total
        return values, self.empty

    def stamps(self) -> np.ndarray:
        """Row timestamps, oldest first (int64)."""
        w = self.window
        return w.before - (w.points - 1 - np.arange(w.points, dtype=np.int64)) * w.view_update_every

    def table(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(names, stamps, cells)`` in the order ``/api/v1/data`` lists the rows (newest first,
        oldest with ``flip``): stamps int64 (P,) (milliseconds with ``ms``) and cells float64
        (P, D) rounded to seven decimals, NaN for an empty value (0 with ``null2zero``)."""
        idx = self.visible()
        values, empty = self.presented()
        if len(idx) != values.shape[0]:
            values, empty = values[idx], empty[idx]
        names = [self.queried[i] for i in idx]
        cells = np.round(values, 7)
        cells = np.where(empty, 0.0 if "null2zero" in self.options else np.nan, cells).T
        stamps = self.stamps()
        if "ms" in self.options:
            stamps = stamps * 1000
        if "flip" not in self.options:
            stamps, cells = stamps[::-1], cells[::-1]
        return names, stamps, cells

    def rows(self) -> tuple[list[str], list[list[Any]]]:
        """``(names, rows)`` as ``/api/v1/data`` lists them: newest first (oldest with ``flip``),
        ``[time, value...]`` with ``None`` for empty values (0 with ``null2zero``), time in ms with ``ms``."""
        names, stamps, cells = self.table()
        finite = np.isfinite(cells)
        table = cells.tolist()
        if not finite.all():
            table = [[v if ok else None for v, ok in zip(row, oks)] for row, oks in zip(table, finite.tolist())]
        return names, [[t, *r] for t, r in zip(stamps.tolist(), table)]

    def min_max(self) -> tuple[float, float]:
        """Smallest and largest value (Netdata's ``min``/``max``; empty values count as 0)."""
        if "percentage" in self.options:
            values, empty = self.presented()
            idx = self.visible()
            shown = values[idx][~empty[idx]]
        else:
            shown = np.where(self.empty, 0.0, self.values)
            if "abs" in self.options:
                shown = np.abs(shown)
        if shown.size == 0:
            return 0.0, 0.0
        return float(shown.min()), float(shown.max())

    def view_latest_values(self) -> list[float | None]:
        """The newest row's values as shown (``null2zero``, ``abs``, ``percentage`` applied)."""
        if self.window.points == 0:
            return []
        values, empty = self.presented()
        out: list[float | None] = []
        for i in self.visible():
            if empty[i, -1]:
                out.append(0.0 if "null2zero" in self.options else None)
            else:
                out.append(round(float(values[i, -1]), 7))
        return out

    def document(self, fmt: str = "json") -> dict[str, Any]:
        """The JSON object of ``format=json``: ``labels``/``data``, wrapped with ``jsonwrap``."""
        names, rows = self.rows()
        if "objectrows" in self.options:
            rows = [dict(zip(["time", *names], row)) for row in rows]
        result = {"labels": ["time", *names], "data": rows}
        if "jsonwrap" not in self.options:
            return result
        return self.wrap(result, fmt)

    def rate_table(self) -> tuple[np.ndarray, np.ndarray]:
        """``jw-anomaly-rates`` rows in output order: stamps int64 (P,) and the shown dimensions'
        anomaly rates float64 (P, D), in percent rounded to seven decimals."""
        rates = np.round(self.anomaly_rates[self.visible()], 7).T
        stamps = self.stamps()
        if "flip" not in self.options:
            stamps, rates = stamps[::-1], rates[::-1]
        return stamps, rates

    def wrap(self, result: Any, fmt: str, *, rates_data: Any = None) -> dict[str, Any]:
        """The ``jsonwrap`` envelope around ``result`` (Netdata v1.37's keys and order).

        ``rates_data`` stands for the rows of ``anomaly_rates`` (``jw-anomaly-rates``) when given
        (an encoder's placeholder); they are built as lists otherwise."""
        w = self.window
        names = [self.queried[i] for i in self.visible()]
        query_options = set(self.options) | {"natural-points" if w.natural else "virtual-points"}
        low, high = self.min_max()
        doc: dict[str, Any] = {
            "api": 1,
            "id": self.chart.id,
            "name": self.chart.name,
            "view_update_every": w.view_update_every,
            "update_every": self.update_every,
            "first_entry": self.first_entry,
            "last_entry": self.last_entry,
            "before": w.before,
            "after": w.after,
            "group": _GROUP_NAMES.get(canonical_group(self.group), canonical_group(self.group)),
            "options": options_text(query_options),
            "dimension_names": names or ["no data"],
            "dimension_ids": names or ["no data"],
        }
        if "all-dimensions" in self.options:
            doc["full_dimension_list"] = [[d, d] for d in self.chart.dimensions]
            doc["full_chart_list"] = [[self.chart.id, self.chart.name]]
            doc["full_chart_labels"] = []
        doc["functions"] = []
        latest = [self.latest_values[self.queried.index(n)] for n in names]
        doc["latest_values"] = latest or [None]
        doc["view_latest_values"] = self.view_latest_values() or [None]
        doc["dimensions"] = len(names)
        doc["points"] = w.points if names else 0
        doc["format"] = fmt
        per_tier = [0] * max(self.tiers, self.tier + 1)
        per_tier[self.tier] = self.db_points
        doc["db_points_per_tier"] = per_tier
        doc["result"] = result
        if "jw-anomaly-rates" in self.options:
            if rates_data is None:
                stamps, rates = self.rate_table()
                rates_data = [[t, *r] for t, r in zip(stamps.tolist(), rates.tolist())]
            doc["anomaly_rates"] = {"labels": ["time", *names], "data": rates_data}
        doc["min"] = round(low, 7)
        doc["max"] = round(high, 7)
        return doc


class DataQuery:
    """Read-side view of one host: ``/api/v1/data`` and anomaly rates.

    Parameters
    ----------
    host : pyml.Host
        Read only through its public read view.
    now : int, optional
        What relative bounds count from; the newest collected tick by default.
    """

    def __init__(self, host: "Host", now: int | None = None) -> None:
        self.host = host
        self.now = now

    # ------------------------------------------------------------------ /api/v1/data

    def query(self, chart_id: str, after: Any = -600, before: Any = 0, points: Any = 0, group: str = "average",
              dimensions: Sequence[str] | str | None = None, options: Sequence[str] | str = (), *,
              gtime: Any = 0, group_options: str | None = None, tier: Any = None) -> DataResult:
        """Run a query of chart ``chart_id`` (KeyError if unknown; :class:`NoMatch` if the
        ``dimensions`` pattern selects nothing; ValueError naming a bad parameter).

        ``tier`` None (not given) lets :func:`pyml.query.tiers.choose_tier` pick
        the tier; a number asks for that tier."""
        host = self.host
        chart = host.chart(chart_id)
        opts = parse_options(options)
        method = canonical_group(group)
        n_points = _integer("points", points, 0)
        resampling = _integer("gtime", gtime, 0)
        after_s = int(parse_number("after", after))
        before_s = int(parse_number("before", before))
        chosen = choose_tier(host, *absolute_window(host, after_s, before_s, self.now), tier_param(tier), n_points)
        if chosen > 0:
            selected, named = _select(list(chart.dimensions), dimensions, opts)
            if not selected:
                raise NoMatch(f"no dimension of chart {chart.id!r} matches dimensions={_text(dimensions)!r}")
            queried = list(chart.dimensions) if "percentage" in opts else selected
            return tier_query(self, chart, chosen, after_s, before_s, n_points, method, selected, named, queried,
                              opts, resampling, group, group_options)
        with host.reading():
            first, last = host.first_time, host.last_time
            ue = host.update_every
            now = self.now if self.now is not None else (last if last is not None else 0)
            window = plan_window(after_s, before_s, n_points, update_every=ue, first_entry=first, last_entry=last,
                                 now=now, gtime=resampling, aligned="unaligned" not in opts,
                                 natural="natural-points" in opts, virtual="virtual-points" in opts)
            all_dims = list(chart.dimensions)
            selected, named = _select(all_dims, dimensions, opts)
            if not selected:
                raise NoMatch(f"no dimension of chart {chart.id!r} matches dimensions={_text(dimensions)!r}")
            queried = all_dims if "percentage" in opts else selected
            ids = [f"{chart.id}|{d}" for d in queried]
            if window is None:
                window = QueryWindow(0, 0, 0, 1, ue, 1.0, True, True, True)
                times = np.zeros(0, dtype=np.int64)
                words = np.zeros((len(ids), 0), dtype=np.uint32)
            else:
                lo = window.after - window.view_update_every
                times, words = host.read_words(ids, lo, window.before + ue)
            if last is not None and times.size and times[-1] == last:
                latest = _latest_of(words[:, -1])
            else:
                latest = _latest(host, ids, last)
        values, exists, anomalous = _decode(words, "anomaly-bit" in opts)
        blocks, rates = _blocks(window, ue, times, values, exists, anomalous)
        grouped, empty = group_blocks(blocks, method, options=group_options, points=window.points,
                                      divisor=window.resampling_divisor if window.resampling else None)
        nonzero = np.any((blocks > 0) | (blocks < 0), axis=(1, 2)) if blocks.size else \
            np.zeros(len(queried), dtype=bool)
        nonzero = nonzero | np.array([d in named for d in queried], dtype=bool)
        shown = np.array([d in selected for d in queried], dtype=bool)
        return DataResult(chart=chart, dimensions=selected, window=window, values=grouped, empty=empty,
                          shown=shown, nonzero=nonzero, queried=queried, options=opts, group=group,
                          update_every=ue, first_entry=first or 0, last_entry=last or 0, latest_values=latest,
                          db_points=int(np.count_nonzero(exists)), anomaly_rates=rates, tiers=host.tier_count)

    def data(self, chart_id: str, after: Any = -600, before: Any = 0, points: Any = 0, group: str = "average",
             dimensions: Sequence[str] | str | None = None, options: Sequence[str] | str = (),
             **extra: Any) -> dict[str, Any]:
        """``/api/v1/data`` for one chart as a JSON object (SPEC §1.10): ``{"labels", "data"}``
        newest first, or the ``jsonwrap`` envelope."""
        return self.query(chart_id, after, before, points, group, dimensions, options, **extra).document()

    # ------------------------------------------------------------------ anomaly rates

    def resolve_range(self, after: Any, before: Any) -> tuple[int, int]:
        """Absolute ``[after, before]`` in epoch seconds (≤ 0 is relative to the newest tick;
        ``after = 0`` is the oldest kept tick)."""
        after_s = parse_number("after", after)
        before_s = parse_number("before", before)
        host = self.host
        now = host.last_time
        now = 0 if now is None else now
        if before_s <= 0:
            before_s = now + before_s
        if after_s < 0:
            after_s = before_s + after_s
        elif after_s == 0:
            first = host.first_time
            after_s = first if first is not None else before_s
        if after_s > before_s:
            raise ValueError(f"after ({after}) is later than before ({before})")
        widest = max(i["points"] * i["update_every"] for i in host.tier_info())
        if before_s - after_s >= widest:
            raise ValueError(f"the range after={after} before={before} spans {before_s - after_s:.0f} s, wider than "
                             f"the {widest} s of history the tiers keep (Host(history=..., tiers=...) keep more)")
        return int(math.ceil(after_s)), int(math.floor(before_s))

    def anomaly_counts(self, after: Any, before: Any,
                       ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Per dimension (modelled ones by default): ``(ids, existing points, anomalous points)``."""
        after_s, before_s = self.resolve_range(after, before)
        ids = self.host.modelled_dimension_ids() if ids is None else list(ids)
        existing, anomalous, _ = tier_counts(self.host, ids, after_s, before_s)
        return ids, existing, anomalous

    def anomaly_rates(self, after: Any, before: Any) -> dict[str, float]:
        """Per modelled dimension with points in the range: anomalous / existing points."""
        ids, existing, anomalous = self.anomaly_counts(after, before)
        return {d: float(a) / float(e) for d, e, a in zip(ids, existing, anomalous) if e > 0}

    def host_anomaly_rate(self, after: Any, before: Any) -> float:
        """Anomalous / existing over all modelled (dimension, point) pairs; 0 if none."""
        _, existing, anomalous = self.anomaly_counts(after, before)
        total = int(existing.sum())
        return float(anomalous.sum()) / total if total else 0.0


# ---------------------------------------------------------------------- helpers


def _integer(name: str, value: Any, minimum: int) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} parameter must be an integer, got {value!r}")
    try:
        number = int(value) if not isinstance(value, str) else int(value.strip(), 10)
    except (TypeError, ValueError):
        raise ValueError(f"{name} parameter must be an integer, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} parameter must be at least {minimum}, got {value!r}")
    return number


def _text(dimensions: Sequence[str] | str | None) -> str:
    if dimensions is None:
        return ""
    return dimensions if isinstance(dimensions, str) else "|".join(dimensions)


def _select(all_dims: list[str], dimensions: Sequence[str] | str | None,
            opts: frozenset[str]) -> tuple[list[str], set[str]]:
    """Selected dimensions (chart order) and those the pattern named."""
    text = _text(dimensions).strip(",| ")
    if not text:
        return list(all_dims), set()
    pattern = dimension_pattern(text)
    # pyml's dimension ids are their names: match-ids and match-names select the same.
    chosen = [d for d in all_dims if pattern.matches(d)]
    return chosen, set(chosen)


def _latest(host: "Host", ids: list[str], last: int | None) -> list[float | None]:
    if last is None:
        return [None] * len(ids)
    _, words = host.read_words(ids, last, last)
    if words.shape[1] == 0:
        return [None] * len(ids)
    return _latest_of(words[:, -1])


def _latest_of(words: np.ndarray) -> list[float | None]:
    """The newest tick's words (one per dimension) as ``latest_values``: rounded values, None when empty."""
    values, _, exists = _core.unpack(np.ascontiguousarray(words))
    return [round(float(v), 7) if e else None for v, e in zip(values, exists)]


def _decode(words: np.ndarray, anomaly_bit: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values (NaN for no value; 0/100 with ``anomaly-bit``), exists and anomalous flags of words (D, n)."""
    if not words.size:
        empty = np.zeros(words.shape, dtype=bool)
        return words.astype(np.float64), empty, empty
    if anomaly_bit:  # the flags only: no value is unpacked
        exists = words != 0
        anomalous = exists & ((words & _core.ANOMALY_BIT) == 0)
        return np.where(exists, np.where(anomalous, 100.0, 0.0), np.nan), exists, anomalous
    values, anomalous, exists = _core.unpack(np.ascontiguousarray(words).reshape(-1))
    return tuple(a.reshape(words.shape) for a in (values, exists, anomalous))  # type: ignore[return-value]


def _dense(columns: np.ndarray, first: int, ue: int, n: int, arrays: Sequence[np.ndarray],
           fills: Sequence[Any]) -> list[np.ndarray]:
    """``arrays`` (D, len(columns)) placed on the grid of ``n`` ticks from ``first``; ticks with no
    column hold the matching ``fills``. A read of consecutive ticks (what the store returns) is a
    slice, a view when it covers the grid."""
    if columns.size and columns[-1] - columns[0] == (columns.size - 1) * ue:
        start = int(columns[0] - first) // ue
        lo, hi = max(start, 0), min(start + columns.size, n)
        if lo == 0 and hi == n and hi > lo:
            return [a[:, lo - start:hi - start] for a in arrays]
        out = []
        for a, fill in zip(arrays, fills):
            dense = np.full((a.shape[0], n), fill, dtype=a.dtype)
            if hi > lo:
                dense[:, lo:hi] = a[:, lo - start:hi - start]
            out.append(dense)
        return out
    idx = (columns - first) // ue
    keep = (idx >= 0) & (idx < n)
    out = []
    for a, fill in zip(arrays, fills):
        dense = np.full((a.shape[0], n), fill, dtype=a.dtype)
        dense[:, idx[keep]] = a[:, keep]
        out.append(dense)
    return out


def _blocks(window: QueryWindow, ue: int, times: np.ndarray, values: np.ndarray, exists: np.ndarray,
            anomalous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples per row, ``(D, P, G)`` with NaN padding, and each row's anomaly rate in percent ``(D, P)``
    (anomalous over existing samples; 0 for a row without samples)."""
    n_dims = values.shape[0]
    if window.points == 0:
        return np.zeros((n_dims, 0, 1)), np.zeros((n_dims, 0))
    width = window.view_update_every
    if width % ue == 0 and window.before % ue == 0:
        # Every row covers whole samples: (stamp - width, stamp] holds width / ue ticks.
        per_row = width // ue
        first = window.before - window.points * width + ue
        n = window.points * per_row
        if per_row == 1:
            dense, dense_anomalous = _dense(times, first, ue, n, (values, anomalous), (np.nan, False))
            return dense.reshape(n_dims, n, 1), np.where(dense_anomalous, 100.0, 0.0)
        dense, dense_exists, dense_anomalous = _dense(times, first, ue, n, (values, exists, anomalous),
                                                      (np.nan, False, False))
        shape = (n_dims, window.points, per_row)
        return dense.reshape(shape), _rates(dense_exists.reshape(shape), dense_anomalous.reshape(shape))
    rates = np.where(exists, np.where(anomalous, 100.0, 0.0), np.nan)
    blocks, rate_blocks = _irregular_blocks(window, ue, times, values, rates)
    with np.errstate(invalid="ignore"):
        counts = np.count_nonzero(~np.isnan(rate_blocks), axis=2)
        return blocks, np.where(counts > 0, np.nansum(rate_blocks, axis=2) / np.maximum(counts, 1), 0.0)


def _rates(exists: np.ndarray, anomalous: np.ndarray) -> np.ndarray:
    """Per row of (D, P, G) flags: anomalous over existing samples in percent, 0 without samples."""
    counts = np.count_nonzero(exists, axis=2)
    return np.count_nonzero(anomalous, axis=2) * 100.0 / np.maximum(counts, 1)


def _irregular_blocks(window: QueryWindow, ue: int, times: np.ndarray, values: np.ndarray,
                      rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows narrower than, or not aligned to, the samples (virtual points with ``update_every > 1``).

    As Netdata's query engine: a row takes the samples strictly after the one
    that covered the previous row's stamp and before its own stamp, plus the
    sample covering its stamp, linearly interpolated to the stamp.
    """
    position = {int(t): i for i, t in enumerate(times.tolist())}
    width = window.view_update_every
    stamps = [window.before - (window.points - 1 - k) * width for k in range(window.points)]
    members: list[list[tuple[int, float]]] = []
    for stamp in stamps:
        cover = -(-stamp // ue) * ue
        prev_cover = -(-(stamp - width) // ue) * ue
        row = [(position[t], 1.0) for t in range(prev_cover + ue, cover, ue) if t in position]
        if cover in position:
            row.append((position[cover], 1.0 - (cover - stamp) / ue))
        members.append(row)
    g = max((len(m) for m in members), default=1) or 1
    out = np.full((values.shape[0], window.points, g), np.nan)
    out_rates = np.full_like(out, np.nan)
    for p, row in enumerate(members):
        for j, (i, fraction) in enumerate(row):
            v = values[:, i]
            if fraction < 1.0 and i > 0 and times[i - 1] == times[i] - ue:
                prev = values[:, i - 1]
                both = ~np.isnan(prev) & ~np.isnan(v)
                v = np.where(both, prev + (v - prev) * fraction, v)
            out[:, p, j] = v
            out_rates[:, p, j] = rates[:, i]
    return out, out_rates
