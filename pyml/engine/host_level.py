"""The host level of every profile behind one interface: what a host's tick hands over and gets back.

A profile names its host-level detector (``MLConfig.host_detector``); the host
builds it once, through :func:`make_host_level`, and from then on only talks
to a :class:`HostLevel`:

* :attr:`HostLevel.charts`: the internal charts it writes (``anomaly_detection.*``
  and, for some profiles, ``netdata.*`` statistics), fixed dimensions, in the
  order of the rows it returns; :attr:`HostLevel.dynamic_chart`: the one
  chart whose dimensions grow as the detector meets new groups (Netdata's
  per-context anomaly rate), or None.
* :meth:`HostLevel.tick`: one call per completed host tick with
  :class:`HostTickInput` (the slots' stored anomaly bits, the bank's status
  flags, which slots are modelled, each slot's context, the tick's timings),
  returning a :class:`HostTickOutput` (the row of the fixed charts, the
  values of the dynamic chart's dimensions, the event that ended, if any, and
  the detector's own result object for ``Host.last_detector_result``).
* :meth:`HostLevel.ml_info`: the counters of ``/api/v1/ml_info`` in the
  profile's shape; :meth:`HostLevel.finish`: the open event at close.

Adding a profile's detector means one class here and one entry in
:data:`HOST_LEVELS`; the tick itself never asks which profile it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence

import numpy as np

from .charts import INTERNAL_CHARTS, InternalChart, internal_row
from .charts_v2 import CONTEXT_CHART_ID, internal_charts_v2, internal_row_v2
from .detector import AnomalyDetector, AnomalyEvent
from .charts_pyml import PYML_CHARTS, internal_row_pyml
from .grouped_rate import GroupedRateDetector
from .pyml_events import PymlDetector

__all__ = ["HOST_LEVELS", "HostLevel", "HostTickInput", "HostTickOutput", "make_host_level"]

#: Bank status flag: the slot holds at least one model (team-wide convention, see pyml.core.Bank.status).
TRAINED_FLAG = 0x02


@dataclass
class HostTickInput:
    """What one completed host tick hands its host-level detector (arrays indexed by slot)."""

    t: int
    bits: np.ndarray         # bool: the stored anomaly bit of each modelled slot (False elsewhere)
    status: np.ndarray       # uint8: the bank's status flags
    modelled: np.ndarray     # bool: slot belongs to a modelled chart
    contexts: np.ndarray     # int: context id of each slot, -1 for slots of charts not modelled
    charts: np.ndarray       # int: chart id of each slot, -1 for slots of charts not modelled
    prediction_ms: float = 0.0
    training_total_ms: float = 0.0
    training_max_ms: float = 0.0
    levels: Optional[np.ndarray] = None  # float: per-slot calibrated score, for detectors that use it


@dataclass
class HostTickOutput:
    """What the host stores for one tick."""

    row: list[float]                                   # values of the fixed charts, in chart/dimension order
    dynamic: list[tuple[str, float]] = field(default_factory=list)  # (dimension, value) of the dynamic chart
    event: Optional[AnomalyEvent] = None               # an anomaly event that ended on this tick
    result: Any = None                                 # the detector's own result (Host.last_detector_result)
    # The dynamic chart as names and values (a level may give these instead of ``dynamic``; the names
    # may be the detector's own tuple, the same object from tick to tick while no group appears).
    dynamic_names: Sequence[str] = ()
    dynamic_values: Any = ()

    def dynamic_pairs(self) -> list[tuple[str, float]]:
        """``(dimension, value)`` of the dynamic chart: ``dynamic``, else the names with their values."""
        if self.dynamic or not self.dynamic_names:
            return self.dynamic
        values = self.dynamic_values
        numbers = values.tolist() if isinstance(values, np.ndarray) else [float(v) for v in values]
        return list(zip(self.dynamic_names, numbers))


class HostLevel(Protocol):
    """A profile's host-level detector, as the host's tick sees it."""

    charts: tuple[InternalChart, ...]
    dynamic_chart: Optional[str]

    def add_slot(self, slot: int) -> None: ...
    def remove_slot(self, slot: int) -> None: ...
    def tick(self, tick: HostTickInput) -> HostTickOutput: ...
    def finish(self) -> Optional[AnomalyEvent]: ...
    def ml_info(self) -> dict[str, int]: ...
    def resume(self, last_t: int, read: Callable[[str, int, int], tuple[np.ndarray, np.ndarray]]) -> None: ...


class BitRateWindowLevel:
    """``netdata-1.33``: SPEC §5's bit-rate window (:class:`AnomalyDetector`) and SPEC §7's charts."""

    dynamic_chart: Optional[str] = None

    def __init__(self, cfg: Any, update_every: int, slot_id: Mapping[int, str],
                 context_name: Callable[[int], str], chart_name: Callable[[int], str]) -> None:
        self.detector = AnomalyDetector.from_config(cfg, update_every=update_every, slot_id=slot_id)
        self.charts = INTERNAL_CHARTS
        self._last: Any = None

    def add_slot(self, slot: int) -> None:
        self.detector.add_slot(slot)

    def remove_slot(self, slot: int) -> None:
        self.detector.remove_slot(slot)

    def tick(self, tick: HostTickInput) -> HostTickOutput:
        trained = (tick.status & TRAINED_FLAG) != 0
        result = self.detector.tick(tick.t, tick.bits, trained)
        self._last = result
        row = internal_row(result, tick.prediction_ms, tick.training_total_ms, tick.training_max_ms)
        return HostTickOutput(row=row, event=result.event, result=result)

    def finish(self) -> Optional[AnomalyEvent]:
        return None  # v1.33 stores an event when its window closes, never at shutdown

    def resume(self, last_t: int, read: Callable[[str, int, int], tuple[np.ndarray, np.ndarray]]) -> None:
        """After a restart the window starts empty, as the reference's does."""

    def ml_info(self) -> dict[str, int]:
        r = self._last
        return {
            "version": 1,
            "anomalous-dimensions": r.anomalous if r else 0,
            "normal-dimensions": r.normal if r else 0,
            "total-dimensions": r.total if r else 0,
            "trained-dimensions": r.trained if r else 0,
        }


