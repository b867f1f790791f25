"""The per-group anomaly rate chart (the host level's dynamic chart) stores what the detector computed, every tick.

The tick writes the dynamic chart's values as one array (their slots looked up
once per tuple of group names); these tests follow the stored values through
groups appearing while the host runs, for each profile that has the chart.
"""

from __future__ import annotations

import numpy as np
import pytest

import pyml
from pyml import MLConfig
from pyml.engine.charts_v2 import CONTEXT_CHART_ID

T0 = 1_700_000_000

CONFIGS = {
    "pyml": dict(profile="pyml", min_training_window=60, training_window=120, train_every=60, clamp=False),
    "netdata-2": dict(profile="netdata-2", min_training_window=60, training_window=120, train_every=60,
                      number_of_models=2, grouping_duration=30, clamp=False),
}


def _stored(host: pyml.Host, t: int) -> dict[str, float]:
    doc = host.data(CONTEXT_CHART_ID, t, t)
    rows = [r for r in doc["data"] if r[0] == t]
    assert len(rows) == 1, doc
    return {name: value for name, value in zip(doc["labels"][1:], rows[0][1:])}


@pytest.mark.parametrize("profile", sorted(CONFIGS))
def test_the_dynamic_chart_holds_the_detectors_values_as_groups_appear(profile: str) -> None:
    rng = np.random.default_rng(5)
    with pyml.Host("dyn", MLConfig(**CONFIGS[profile]), background=False) as host:
        host.add_chart("system.cpu", ["user", "system"], context="system.cpu")
        host.add_chart("disk.sda", ["reads", "writes"], context="disk.io")
        checked = nonzero = 0
        names_seen: set[tuple[str, ...]] = set()
        for i in range(400):
            if i == 200:  # a new group while running: the chart gets a dimension, the others keep theirs
                host.add_chart("net.eth0", ["in", "out"], context="net.net")
            values = 10 + rng.normal(0, 1, len(host.dimension_ids()))
            if 300 <= i < 320:
                values[:3] += 80
            host.collect_all(T0 + i, values)
            host.train_due()
            result = host.last_detector_result
            names = tuple(result.contexts)
            if not names:
                continue
            names_seen.add(names)
            expected = dict(zip(names, np.asarray(result.context_values, dtype=float).tolist()))
            stored = _stored(host, T0 + i)
            assert set(expected) <= set(stored), (expected, stored)
            for name, value in expected.items():
                assert stored[name] == pytest.approx(value, rel=1e-6, abs=1e-9), (i, name, stored, expected)
            checked += 1
            nonzero += any(v > 0 for v in expected.values())
        assert checked >= 300
        assert len(names_seen) >= 2           # the tuple of groups changed while running
        assert nonzero > 0                    # not only zeros: the incident shows in some group
