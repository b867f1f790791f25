"""Small system-wide files: load average, uptime, entropy, pressure stall information.

Charts: ``system.load`` (load1, load5, load15), ``system.active_processes``
(active), ``system.uptime`` (uptime, seconds), ``system.entropy`` (entropy),
``system.cpu_pressure``, ``system.memory_some_pressure``,
``system.memory_full_pressure``, ``system.io_some_pressure``,
``system.io_full_pressure`` (``some 10``/``some 60``/``some 300`` or
``full ...``, percentage).
"""

from __future__ import annotations

from ._files import Files
from ._model import ABSOLUTE, ChartDef, Sample

LOAD = ChartDef(
    "system.load", "System Load Average", "load", "load", "system.load", "line", 100,
    ABSOLUTE, "/proc/loadavg", auto=False,
)
ACTIVE = ChartDef(
    "system.active_processes", "System Active Processes", "processes", "processes",
    "system.active_processes", "line", 750, ABSOLUTE, "/proc/loadavg", auto=False,
)
UPTIME = ChartDef(
    "system.uptime", "System Uptime", "seconds", "uptime", "system.uptime", "line", 1000,
    ABSOLUTE, "/proc/uptime", auto=False,
)
ENTROPY = ChartDef(
    "system.entropy", "Available Entropy", "entropy", "entropy", "system.entropy", "line", 1000,
    ABSOLUTE, "/proc/sys/kernel/random/entropy_avail", auto=False,
)


class LoadAvg:
    """Source of ``/proc/loadavg``."""

    name = "/proc/loadavg"

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("loadavg")
        if text is None:
            return None
        words = text.replace("/", " ").split()
        try:
            load = (float(words[0]), float(words[1]), float(words[2]))
            active = int(words[4])
        except (IndexError, ValueError):
            files.malformed(self.name, text.strip())
            return []
        return [
            Sample(LOAD, ("load1", "load5", "load15"), load),
            Sample(ACTIVE, ("active",), (active,)),
        ]


class Uptime:
    """Source of ``/proc/uptime``."""

    name = "/proc/uptime"

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("uptime")
        if text is None:
            return None
        try:
            seconds = float(text.split()[0])
        except (IndexError, ValueError):
            files.malformed(self.name, text.strip())
            return []
        return [Sample(UPTIME, ("uptime",), (seconds,))]


class Entropy:
    """Source of ``/proc/sys/kernel/random/entropy_avail``."""

    name = "/proc/sys/kernel/random/entropy_avail"

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("sys/kernel/random/entropy_avail")
        if text is None:
            return None
        try:
            value = int(text.split()[0])
        except (IndexError, ValueError):
            files.malformed(self.name, text.strip())
            return []
        return [Sample(ENTROPY, ("entropy",), (value,))]


def _pressure_chart(chart_id: str, title: str, family: str, priority: int, resource: str) -> ChartDef:
    return ChartDef(
        f"system.{chart_id}", title, "percentage", family, f"system.{chart_id}", "line", priority,
        ABSOLUTE, f"/proc/pressure/{resource}", auto=False,
    )


# resource -> ((kind, chart), ...); Netdata v1.33 charts "full" for memory and io only.
PRESSURE: tuple[tuple[str, tuple[tuple[str, ChartDef], ...]], ...] = (
    ("cpu", (("some", _pressure_chart("cpu_pressure", "CPU Pressure", "cpu", 140, "cpu")),)),
    ("memory", (
        ("some", _pressure_chart("memory_some_pressure", "Memory Pressure", "ram", 240, "memory")),
        ("full", _pressure_chart("memory_full_pressure", "Memory Full Pressure", "ram", 245, "memory")),
    )),
    ("io", (
        ("some", _pressure_chart("io_some_pressure", "I/O Pressure", "disk", 190, "io")),
        ("full", _pressure_chart("io_full_pressure", "I/O Full Pressure", "disk", 195, "io")),
    )),
)


class Pressure:
    """Source of ``/proc/pressure/{cpu,memory,io}`` (kernels with PSI)."""

    name = "/proc/pressure"

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        samples: list[Sample] = []
        for resource, charts in PRESSURE:
            module = f"/proc/pressure/{resource}"
            text = files.proc(f"pressure/{resource}")
            if text is None:
                continue
            lines = {}
            for line in text.splitlines():
                words = line.split()
                if not words:
                    continue
                try:
                    fields = dict(w.split("=", 1) for w in words[1:])
                    lines[words[0]] = (float(fields["avg10"]), float(fields["avg60"]), float(fields["avg300"]))
                except (KeyError, ValueError):
                    files.malformed(module, line)
            for kind, chart in charts:
                if kind in lines:
                    dims = (f"{kind} 10", f"{kind} 60", f"{kind} 300")
                    samples.append(Sample(chart, dims, lines[kind]))
        return samples
