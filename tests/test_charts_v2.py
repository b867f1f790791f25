"""The netdata-2 profile's internal charts (SPEC-NETDATA-2 §7.4) and the rows the host stores per tick."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyml.engine.charts import INTERNAL_CHARTS
from pyml.engine.charts_v2 import (
    CONTEXT_CHART_ID,
    CONTEXT_DIVISOR,
    DETECTOR_CHARTS_V2,
    STATISTICS_CHARTS_V2,
    internal_charts_v2,
    internal_row_v2,
    internal_values_v2,
)
from pyml.engine.grouped_rate import ACTIVE, SILENCED, TRAINED, VARIABLE, GroupedRateDetector

T0 = 1_700_000_000
ON = ACTIVE | TRAINED | VARIABLE

# SPEC-NETDATA-2 §7.4: context (pyml's id), units, dimensions (divisor), priority; titles from Netdata's charts
SPEC_TABLE = [
    ("anomaly_detection.dimensions", "dimensions", (("anomalous", 1), ("normal", 1)), 39181),
    ("anomaly_detection.anomaly_rate", "percentage", (("anomaly_rate", 100),), 39182),
    ("anomaly_detection.context_anomaly_rate", "percentage", (), 39183),
    ("anomaly_detection.detector_events", "status", (("above_threshold", 1), ("new_anomaly_event", 1)), 39184),
    ("anomaly_detection.ml_running", "boolean", (("ml_running", 1),), 890001),
    ("netdata.ml_status", "dimensions", (("enabled", 1), ("disabled-sp", 1)), 890002),
    ("netdata.ml_metric_types", "dimensions", (("constant", 1), ("variable", 1)), 890003),
    ("netdata.ml_training_status", "dimensions", (("untrained", 1), ("pending-without-model", 1), ("trained", 1),
                                                  ("pending-with-model", 1), ("silenced", 1)), 890004),
]


def test_charts_are_the_spec_table():
    charts = internal_charts_v2()
    assert [(c.id, c.units, c.dimensions, c.priority) for c in charts] == SPEC_TABLE
    assert internal_charts_v2(statistics=False) == DETECTOR_CHARTS_V2 == charts[:5]
    assert charts[5:] == STATISTICS_CHARTS_V2
    assert [c.title for c in charts] == [
        "Anomaly detection dimensions", "Percentage of anomalous dimensions",
        "Percentage of anomalous dimensions by context", "Anomaly detection events", "ML running",
        "Machine learning status", "Dimensions by metric type", "Training status of dimensions",
    ]
    assert [c.family for c in charts] == ["dimensions", "anomaly_rate", "anomaly_rate", "anomaly_detection",
                                          "anomaly_detection"] + ["machine learning"] * 3
    assert [c.chart_type for c in charts] == ["line", "line", "stacked"] + ["line"] * 5
    assert CONTEXT_CHART_ID == charts[2].id and CONTEXT_DIVISOR == 100


def test_v133_charts_are_unchanged_by_the_generalisation():
    assert [(c.id, c.family, c.chart_type) for c in INTERNAL_CHARTS] == [
        (c.id, c.id.split(".", 1)[1], "line") for c in INTERNAL_CHARTS]
    assert [c.priority for c in INTERNAL_CHARTS] == list(range(39183, 39189))


def _results():
    """A run through every kind of tick: gap, below, above, new event, ML stopped, new contexts."""
    det = GroupedRateDetector(grouping_duration=2, host_rate_threshold_percent=20, context_name=lambda i: f"ctx{i}")
    status = [ON, ON, ACTIVE, ACTIVE | VARIABLE, ACTIVE | VARIABLE | SILENCED, ON]
    modelled = [True] * 5 + [False]
    rows = [([0, 0, 0, 0, 0, 0], True), ([1, 0, 1, 1, 0, 1], True), ([1, 1, 0, 0, 1, 0], True),
            ([0, 0, 0, 0, 0, 0], False), ([0, 0, 0, 0, 0, 0], True), ([0, 1, 0, 0, 0, 0], True)]
    out = []
    for i, (bits, running) in enumerate(rows):
        context = [0, 1, 1, 2, 0, 3] if i < 4 else [0, 1, 4, 2, 0, 3]
        out.append(det.tick(T0 + i, np.array(bits, bool), np.array(status, np.uint8), np.array(modelled, bool),
                            np.array(context), ml_running=running))
    return out


@pytest.mark.parametrize("statistics", [True, False])
def test_row_is_values_flattened_without_the_context_chart(statistics):
    results = _results()
    assert {r.gap for r in results} == {True, False} and any(not r.ml_running for r in results)
    for r in results:
        values = internal_values_v2(r, statistics)
        assert list(values) == [c.id for c in internal_charts_v2(statistics)]
        flat = [v for chart_id, vs in values.items() if chart_id != CONTEXT_CHART_ID for v in vs]
        row = internal_row_v2(r, statistics)
        assert len(row) == len(flat) == sum(len(c.dimensions) for c in internal_charts_v2(statistics))
        assert [None if math.isnan(v) else v for v in row] == [None if math.isnan(v) else v for v in flat]
        assert values[CONTEXT_CHART_ID] == r.context_values.tolist() == list(r.context_rates.values())


def test_row_values():
    gap, below, _, stopped, _, last = _results()
    # tick 0: slots 0, 1 trained (normal), 2 constant, 3 untrained, 4 silenced, 5 excluded
    assert _nan_equal(internal_row_v2(gap),
                      [0.0, 4.0, 0.0, math.nan, math.nan, 1.0, 5.0, 1.0, 1.0, 4.0, 1.0, 0.0, 4.0, 0.0, 1.0])
    # tick 1: anomalous slot 0 only (slot 2 is constant, 3 untrained, 5 excluded): 1 of 4 -> 25.00 %
    assert internal_row_v2(below, statistics=False) == [1.0, 3.0, 25.0, 0.0, 0.0, 1.0]
    assert below.context_rates == {"ctx0": 50.0, "ctx1": 0.0, "ctx2": 0.0, "ctx3": 0.0}
    assert internal_row_v2(stopped, statistics=False) == [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert last.contexts == ("ctx0", "ctx1", "ctx2", "ctx3", "ctx4") and last.new_contexts == ()


def _nan_equal(a, b):
    return len(a) == len(b) and all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b))
