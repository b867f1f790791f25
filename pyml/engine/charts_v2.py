"""The internal charts of the ``netdata-2`` profile (SPEC-NETDATA-2 §7.4), written by the grouped-rate detector.

Netdata names these charts ``<type>.<name>_on_<machine guid>``; pyml has one
set per host and uses each chart's *context* as its id, so the ids are stable
and readable: ``anomaly_detection.dimensions``, ``anomaly_detection.anomaly_rate``,
``anomaly_detection.context_anomaly_rate``, ``anomaly_detection.detector_events``,
``anomaly_detection.ml_running`` and, with ``enable statistics charts``,
``netdata.ml_status``, ``netdata.ml_metric_types``, ``netdata.ml_training_status``.
Titles, units, families, chart types, priorities, dimension names and divisors
are Netdata's. All dimensions are absolute with multiplier 1.

Every chart has fixed dimensions except ``anomaly_detection.context_anomaly_rate``,
which gets one dimension per context (divisor 100) as contexts appear and never
loses one: the detector reports the contexts in order of appearance
(:attr:`GroupedRateResult.contexts`), the ones that appeared on a tick
(:attr:`GroupedRateResult.new_contexts`) and their values
(:attr:`GroupedRateResult.context_values`), and the host adds a dimension for
each new context. :func:`internal_row_v2` therefore covers the fixed charts only.

Values are the stored ones (collected integer / divisor). On a detector gap
(no value in the query window) ``above_threshold`` and ``new_anomaly_event``
are NaN: no point is stored that second, as in Netdata.
"""

from __future__ import annotations

import math

from .charts import InternalChart
from .grouped_rate import GroupedRateResult

__all__ = [
    "CONTEXT_CHART_ID",
    "CONTEXT_DIVISOR",
    "DETECTOR_CHARTS_V2",
    "STATISTICS_CHARTS_V2",
    "internal_charts_v2",
    "internal_row_v2",
    "internal_values_v2",
]

#: The chart with one dimension per context.
CONTEXT_CHART_ID = "anomaly_detection.context_anomaly_rate"
#: The divisor of every dimension of :data:`CONTEXT_CHART_ID`.
CONTEXT_DIVISOR = 100

_ML_FAMILY = "machine learning"

#: Charts written for every ML host (SPEC-NETDATA-2 §7.4 "always").
DETECTOR_CHARTS_V2: tuple[InternalChart, ...] = (
    InternalChart("anomaly_detection.dimensions", "Anomaly detection dimensions", "dimensions", 39181,
                  (("anomalous", 1), ("normal", 1)), family="dimensions"),
    InternalChart("anomaly_detection.anomaly_rate", "Percentage of anomalous dimensions", "percentage", 39182,
                  (("anomaly_rate", 100),), family="anomaly_rate"),
    InternalChart(CONTEXT_CHART_ID, "Percentage of anomalous dimensions by context", "percentage", 39183,
                  (), family="anomaly_rate", chart_type="stacked"),
    InternalChart("anomaly_detection.detector_events", "Anomaly detection events", "status", 39184,
                  (("above_threshold", 1), ("new_anomaly_event", 1)), family="anomaly_detection"),
    InternalChart("anomaly_detection.ml_running", "ML running", "boolean", 890001,
                  (("ml_running", 1),), family="anomaly_detection"),
)

#: Charts written only with ``enable statistics charts = yes`` (Netdata's default).
STATISTICS_CHARTS_V2: tuple[InternalChart, ...] = (
    InternalChart("netdata.ml_status", "Machine learning status", "dimensions", 890002,
                  (("enabled", 1), ("disabled-sp", 1)), family=_ML_FAMILY),
    InternalChart("netdata.ml_metric_types", "Dimensions by metric type", "dimensions", 890003,
                  (("constant", 1), ("variable", 1)), family=_ML_FAMILY),
    InternalChart("netdata.ml_training_status", "Training status of dimensions", "dimensions", 890004,
                  (("untrained", 1), ("pending-without-model", 1), ("trained", 1), ("pending-with-model", 1),
                   ("silenced", 1)), family=_ML_FAMILY),
)


def internal_charts_v2(statistics: bool = True) -> tuple[InternalChart, ...]:
    """The charts of the profile in priority order; the statistics charts only with ``statistics``."""
    return DETECTOR_CHARTS_V2 + STATISTICS_CHARTS_V2 if statistics else DETECTOR_CHARTS_V2


def _flag(value: bool | None) -> float:
    return math.nan if value is None else float(value)


def internal_row_v2(result: GroupedRateResult, statistics: bool = True) -> list[float]:
    """Stored values of every fixed-dimension chart for one tick, in :func:`internal_charts_v2` order.

    The context chart is not included (its dimensions grow): write
    ``result.context_values`` to its dimensions, in ``result.contexts`` order.
    """
    row = [
        float(result.anomalous), float(result.normal),
        result.anomaly_rate_collected / 100,
        _flag(result.above_threshold), _flag(result.new_anomaly_event),
        float(result.ml_running),
    ]
    if statistics:
        row += [
            float(result.enabled), float(result.disabled_sp),
            float(result.constant), float(result.variable),
            float(result.untrained), float(result.pending_without_model), float(result.trained),
            float(result.pending_with_model), float(result.silenced),
        ]
    return row


def internal_values_v2(result: GroupedRateResult, statistics: bool = True) -> dict[str, list[float]]:
    """Stored values of every chart for one tick, keyed by chart id, in dimension order.

    ``anomaly_detection.context_anomaly_rate`` holds one value per context of
    ``result.contexts``.
    """
    collected: dict[str, dict[str, float]] = {
        "anomaly_detection.dimensions": {"anomalous": result.anomalous, "normal": result.normal},
        "anomaly_detection.anomaly_rate": {"anomaly_rate": result.anomaly_rate_collected},
        "anomaly_detection.detector_events": {
            "above_threshold": _flag(result.above_threshold),
            "new_anomaly_event": _flag(result.new_anomaly_event),
        },
        "anomaly_detection.ml_running": {"ml_running": int(result.ml_running)},
        "netdata.ml_status": {"enabled": result.enabled, "disabled-sp": result.disabled_sp},
        "netdata.ml_metric_types": {"constant": result.constant, "variable": result.variable},
        "netdata.ml_training_status": {
            "untrained": result.untrained,
            "pending-without-model": result.pending_without_model,
            "trained": result.trained,
            "pending-with-model": result.pending_with_model,
            "silenced": result.silenced,
        },
    }
    values: dict[str, list[float]] = {}
    for chart in internal_charts_v2(statistics):
        if chart.id == CONTEXT_CHART_ID:
            values[chart.id] = result.context_values.tolist()
        else:
            values[chart.id] = [collected[chart.id][name] / divisor for name, divisor in chart.dimensions]
    return values
