"""Time grouping of ``/api/v1/data``: how the samples of one output row become one value.

Every function takes ``blocks``, float64 ``(D, P, G)``: for each dimension
``D`` and output row ``P`` (oldest first) up to ``G`` samples (oldest first),
NaN meaning "no sample" (a gap, or padding). Gaps are skipped, as Netdata
skips them; a row with no sample is *empty* (``null`` in the output). Each
returns ``(values, empty)``, float64 and bool ``(D, P)``; empty rows hold 0.

The methods and their names are Netdata v1.37's (``average`` alias ``mean``,
``min``, ``max``, ``sum``, ``median``, ``trimmed-medianN``, ``percentileN``,
``trimmed-meanN``, ``incremental-sum``, ``stddev``, ``cv`` alias ``rsd``,
``ses`` alias ``ema``/``ewma``, ``des``, ``countif``), with the same
arithmetic: sample standard deviation, ``cv = 100 * stddev / |mean|``,
``incremental-sum = last - first``, exponential smoothing whose level carries
over from row to row with ``alpha = 2 / (w + 1)``, ``w`` = samples per row (or
rows when there is one sample per row) capped at 15, ``countif`` = percentage
of samples matching ``group_options`` (``>10``, ``<=3``, ``!=0``, ``=5``;
default ``=0``). ``incremental_sum`` is accepted as well as Netdata's
``incremental-sum``. With ``gtime`` an ``average`` is the row's sum divided by
(row width / gtime), as in Netdata.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Callable

import numpy as np

__all__ = ["GROUPINGS", "canonical_group", "group_blocks"]

_PERCENT_GROUPS = {f"percentile{n}": float(n) for n in (25, 50, 75, 80, 90, 95, 97, 98, 99)}
_PERCENT_GROUPS["percentile"] = 95.0
_TRIMMED_MEANS = {f"trimmed-mean{n}": float(n) for n in (1, 2, 3, 5, 10, 15, 20, 25)}
_TRIMMED_MEANS["trimmed-mean"] = 5.0
_TRIMMED_MEDIANS = {f"trimmed-median{n}": float(n) for n in (1, 2, 3, 5, 10, 15, 20, 25)}
_TRIMMED_MEDIANS["trimmed-median"] = 5.0
_ALIASES = {"mean": "average", "incremental_sum": "incremental-sum", "rsd": "cv", "ema": "ses", "ewma": "ses"}

#: Every accepted ``group`` name (aliases included).
GROUPINGS: tuple[str, ...] = (
    "average", "mean", "min", "max", "sum", "median", *_TRIMMED_MEDIANS, *_PERCENT_GROUPS, *_TRIMMED_MEANS,
    "incremental-sum", "incremental_sum", "stddev", "cv", "rsd", "ses", "ema", "ewma", "des", "countif",
)

_SMOOTHING_MAX_WINDOW = 15


#: Methods whose value over a row of one sample is that sample (rows of one sample skip them).
_OF_ONE_SAMPLE = frozenset({"average", "min", "max", "sum", "median", *_TRIMMED_MEDIANS, *_PERCENT_GROUPS,
                            *_TRIMMED_MEANS})


def canonical_group(name: str) -> str:
    """The method a ``group`` name stands for; ValueError naming it when unknown."""
    if name not in GROUPINGS:
        raise ValueError(f"group parameter {name!r} is unknown; known: {', '.join(GROUPINGS)}")
    return _ALIASES.get(name, name)


def _counts(blocks: np.ndarray) -> np.ndarray:
    return np.count_nonzero(~np.isnan(blocks), axis=2)


def _finish(values: np.ndarray, empty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(values)
    empty = empty | bad
    return np.where(empty, 0.0, values), empty


def _reduce(blocks: np.ndarray, fn: Callable[..., np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    empty = _counts(blocks) == 0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        values = fn(blocks, axis=2)
    return _finish(values, empty)


def _average(blocks: np.ndarray, divisor: float | None) -> tuple[np.ndarray, np.ndarray]:
    if divisor is not None:
        total = np.nansum(blocks, axis=2)
        return _finish(total / divisor, _counts(blocks) == 0)
    return _reduce(blocks, np.nanmean)


def _sum(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _finish(np.nansum(blocks, axis=2), _counts(blocks) == 0)


def _incremental_sum(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    valid = ~np.isnan(blocks)
    count = valid.sum(axis=2)
    g = blocks.shape[2]
    first_idx = np.argmax(valid, axis=2)
    last_idx = g - 1 - np.argmax(valid[:, :, ::-1], axis=2)
    first = np.take_along_axis(blocks, first_idx[..., None], axis=2)[..., 0]
    last = np.take_along_axis(blocks, last_idx[..., None], axis=2)[..., 0]
    values = np.where(count > 1, last - first, 0.0)
    return _finish(values, count == 0)


def _stddev(blocks: np.ndarray, cv: bool) -> tuple[np.ndarray, np.ndarray]:
    count = _counts(blocks)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        std = np.nanstd(blocks, axis=2, ddof=1)
        values = 100.0 * std / np.abs(np.nanmean(blocks, axis=2)) if cv else std
    values = np.where(count == 1, 0.0, values)
    return _finish(values, count == 0)


def _sorted_rows(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.sort(blocks, axis=2), _counts(blocks)  # NaN sort last


def _median_of(series: np.ndarray) -> float:
    """Netdata's median of a sorted series: for an even count above two it averages the two
    values just *above* the middle (``s[n/2]`` and ``s[n/2 + 1]``), as v1.37 does."""
    n = series.size
    if n <= 2:
        return float(series.mean())
    mid = n // 2
    return float(series[mid]) if n % 2 else float((series[mid] + series[mid + 1]) / 2.0)


def _median(blocks: np.ndarray, percent: float) -> tuple[np.ndarray, np.ndarray]:
    ordered, counts = _sorted_rows(blocks)
    values = np.zeros(counts.shape)
    for d, p in zip(*np.nonzero(counts)):
        s = ordered[d, p, : counts[d, p]]
        if s.size == 1:
            values[d, p] = s[0]
            continue
        start, end = 0, s.size - 1
        if percent > 0.0:
            delta = (s[-1] - s[0]) * percent
            low, high = s[0] + delta, s[-1] - delta
            while start < s.size and s[start] < low:
                start += 1
            while end > start and s[end] > high:
                end -= 1
        values[d, p] = s[start] if start == end else _median_of(s[start:end + 1])
    return _finish(values, counts == 0)


def _portion_mean(s: np.ndarray, fraction: float, centred: bool) -> float:
    """Netdata's percentile (``centred=False``) and trimmed mean (``True``) of a sorted series."""
    n = s.size
    lo, hi = s[0], s[-1]
    if lo == hi:
        return float(lo)
    use = int(n * fraction) or 1
    delta = fraction - use / n
    interp = last = 0.0
    if delta > 0.0:
        one_slot = (use + 1) / n - use / n
        interp = delta / one_slot
        last = 1.0 - interp
    skip = (n - use) // 2 if centred else 0
    if lo >= 0.0 and hi >= 0.0:
        start, step = skip, 1
    else:
        start, step = n - 1 - skip, -1
    stop = start + step * use
    total = float(np.sum(s[start:stop:step])) if step == 1 else float(np.sum(s[stop + 1:start + 1]))
    counted = use
    last_slot = stop - step
    if interp > 0.0 and 0 <= stop < n:
        total += s[stop] * interp + s[last_slot] * last
        counted += 1
    return total / counted


