"""Which periods of a host case are left out of scoring because of other work on the machine.

Host cases are recorded on a shared machine. The recorder confines every
process it did not start to a CPU quota and logs, once a second, the CPU cores
those processes used (``others_cpu.csv``). What can fool a detector is not
foreign work as such (the models learn the machine as it is while the case is
quiet) but foreign work that differs from what the models learned. So the rule
compares foreign CPU with its level during the quiet part:

1. the foreign CPU's **baseline** is its median over the quiet part;
2. a second is **disturbed** when the mean foreign CPU over the ``window_s``
   seconds ending there differs from the baseline by more than
   ``bound_cores``;
3. except inside the window of an induced incident or burst, where only
   foreign CPU *above* the baseline counts: there the recording's own work
   contends for the CPU, and foreign work getting less than its usual share
   is the incident's effect, not other users' doing (a fork storm starved
   other users' processes on this machine);
4. every run of disturbed seconds, widened by ``margin_s`` on both sides, is
   an **excluded period** (overlapping periods merge).

With an idle quiet part (baseline 0) this is "10-s mean above 0.25 core, plus
60 s margins"; when foreign work filled its quota throughout the quiet part
(as on this machine while the cases were recorded), it excludes the periods
where that work stopped or changed by more than a quarter of a core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ExclusionRule", "foreign_exclusions", "read_others_cpu"]


@dataclass(frozen=True)
class ExclusionRule:
    """Parameters of the rule (see the module's text)."""

    window_s: int = 10
    bound_cores: float = 0.25
    margin_s: int = 60

    def __post_init__(self) -> None:
        if self.window_s < 1 or self.margin_s < 0 or not self.bound_cores > 0:
            raise ValueError(f"exclusion rule needs window_s >= 1, margin_s >= 0, bound_cores > 0, got {self}")

    def describe(self, baseline: float) -> str:
        """The rule in one sentence, with the baseline it used."""
        return (f"foreign CPU (cores used by processes outside the recording, others_cpu.csv): a second is "
                f"disturbed when its {self.window_s}-s trailing mean differs by more than {self.bound_cores:g} "
                f"core from the quiet part's median ({baseline:.3f} core), inside an incident's or burst's window "
                f"only when above it (below, the induced work is what took the CPU); disturbed runs widened by "
                f"{self.margin_s} s on both sides are excluded from scoring")


def read_others_cpu(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse the recorder's ``others_cpu.csv`` (``timestamp,others_cpu_cores``) into (int64 s, float64 cores)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0].replace(" ", "") != "timestamp,others_cpu_cores":
        raise ValueError("others_cpu.csv must start with the header 'timestamp,others_cpu_cores'")
    times, cores = [], []
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split(",")
        try:
            times.append(int(parts[0]))
            cores.append(float(parts[1]))
        except (IndexError, ValueError):
            raise ValueError(f"others_cpu.csv:{number}: expected 'epoch_seconds,cores', got {line!r}") from None
    return np.array(times, dtype=np.int64), np.array(cores, dtype=np.float64)


def foreign_exclusions(times: np.ndarray, cores: np.ndarray, *, start: int, end: int, quiet_end: int,
                       rule: ExclusionRule = ExclusionRule(),
                       induced: Sequence[tuple[float, float]] = ()) -> tuple[list[tuple[int, int]], float]:
    """Excluded periods ``[(first, last), ...]`` (epoch seconds, inclusive) and the baseline used.

    ``times``/``cores`` are the per-second log; seconds missing from it take
    the previous logged value. ``induced`` are the windows of the incidents
    and bursts (with the scoring's slack), where only foreign CPU above the
    baseline counts. Periods are clipped to ``[start, end]``. Raises
    ``ValueError`` when the log does not cover the quiet part.
    """
    times = np.asarray(times, dtype=np.int64)
    cores = np.asarray(cores, dtype=np.float64)
    if times.size == 0 or times.shape != cores.shape:
        raise ValueError("the foreign CPU log is empty or its columns differ in length")
    grid = np.arange(min(int(times.min()), start), max(int(times.max()), end) + 1, dtype=np.int64)
    order = np.argsort(times, kind="stable")
    at = np.searchsorted(times[order], grid, side="right") - 1
    series = np.where(at >= 0, cores[order][np.maximum(at, 0)], 0.0)
    quiet = (grid >= start) & (grid < quiet_end) & (at >= 0)
    if not quiet.any():
        raise ValueError("the foreign CPU log does not cover the quiet part of the case")
    baseline = float(np.median(series[quiet]))
    csum = np.concatenate(([0.0], np.cumsum(series)))
    idx = np.arange(grid.size)
    lo = np.maximum(idx - rule.window_s + 1, 0)
    mean = (csum[idx + 1] - csum[lo]) / (idx + 1 - lo)
    contended = np.zeros(grid.size, dtype=bool)
    for a, b in induced:
        contended |= (grid >= a) & (grid <= b)
    disturbed = np.where(contended, mean - baseline, np.abs(mean - baseline)) > rule.bound_cores
    periods: list[tuple[int, int]] = []
    for i in np.flatnonzero(disturbed):
        a, b = int(grid[i]) - rule.margin_s, int(grid[i]) + rule.margin_s
        if periods and a <= periods[-1][1] + 1:
            periods[-1] = (periods[-1][0], max(periods[-1][1], b))
        else:
            periods.append((a, b))
    clipped = [(max(a, start), min(b, end)) for a, b in periods if b >= start and a <= end]
    return clipped, baseline
