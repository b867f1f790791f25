"""Which tier answers a query, and queries over the rollup tiers.

A host keeps tier 0 (every sample, the sample store) and rollup tiers (per
minute, per hour: :mod:`pyml.engine.tiers`), read through the host's public
view (:meth:`pyml.Host.tier_info`, :meth:`pyml.Host.read_tier`).

**Choosing the tier** (:func:`choose_tier`). A ``tier`` parameter is honoured
as Netdata honours it (it implies ``selected-tier``); a tier that does not
exist is an error naming the tiers there are. Otherwise the query goes to the
finest tier whose data reaches back to the window's start; when none does
(a young host), each tier is weighed as Netdata 1.37 weighed them: the share of
the window it holds plus the share of the wanted rows it can fill, ties to the
finer tier. One tier answers a query (Netdata may also stitch several along
the time axis). So every window inside
the kept samples is answered from tier 0, sample by sample, exactly as before
tiers existed (Netdata's newer planner may read a coarser tier there to save
I/O; pyml's tier 0 is fast enough: an hour of one chart at 1 s in
milliseconds), and a window reaching past them is answered from the tier that
still has it.

**Rows from tier points** (:func:`tier_query`). The window is planned with
Netdata's arithmetic (:func:`pyml.query.window.plan_window`) on the tier's
grid: natural points, ``update_every`` = the tier's seconds per point, its
oldest and newest complete points as first and last entry. Each row then
holds whole points, and the grouping uses what Netdata fetches from a tier
point for it: ``min`` its min, ``max`` its max, ``sum`` its sum, every other
method its average. ``average`` (pyml's exact form) is the row's total over
its sample count, so a per-minute row equals the per-second answer; with
``anomaly-bit`` a row is its anomalous samples over its samples, in percent,
exactly the tier-0 value; ``jw-anomaly-rates`` likewise (SPEC-NETDATA-2 §8.3:
``Σ anomaly_count × 100 / Σ count``).

**Exact counts over any window** (:func:`tier_counts`): existing and
anomalous samples of many dimensions over ``[after, before]``, as the
anomaly ranking needs them. The window is cut where each finer tier's data
begins, aligned to the next coarser tier's points: the newest part comes
from tier 0 sample by sample, older parts from whole per-minute points, the
oldest from whole per-hour points. The counts are exact whenever the window's
start lies in tier 0's samples or on a boundary of the tier that covers it
(and so is its end); otherwise the point straddling the start (or the end)
is counted whole, as Netdata counts it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import _core
from .grouping import group_blocks
from .window import QueryWindow, plan_window, relative_to_absolute

if TYPE_CHECKING:
    from ..engine.host import Chart, Host
    from .data import DataQuery, DataResult

__all__ = ["choose_tier", "tier_param", "tier_query", "tier_counts", "count_plan", "CHUNK"]

#: Dimensions read per chunk by :func:`tier_counts`.
CHUNK = 2048


def tier_param(value: Any) -> int | None:
    """The ``tier`` parameter: None when not given (the tier is chosen), else a non-negative integer."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"tier parameter must be an integer, got {value!r}")
    try:
        tier = int(value.strip(), 10) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"tier parameter must be an integer, got {value!r}") from None
    if isinstance(value, float) and value != tier:
        raise ValueError(f"tier parameter must be an integer, got {value!r}")
    if tier < 0:
        raise ValueError(f"tier parameter must be at least 0, got {value!r}")
    return tier


def _check_tier(info: list[dict[str, Any]], tier: int) -> None:
    if tier >= len(info):
        steps = ", ".join(f"{i['tier']} ({i['update_every']} s per point)" for i in info)
        raise ValueError(f"tier parameter {tier} does not exist; this host keeps tiers {steps}")


