"""Convert a recording made by ``hostcases/record_case.py`` into the host-case format.

The recorder's output directory holds ``schedule_log.json`` (start, end, the
incidents and bursts with their real start and end times), ``charts.json``
(the agent's ``/api/v1/charts``), ``export/<chart>.json`` (each chart's
``/api/v1/data`` over the recording, ``points=0``, newest first),
``others_cpu.csv`` (foreign CPU per second) and ``agent.log``.
:func:`import_recording` turns it into a :class:`~pyml.lab.hostcase.format.HostCase`:

- one row per tick from the recording's start to its last tick with a value;
  a chart's missing ticks (before it appeared, or failed collections) are empty cells;
- the agent's own charts (``anomaly_detection.*``) are left out: they are the
  agent's ML output, not metrics;
- chart metadata (name, family, context, units, title) from ``charts.json``,
  dimension order from each export;
- excluded periods from ``others_cpu.csv`` by
  :func:`~pyml.lab.hostcase.exclusions.foreign_exclusions`, the incidents'
  and bursts' windows (with the scoring's slack) counting as contended;
- ``others_cpu.csv`` (gzip'd) and ``agent.log`` kept beside, as recorded.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Union

import numpy as np

from ...engine.host import INTERNAL_CHART_PREFIX
from ..formats import read_netdata_json
from .exclusions import ExclusionRule, foreign_exclusions, read_others_cpu
from .format import CaseChart, CaseEvent, HostCase, write_case
from .scoring import SLACK_AFTER_S, SLACK_BEFORE_S

__all__ = ["DEFAULT_QUIET_SECONDS", "import_recording", "write_imported"]

PathLike = Union[str, "os.PathLike[str]"]

#: The recorder's schedules keep the first 20 minutes quiet.
DEFAULT_QUIET_SECONDS = 1200


def _events(raw: list[dict[str, Any]], where: str) -> list[CaseEvent]:
    out = []
    for i, e in enumerate(raw):
        try:
            out.append(CaseEvent(name=str(e["name"]), subsystem=str(e["subsystem"]), start=float(e["start"]),
                                 end=float(e["end"]), command=str(e.get("command", "")),
                                 returncode=e.get("returncode")))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}[{i}]: {exc}") from None
    return sorted(out, key=lambda ev: ev.start)


def import_recording(record_dir: PathLike, *, name: str | None = None, schedule: PathLike | None = None,
                     quiet_seconds: int = DEFAULT_QUIET_SECONDS, rule: ExclusionRule = ExclusionRule(),
                     notes: list[str] | None = None) -> tuple[HostCase, dict[str, bytes]]:
    """Read a recorder's output directory; return the case and the extra files to keep beside it.

    ``schedule`` is the recorder's schedule file (kept in ``case.json``);
    ``quiet_seconds`` the leading part with nothing induced (an incident or
    burst starting earlier is an error); ``notes`` are added to the case's
    notes after the ones the conversion writes.
    """
    root = Path(record_dir)
    log_path = root / "schedule_log.json"
    if not log_path.is_file():
        raise FileNotFoundError(f"not a finished recording: {log_path} is missing")
    log = json.loads(log_path.read_text(encoding="utf-8"))
    start, end = int(log["start"]), int(log["end"])
    incidents = _events(log.get("incidents", []), f"{log_path}: incidents")
    bursts = _events(log.get("bursts", []), f"{log_path}: bursts")
    early = [e.name for e in incidents + bursts if e.start < start + quiet_seconds]
    if early:
        raise ValueError(f"{', '.join(early)} start(s) within the first {quiet_seconds} s, which must be quiet")
    charts_doc = json.loads((root / "charts.json").read_text(encoding="utf-8"))["charts"]
    grid = np.arange(start, end + 1, dtype=np.int64)
    charts: list[CaseChart] = []
    columns: list[np.ndarray] = []
    missing: list[str] = []
    internal = 0
    for chart_id, info in charts_doc.items():
        if chart_id.startswith(INTERNAL_CHART_PREFIX):
            internal += 1
            continue
        path = root / "export" / f"{chart_id}.json"
        if not path.is_file():
            missing.append(chart_id)
            continue
        rec = read_netdata_json(path)
        stamps = rec.epoch_seconds
        inside = (stamps >= start) & (stamps <= end)
        block = np.full((grid.size, len(rec.columns)), np.nan)
        block[stamps[inside] - start] = rec.values[inside]
        charts.append(CaseChart(id=chart_id, dimensions=tuple(rec.columns), name=str(info.get("name", chart_id)),
                                family=str(info.get("family", "")), context=str(info.get("context", "")),
                                units=str(info.get("units", "")), title=str(info.get("title", ""))))
        columns.append(block)
    if not charts:
        raise ValueError(f"{root}: no chart export found under export/")
    values = np.concatenate(columns, axis=1)
    filled = np.flatnonzero(~np.isnan(values).all(axis=1))
    if filled.size == 0:
        raise ValueError(f"{root}: the exports hold no value between {start} and {end}")
    last = int(filled[-1])  # the recording's last tick with a value (the end second itself is usually empty)
    grid, values, end = grid[: last + 1], values[: last + 1], int(grid[last])
    cpu_text = (root / "others_cpu.csv").read_text(encoding="utf-8")
    times, cores = read_others_cpu(cpu_text)
    induced = [(e.start - SLACK_BEFORE_S, e.end + SLACK_AFTER_S) for e in incidents + bursts]
    excluded, baseline = foreign_exclusions(times, cores, start=start, end=end, quiet_end=start + quiet_seconds,
                                            rule=rule, induced=induced)
    schedule_doc = json.loads(Path(schedule).read_text(encoding="utf-8")) if schedule is not None else None
    quota = (schedule_doc or {}).get("others_quota_us")
    written = [
        f"recorded with hostcases/record_case.py: pyml agent at 1 s on this machine, {grid.size} ticks from "
        f"{np.datetime64(start, 's')}Z, {len(incidents)} incidents and {len(bursts)} occurrences of a scheduled job",
        "processes not started by the recorder were confined to "
        + (f"{quota / 100000:g} CPU core in total (cgroup v1 cpu quota {quota} us per 100000 us)"
           if quota else "a CPU quota")
        + " and their CPU use logged every second (others_cpu.csv.gz)",
        f"{len(charts)} charts, {values.shape[1]} dimensions; the agent's own anomaly_detection.* charts "
        f"({internal}) left out" + (f"; no export for {', '.join(missing)}" if missing else ""),
        f"ticks without a value: {int(np.isnan(values).sum())} of {values.size} cells",
        f"excluded: {len(excluded)} period(s), {sum(b - a + 1 for a, b in excluded)} s "
        f"(foreign CPU baseline {baseline:.3f} core)",
    ]
    failed = [e.name for e in incidents + bursts if e.returncode not in (0, None)]
    if failed:
        written.append(f"non-zero exit status: {', '.join(failed)} (see returncode)")
    case = HostCase(
        name=name or root.name, hostname=str(log.get("hostname", "")), update_every=1, start=start, end=end,
        quiet_seconds=quiet_seconds, charts=charts, timestamps=grid, values=values, incidents=incidents,
        bursts=bursts, excluded=excluded, exclusion_rule=rule.describe(baseline), notes=written + list(notes or []),
        schedule=schedule_doc,
    )
    extra = {"others_cpu.csv.gz": gzip.compress(cpu_text.encode("utf-8"), compresslevel=9, mtime=0)}
    if (root / "agent.log").is_file():
        extra["agent.log"] = (root / "agent.log").read_bytes()
    return case, extra


def write_imported(record_dir: PathLike, out_dir: PathLike, **options: Any) -> HostCase:
    """:func:`import_recording` then :func:`~pyml.lab.hostcase.format.write_case` into ``out_dir``."""
    case, extra = import_recording(record_dir, **options)
    write_case(case, out_dir, extra)
    return case