def _portion(blocks: np.ndarray, fraction: float, centred: bool) -> tuple[np.ndarray, np.ndarray]:
    ordered, counts = _sorted_rows(blocks)
    values = np.zeros(counts.shape)
    for d, p in zip(*np.nonzero(counts)):
        s = ordered[d, p, : counts[d, p]]
        values[d, p] = s[0] if s.size == 1 else _portion_mean(s, fraction, centred)
    return _finish(values, counts == 0)


def _smoothing(blocks: np.ndarray, window: float, double: bool) -> tuple[np.ndarray, np.ndarray]:
    alpha = 2.0 / (min(window, _SMOOTHING_MAX_WINDOW) + 1.0)
    n_dims, n_rows, _ = blocks.shape
    values = np.zeros((n_dims, n_rows))
    empty = np.zeros((n_dims, n_rows), dtype=bool)
    for d in range(n_dims):
        level = trend = 0.0
        count = 0
        for p in range(n_rows):
            for v in blocks[d, p]:
                if math.isnan(v):
                    continue
                if not double:
                    level = v if count == 0 else level
                    level = alpha * v + (1.0 - alpha) * level
                elif count == 0:
                    level = trend = v
                else:
                    if count == 1:
                        trend = v - trend
                        level = v
                    previous = level
                    level = alpha * v + (1.0 - alpha) * (level + trend)
                    trend = alpha * (level - previous) + (1.0 - alpha) * trend
                count += 1
            if count == 0 or not math.isfinite(level):
                empty[d, p] = True
            else:
                values[d, p] = level
    return values, empty


