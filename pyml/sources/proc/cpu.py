"""``/proc/stat``: CPU utilisation, interrupts, context switches, forks, processes.

Charts (Netdata ``proc.plugin``, ``proc_stat.c``):

* ``system.cpu`` and ``cpu.cpuN``: guest_nice, guest, steal, softirq, irq,
  user, system, nice, iowait, idle, in percent of the elapsed ticks; ``user``
  excludes ``guest`` and ``nice`` excludes ``guest_nice`` (the kernel counts
  guest time in both);
* ``system.intr`` (interrupts/s), ``system.ctxt`` (context switches/s),
  ``system.forks`` (processes/s), ``system.processes`` (running, blocked).
"""

from __future__ import annotations

from ._files import Files
from ._model import ABSOLUTE, INCREMENTAL, PERCENT_OF_DIFF_TOTAL, ChartDef, Sample

MODULE = "/proc/stat"

CPU_DIMS = ("guest_nice", "guest", "steal", "softirq", "irq", "user", "system", "nice", "iowait", "idle")

SYSTEM_CPU = ChartDef(
    "system.cpu", "Total CPU utilization", "percentage", "cpu", "system.cpu", "stacked", 100,
    PERCENT_OF_DIFF_TOTAL, MODULE, auto=False,
)
INTR = ChartDef(
    "system.intr", "CPU Interrupts", "interrupts/s", "interrupts", "system.intr", "line", 900,
    INCREMENTAL, MODULE, auto=False,
)
CTXT = ChartDef(
    "system.ctxt", "CPU Context Switches", "context switches/s", "processes", "system.ctxt", "line", 800,
    INCREMENTAL, MODULE, auto=False,
)
FORKS = ChartDef(
    "system.forks", "Started Processes", "processes/s", "processes", "system.forks", "line", 700,
    INCREMENTAL, MODULE, auto=False,
)
PROCESSES = ChartDef(
    "system.processes", "System Processes", "processes", "processes", "system.processes", "line", 600,
    ABSOLUTE, MODULE, auto=False,
)


class ProcStat:
    """Source of the ``/proc/stat`` charts."""

    name = MODULE

    def __init__(self) -> None:
        self._cores: dict[str, ChartDef] = {}

    def _core_chart(self, key: str, core: int) -> ChartDef:
        chart = self._cores.get(key)
        if chart is None:
            chart = ChartDef(
                f"cpu.{key}", "Core utilization", "percentage", "utilization", "cpu.cpu", "stacked",
                1000 + core + 1, PERCENT_OF_DIFF_TOTAL, MODULE, auto=False,
            )
            self._cores[key] = chart
        return chart

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("stat")
        if text is None:
            return None
        samples: list[Sample] = []
        singles: dict[str, int] = {}
        for line in text.splitlines():
            if line.startswith("cpu"):
                words = line.split()
                key = words[0]
                try:
                    core = -1 if key == "cpu" else int(key[3:])
                    ticks = [int(w) for w in words[1:11]]
                except ValueError:
                    files.malformed(MODULE, line)
                    continue
                if len(ticks) < 4:
                    files.malformed(MODULE, line)
                    continue
                ticks += [0] * (10 - len(ticks))
                user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice = ticks
                raw = (guest_nice, guest, steal, softirq, irq, user - guest, system, nice - guest_nice, iowait, idle)
                chart = SYSTEM_CPU if core < 0 else self._core_chart(key, core)
                samples.append(Sample(chart, CPU_DIMS, raw))
            elif line.startswith(("intr ", "ctxt ", "processes ", "procs_running ", "procs_blocked ")):
                words = line.split(None, 2)
                try:
                    singles[words[0]] = int(words[1])
                except (IndexError, ValueError):
                    files.malformed(MODULE, line)
        if "intr" in singles:
            samples.append(Sample(INTR, ("interrupts",), (singles["intr"],)))
        if "ctxt" in singles:
            samples.append(Sample(CTXT, ("switches",), (singles["ctxt"],)))
        if "processes" in singles:
            samples.append(Sample(FORKS, ("started",), (singles["processes"],)))
        if "procs_running" in singles or "procs_blocked" in singles:
            procs = (singles.get("procs_running", 0), singles.get("procs_blocked", 0))
            samples.append(Sample(PROCESSES, ("running", "blocked"), procs, (1.0, -1.0)))
        return samples
