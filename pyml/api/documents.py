"""The JSON and text documents of Netdata's v1 endpoints other than ``/api/v1/data``.

Each function builds one answer from a host's public read view, with
Netdata v1.37's keys in its order (recorded from a real agent in
``tests/data/netdata-1.37``): ``/api/v1/info`` (plus SPEC §5.7's
``ml-info``), ``/api/v1/charts``, ``/api/v1/chart``, ``/api/v1/contexts``,
``/api/v1/context``, ``/api/v1/allmetrics`` (``json``, ``shell``,
``prometheus``, ``prometheus_all_hosts``), ``/api/v1/alarms`` and
``/api/v1/alarm_log``.

pyml has no health engine: its one alarm is the anomaly detector. ``alarms``
lists ``ml_anomaly_event`` on ``anomaly_detection.detector_events``
(``WARNING`` while the detector is above its threshold, else ``CLEAR``) and
``alarm_log`` gives two entries per stored anomaly event (raised at its
start, cleared at its end), newest first, in Netdata's entry shape. A host
without ML has no alarms and an empty log.

Machine facts (cores, RAM, disk, kernel, ...) are the serving machine's.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import numpy as np

from .. import __version__, _core
from ..patterns import SimplePattern

if TYPE_CHECKING:
    from ..engine.host import Chart, Host

__all__ = ["info_document", "charts_document", "chart_document", "contexts_document", "context_document",
           "allmetrics_json", "allmetrics_shell", "allmetrics_prometheus", "alarms_document", "alarm_log_document"]

_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def _memory_mode(host: "Host") -> str:
    return "ram" if host.storage_dir is None else "map"


def _ram_total() -> str:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return str(int(line.split()[1]) * 1024)
    except OSError:
        pass
    return "unknown"


def _disk_total(host: "Host") -> str:
    try:
        return str(shutil.disk_usage(host.storage_dir or "/").total)
    except OSError:
        return "unknown"


def _os_release() -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                fields[key] = value.strip('"')
    except OSError:
        pass
    return fields


def _chart_type(chart: "Chart") -> str:
    return chart.id.split(".", 1)[0] if "." in chart.id else chart.id


def _dimension_names(chart: "Chart") -> dict[str, str]:
    names = getattr(chart, "dimension_names", None) or {}
    return {d: names.get(d, d) for d in chart.dimensions}


def info_document(host: "Host", hosts: Iterable["Host"] = (),
                  status: Callable[["Host"], Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """``/api/v1/info``: Netdata v1.37's keys in its order, then ``ml-info`` (SPEC §5.7).

    ``hosts`` are all the hosts the server serves (``mirrored_hosts``). Without
    ``status`` this one is listed first, with ``hops`` 0, and the others with
    ``hops`` 1. With ``status`` (a parent's view: ``status(h)`` gives ``hops``
    and ``reachable`` of each host) they are listed as a Netdata parent lists
    them, the same list whichever host is asked: in the order served, each
    with its own hops (0 for the parent's own host, 1 for a child) and
    whether it is reachable now (a child whose connection is down is not).
    """
    if status is None:
        mirrored = [host] + [h for h in hosts if h is not host]
        states = [{"hops": 0 if h is host else 1, "reachable": True} for h in mirrored]
    else:
        mirrored = list(hosts)
        if not any(h is host for h in mirrored):
            mirrored.insert(0, host)
        states = [dict(status(h)) for h in mirrored]
    charts = host.charts()
    release = _os_release()
    uname = platform.uname()
    alarms = alarms_document(host)["alarms"]
    if host.ml_enabled:
        ml_info: dict[str, Any] = dict(host.config.ml_info())
        ml_info["enabled"] = True
        ml_info.update({k: v for k, v in host.ml_info().items() if k != "version"})
    else:
        ml_info = {"enabled": False}
    return {
        "version": f"v{__version__}",
        "uid": host.host_id,
        "mirrored_hosts": [h.name for h in mirrored],
        "mirrored_hosts_status": [{"guid": h.host_id, "hostname": h.name, "reachable": bool(st.get("reachable", True)),
                                   "hops": int(st.get("hops", 0 if h is host else 1)), "claim_id": None,
                                   "node_id": None} for h, st in zip(mirrored, states)],
        "alarms": {"normal": sum(a["status"] == "CLEAR" for a in alarms.values()),
                   "warning": sum(a["status"] == "WARNING" for a in alarms.values()), "critical": 0},
        "os_name": release.get("NAME", "unknown"),
        "os_id": release.get("ID", "unknown"),
        "os_id_like": release.get("ID_LIKE", "unknown"),
        "os_version": release.get("VERSION", "unknown"),
        "os_version_id": release.get("VERSION_ID", "unknown"),
        "os_detection": "/etc/os-release" if release else "unknown",
        "cores_total": str(os.cpu_count() or 0),
        "total_disk_space": _disk_total(host),
        "cpu_freq": "unknown",
        "ram_total": _ram_total(),
        "container_os_name": "none",
        "container_os_id": "none",
        "container_os_id_like": "none",
        "container_os_version": "none",
        "container_os_version_id": "none",
        "container_os_detection": "none",
        "is_k8s_node": "false",
        "kernel_name": uname.system,
        "kernel_version": uname.release,
        "architecture": uname.machine,
        "virtualization": "unknown",
        "virt_detection": "none",
        "container": "unknown",
        "container_detection": "none",
        "cloud_provider_type": "unknown",
        "cloud_instance_type": "unknown",
        "cloud_instance_region": "unknown",
        "host_labels": {"_os_name": release.get("NAME", "unknown"), "_kernel_version": uname.release,
                        "_architecture": uname.machine, "_is_parent": str(len(mirrored) > 1).lower()},
        "functions": {},
        "collectors": [{"plugin": "pyml", "module": "ml"}] + ([{"plugin": "netdata", "module": "ml"}]
                                                              if host.ml_enabled else []),
        "cloud-enabled": False,
        "cloud-available": False,
        "agent-claimed": False,
        "aclk-available": False,
        "memory-mode": _memory_mode(host),
        "multidb-disk-quota": 0,
        "page-cache-size": 0,
        "stream-enabled": False,
        "stream-compression": None,
        "hosts-available": len(mirrored),
        "https-enabled": False,
        "buildinfo": "pyml",
        "release-channel": "stable",
        "web-enabled": True,
        "notification-methods": None,
        "exporting-enabled": None,
        "exporting-connectors": None,
        "allmetrics-prometheus-used": None,
        "allmetrics-shell-used": None,
        "allmetrics-json-used": None,
        "dashboard-used": None,
        "charts-count": len(charts),
        "metrics-count": sum(len(c.dimensions) for c in charts),
        "ml-info": ml_info,
    }


def _chart_object(host: "Host", chart: "Chart", first: int, last: int) -> dict[str, Any]:
    duration = (last - first + host.update_every) if last else 0
    return {
        "id": chart.id,
        "name": chart.name,
        "type": _chart_type(chart),
        "family": chart.family or _chart_type(chart),
        "context": chart.context or chart.id,
        "title": f"{chart.title or chart.name} ({chart.name})",
        "priority": chart.priority,
        "plugin": "netdata" if chart.internal else "pyml",
        "module": "ml" if chart.internal else "",
        "units": chart.units,
        "data_url": f"/api/v1/data?chart={chart.id}",
        "chart_type": chart.chart_type,
        "duration": duration,
        "first_entry": first,
        "last_entry": last,
        "update_every": getattr(chart, "update_every", 0) or host.update_every,
        "dimensions": {d: {"name": n} for d, n in _dimension_names(chart).items()},
        "chart_variables": {},
        "green": None,
        "red": None,
        "alarms": {},
        "chart_labels": {"_collect_plugin": "netdata" if chart.internal else "pyml",
                         "_collect_module": "ml" if chart.internal else ""},
        "functions": {},
    }


def charts_document(host: "Host", hosts: Iterable["Host"] = ()) -> dict[str, Any]:
    """``/api/v1/charts``: every chart (the detector's own included), dimensions keyed by id."""
    with host.reading():
        first, last = host.first_time or 0, host.last_time or 0
        charts = {c.id: _chart_object(host, c, first, last) for c in host.charts()}
    mirrored = [host] + [h for h in hosts if h is not host]
    return {
        "hostname": host.name,
        "version": f"v{__version__}",
        "release_channel": "stable",
        "os": platform.system().lower(),
        "timezone": time.strftime("%Z"),
        "update_every": host.update_every,
        "history": host.history_ticks,
        "memory_mode": _memory_mode(host),
        "custom_info": "",
        "charts": charts,
        "charts_count": len(charts),
        "dimensions_count": sum(len(c["dimensions"]) for c in charts.values()),
        "alarms_count": len(alarms_document(host)["alarms"]),
        "rrd_memory_bytes": 0,
        "hosts_count": len(mirrored),
        "hosts": [{"hostname": h.name} for h in mirrored],
    }


def find_chart(host: "Host", wanted: str) -> "Chart":
    """The chart with id ``wanted``, else with that name; KeyError naming it."""
    try:
        return host.chart(wanted)
    except KeyError:
        pass
    for chart in host.charts():
        if chart.name == wanted:
            return chart
    raise KeyError(f"chart {wanted!r} not found on host {host.name!r}")


def chart_document(host: "Host", wanted: str) -> dict[str, Any]:
    """``/api/v1/chart?chart=``: one chart's object, as in ``/api/v1/charts``."""
    chart = find_chart(host, wanted)
    with host.reading():
        return _chart_object(host, chart, host.first_time or 0, host.last_time or 0)


_CONTEXT_OPTIONS = {"full": "all", "all": "all", "charts": "charts", "instances": "charts", "dimensions": "dimensions",
                    "metrics": "dimensions", "labels": "labels", "queue": None, "flags": None, "uuids": None,
                    "deleted": None, "deepscan": None, "hidden": None}


def _context_options(options: str | None) -> set[str]:
    chosen: set[str] = set()
    for word in (options or "").replace("|", ",").replace(" ", ",").split(","):
        if not word:
            continue
        if word not in _CONTEXT_OPTIONS:
            raise ValueError(f"options parameter has unknown option {word!r}; known: {', '.join(_CONTEXT_OPTIONS)}")
        mapped = _CONTEXT_OPTIONS[word]
        if mapped == "all":
            chosen |= {"charts", "dimensions", "labels"}
        elif mapped:
            chosen.add(mapped)
    return chosen


def _contexts(host: "Host", options: set[str], only: str | None = None,
              dimensions: SimplePattern | None = None) -> dict[str, Any]:
    first, last = host.first_time or 0, host.last_time or 0
    out: dict[str, Any] = {}
    for chart in host.charts():
        context = chart.context or chart.id
        if only is not None and context != only:
            continue
        dims = _dimension_names(chart)
        if dimensions is not None:
            dims = {d: n for d, n in dims.items() if dimensions.matches(d) or dimensions.matches(n)}
            if not dims:
                continue
        entry = out.setdefault(context, {"title": chart.title or chart.name, "units": chart.units,
                                         "family": chart.family or _chart_type(chart),
                                         "chart_type": chart.chart_type, "priority": chart.priority,
                                         "first_time_t": first, "last_time_t": last, "collected": True})
        entry["priority"] = min(entry["priority"], chart.priority)
        if "charts" in options or "dimensions" in options:
            charts = entry.setdefault("charts", {})
            item: dict[str, Any] = {"name": chart.name, "context": context, "title": chart.title or chart.name,
                                    "units": chart.units, "family": chart.family or _chart_type(chart),
                                    "chart_type": chart.chart_type, "priority": chart.priority,
                                    "update_every": host.update_every, "first_time_t": first, "last_time_t": last,
                                    "collected": True}
            if "labels" in options:
                item["labels"] = {"_collect_plugin": "netdata" if chart.internal else "pyml"}
            if "dimensions" in options:
                item["dimensions"] = {d: {"name": n, "first_time_t": first, "last_time_t": last, "collected": True}
                                      for d, n in dims.items()}
            charts[chart.id] = item
    return out


def contexts_document(host: "Host", options: str | None = None, dimensions: str | None = None) -> dict[str, Any]:
    """``/api/v1/contexts``: every context with title, units, family, chart type, priority and
    retention; ``options`` ``charts``/``dimensions``/``labels``/``full`` add the charts and their
    dimensions. ``dimensions`` (a simple pattern) keeps contexts with a matching dimension."""
    chosen = _context_options(options)
    pattern = _pattern(dimensions)
    with host.reading():
        contexts = _contexts(host, chosen, dimensions=pattern)
    return {"hostname": host.name, "machine_guid": host.host_id, "node_id": "", "claim_id": "",
            "contexts": contexts}


def context_document(host: "Host", context: str, options: str | None = None,
                     dimensions: str | None = None) -> dict[str, Any]:
    """``/api/v1/context?context=``: one context's object; KeyError when the host has none such."""
    chosen = _context_options(options)
    with host.reading():
        contexts = _contexts(host, chosen, only=context, dimensions=_pattern(dimensions))
    if context not in contexts:
        raise KeyError(f"context {context!r} not found on host {host.name!r}")
    return contexts[context]


def _pattern(text: str | None) -> SimplePattern | None:
    if not text or not text.strip(",| "):
        return None
    from ..query.data import dimension_pattern
    return dimension_pattern(text)


def latest_values(host: "Host", charts: list["Chart"]) -> tuple[int, dict[str, dict[str, float | None]]]:
    """The newest tick and each chart's values there (None for no value)."""
    last = host.last_time
    out: dict[str, dict[str, float | None]] = {}
    if last is None:
        return 0, {c.id: {d: None for d in c.dimensions} for c in charts}
    ids = [f"{c.id}|{d}" for c in charts for d in c.dimensions]
    _, words = host.read_words(ids, last, last)
    column = words[:, -1] if words.shape[1] else np.zeros(len(ids), dtype=np.uint32)
    values, _, exists = _core.unpack(np.ascontiguousarray(column))
    k = 0
    for c in charts:
        out[c.id] = {}
        for d in c.dimensions:
            out[c.id][d] = float(values[k]) if exists[k] else None
            k += 1
    return last, out


def _filtered(host: "Host", filter_text: str | None) -> list["Chart"]:
    charts = host.charts()
    if not filter_text:
        return charts
    pattern = SimplePattern(filter_text)
    return [c for c in charts if pattern.matches(c.name) or pattern.matches(c.id)]


def allmetrics_json(host: "Host", filter_text: str | None = None) -> dict[str, Any]:
    """``/api/v1/allmetrics?format=json``: each chart's newest values."""
    with host.reading():
        charts = _filtered(host, filter_text)
        last, values = latest_values(host, charts)
    return {c.id: {"name": c.name, "family": c.family or _chart_type(c), "context": c.context or c.id,
                   "units": c.units, "last_updated": last,
                   "dimensions": {d: {"name": n, "value": None if values[c.id][d] is None
                                      else round(values[c.id][d], 7)}  # type: ignore[arg-type]
                                  for d, n in _dimension_names(c).items()}}
            for c in charts}


def _shell_name(text: str) -> str:
    return "".join(ch.upper() if ch.isascii() and ch.isalnum() else "_" for ch in text)[:100]


def allmetrics_shell(host: "Host", filter_text: str | None = None) -> str:
    """``/api/v1/allmetrics?format=shell``: ``NETDATA_<CHART>_<DIM>="<rounded value>"`` lines."""
    with host.reading():
        charts = _filtered(host, filter_text)
        _, values = latest_values(host, charts)
    out = []
    for c in charts:
        name = _shell_name(c.name or c.id)
        out.append(f"\n# chart: {c.id} (name: {c.name})\n")
        total = 0.0
        for d, n in _dimension_names(c).items():
            v = values[c.id][d]
            if v is None:
                out.append(f'NETDATA_{name}_{_shell_name(n)}=""      # {c.units}\n')
                continue
            v = float(round(v))
            total += v
            out.append(f'NETDATA_{name}_{_shell_name(n)}="{v:.0f}"      # {c.units}\n')
        out.append(f'NETDATA_{name}_VISIBLETOTAL="{round(total):.0f}"      # {c.units}\n')
    out.append("\n# NETDATA ALARMS RUNNING\n")
    for alarm in alarms_document(host)["alarms"].values():
        value = alarm["value"]
        out.append(f'NETDATA_ALARM_{_shell_name(alarm["chart"])}_{_shell_name(alarm["name"])}_VALUE="{value:.0f}"\n')
        out.append(f'NETDATA_ALARM_{_shell_name(alarm["chart"])}_{_shell_name(alarm["name"])}_STATUS='
                   f'"{alarm["status"]}"\n')
    return "".join(out)


def _prom_name(text: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" for ch in text.lower())


def _prom_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def allmetrics_prometheus(hosts: list["Host"], filter_text: str | None = None, prefix: str = "netdata",
                          timestamps: bool = True, all_hosts: bool = False) -> str:
    """``/api/v1/allmetrics?format=prometheus`` (and ``prometheus_all_hosts``): each dimension's
    newest value as ``<prefix>_<chart>_<units>_average{chart,family,dimension}``, times in ms.

    Unlike Netdata, the value is the newest stored sample, not an average since the previous
    scrape of the same server.
    """
    out = []
    for host in hosts:
        instance = f',instance="{_prom_label(host.name)}"' if all_hosts else ""
        now_ms = int(time.time() * 1000)
        out.append(f'{prefix}_info{{instance="{_prom_label(host.name)}",application="pyml",version="v{__version__}"}} '
                   f"1{' ' + str(now_ms) if timestamps else ''}\n")
        with host.reading():
            charts = _filtered(host, filter_text)
            last, values = latest_values(host, charts)
        for c in charts:
            metric = f"{prefix}_{_prom_name(c.context or c.id)}_{_prom_name(c.units or 'value')}_average"
            for d, n in _dimension_names(c).items():
                v = values[c.id][d]
                if v is None:
                    continue
                labels = (f'chart="{_prom_label(c.id)}",family="{_prom_label(c.family or _chart_type(c))}",'
                          f'dimension="{_prom_label(n)}"{instance}')
                stamp = f" {last * 1000}" if timestamps else ""
                out.append(f"{metric}{{{labels}}} {v:.7f}{stamp}\n")
    return "".join(out)


def _detector_status(host: "Host") -> tuple[str, float, int]:
    result = host.last_detector_result
    if result is None:
        return "UNINITIALIZED", 0.0, 0
    above = bool(result.event_open)  # every profile's detector result says whether an event is open
    rate = float(getattr(result, "host_anomaly_rate", 0.0)) * 100.0
    return ("WARNING" if above else "CLEAR"), rate, host.last_time or 0


def alarms_document(host: "Host", all_alarms: bool = True) -> dict[str, Any]:
    """``/api/v1/alarms``: the anomaly detector as Netdata's one alarm (``all`` lists it when
    CLEAR too; without ``all`` only a raised one)."""
    now = int(time.time())
    alarms: dict[str, Any] = {}
    if host.ml_enabled:
        status, rate, last = _detector_status(host)
        if all_alarms or status == "WARNING":
            chart = "anomaly_detection.detector_events"
            alarms[f"{chart}.ml_anomaly_event"] = {
                "id": 1, "config_hash_id": _ZERO_UUID, "name": "ml_anomaly_event", "chart": chart,
                "family": "detector_events", "class": "Anomaly", "component": "ML", "type": "System",
                "active": True, "disabled": False, "silenced": False, "exec": "", "recipient": "",
                "source": "pyml", "units": "%", "info": "percentage of anomalous dimensions (pyml's anomaly detector)",
                "status": status, "last_status_change": last, "last_updated": last,
                "next_update": last + host.update_every, "update_every": host.update_every,
                "delay_up_duration": 0, "delay_down_duration": 0, "delay_max_duration": 0, "delay_multiplier": 1.0,
                "delay": 0, "delay_up_to_timestamp": last, "warn_repeat_every": "0", "crit_repeat_every": "0",
                "value_string": f"{rate:.2f}%", "last_repeat": "0", "times_repeat": 0, "green": None, "red": None,
                "value": round(rate, 7),
            }
    events = host.anomaly_events(0, (host.last_time or 0) * 1000 + 999) if host.ml_enabled else []
    return {"hostname": host.name, "latest_alarm_log_unique_id": 2 * len(events), "status": True, "now": now,
            "alarms": alarms}


def alarm_log_document(host: "Host", after: int = 0, chart: str | None = None) -> list[dict[str, Any]]:
    """``/api/v1/alarm_log``: two entries per anomaly event (WARNING at its start, CLEAR at its end),
    newest first; ``after`` keeps entries with a larger ``unique_id``; ``chart`` filters by chart."""
    if not host.ml_enabled:
        return []
    detector_chart = "anomaly_detection.detector_events"
    if chart is not None and chart != detector_chart:
        return []
    events = host.anomaly_events(0, (host.last_time or 0) * 1000 + 999)
    offset = time.localtime().tm_gmtoff
    entries = []
    for n, (start, end) in enumerate(events):
        for k, (when, status, old) in enumerate(((start, "WARNING", "CLEAR"), (end, "CLEAR", "WARNING"))):
            unique = 2 * n + k + 1
            if unique <= after:
                continue
            entries.append({
                "hostname": host.name, "utc_offset": offset, "timezone": time.strftime("%Z"), "unique_id": unique,
                "alarm_id": 1, "alarm_event_id": unique, "config_hash_id": _ZERO_UUID, "name": "ml_anomaly_event",
                "chart": detector_chart, "context": detector_chart, "family": "detector_events", "class": "Anomaly",
                "component": "ML", "type": "System", "processed": True, "updated": k == 0, "exec_run": 0,
                "exec_failed": False, "exec": "", "recipient": "", "exec_code": 0, "source": "pyml",
                "command": "", "units": "%", "when": int(when), "duration": int(end - start) if k == 0 else 0,
                "non_clear_duration": int(end - start) if k == 0 else 0, "status": status, "old_status": old,
                "delay": 0, "delay_up_to_timestamp": int(when), "updated_by_id": unique + 1 if k == 0 else 0,
                "updates_id": unique - 1 if k == 1 else 0, "value_string": "-", "old_value_string": "-",
                "last_repeat": "0", "silenced": "false", "info": f"anomaly event from {int(start)} to {int(end)}",
                "value": None, "old_value": None,
            })
    entries.sort(key=lambda e: -e["unique_id"])
    return entries


def mapping_of(hosts: "Host | Mapping[str, Host]") -> dict[str, "Host"]:
    """``{hostname: Host}`` from one host or a mapping (insertion order kept; the first is the default)."""
    from ..engine.host import Host
    if isinstance(hosts, Host):
        return {hosts.name: hosts}
    if not isinstance(hosts, Mapping) or not hosts:
        raise ValueError(f"hosts must be a pyml.Host or a non-empty mapping of hostname to Host, got {hosts!r}")
    for name, host in hosts.items():
        if not isinstance(host, Host):
            raise ValueError(f"hosts[{name!r}] must be a pyml.Host, got {type(host).__name__}")
    return dict(hosts)
