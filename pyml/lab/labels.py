"""The files of a NAB-style corpus: series, labelled windows and scoring profiles.

The Numenta Anomaly Benchmark (NAB) keeps each series as a CSV file with a
``timestamp,value`` header and timestamps written ``YYYY-MM-DD HH:MM:SS``; the
labels as a JSON object mapping each series' path relative to ``data/``
(``"realKnownCause/nyc_taxi.csv"``) to a list of ``[start, end]`` windows; and
the scoring profiles as a JSON object of cost matrices.

Timestamps are handled as ``numpy.datetime64[s]`` arrays: NAB's timestamps
are whole seconds, and a conversion that would drop a sub-second part raises.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]
Window = tuple[np.datetime64, np.datetime64]
Series = tuple[np.ndarray, np.ndarray]

__all__ = [
    "NAB_PROFILES",
    "CostMatrix",
    "as_timestamps",
    "load_corpus",
    "load_profiles",
    "load_windows",
    "parse_windows",
    "point_labels",
    "read_columns",
    "read_series",
    "window_bounds",
]

_SECOND = np.timedelta64(1, "s")


@dataclass(frozen=True)
class CostMatrix:
    """The weights of one NAB scoring profile.

    ``tp_weight`` scales the reward of a detected window, ``fp_weight`` the
    cost of a false positive, ``fn_weight`` the cost of a missed window.
    ``tn_weight`` is part of NAB's profile files but unused by its scoring.
    """

    tp_weight: float
    fp_weight: float
    fn_weight: float
    tn_weight: float = 1.0

    def __post_init__(self) -> None:
        for name in ("tp_weight", "fp_weight", "fn_weight", "tn_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.tp_weight == 0:
            raise ValueError("tp_weight must be > 0, got 0.0")

    @classmethod
    def from_mapping(cls, profile: Mapping[str, Any], name: str = "profile") -> CostMatrix:
        """Build from NAB's JSON form: ``{"CostMatrix": {"tpWeight": ..., ...}}`` or the inner mapping."""
        if not isinstance(profile, Mapping):
            raise TypeError(f"{name} must be a mapping of cost weights, got {profile!r}")
        inner = profile.get("CostMatrix", profile)
        if not isinstance(inner, Mapping):
            raise TypeError(f"{name}['CostMatrix'] must be a mapping, got {inner!r}")
        missing = [key for key in ("tpWeight", "fpWeight", "fnWeight") if key not in inner]
        if missing:
            raise ValueError(f"{name} lacks {', '.join(missing)} (has {sorted(inner)})")
        try:
            return cls(inner["tpWeight"], inner["fpWeight"], inner["fnWeight"], inner.get("tnWeight", 1.0))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}: {exc}") from None


#: NAB's three published profiles (its ``config/profiles.json``).
NAB_PROFILES: dict[str, CostMatrix] = {
    "standard": CostMatrix(tp_weight=1.0, fp_weight=0.11, fn_weight=1.0),
    "reward_low_FP_rate": CostMatrix(tp_weight=1.0, fp_weight=0.22, fn_weight=1.0),
    "reward_low_FN_rate": CostMatrix(tp_weight=1.0, fp_weight=0.11, fn_weight=2.0),
}


def _to_seconds(name: str, arr: np.ndarray) -> np.ndarray:
    """datetime64 of any unit to datetime64[s], refusing NaT and sub-second parts."""
    if np.isnat(arr).any():
        bad = int(np.flatnonzero(np.isnat(arr.reshape(-1)))[0])
        raise ValueError(f"{name}[{bad}] is not a time (NaT)")
    seconds = arr.astype("datetime64[s]")
    lossy = seconds.astype(arr.dtype) != arr
    if lossy.any():
        bad = int(np.flatnonzero(lossy.reshape(-1))[0])
        raise ValueError(f"{name}[{bad}] = {arr.reshape(-1)[bad]} has a sub-second part; NAB timestamps are whole seconds")
    return seconds


