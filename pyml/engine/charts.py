"""The detector's own charts, ``anomaly_detection.*`` (SPEC §7).

They are written once per detector tick, queryable like any chart and listed
by the API, but internal: never collected by users and never modelled. Values
are integers (``collected_number``) divided by the dimension's divisor, as
the reference stores them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .detector import _ABOVE, TickResult


@dataclass(frozen=True)
class InternalChart:
    """One internal chart: id, title, units, priority and (dimension, divisor) pairs.

    ``family`` defaults to the id suffix (as every v1.33 chart has it);
    ``chart_type`` is Netdata's chart type (``line`` or ``stacked``).
    """

    id: str
    title: str
    units: str
    priority: int
    dimensions: tuple[tuple[str, int], ...]
    family: str = ""
    chart_type: str = "line"

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.id.split(".", 1)[1])


INTERNAL_CHARTS: tuple[InternalChart, ...] = (
    InternalChart("anomaly_detection.dimensions", "Anomaly detection dimensions", "dimensions", 39183,
                  (("total", 1), ("trained", 1), ("normal", 1), ("anomalous", 1))),
    InternalChart("anomaly_detection.anomaly_rate", "Percentage of anomalous dimensions", "percentage", 39184,
                  (("anomaly_rate", 100),)),
    InternalChart("anomaly_detection.detector_window", "Anomaly detector window length", "seconds", 39185,
                  (("duration", 1),)),
    InternalChart("anomaly_detection.detector_events", "Anomaly events triggered", "boolean", 39186,
                  (("above_threshold", 1), ("reset_bit_counter", 1), ("new_anomaly_event", 1))),
    InternalChart("anomaly_detection.prediction_stats", "Time it took to run prediction", "milliseconds", 39187,
                  (("duration", 1),)),
    InternalChart("anomaly_detection.training_stats", "Training step statistics", "milliseconds", 39188,
                  (("total_training_duration", 1), ("max_training_duration", 1))),
)


def internal_values(
    result: TickResult, prediction_ms: float, training_total_ms: float, training_max_ms: float
) -> dict[str, list[float]]:
    """Stored values of every internal chart for one tick, keyed by chart id, in dimension order.

    Collected values are integers (fractions truncated, as the reference's
    ``collected_number``), then divided by the dimension's divisor.
    """
    collected = result.chart_values()
    collected["anomaly_detection.prediction_stats"] = {"duration": int(prediction_ms)}
    collected["anomaly_detection.training_stats"] = {
        "total_training_duration": int(training_total_ms),
        "max_training_duration": int(training_max_ms),
    }
    return {
        chart.id: [collected[chart.id][name] / divisor for name, divisor in chart.dimensions]
        for chart in INTERNAL_CHARTS
    }


def internal_row(
    result: TickResult, prediction_ms: float, training_total_ms: float, training_max_ms: float
) -> list[float]:
    """:func:`internal_values` flattened: every internal chart's values, in ``INTERNAL_CHARTS`` order.

    The per-tick path: the same numbers without building the mappings.
    """
    return [
        float(result.total), float(result.trained), float(result.normal), float(result.anomalous),
        int(result.host_anomaly_rate * 10000.0) / 100,
        float(result.window_duration),
        float(result.to_state is _ABOVE), float(result.reset), float(result.new_event),
        float(int(prediction_ms)),
        float(int(training_total_ms)), float(int(training_max_ms)),
    ]
