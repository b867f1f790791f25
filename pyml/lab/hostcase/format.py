"""The host-case format: a recording of one machine with its induced incidents, as files in a directory.

A host case is a directory with:

- ``values.csv.gz``: a gzip'd wide CSV, ``timestamp`` (epoch seconds, one row
  per tick from the first to the last, on the case's ``update_every`` grid)
  then one column per dimension named ``chart|dim``; an empty cell is no
  value. Values are written in Python's shortest round-trip form, so reading
  gives back the exact doubles written.
- ``case.json``: everything else, one JSON object:

  ``format`` (1), ``name``, ``hostname``, ``update_every``, ``start`` and
  ``end`` (epoch seconds of the recording), ``quiet_seconds`` (the leading
  part with nothing induced, for training);
  ``charts``: ``[{"id", "name", "family", "context", "units", "title",
  "dimensions": [...]}, ...]`` in column order;
  ``incidents``: ``[{"name", "subsystem", "command", "start", "end",
  "returncode"}, ...]`` with real start and end times (epoch seconds,
  fractional);
  ``bursts``: the occurrences of the scheduled job, same fields;
  ``excluded``: ``{"rule": text, "periods": [[start, end], ...]}``, the
  periods left out of scoring and the rule that chose them;
  ``notes``: free text lines on how the recording was made;
  ``schedule``: the recorder's schedule as given (optional).

- optional extra files kept as recorded (``others_cpu.csv``, ``agent.log``).

:func:`read_case` checks everything it reads and names the file and the bad
value; :func:`write_case` writes a :class:`HostCase` (gzip with a zero mtime,
so the same case gives the same bytes).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from .subsystems import parse_subsystems

__all__ = ["CASE_FORMAT", "CaseChart", "CaseEvent", "HostCase", "read_case", "write_case"]

PathLike = Union[str, "os.PathLike[str]"]

#: Version of the layout written by :func:`write_case`.
CASE_FORMAT = 1
VALUES_FILE = "values.csv.gz"
CASE_FILE = "case.json"


@dataclass(frozen=True)
class CaseChart:
    """One chart of a case, as ``/api/v1/charts`` described it."""

    id: str
    dimensions: tuple[str, ...]
    name: str = ""
    family: str = ""
    context: str = ""
    units: str = ""
    title: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"a chart needs an id, got {self.id!r}")
        object.__setattr__(self, "dimensions", tuple(self.dimensions))
        object.__setattr__(self, "name", self.name or self.id)  # a chart's name defaults to its id

    def as_dict(self) -> dict[str, Any]:
        """The ``case.json`` form."""
        return {"id": self.id, "name": self.name, "family": self.family, "context": self.context,
                "units": self.units, "title": self.title, "dimensions": list(self.dimensions)}


@dataclass(frozen=True)
class CaseEvent:
    """An induced incident or one occurrence of the scheduled job: what ran, when, stressing what."""

    name: str
    subsystem: str
    start: float
    end: float
    command: str = ""
    returncode: int | None = None

    def __post_init__(self) -> None:
        parse_subsystems(self.subsystem)
        for key in ("start", "end"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{self.name}: {key} must be epoch seconds, got {value!r}")
        if self.end < self.start:
            raise ValueError(f"{self.name}: ends ({self.end}) before it starts ({self.start})")

    @property
    def subsystems(self) -> tuple[str, ...]:
        """The subsystems it stresses."""
        return parse_subsystems(self.subsystem)

    def as_dict(self) -> dict[str, Any]:
        """The ``case.json`` form."""
        return {"name": self.name, "subsystem": self.subsystem, "command": self.command, "start": self.start,
                "end": self.end, "returncode": self.returncode}


@dataclass
class HostCase:
    """A recorded host case: values per tick and dimension, charts, incidents, bursts, excluded periods.

    ``values[i, j]`` is dimension ``columns[j]`` (``"chart|dim"``) at
    ``timestamps[i]`` (int64 epoch seconds, consecutive ticks); NaN is no value.
    """

    name: str
    hostname: str
    update_every: int
    start: int
    end: int
    quiet_seconds: int
    charts: list[CaseChart]
    timestamps: np.ndarray
    values: np.ndarray
    incidents: list[CaseEvent] = field(default_factory=list)
    bursts: list[CaseEvent] = field(default_factory=list)
    excluded: list[tuple[int, int]] = field(default_factory=list)
    exclusion_rule: str = ""
    notes: list[str] = field(default_factory=list)
    schedule: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.timestamps = np.asarray(self.timestamps, dtype=np.int64)
        self.values = np.asarray(self.values, dtype=np.float64)
        n, d = self.timestamps.size, len(self.columns)
        if self.values.shape != (n, d):
            raise ValueError(f"case {self.name}: values have shape {self.values.shape}, expected ({n}, {d}) "
                             "(ticks x dimensions of the charts)")
        if n < 2:
            raise ValueError(f"case {self.name}: needs at least two ticks, got {n}")
        steps = np.diff(self.timestamps)
        if (steps != self.update_every).any():
            i = int(np.flatnonzero(steps != self.update_every)[0])
            raise ValueError(f"case {self.name}: timestamps must be consecutive ticks {self.update_every} s apart; "
                             f"row {i + 1} is {int(steps[i])} s after row {i}")
        if len(set(self.columns)) != d:
            raise ValueError(f"case {self.name}: a dimension is repeated among the charts")
        for a, b in self.excluded:
            if b < a:
                raise ValueError(f"case {self.name}: excluded period [{a}, {b}] ends before it starts")

    @property
    def columns(self) -> list[str]:
        """``"chart|dim"`` of every column, in chart order."""
        return [f"{c.id}|{d}" for c in self.charts for d in c.dimensions]

    @property
    def quiet_end(self) -> int:
        """Epoch second at which the quiet (training) part ends."""
        return self.start + self.quiet_seconds

    def slice(self, after: int, before: int, name: str | None = None) -> HostCase:
        """The ticks in ``[after, before]`` with the incidents, bursts and excluded periods that touch them.

        The quiet part keeps its end time (it may then be shorter, or over).
        """
        keep = (self.timestamps >= after) & (self.timestamps <= before)
        if keep.sum() < 2:
            raise ValueError(f"case {self.name}: [{after}, {before}] holds fewer than two ticks")
        stamps = self.timestamps[keep]
        first, last = int(stamps[0]), int(stamps[-1])

        def touching(events: list[CaseEvent]) -> list[CaseEvent]:
            return [e for e in events if e.end >= first and e.start <= last]

        return HostCase(
            name=name or f"{self.name}[{first}..{last}]", hostname=self.hostname, update_every=self.update_every,
            start=first, end=last, quiet_seconds=max(0, self.quiet_end - first), charts=list(self.charts),
            timestamps=stamps, values=self.values[keep], incidents=touching(self.incidents),
            bursts=touching(self.bursts), excluded=[(a, b) for a, b in self.excluded if b >= first and a <= last],
            exclusion_rule=self.exclusion_rule, notes=list(self.notes), schedule=self.schedule,
        )

    def to_json(self) -> dict[str, Any]:
        """The ``case.json`` object."""
        doc: dict[str, Any] = {
            "format": CASE_FORMAT, "name": self.name, "hostname": self.hostname, "update_every": self.update_every,
            "start": self.start, "end": self.end, "quiet_seconds": self.quiet_seconds,
            "charts": [c.as_dict() for c in self.charts],
            "incidents": [e.as_dict() for e in self.incidents], "bursts": [e.as_dict() for e in self.bursts],
            "excluded": {"rule": self.exclusion_rule, "periods": [[int(a), int(b)] for a, b in self.excluded]},
            "notes": list(self.notes),
        }
        if self.schedule is not None:
            doc["schedule"] = self.schedule
        return doc


def _cell(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def write_case(case: HostCase, directory: PathLike, extra_files: dict[str, bytes] | None = None) -> Path:
    """Write ``case`` into ``directory`` (created); return the directory.

    ``extra_files`` are written beside, as given (e.g. the recorder's raw
    ``others_cpu.csv``).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["timestamp", *case.columns])
    for t, row in zip(case.timestamps.tolist(), case.values.tolist()):
        writer.writerow([t, *(_cell(v) for v in row)])
    tmp = out / f".{VALUES_FILE}.tmp"
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(text.getvalue().encode("utf-8"))
    os.replace(tmp, out / VALUES_FILE)
    (out / CASE_FILE).write_text(json.dumps(case.to_json(), indent=1) + "\n", encoding="utf-8")
    for name, data in (extra_files or {}).items():
        (out / name).write_bytes(data)
    return out


