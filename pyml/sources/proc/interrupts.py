"""``/proc/interrupts``, ``/proc/softirqs`` and ``/proc/net/softnet_stat``.

Charts (Netdata ``proc_interrupts.c``, ``proc_softirqs.c``, ``proc_net_softnet_stat.c``):

* ``system.interrupts`` (one dimension per IRQ, interrupts/s) and
  ``cpu.cpuN_interrupts`` (per core). A numbered IRQ's dimension is named
  ``<last word of its line>_<number>`` (e.g. ``virtio2-input.0_38``), the
  others by their id (``LOC``, ``NMI``, ...); as in Netdata, ``:`` separates
  words. An IRQ gets its dimension once its count is not zero and loses it
  when it leaves the file (reported in ``Collection.changed``);
* ``system.softirqs`` and ``cpu.cpuN_softirqs`` (one dimension per softirq);
* ``system.softnet_stat`` and ``cpu.cpuN_softnet_stat`` (processed, dropped,
  squeezed, received_rps, flow_limit_count; events/s).
"""

from __future__ import annotations

from ._files import Files
from ._model import INCREMENTAL, ChartDef, Sample


def _parse_table(text: str, files: Files, module: str, numbered_names: bool) -> tuple[int, list[tuple[str, list[int]]]] | None:
    """``(cpus, [(dimension name, per-cpu counts), ...])`` of an interrupts-style table."""
    lines = text.splitlines()
    if not lines:
        files.malformed(module, "")
        return None
    cpus = sum(1 for w in lines[0].split() if w.startswith("CPU"))
    if cpus == 0:
        files.malformed(module, lines[0])
        return None
    rows: list[tuple[str, list[int]]] = []
    for line in lines[1:]:
        words = line.replace(":", " ").split()
        if not words:
            continue
        irq = words[0]
        counts = [0] * cpus
        for c in range(min(cpus, len(words) - 1)):
            w = words[c + 1]
            if not w.isdigit():
                break  # shorter rows (ERR, MIS): the remaining CPUs count 0
            counts[c] = int(w)
        name = irq
        if numbered_names and irq[0].isdigit() and cpus + 2 < len(words):
            name = f"{words[-1]}_{irq}"
        rows.append((name, counts))
    return cpus, rows


class _PerCpuTable:
    """Shared logic of ``/proc/interrupts`` and ``/proc/softirqs`` (internal)."""

    def __init__(self, rel: str, module: str, system: ChartDef, kind: str, title: str, family: str,
                 context: str, priority: int, numbered_names: bool) -> None:
        self.name = module
        self._rel = rel
        self._system = system
        self._kind = kind
        self._title = title
        self._family = family
        self._context = context
        self._priority = priority
        self._numbered = numbered_names
        self._cores: dict[int, ChartDef] = {}
        self._seen: set[str] = set()  # dimensions of the system chart
        self._seen_core: set[tuple[int, str]] = set()

    def _core_chart(self, c: int) -> ChartDef:
        chart = self._cores.get(c)
        if chart is None:
            chart = ChartDef(
                f"cpu.cpu{c}_{self._kind}", f"CPU{c} {self._title}", f"{self._kind}/s", self._family,
                self._context, "stacked", self._priority + c, INCREMENTAL, self.name, auto=False,
            )
            self._cores[c] = chart
        return chart

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc(self._rel)
        if text is None:
            self._seen.clear()
            self._seen_core.clear()
            return None
        table = _parse_table(text, files, self.name, self._numbered)
        if table is None:
            return []
        cpus, rows = table
        names = {name for name, _ in rows}
        self._seen &= names
        self._seen_core = {(c, n) for c, n in self._seen_core if n in names and c < cpus}
        dims: list[str] = []
        raw: list[int] = []
        for name, counts in rows:
            total = sum(counts)
            if total or name in self._seen:
                self._seen.add(name)
                dims.append(name)
                raw.append(total)
        samples: list[Sample] = []
        if dims:
            samples.append(Sample(self._system, tuple(dims), raw, 1.0, True))
        for c in range(cpus):
            core_dims: list[str] = []
            core_raw: list[int] = []
            for name, counts in rows:
                if counts[c] or (c, name) in self._seen_core:
                    self._seen_core.add((c, name))
                    core_dims.append(name)
                    core_raw.append(counts[c])
            if core_dims:
                samples.append(Sample(self._core_chart(c), tuple(core_dims), core_raw, 1.0, True))
        return samples


class Interrupts(_PerCpuTable):
    """Source of ``/proc/interrupts``."""

    def __init__(self) -> None:
        system = ChartDef(
            "system.interrupts", "System interrupts", "interrupts/s", "interrupts", "system.interrupts",
            "stacked", 1000, INCREMENTAL, "/proc/interrupts", auto=False,
        )
        super().__init__("interrupts", "/proc/interrupts", system, "interrupts", "Interrupts", "interrupts",
                         "cpu.interrupts", 1100, numbered_names=True)


class SoftIrqs(_PerCpuTable):
    """Source of ``/proc/softirqs``."""

    def __init__(self) -> None:
        system = ChartDef(
            "system.softirqs", "System softirqs", "softirqs/s", "softirqs", "system.softirqs", "stacked",
            950, INCREMENTAL, "/proc/softirqs", auto=False,
        )
        super().__init__("softirqs", "/proc/softirqs", system, "softirqs", "softirqs", "softirqs",
                         "cpu.softirqs", 3000, numbered_names=False)


SOFTNET_COLUMNS = ((0, "processed"), (1, "dropped"), (2, "squeezed"), (9, "received_rps"), (10, "flow_limit_count"))
SOFTNET_DIMS = tuple(name for _, name in SOFTNET_COLUMNS)
SOFTNET = ChartDef(
    "system.softnet_stat", "System softnet_stat", "events/s", "softnet_stat", "system.softnet_stat", "line", 955,
    INCREMENTAL, "/proc/net/softnet_stat", auto=False,
)


class SoftnetStat:
    """Source of ``/proc/net/softnet_stat`` (hexadecimal columns, one line per CPU)."""

    name = "/proc/net/softnet_stat"

    def __init__(self) -> None:
        self._cores: dict[int, ChartDef] = {}

    def _core_chart(self, line: int) -> ChartDef:
        chart = self._cores.get(line)
        if chart is None:
            chart = ChartDef(
                f"cpu.cpu{line}_softnet_stat", f"CPU{line} softnet_stat", "events/s", "softnet_stat",
                "cpu.softnet_stat", "line", 4101 + line, INCREMENTAL, self.name, auto=False,
            )
            self._cores[line] = chart
        return chart

    def read(self, files: Files, clock: float) -> list[Sample] | None:
        text = files.proc("net/softnet_stat")
        if text is None:
            return None
        per_cpu: list[list[int]] = []
        for line in text.splitlines():
            words = line.split()
            if not words:
                continue
            try:
                columns = [int(w, 16) for w in words]
            except ValueError:
                files.malformed(self.name, line)
                continue
            per_cpu.append([columns[i] if i < len(columns) else 0 for i, _ in SOFTNET_COLUMNS])
        if not per_cpu:
            return []
        total = [sum(column) for column in zip(*per_cpu)]
        samples = [Sample(SOFTNET, SOFTNET_DIMS, total)]
        samples.extend(Sample(self._core_chart(i), SOFTNET_DIMS, row) for i, row in enumerate(per_cpu))
        return samples
