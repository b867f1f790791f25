"""The internal charts of the ``pyml`` profile, written from :class:`~pyml.engine.pyml_events.PymlResult`.

The ids follow Netdata 2's where the meaning is the same, so dashboards that
know them keep working; one chart is pyml's own:

* ``anomaly_detection.dimensions``: ``anomalous`` (slots whose stored bit is
  set this tick: onsets, under this profile), ``normal``;
* ``anomaly_detection.anomaly_rate``: ``anomaly_rate`` (divisor 100), the
  percentage of groups (charts) with a dimension in a confirmed anomaly;
* ``anomaly_detection.context_anomaly_rate``: one dimension per group
  (divisor 100, stacked), the percentage of the group's dimensions in a
  confirmed anomaly; dimensions are added as groups appear
  (``result.new_contexts``), never removed;
* ``anomaly_detection.detector_events``: ``above_threshold`` (an event is
  open), ``new_anomaly_event`` (an event opened on this tick);
* ``anomaly_detection.onsets`` (pyml's): the host signal events are decided
  on: ``onset_groups`` (groups with a fresh confirmed onset), ``needed``
  (how many open an event), ``engaged_groups``, ``engaged_dimensions``.

Values are the stored ones (collected integer / divisor).
"""

from __future__ import annotations

from .charts import InternalChart
from .pyml_events import PymlResult

__all__ = ["CONTEXT_CHART_ID", "PYML_CHARTS", "internal_row_pyml", "internal_values_pyml"]

#: The chart with one dimension per group.
CONTEXT_CHART_ID = "anomaly_detection.context_anomaly_rate"

#: The profile's charts in priority order.
PYML_CHARTS: tuple[InternalChart, ...] = (
    InternalChart("anomaly_detection.dimensions", "Anomaly detection dimensions", "dimensions", 39181,
                  (("anomalous", 1), ("normal", 1))),
    InternalChart("anomaly_detection.anomaly_rate", "Percentage of charts with a confirmed anomaly", "percentage",
                  39182, (("anomaly_rate", 100),)),
    InternalChart(CONTEXT_CHART_ID, "Percentage of dimensions with a confirmed anomaly, by chart", "percentage",
                  39183, ()),
    InternalChart("anomaly_detection.detector_events", "Anomaly detection events", "status", 39184,
                  (("above_threshold", 1), ("new_anomaly_event", 1))),
    InternalChart("anomaly_detection.onsets", "Charts with a fresh confirmed anomaly onset", "charts", 39185,
                  (("onset_groups", 1), ("needed", 1), ("engaged_groups", 1), ("engaged_dimensions", 1))),
)


def internal_row_pyml(result: PymlResult) -> list[float]:
    """Stored values of every fixed-dimension chart for one tick, in :data:`PYML_CHARTS` order.

    The group chart is not included (its dimensions grow): write
    ``result.context_values`` to its dimensions, in ``result.contexts`` order.
    """
    return [
        float(result.anomalous), float(result.normal),
        float(result.anomaly_rate),
        float(result.event_open), float(result.new_event),
        float(result.onset_groups), float(result.onset_needed), float(result.engaged_groups), float(result.engaged),
    ]


def internal_values_pyml(result: PymlResult) -> dict[str, list[float]]:
    """Stored values of every chart for one tick, keyed by chart id, in dimension order.

    ``anomaly_detection.context_anomaly_rate`` holds one value per group of ``result.contexts``.
    """
    row = internal_row_pyml(result)
    values: dict[str, list[float]] = {}
    position = 0
    for chart in PYML_CHARTS:
        if chart.id == CONTEXT_CHART_ID:
            values[chart.id] = result.context_values.tolist()
            continue
        values[chart.id] = row[position:position + len(chart.dimensions)]
        position += len(chart.dimensions)
    return values