def as_timestamps(name: str, x: Any) -> np.ndarray:
    """Return ``x`` as a 1-D ``datetime64[s]`` array.

    Accepts ``datetime64`` arrays of any unit, ISO strings (``"2014-07-01
    00:00:00"``, the ``T`` separator and a zero fractional part are allowed),
    ``datetime.datetime`` objects, and integer epoch seconds. Raises
    ``ValueError`` naming ``name`` and the position of a value that is not a
    whole-second time, ``TypeError`` for other kinds of data.
    """
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    kind = arr.dtype.kind
    if kind == "M":
        return _to_seconds(name, arr)
    if kind in "iu":
        return arr.astype(np.int64).astype("datetime64[s]")
    if kind in "USO":
        try:
            parsed = arr.astype("datetime64[us]") if kind != "O" else np.array(arr.tolist(), dtype="datetime64[us]")
        except (TypeError, ValueError):
            for i, item in enumerate(arr.tolist()):
                try:
                    np.datetime64(item, "us")
                except (TypeError, ValueError):
                    raise ValueError(f"{name}[{i}] = {item!r} is not a timestamp") from None
            raise
        return _to_seconds(name, parsed)
    if kind == "f":
        integral = np.isfinite(arr) & (np.floor(arr) == arr) & (np.abs(arr) < 2**53)
        if not integral.all():
            bad = int(np.flatnonzero(~integral)[0])
            raise ValueError(f"{name}[{bad}] = {arr[bad].item()!r} is not a whole number of epoch seconds")
        return arr.astype(np.int64).astype("datetime64[s]")
    raise TypeError(f"{name} must be timestamps (datetime64, strings or epoch seconds), got dtype {arr.dtype}")


def read_columns(path: PathLike, columns: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Read the ``timestamp`` column and the named numeric columns of a CSV file with a header.

    Returns ``(timestamps datetime64[s], [float64 array per column])`` in file
    order; other columns are ignored, blank lines skipped. A missing column,
    a short row, a value that is not a number or a timestamp that is not a
    whole-second time raises ``ValueError`` naming the file and line.
    """
    path = Path(path)
    wanted = ["timestamp", *columns]
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise ValueError(f"{path}: header {','.join(header)!r} lacks {', '.join(missing)}")
        index = [header.index(c) for c in wanted]
        stamps: list[str] = []
        values: list[list[float]] = [[] for _ in columns]
        for row in reader:
            if not row:
                continue
            if len(row) < len(header):
                raise ValueError(f"{path}:{reader.line_num}: expected {len(header)} fields, got {row!r}")
            stamps.append(row[index[0]].strip())
            for column, i, out in zip(columns, index[1:], values):
                try:
                    out.append(float(row[i]))
                except ValueError:
                    raise ValueError(f"{path}:{reader.line_num}: {column} {row[i]!r} is not a number") from None
    try:
        timestamps = as_timestamps("timestamps", np.array(stamps, dtype=str))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc} (index 0 is the first row after the header)") from None
    return timestamps, [np.array(v, dtype=np.float64) for v in values]


def read_series(path: PathLike) -> Series:
    """Read a NAB data file (``timestamp,value`` header) as ``(timestamps, values)``.

    ``timestamps`` is ``datetime64[s]``, ``values`` float64, both in file
    order (NAB files are not strictly increasing: a few repeat a timestamp).
    Extra columns, as in NAB's result files, are ignored. A malformed line
    raises ``ValueError`` naming the file and line number.
    """
    timestamps, (values,) = read_columns(path, ["value"])
    return timestamps, values


def load_corpus(data_dir: PathLike) -> dict[str, Series]:
    """Read every ``<category>/<name>.csv`` under ``data_dir``, keyed as NAB keys its labels.

    Keys are paths relative to ``data_dir`` with ``/`` separators, sorted
    (``"realKnownCause/nyc_taxi.csv"``); values as :func:`read_series`.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"NAB data directory not found: {root}")
    files = sorted(p for p in root.glob("*/*.csv") if not p.name.startswith("."))
    return {p.relative_to(root).as_posix(): read_series(p) for p in files}


def _window_endpoint(name: str, value: Any) -> np.datetime64:
    if isinstance(value, str):
        value = value.strip()
    stamps = as_timestamps(name, np.array([value]))
    return np.datetime64(stamps[0], "s")


def parse_windows(key: str, raw: Any) -> list[Window]:
    """One series' windows as ``[(start, end), ...]`` of ``datetime64[s]``, checked.

    ``raw`` is a list of ``[start, end]`` pairs (strings, ``datetime64`` or
    epoch seconds); ``key`` names the series in errors. Windows must be in
    time order, must not overlap and must not end before they start.
    """
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise TypeError(f"windows[{key!r}] must be a list of [start, end] pairs, got {raw!r}")
    out: list[Window] = []
    for i, pair in enumerate(raw):
        if isinstance(pair, (str, bytes)) or len(pair) != 2:
            raise ValueError(f"windows[{key!r}][{i}] must be a [start, end] pair, got {pair!r}")
        start = _window_endpoint(f"windows[{key!r}][{i}] start", pair[0])
        end = _window_endpoint(f"windows[{key!r}][{i}] end", pair[1])
        if end < start:
            raise ValueError(f"windows[{key!r}][{i}] ends ({end}) before it starts ({start})")
        if out and start < out[-1][1]:
            raise ValueError(f"windows[{key!r}][{i}] starts ({start}) before the previous window ends ({out[-1][1]})")
        out.append((start, end))
    return out


