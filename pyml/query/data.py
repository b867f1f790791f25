"""Queries over a host's stored words: ``/api/v1/data`` shaping and anomaly rates.

Everything is vectorised over storage words: values come from the 80-bit
unpack (what the reference's queries show), and with ``anomaly-bit`` each
existing point contributes 100 if anomalous and 0 if not (SPEC §1.7).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import _core

if TYPE_CHECKING:
    from ..engine.host import Host

GROUPINGS = ("average", "min", "max", "sum", "median", "incremental_sum")
OPTIONS = ("anomaly-bit", "jsonwrap", "nonzero", "null2zero", "abs", "absolute", "seconds", "ms",
           "milliseconds", "flip", "reversed", "min2max", "percentage", "unaligned", "match-ids",
           "match-names", "showcustomvars", "allow_past", "anomaly_bit")


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


def _options(options: Sequence[str] | str) -> set[str]:
    items = options.replace("|", ",").replace(" ", ",").split(",") if isinstance(options, str) else list(options)
    chosen = {o.strip() for o in items if o and o.strip()}
    unknown = chosen.difference(OPTIONS)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; known: {', '.join(OPTIONS)}")
    if "anomaly_bit" in chosen:
        chosen.add("anomaly-bit")
    return chosen


def _group(values: np.ndarray, size: int, how: str) -> np.ndarray:
    """Group columns (time, oldest first) into runs of ``size`` ending at the newest."""
    n = values.shape[1]
    pad = (-n) % size
    padded = np.concatenate([np.full((values.shape[0], pad), np.nan), values], axis=1)
    blocks = padded.reshape(values.shape[0], -1, size)
    with np.errstate(all="ignore"), _quiet():
        if how == "average":
            return np.nanmean(blocks, axis=2)
        if how == "min":
            return np.nanmin(blocks, axis=2)
        if how == "max":
            return np.nanmax(blocks, axis=2)
        if how in ("sum", "incremental_sum"):
            total = np.nansum(blocks, axis=2)
            total[np.all(np.isnan(blocks), axis=2)] = np.nan
            return total
        if how == "median":
            return np.nanmedian(blocks, axis=2)
    raise ValueError(f"unknown group {how!r}; known: {', '.join(GROUPINGS)}")


class _quiet:
    """Silence NumPy's all-NaN slice warnings inside grouping."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def _json_value(v: float) -> float | None:
    if math.isnan(v):
        return None
    return float(v)