class GroupedRateLevel:
    """``netdata-2``: Netdata's grouped host rate (:class:`GroupedRateDetector`), its charts, and events."""

    dynamic_chart: Optional[str] = CONTEXT_CHART_ID

    def __init__(self, cfg: Any, update_every: int, slot_id: Mapping[int, str],
                 context_name: Callable[[int], str], chart_name: Callable[[int], str]) -> None:
        self.detector = GroupedRateDetector(
            update_every, grouping_duration=cfg.grouping_duration, grouping_method=cfg.grouping_method,
            host_rate_threshold_percent=round(cfg.host_rate_threshold_fraction * 100.0, 10),
            slot_id=slot_id, context_name=context_name)
        self._statistics = bool(getattr(cfg, "statistics_charts", True))
        self.charts = internal_charts_v2(self._statistics)

    def add_slot(self, slot: int) -> None:
        self.detector.add_slot(slot)

    def remove_slot(self, slot: int) -> None:
        self.detector.remove_slot(slot)

    def tick(self, tick: HostTickInput) -> HostTickOutput:
        result = self.detector.tick(tick.t, tick.bits, tick.status, tick.modelled, tick.contexts)
        return HostTickOutput(row=internal_row_v2(result, self._statistics), event=result.event, result=result,
                              dynamic_names=result.contexts, dynamic_values=result.context_values)

    def finish(self) -> Optional[AnomalyEvent]:
        return self.detector.finish()

    def resume(self, last_t: int, read: Callable[[str, int, int], tuple[np.ndarray, np.ndarray]]) -> None:
        """Refill the grouped window with the host rates stored before a restart.

        ``read(dimension_id, after, before)`` returns ``(times, values)`` of a
        stored dimension.
        """
        after = last_t - self.detector.grouping_duration - self.detector.update_every
        times, values = read("anomaly_detection.anomaly_rate|anomaly_rate", after, last_t)
        self.detector.seed(times, values)

    def ml_info(self) -> dict[str, int]:
        return dict(self.detector.ml_info())


class PymlLevel:
    """``pyml``: events from charts whose confirmed anomalies start together (:class:`PymlDetector`).

    Groups are charts (measured slightly better than contexts on the tuning
    host case); the per-slot calibrated scores come with the tick when the
    bank computes them, else the detector works on the bits alone.
    """

    dynamic_chart: Optional[str] = CONTEXT_CHART_ID

    def __init__(self, cfg: Any, update_every: int, slot_id: Mapping[int, str],
                 context_name: Callable[[int], str], chart_name: Callable[[int], str]) -> None:
        self.detector = PymlDetector.from_config(cfg, update_every, slot_id=slot_id, context_name=chart_name)
        self.charts = PYML_CHARTS

    def add_slot(self, slot: int) -> None:
        self.detector.add_slot(slot)

    def remove_slot(self, slot: int) -> None:
        self.detector.remove_slot(slot)

    def tick(self, tick: HostTickInput) -> HostTickOutput:
        result = self.detector.tick(tick.t, tick.bits, tick.status, tick.modelled, tick.charts, tick.levels)
        return HostTickOutput(row=internal_row_pyml(result), event=result.event, result=result,
                              dynamic_names=result.contexts, dynamic_values=result.context_values)

    def finish(self) -> Optional[AnomalyEvent]:
        return self.detector.finish()

    def ml_info(self) -> dict[str, int]:
        return dict(self.detector.ml_info())

    def resume(self, last_t: int, read: Callable[[str, int, int], tuple[np.ndarray, np.ndarray]]) -> None:
        """After a restart the evidence of every dimension starts from nothing."""


#: The host-level detectors by the name a profile gives (``MLConfig.host_detector``).
HOST_LEVELS: dict[str, Callable[..., HostLevel]] = {
    "bitrate-window": BitRateWindowLevel,
    "grouped-rate": GroupedRateLevel,
    "pyml": PymlLevel,
}


def make_host_level(cfg: Any, update_every: int, slot_id: Mapping[int, str],
                    context_name: Callable[[int], str], chart_name: Callable[[int], str]) -> HostLevel:
    """The host-level detector ``cfg.host_detector`` names, for one host."""
    try:
        factory = HOST_LEVELS[cfg.host_detector]
    except KeyError:
        raise ValueError(f"no host-level detector named {cfg.host_detector!r} "
                         f"(known: {', '.join(sorted(HOST_LEVELS))})") from None
    return factory(cfg, update_every, slot_id, context_name, chart_name)


def chart_dimensions(charts: Sequence[InternalChart]) -> list[tuple[str, str]]:
    """``(chart id, dimension)`` of every fixed dimension, in row order."""
    return [(chart.id, name) for chart in charts for name, _ in chart.dimensions]