def _json_object(path_or_mapping: PathLike | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """A mapping as given, or the JSON object in a file (``ValueError`` naming the file if it holds another type)."""
    if isinstance(path_or_mapping, Mapping):
        return path_or_mapping
    with open(path_or_mapping, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path_or_mapping}: expected a JSON object of {what}, got {type(raw).__name__}")
    return raw


def load_windows(path_or_mapping: PathLike | Mapping[str, Any]) -> dict[str, list[Window]]:
    """Load labelled windows: NAB's ``combined_windows.json`` or an equivalent mapping.

    Returns ``{relative path: [(start, end), ...]}`` with ``datetime64[s]``
    endpoints, windows in time order. Windows must not overlap and must not
    end before they start (``ValueError`` naming the file and window).
    """
    raw = _json_object(path_or_mapping, "windows")
    return {str(key): parse_windows(str(key), value) for key, value in raw.items()}


def load_profiles(path_or_mapping: PathLike | Mapping[str, Any]) -> dict[str, CostMatrix]:
    """Load scoring profiles: NAB's ``profiles.json`` or an equivalent mapping.

    Each profile is ``{"CostMatrix": {"tpWeight", "fpWeight", "fnWeight",
    "tnWeight"}}``; a ``CostMatrix`` instance is taken as is.
    """
    raw = _json_object(path_or_mapping, "profiles")
    out: dict[str, CostMatrix] = {}
    for name, profile in raw.items():
        out[str(name)] = profile if isinstance(profile, CostMatrix) else CostMatrix.from_mapping(profile, f"profile {name!r}")
    return out


def window_bounds(timestamps: np.ndarray, windows: Sequence[Window], name: str = "series") -> np.ndarray:
    """Row indices ``(k, 2)`` of each window's first and last point, as NAB locates them.

    NAB requires every window endpoint to be exactly one of the series'
    timestamps; a window spans the rows from its start's row to its end's row.
    ``timestamps`` must be ``datetime64[s]`` (see :func:`as_timestamps`).
    Raises ``ValueError`` naming ``name`` when an endpoint matches no row or
    several rows, or when windows are out of order or overlap.
    """
    bounds = np.empty((len(windows), 2), dtype=np.int64)
    if not len(windows):
        return bounds
    order = np.argsort(timestamps, kind="stable")
    ordered = timestamps[order]
    ends = np.array([w for pair in windows for w in pair], dtype="datetime64[s]")
    lo = np.searchsorted(ordered, ends, side="left")
    hi = np.searchsorted(ordered, ends, side="right")
    for k, (first, last) in enumerate(zip(lo.tolist(), hi.tolist())):
        if last - first != 1:
            which = ("start", "end")[k % 2]
            count = "no row" if last == first else f"{last - first} rows"
            raise ValueError(
                f"{name}: window {k // 2} {which} {ends[k]} matches {count}; "
                "window endpoints must be exactly one of the series' timestamps"
            )
    bounds.reshape(-1)[:] = order[lo]
    starts, stops = bounds[:, 0], bounds[:, 1]
    bad = np.flatnonzero(stops < starts)
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{name}: window {k} ends at row {stops[k]}, before its start row {starts[k]}")
    bad = np.flatnonzero(starts[1:] <= stops[:-1])
    if bad.size:
        k = int(bad[0]) + 1
        raise ValueError(f"{name}: window {k} starts at row {starts[k]}, inside or before window {k - 1}")
    return bounds


def point_labels(timestamps: np.ndarray, windows: Sequence[Window]) -> np.ndarray:
    """NAB's per-row label: 1 where ``start <= timestamp <= end`` for some window, else 0 (uint8)."""
    timestamps = as_timestamps("timestamps", timestamps)
    labels = np.zeros(timestamps.shape, dtype=np.uint8)
    for start, end in parse_windows("windows", windows):
        labels[(timestamps >= start) & (timestamps <= end)] = 1
    return labels
