"""Readers of recorded data for the lab's replay.

Three layouts are read into one :class:`Recording` (timestamps plus one column
of values per dimension):

- NAB-style CSV: a ``timestamp,value`` header, timestamps written
  ``YYYY-MM-DD HH:MM:SS`` (NAB's data files);
- wide CSV: a ``timestamp`` (or ``time``) column followed by one column per
  dimension; an empty cell is a missing value;
- a Netdata ``/api/v1/data`` JSON export (SPEC §1.10): ``labels`` (``"time"``
  then the dimension names) and ``data`` rows, newest first, each
  ``[epoch_seconds, value, ...]`` with ``null`` for a missing value; the
  ``jsonwrap`` form (the same object under ``result``) is accepted too.

Timestamps may be ISO strings or whole epoch seconds between 1970 and the
end of year 9999. Rows keep the file's order except for the JSON export,
whose rows are put oldest first.

Every input error is a ``ValueError`` whose message starts with the file's
path (and the line or entry when there is one): text that is not UTF-8,
JSON nested too deeply, numbers beyond float64, timestamps out of range.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from .labels import as_timestamps

__all__ = ["Recording", "read_csv", "read_netdata_json", "read_recording"]

PathLike = Union[str, "os.PathLike[str]"]

_TIME_COLUMNS = ("timestamp", "time")
#: Latest epoch second accepted (9999-12-31 23:59:59 UTC); datetime64 and the engine handle it.
MAX_EPOCH_SECONDS = 253_402_300_799
_RESULT_COLUMNS = frozenset({"anomaly_score", "label", "raw_score", "anomaly_bit"})


@dataclass(frozen=True)
class Recording:
    """Recorded samples: ``values[i, j]`` is dimension ``columns[j]`` at ``timestamps[i]``.

    ``timestamps`` is ``datetime64[s]`` (1-D), ``values`` float64 of shape
    ``(len(timestamps), len(columns))`` with NaN for a missing value.
    """

    name: str
    timestamps: np.ndarray
    columns: list[str]
    values: np.ndarray

    def __post_init__(self) -> None:
        stamps = as_timestamps(f"{self.name}: timestamps", self.timestamps)
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim == 1:
            values = values.reshape(-1, 1)
        columns = [str(c) for c in self.columns]
        if values.ndim != 2 or values.shape != (stamps.size, len(columns)):
            raise ValueError(f"{self.name}: values must have shape ({stamps.size}, {len(columns)}) "
                             f"(rows x columns), got {values.shape}")
        if not columns:
            raise ValueError(f"{self.name}: a recording needs at least one value column")
        if len(set(columns)) != len(columns):
            raise ValueError(f"{self.name}: a column name is repeated: {columns!r}")
        if stamps.size == 0:
            raise ValueError(f"{self.name}: no rows")
        object.__setattr__(self, "timestamps", stamps)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "columns", columns)

    @property
    def epoch_seconds(self) -> np.ndarray:
        """The timestamps as int64 seconds since the epoch."""
        return self.timestamps.astype(np.int64)


def _is_result_column(name: str) -> bool:
    """Columns NAB's result files add next to ``value``: scores and labels, not data."""
    return name in _RESULT_COLUMNS or name.startswith("S(t)")


def _short(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}...{text[-8:]} ({len(text)} characters)"


def _check_epoch(path: Path, where: str, value: int) -> int:
    if not 0 <= value <= MAX_EPOCH_SECONDS:
        raise ValueError(f"{path}: {where}: timestamp {_short(str(value))} is not epoch seconds between 0 and "
                         f"{MAX_EPOCH_SECONDS} (year 9999)")
    return value


def _parse_times(path: Path, stamps: list[str], lines: list[int] | None = None) -> np.ndarray:
    if stamps and all(s.lstrip("+-").isdigit() for s in stamps):
        seconds = [_check_epoch(path, f"line {lines[i]}" if lines else f"row {i}", int(s))
                   for i, s in enumerate(stamps)]
        return np.array(seconds, dtype=np.int64).astype("datetime64[s]")
    try:
        return as_timestamps("timestamps", np.array(stamps, dtype=str))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc} (index 0 is the first row after the header)") from None