class DataQuery:
    """Read-side view of one host."""

    def __init__(self, host: "Host") -> None:
        self.host = host

    def resolve_range(self, after: Any, before: Any) -> tuple[int, int]:
        """Absolute ``[after, before]`` in epoch seconds (≤ 0 is relative to the newest tick)."""
        after_s = parse_number("after", after)
        before_s = parse_number("before", before)
        now = self.host.last_time
        now = 0 if now is None else now
        if before_s <= 0:
            before_s = now + before_s
        if after_s < 0:
            after_s = before_s + after_s
        elif after_s == 0:
            first = self.host._store.first_time
            after_s = first if first is not None else before_s
        if after_s > before_s:
            raise ValueError(f"after ({after}) is later than before ({before})")
        store = self.host._store
        widest = store.readable_ticks * store.update_every
        if before_s - after_s >= widest:
            raise ValueError(f"the range after={after} before={before} spans {before_s - after_s:.0f} s, wider than "
                             f"the {widest} s of samples the store keeps (Host(history=...) keeps more)")
        return int(math.ceil(after_s)), int(math.floor(before_s))

    def _words(self, slots: list[int], after: int, before: int) -> tuple[np.ndarray, np.ndarray]:
        with self.host._lock:
            return self.host._store.read(slots, after, before)

    def data(self, chart_id: str, after: Any = 0, before: Any = 0, points: Any = 0, group: str = "average",
             dimensions: Sequence[str] | str | None = None, options: Sequence[str] | str = ()) -> dict[str, Any]:
        """``/api/v1/data`` for one chart: ``{"labels": [...], "data": [[t, v...], ...]}`` newest first."""
        chart = self.host.chart(chart_id)
        opts = _options(options)
        if group not in GROUPINGS:
            raise ValueError(f"unknown group {group!r}; known: {', '.join(GROUPINGS)}")
        try:
            n_points = int(points) if points is not None and points != "" else 0
        except (TypeError, ValueError):
            raise ValueError(f"points must be a non-negative integer, got {points!r}") from None
        if n_points < 0:
            raise ValueError(f"points must be a non-negative integer, got {points!r}")
        after_s, before_s = self.resolve_range(after, before)
        if isinstance(dimensions, str):
            wanted = [d.strip() for d in dimensions.replace("|", ",").split(",") if d.strip()]
        else:
            wanted = list(dimensions) if dimensions else []
        names = list(chart.dimensions)
        if wanted:
            unknown = [d for d in wanted if d not in names]
            if unknown:
                raise ValueError(f"chart {chart_id!r} has no dimension(s) {unknown}")
            names = [d for d in names if d in wanted]
        slots = [self.host._slot_of[f"{chart.id}|{d}"] for d in names]
        times, words = self._words(slots, after_s, before_s)
        if "anomaly-bit" in opts:
            exists = words != 0
            values = np.where(exists, np.where((words & _core.ANOMALY_BIT) == 0, 100.0, 0.0), np.nan)
        else:
            values = _core.unpack(words.reshape(-1))[0].reshape(words.shape) if words.size else \
                words.astype(np.float64)
        if "abs" in opts or "absolute" in opts:
            values = np.abs(values)
        size = 1
        if n_points and times.size > n_points:
            size = -(-times.size // n_points)
        if size > 1:
            values = _group(values, size, group)
            # Each group is stamped with the newest second in it.
            stamps = times[(times.size - 1) % size::size] if times.size else times
        else:
            stamps = times
        if "null2zero" in opts:
            values = np.nan_to_num(values, nan=0.0)
        rows = [[int(t)] + [_json_value(v) for v in values[:, i]] for i, t in enumerate(stamps)][::-1]
        if "nonzero" in opts and rows:
            keep = [j for j in range(len(names)) if any(r[j + 1] not in (None, 0.0) for r in rows)]
            names = [names[j] for j in keep]
            rows = [[r[0]] + [r[j + 1] for j in keep] for r in rows]
        result: dict[str, Any] = {"labels": ["time", *names], "data": rows}
        if "jsonwrap" not in opts:
            return result
        latest = [r for r in (rows[0][1:] if rows else [None] * len(names))]
        finite = [v for r in rows for v in r[1:] if v is not None]
        return {
            "api": 1,
            "id": chart.id,
            "name": chart.name,
            "view_update_every": int(self.host.update_every * size),
            "update_every": self.host.update_every,
            "first_entry": self.host._store.first_time or 0,
            "last_entry": self.host.last_time or 0,
            "before": int(stamps[-1]) if len(stamps) else before_s,
            "after": int(times[0]) if times.size else after_s,
            "group": group,
            "options": sorted(opts),
            "dimension_names": names,
            "dimension_ids": names,
            "latest_values": latest,
            "view_latest_values": latest,
            "dimensions": len(names),
            "points": len(rows),
            "format": "json",
            "result": result,
            "min": min(finite) if finite else None,
            "max": max(finite) if finite else None,
        }

    def _modelled_slots(self) -> tuple[list[str], list[int]]:
        host = self.host
        ids = [d for d in host.dimension_ids() if host._modelled[host._slot_of[d]]]
        return ids, [host._slot_of[d] for d in ids]

    def _anomaly_counts(self, after: Any, before: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
        after_s, before_s = self.resolve_range(after, before)
        ids, slots = self._modelled_slots()
        _, words = self._words(slots, after_s, before_s)
        exists = words != 0
        anomalous = exists & ((words & _core.ANOMALY_BIT) == 0)
        return ids, exists.sum(axis=1), anomalous.sum(axis=1)

    def anomaly_rates(self, after: Any, before: Any) -> dict[str, float]:
        """Per modelled dimension with points in the range: anomalous / existing points."""
        ids, existing, anomalous = self._anomaly_counts(after, before)
        return {d: float(a) / float(e) for d, e, a in zip(ids, existing, anomalous) if e > 0}

    def host_anomaly_rate(self, after: Any, before: Any) -> float:
        """Anomalous / existing over all modelled (dimension, point) pairs; 0 if none."""
        _, existing, anomalous = self._anomaly_counts(after, before)
        total = int(existing.sum())
        return float(anomalous.sum()) / total if total else 0.0