_COUNTIF = re.compile(r"^\s*(!=|!:|!|<>|<=|<:|>=|>:|<|>|=|:)?\s*(.*)$")


def _countif(blocks: np.ndarray, options: str | None) -> tuple[np.ndarray, np.ndarray]:
    op, target = "=", 0.0
    if options:
        match = _COUNTIF.match(options)
        assert match is not None  # the pattern matches every string
        op = {"!": "!=", "!:": "!=", "<>": "!=", "<:": "<=", ">:": ">=", ":": "="}.get(match.group(1) or "=",
                                                                                    match.group(1) or "=")
        try:
            target = float(match.group(2)) if match.group(2) else 0.0
        except ValueError:
            raise ValueError(f"group_options {options!r} for countif must be a comparison and a number, "
                             f"such as '>10'") from None
    compare = {"=": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater,
               ">=": np.greater_equal}[op]
    counts = _counts(blocks)
    with np.errstate(invalid="ignore"):
        matched = np.count_nonzero(compare(blocks, target) & ~np.isnan(blocks), axis=2)
        values = np.where(counts > 0, matched * 100.0 / np.maximum(counts, 1), 0.0)
    return _finish(values, counts == 0)


def _option_percent(options: str | None, default: float, limit: float) -> float:
    if not options:
        return default
    try:
        value = float(options)
    except ValueError:
        raise ValueError(f"group_options {options!r} must be a number (a percentage)") from None
    if not math.isfinite(value):
        return 0.0
    return min(max(value, 0.0), limit)


def group_blocks(blocks: np.ndarray, method: str, *, options: str | None = None, points: int = 1,
                 divisor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Group ``blocks`` (D, P, G) into ``(values, empty)`` of shape (D, P).

    ``method`` is a name of :data:`GROUPINGS`; ``options`` is ``group_options``;
    ``points`` the number of output rows (the smoothing window when G == 1);
    ``divisor`` the resampling divisor when ``gtime`` resamples (None otherwise).
    """
    method = canonical_group(method)
    if blocks.ndim == 3 and blocks.shape[2] == 1 and divisor is None and method in _OF_ONE_SAMPLE:
        single = blocks[:, :, 0]
        empty = ~np.isfinite(single)
        values = np.where(empty, 0.0, single)
        if method in ("average", "sum"):
            values += 0.0  # a sum starts from +0.0: a lone -0.0 sample sums to 0.0, as the reduction gives
        return values, empty
    if method == "average":
        return _average(blocks, divisor)
    if method == "min":
        return _reduce(blocks, np.nanmin)
    if method == "max":
        return _reduce(blocks, np.nanmax)
    if method == "sum":
        return _sum(blocks)
    if method == "incremental-sum":
        return _incremental_sum(blocks)
    if method in ("stddev", "cv"):
        return _stddev(blocks, method == "cv")
    if method == "median" or method in _TRIMMED_MEDIANS:
        default = _TRIMMED_MEDIANS.get(method, 0.0)
        return _median(blocks, _option_percent(options, default, 50.0) / 100.0)
    if method in _PERCENT_GROUPS:
        return _portion(blocks, _option_percent(options, _PERCENT_GROUPS[method], 100.0) / 100.0, False)
    if method in _TRIMMED_MEANS:
        trimmed = _option_percent(options, _TRIMMED_MEANS[method], 50.0)
        return _portion(blocks, 1.0 - trimmed / 100.0 * 2.0, True)
    if method in ("ses", "des"):
        window = float(points if blocks.shape[2] == 1 else blocks.shape[2])
        return _smoothing(blocks, window, method == "des")
    if method == "countif":
        return _countif(blocks, options)
    raise ValueError(f"group {method!r} is unknown")  # pragma: no cover - canonical_group refused it
