"""Registering dimensions scales linearly: adding and removing D dimensions.

A Netdata parent meets this at start-up and whenever a source adds charts.
Budget: 100,000 dimensions added (or removed) in <= 1 s, and the time per
dimension at D stays within 2x of the time per dimension at D / 10 (linear,
measured in the same run).
"""

from __future__ import annotations

import time

import pytest

import pyml

from budget import median, record
from conftest import scaled

DIMS_PER_CHART = 10
LARGE = scaled(100_000, 2_000)
SIZES = (LARGE // 10, LARGE)


def _charts(n_dims: int) -> list[tuple[str, list[str]]]:
    return [(f"app.chart{c}", [f"d{i}" for i in range(DIMS_PER_CHART)]) for c in range(n_dims // DIMS_PER_CHART)]


def _add_all(charts: list[tuple[str, list[str]]]) -> pyml.Host:
    host = pyml.Host("registry", pyml.MLConfig(), background=False)
    for chart_id, dims in charts:
        host.add_chart(chart_id, dims)
    return host


@pytest.mark.parametrize("n_dims", SIZES)
def test_add_dimensions(benchmark, n_dims):
    charts = _charts(n_dims)
    hosts: list[pyml.Host] = []

    def run() -> None:
        hosts.append(_add_all(charts))

    benchmark.pedantic(run, rounds=3, iterations=1)
    record(f"add-{n_dims}", benchmark)
    host = hosts[-1]
    assert len(host.dimension_ids()) == n_dims
    for h in hosts:
        h.close()


@pytest.mark.parametrize("n_dims", SIZES)
def test_remove_dimensions(benchmark, n_dims):
    charts = _charts(n_dims)
    hosts: list[pyml.Host] = []

    def setup():
        hosts.append(_add_all(charts))
        return (hosts[-1],), {}

    def run(host: pyml.Host) -> None:
        for chart_id, _ in charts:
            host.remove_chart(chart_id)

    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    record(f"remove-{n_dims}", benchmark)
    assert all(h.dimension_ids() == [] for h in hosts)
    for h in hosts:
        h.close()


@pytest.mark.parametrize("what", ["add", "remove"])
def test_registry_budget(what):
    small, large = SIZES
    per_dim_small = median(f"{what}-{small}") / small
    per_dim_large = median(f"{what}-{large}") / large
    print(f"\n{what}: {per_dim_small * 1e6:.2f} us/dim at {small:,}, {per_dim_large * 1e6:.2f} us/dim at {large:,}; "
          f"{median(f'{what}-{large}'):.3f} s for {large:,}")
    assert per_dim_large <= 2.0 * per_dim_small, "registering dimensions is not linear"
    if large == 100_000:
        assert median(f"{what}-{large}") <= 1.0