def _require(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: Path) -> Any:
    if key not in doc:
        raise ValueError(f"{where}: missing {key!r}")
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValueError(f"{where}: {key!r} has the wrong type: {value!r}")
    return value


def _event(raw: Any, where: str) -> CaseEvent:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected an object, got {raw!r}")
    try:
        return CaseEvent(name=str(raw.get("name", "")), subsystem=str(raw["subsystem"]), start=raw["start"],
                         end=raw["end"], command=str(raw.get("command", "")), returncode=raw.get("returncode"))
    except KeyError as exc:
        raise ValueError(f"{where}: missing {exc.args[0]!r}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def read_case(directory: PathLike) -> HostCase:
    """Read the host case in ``directory`` (see the module's text for the layout)."""
    root = Path(directory)
    meta_path = root / CASE_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"not a host case: {meta_path} is missing")
    try:
        doc = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{meta_path}: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{meta_path}: expected a JSON object")
    if doc.get("format") != CASE_FORMAT:
        raise ValueError(f"{meta_path}: format {doc.get('format')!r} is not {CASE_FORMAT}")
    charts = []
    for i, c in enumerate(_require(doc, "charts", list, meta_path)):
        if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not isinstance(c.get("dimensions"), list):
            raise ValueError(f"{meta_path}: charts[{i}] needs an 'id' and a 'dimensions' list, got {c!r}")
        charts.append(CaseChart(id=c["id"], dimensions=tuple(str(d) for d in c["dimensions"]),
                                name=str(c.get("name", "")), family=str(c.get("family", "")),
                                context=str(c.get("context", "")), units=str(c.get("units", "")),
                                title=str(c.get("title", ""))))
    columns = [f"{c.id}|{d}" for c in charts for d in c.dimensions]
    values_path = root / VALUES_FILE
    with gzip.open(values_path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        if header != ["timestamp", *columns]:
            raise ValueError(f"{values_path}: the header does not list the charts' dimensions of {meta_path} in order")
        stamps: list[int] = []
        rows: list[list[float]] = []
        for row in reader:
            if len(row) != len(header):
                raise ValueError(f"{values_path}:{reader.line_num}: expected {len(header)} fields, got {len(row)}")
            try:
                stamps.append(int(row[0]))
                rows.append([float(x) if x else math.nan for x in row[1:]])
            except ValueError:
                raise ValueError(f"{values_path}:{reader.line_num}: a cell is not a number") from None
    excluded_doc = doc.get("excluded", {"rule": "", "periods": []})
    if not isinstance(excluded_doc, dict) or not isinstance(excluded_doc.get("periods", []), list):
        raise ValueError(f"{meta_path}: 'excluded' must be {{\"rule\": text, \"periods\": [[start, end], ...]}}")
    excluded = []
    for i, p in enumerate(excluded_doc.get("periods", [])):
        if not isinstance(p, list) or len(p) != 2 or not all(isinstance(x, (int, float)) for x in p):
            raise ValueError(f"{meta_path}: excluded period {i} must be [start, end], got {p!r}")
        excluded.append((int(p[0]), int(p[1])))
    return HostCase(
        name=str(_require(doc, "name", str, meta_path)), hostname=str(doc.get("hostname", "")),
        update_every=int(_require(doc, "update_every", int, meta_path)),
        start=int(_require(doc, "start", int, meta_path)), end=int(_require(doc, "end", int, meta_path)),
        quiet_seconds=int(_require(doc, "quiet_seconds", int, meta_path)), charts=charts,
        timestamps=np.array(stamps, dtype=np.int64),
        values=np.array(rows, dtype=np.float64).reshape(len(rows), len(columns)),
        incidents=[_event(e, f"{meta_path}: incidents[{i}]") for i, e in enumerate(doc.get("incidents", []))],
        bursts=[_event(e, f"{meta_path}: bursts[{i}]") for i, e in enumerate(doc.get("bursts", []))],
        excluded=excluded, exclusion_rule=str(excluded_doc.get("rule", "")),
        notes=[str(x) for x in doc.get("notes", [])], schedule=doc.get("schedule"),
    )