def choose_tier(host: "Host", after: int, before: int, tier: int | None = None, points: int = 0,
                info: list[dict[str, Any]] | None = None) -> int:
    """The tier that answers a query of ``[after, before]`` (absolute seconds) for ``points`` rows
    (0: every sample); see the module docstring."""
    if tier is None and info is None:
        first = host.first_time
        if first is not None and first <= after:
            return 0  # tier 0 reaches back to the start: the finest covering tier, without reading the others
    info = host.tier_info() if info is None else info
    if tier is not None:
        _check_tier(info, tier)
        return tier
    held = [i for i in info if i["first_time"] is not None]
    if not held:
        return 0
    covering = [i["tier"] for i in held if i["first_time"] <= after]
    if covering:
        return min(covering)
    # Nothing reaches back far enough: weigh the part of the window each tier holds and the share of
    # the wanted rows it can fill (Netdata's time and points coverage); ties go to the finer tier.
    span = max(before - after, 1)
    wanted = points if points > 0 else max(span // int(info[0]["update_every"]), 1)
    best, best_weight = 0, -1.0
    for entry in held:
        covered = max(before - max(after, int(entry["first_time"])), 0)
        available = covered / int(entry["update_every"])
        weight = covered / span + min(available / wanted, 1.0)
        if weight > best_weight:
            best, best_weight = int(entry["tier"]), weight
    return best


def absolute_window(host: "Host", after: int, before: int, now: int | None) -> tuple[int, int]:
    """``after``/``before`` as a data query resolves them (0 = oldest/newest kept, small = relative)."""
    last = host.last_time or 0
    first = host.first_time or 0
    if before == 0:
        before = last
    if after == 0:
        after = min([i["first_time"] for i in host.tier_info() if i["first_time"] is not None] or [first])
    a, b, _ = relative_to_absolute(after, before, now if now is not None else last)
    return a, b


# ---------------------------------------------------------------------- /api/v1/data from a tier


def _fetch(points: np.ndarray, method: str) -> np.ndarray:
    """The value Netdata takes from a tier point for a grouping method."""
    count = points["count"].astype(np.float64)
    if method == "min":
        values = points["min"].astype(np.float64)
    elif method == "max":
        values = points["max"].astype(np.float64)
    elif method == "sum":
        values = points["sum"].astype(np.float64)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            values = points["sum"].astype(np.float64) / count
    return np.where(count > 0, values, np.nan)


def _dense(window: QueryWindow, step: int, ends: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """Place per-point arrays (D, n) into rows: (D, P, G) with NaN where a row has no point."""
    per_row = window.view_update_every // step
    first = window.before - window.points * window.view_update_every + step
    n = window.points * per_row
    idx = (ends - first) // step
    keep = (idx >= 0) & (idx < n) & ((ends - first) % step == 0)
    out = []
    for array in arrays:
        dense = np.full((array.shape[0], n), np.nan)
        dense[:, idx[keep]] = array[:, keep]
        out.append(dense.reshape(array.shape[0], window.points, per_row))
    return out


def tier_query(query: "DataQuery", chart: "Chart", tier: int, after: int, before: int, points: int, method: str,
               selected: list[str], named: set[str], queried: list[str], opts: frozenset[str], gtime: int,
               group: str, group_options: str | None) -> "DataResult":
    """``/api/v1/data`` of one chart answered from rollup ``tier`` (1 or more); see the module docstring."""
    from .data import DataResult, _latest

    host = query.host
    ids = [f"{chart.id}|{d}" for d in queried]
    with host.reading():
        info = host.tier_info()
        _check_tier(info, tier)
        step = int(info[tier]["update_every"])
        first, last = info[tier]["first_point"], info[tier]["last_point"]
        host_last = host.last_time
        now = query.now if query.now is not None else (host_last if host_last is not None else 0)
        window = plan_window(after, before, points, update_every=step, first_entry=first, last_entry=last, now=now,
                             gtime=gtime, aligned="unaligned" not in opts, natural=True, virtual=False)
        if window is None:
            window = QueryWindow(0, 0, 0, 1, step, 1.0, True, True, True)
            ends = np.zeros(0, dtype=np.int64)
            from ..engine.tiers import POINT  # here, not at import: pyml.engine imports this package

            tier_points = np.zeros((len(ids), 0), dtype=POINT)
        else:
            ends, tier_points = host.read_tier(ids, tier, window.after - window.view_update_every,
                                               window.before)
            # the still-open newest point is partial: rows hold complete points only
            if last is not None:
                keep = ends <= last
                ends, tier_points = ends[keep], tier_points[:, keep]
        latest = _latest(host, ids, host_last)
    count = tier_points["count"].astype(np.float64)
    anomalous = tier_points["anomaly_count"].astype(np.float64)
    total = tier_points["sum"].astype(np.float64)
    exists = count > 0
    counts_b, anomalous_b, total_b = _dense(window, step, ends, np.where(exists, count, np.nan),
                                            np.where(exists, anomalous, np.nan), np.where(exists, total, np.nan))
    row_count = np.nansum(counts_b, axis=2) if counts_b.size else np.zeros((len(ids), window.points))
    row_anomalous = np.nansum(anomalous_b, axis=2) if counts_b.size else np.zeros_like(row_count)
    empty_rows = row_count == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(empty_rows, 0.0, row_anomalous * 100.0 / np.maximum(row_count, 1))
    if "anomaly-bit" in opts:
        values_b = np.where(counts_b > 0, anomalous_b * 100.0 / np.where(counts_b > 0, counts_b, 1), np.nan)
    else:
        (values_b,) = _dense(window, step, ends, _fetch(tier_points, method))
    divisor = window.resampling_divisor if window.resampling else None
    if method == "average" and divisor is None:
        # exact: the row's samples, not the mean of its points
        if "anomaly-bit" in opts:
            grouped = rates.copy()
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                grouped = np.where(empty_rows, 0.0, np.nansum(total_b, axis=2) / np.maximum(row_count, 1))
        empty = empty_rows | ~np.isfinite(grouped)
        grouped = np.where(empty, 0.0, grouped)
    else:
        grouped, empty = group_blocks(values_b, method, options=group_options, points=window.points,
                                      divisor=divisor)
    nonzero = np.any((values_b != 0) & ~np.isnan(values_b), axis=(1, 2)) if values_b.size else \
        np.zeros(len(queried), dtype=bool)
    nonzero = nonzero | np.array([d in named for d in queried], dtype=bool)
    shown = np.array([d in selected for d in queried], dtype=bool)
    return DataResult(chart=chart, dimensions=selected, window=window, values=grouped, empty=empty, shown=shown,
                      nonzero=nonzero, queried=queried, options=opts, group=group, update_every=step,
                      first_entry=first or 0, last_entry=last or 0, latest_values=latest,
                      db_points=int(np.count_nonzero(exists)), anomaly_rates=rates, tier=tier, tiers=len(info))


# ---------------------------------------------------------------------- exact counts over any window


def count_plan(info: list[dict[str, Any]], after: int, before: int,
               tier: int | None = None) -> list[tuple[int, int, int]]:
    """Which tier counts which part of ``[after, before]``: ``[(tier, lo, hi), ...]``, newest first.

    Each part is the samples with time in ``(lo, hi]`` (for a rollup tier: the
    points ending there). With ``tier`` given, that tier counts the whole
    window (its points ending in ``(after - update_every, before]``).
    """
    ue = int(info[0]["update_every"])
    start = after - ue  # the window as an interval: (start, before]
    if tier is not None:
        _check_tier(info, tier)
        return [(tier, start, before)]
    plan: list[tuple[int, int, int]] = []
    hi = before
    held = [i for i in info if i["first_time"] is not None]
    for n, entry in enumerate(held):
        t = int(entry["tier"])
        step = int(entry["update_every"])
        if t == 0:
            valid = int(entry["first_time"]) - ue           # tier 0 has every sample after this
        else:
            valid = int(entry["first_point"]) - step if entry["first_point"] is not None else \
                int(entry["first_time"]) - step
        if valid <= start or n == len(held) - 1:
            plan.append((t, max(start, valid) if valid > start else start, hi))
            break
        coarser = int(held[n + 1]["update_every"])
        boundary = -(-valid // coarser) * coarser            # the next coarser tier's grid
        if boundary >= hi:
            continue
        plan.append((t, boundary, hi))
        hi = boundary
    return [p for p in plan if p[2] > p[1]]


def tier_counts(host: "Host", ids: Sequence[str], after: int, before: int,
                tier: int | None = None) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Existing and anomalous samples of each dimension in ``[after, before]`` (int64 arrays),
    counted from the tiers as :func:`count_plan` cuts the window, and the points read per tier."""
    ids = list(ids)
    existing = np.zeros(len(ids), dtype=np.int64)
    anomalous = np.zeros(len(ids), dtype=np.int64)
    with host.reading():
        info = host.tier_info()
        plan = count_plan(info, int(after), int(before), tier)
        per_tier = [0] * len(info)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            for t, lo, hi in plan:
                if t == 0:
                    _, words = host.read_words(chunk, lo + 1, hi)
                    present = words != 0
                    e = np.count_nonzero(present, axis=1)
                    a = np.count_nonzero(present & ((words & _core.ANOMALY_BIT) == 0), axis=1)
                else:
                    # a window's end between two points takes the point straddling it (as Netdata does)
                    end = hi if hi != before else hi + int(info[t]["update_every"]) - int(info[0]["update_every"])
                    _, points = host.read_tier(chunk, t, lo + 1, end)
                    e = points["count"].sum(axis=1, dtype=np.int64)
                    a = points["anomaly_count"].sum(axis=1, dtype=np.int64)
                    per_tier[t] += int(np.count_nonzero(points["count"]))
                if t == 0:
                    per_tier[0] += int(e.sum())
                existing[start:start + CHUNK] += e
                anomalous[start:start + CHUNK] += a
    return existing, anomalous, per_tier