def read_csv(path: PathLike) -> Recording:
    """Read a NAB-style (``timestamp,value``) or wide CSV file.

    The first column named ``timestamp`` (or ``time``) holds the times; every
    other column is a dimension, except the result columns that sit next to a
    ``value`` column in NAB's result files and in replay output
    (``anomaly_score``, ``anomaly_bit``, ``label``, ``raw_score``,
    ``S(t)_*``), which are not data. Empty cells and ``nan``
    are missing values. A malformed row raises ``ValueError`` naming the file
    and line.
    """
    path = Path(path)
    try:
        return _read_csv(path)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} at offset "
                         f"{exc.start} of a chunk); save it as UTF-8") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: not readable as CSV: {exc}") from None


def _read_csv(path: Path) -> Recording:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        time_index = next((header.index(c) for c in _TIME_COLUMNS if c in header), None)
        if time_index is None:
            raise ValueError(f"{path}: header {','.join(header)!r} has no 'timestamp' (or 'time') column")
        data_index = [i for i in range(len(header)) if i != time_index]
        if "value" in header:
            data_index = [i for i in data_index if not _is_result_column(header[i])]
        if not data_index:
            raise ValueError(f"{path}: header {','.join(header)!r} has no value column")
        stamps: list[str] = []
        lines: list[int] = []
        rows: list[list[float]] = []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) < len(header):
                raise ValueError(f"{path}:{reader.line_num}: expected {len(header)} fields, got {row!r}")
            stamps.append(row[time_index].strip())
            lines.append(reader.line_num)
            out = []
            for i in data_index:
                cell = row[i].strip()
                if not cell:
                    out.append(math.nan)
                    continue
                try:
                    out.append(float(cell))
                except ValueError:
                    raise ValueError(f"{path}:{reader.line_num}: {header[i]} {cell!r} is not a number") from None
            rows.append(out)
    if not rows:
        raise ValueError(f"{path}: no data rows")
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(data_index))
    return Recording(path.name, _parse_times(path, stamps, lines), [header[i] for i in data_index], values)


def read_netdata_json(path: PathLike) -> Recording:
    """Read a Netdata ``/api/v1/data`` JSON export (plain or ``jsonwrap``); rows come out oldest first."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} at offset "
                         f"{exc.start}); save it as UTF-8") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"{path}: not an /api/v1/data export (JSON nested too deeply)") from None
    return _from_netdata_document(path, document)


def _from_netdata_document(path: Path, document: Any) -> Recording:
    if isinstance(document, dict) and isinstance(document.get("result"), dict):
        document = document["result"]
    if not isinstance(document, dict) or "labels" not in document or "data" not in document:
        raise ValueError(f"{path}: not an /api/v1/data export (expected an object with 'labels' and 'data')")
    labels, data = document["labels"], document["data"]
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{path}: 'labels' must be [\"time\", dimension, ...], got {labels!r}")
    if not isinstance(data, list):  # a malformed file is a bad value, not a bad argument type
        raise ValueError(f"{path}: 'data' must be a list of rows, got {type(data).__name__}")  # noqa: TRY004
    width = len(labels)
    stamps = np.empty(len(data), dtype=np.int64)
    values = np.empty((len(data), width - 1), dtype=np.float64)
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            raise ValueError(f"{path}: data[{i}] must be a list of {width} entries, got {row!r}")
        t = row[0]
        if (isinstance(t, bool) or not isinstance(t, (int, float)) or (isinstance(t, float) and not t.is_integer())
                or not 0 <= t <= MAX_EPOCH_SECONDS):
            raise ValueError(f"{path}: data[{i}][0] = {_short(repr(t))} is not whole epoch seconds between 0 and "
                             f"{MAX_EPOCH_SECONDS} (year 9999)")
        stamps[i] = int(t)
        for j, v in enumerate(row[1:]):
            if v is None:
                values[i, j] = math.nan
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{path}: data[{i}][{j + 1}] = {v!r} is not a number")
            else:
                try:
                    values[i, j] = float(v)
                except OverflowError:
                    raise ValueError(f"{path}: data[{i}][{j + 1}] = {_short(repr(v))} is beyond the float64 "
                                     "range") from None
    if stamps.size == 0:
        raise ValueError(f"{path}: no data rows")
    order = np.argsort(stamps, kind="stable")  # newest first in the export; oldest first here
    return Recording(path.name, stamps[order].astype("datetime64[s]"), list(labels[1:]), values[order])


def read_recording(path: PathLike) -> Recording:
    """Read ``path`` as a Netdata JSON export (``.json``) or a CSV file (anything else)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return read_netdata_json(path)
    return read_csv(path)
