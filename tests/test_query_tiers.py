"""Queries over the rollup tiers (pyml.query.tiers): the tier chosen, exact rows and rates, counts across tiers."""

from __future__ import annotations

import numpy as np
import pytest
from starlette.testclient import TestClient

import pyml
from pyml import MLConfig
from pyml.api import create_app
from pyml.engine.tiers import TierSpec
from pyml.query import DataQuery
from pyml.query.tiers import choose_tier, count_plan, tier_param

T0 = 1_700_000_029          # one past a multiple of 36: the first tick starts a point of either tier
N = 900
SPECS = (TierSpec(6, 1000), TierSpec(36, 1000))


def config() -> MLConfig:
    return MLConfig(profile="netdata-1.33", min_train_samples=100, max_train_samples=120, train_every=100, clamp=False)


def data(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(N)[:, None]
    values = 50 + 10 * np.sin(2 * np.pi * t / 40 + rng.uniform(0, 6, 4)[None, :]) + rng.normal(0, 0.5, (N, 4))
    values[500:530, :2] += rng.choice([-1, 1], (30, 2)) * rng.uniform(60, 120, (30, 2))  # an incident
    values[rng.random((N, 4)) < 0.03] = np.nan
    return values


def build(history: int | None, tiers=SPECS) -> pyml.Host:
    host = pyml.Host("tiered", config(), background=False, history=history, tiers=tiers)
    host.add_chart("system.app", ["a", "b", "c", "d"], units="load", family="app", context="system.app")
    values = data()
    for i in range(N):
        host.collect_all(T0 + i, values[i])
        if i in (250, 600):
            host.train_now()
    return host


@pytest.fixture(scope="module")
def full() -> pyml.Host:
    """Keeps every sample (tier 0 covers everything) and the tiers: the two can be compared."""
    host = build(history=2 * N)
    yield host
    host.close()


@pytest.fixture(scope="module")
def short() -> pyml.Host:
    """The same data, but tier 0 keeps only the last few hundred ticks."""
    host = build(history=None)
    yield host
    host.close()


def rows(doc):
    return {r[0]: r[1:] for r in doc["data"]}


@pytest.mark.parametrize("group", ["average", "min", "max", "sum"])
def test_tier_1_rows_equal_the_samples_grouped_over_the_same_rows(full, group):
    after, before = T0 + 294, T0 + 893     # 600 s ending on the tier's grid: 100 rows of 6 s
    q = DataQuery(full)
    per_second = q.query("system.app", after, before, 100, group, options="jsonwrap", tier=0).document()
    per_minute = q.query("system.app", after, before, 100, group, options="jsonwrap", tier=1).document()
    assert per_minute["db_points_per_tier"][1] > 0 and per_minute["db_points_per_tier"][0] == 0
    assert per_second["view_update_every"] == per_minute["view_update_every"] == 6
    a, b = rows(per_second["result"]), rows(per_minute["result"])
    assert a.keys() == b.keys() and len(a) == 100
    for stamp in a:
        for x, y in zip(a[stamp], b[stamp]):
            assert (x is None) == (y is None), stamp
            if x is not None:
                assert y == pytest.approx(x, rel=2e-6, abs=1e-5), (group, stamp)


def test_anomaly_bit_and_anomaly_rates_are_exact_on_every_tier(full):
    q = DataQuery(full)
    for after, before, points in ((T0 + 294, T0 + 893, 100), (T0 + 252, T0 + 863, 17)):
        answers = [q.query("system.app", after, before, points, "average", options="anomaly-bit,jsonwrap,jw-anomaly-rates",
                           tier=tier).document() for tier in (0, 1)]
        if points == 17:  # rows of 36 s: tier 2's points fit too
            answers.append(q.query("system.app", after, before, points, "average",
                                   options="anomaly-bit,jsonwrap,jw-anomaly-rates", tier=2).document())
        first = answers[0]
        assert any(v for r in first["result"]["data"] for v in r[1:] if v), "the incident must show"
        for other in answers[1:]:
            assert other["result"]["data"] == first["result"]["data"]
            assert other["anomaly_rates"]["data"] == first["anomaly_rates"]["data"]


def test_the_tier_is_chosen_by_where_the_window_starts(short):
    info = short.tier_info()
    assert info[0]["first_time"] > T0 + 400      # tier 0 no longer has the early samples
    q = DataQuery(short)
    recent = q.query("system.app", -60, 0, options="jsonwrap").document()
    assert recent["db_points_per_tier"][0] > 0 and sum(recent["db_points_per_tier"][1:]) == 0
    old = q.query("system.app", T0, T0 + 598, 100, options="jsonwrap").document()
    assert old["db_points_per_tier"][1] > 0 and old["view_update_every"] == 6
    assert all(r[0] % 6 == 0 for r in old["result"]["data"])   # rows on the per-minute grid
    forced = q.query("system.app", T0, T0 + 598, 10, options="jsonwrap", tier=2).document()
    assert forced["db_points_per_tier"][2] > 0 and forced["view_update_every"] == 72
    assert choose_tier(short, T0 + 800, T0 + 890) == 0
    assert choose_tier(short, T0, T0 + 890) == 1
    assert choose_tier(short, T0, T0 + 890, tier=2) == 2
    with pytest.raises(ValueError, match=r"tier parameter 3 does not exist; this host keeps tiers 0 \(1 s"):
        choose_tier(short, T0, T0 + 890, tier=3)


def test_the_coarsest_tier_answers_when_only_it_reaches_back():
    host = build(history=None, tiers=(TierSpec(6, 40), TierSpec(36, 1000)))
    try:
        assert choose_tier(host, T0, T0 + 890) == 2
        assert choose_tier(host, T0 + 700, T0 + 890) == 1
        doc = DataQuery(host).query("system.app", T0, T0 + 899, 25, options="jsonwrap").document()
        assert doc["db_points_per_tier"][2] > 0 and doc["view_update_every"] == 36
    finally:
        host.close()


def test_a_young_host_answers_from_tier_0():
    host = build(history=None, tiers=SPECS)
    try:  # every tier began with the first sample: tier 0, the finest, answers what it holds
        assert choose_tier(host, T0 - 10_000, T0 + 100) == 1  # tier 0 rotated past T0 + 100
        young = pyml.Host("young", config(), background=False, tiers=SPECS)
        young.add_chart("c", ["a"])
        for i in range(50):
            young.collect_all(T0 + i, [float(i)])
        assert choose_tier(young, T0 - 1000, T0 + 49) == 0
        young.close()
    finally:
        host.close()


def test_counts_over_any_window_are_exact_across_tiers(full, short):
    ids = full.modelled_dimension_ids()
    # windows whose bounds lie in tier 0's samples or on the grid of the tier that covers them
    for after, before in ((T0, T0 + 899), (T0 + 6, T0 + 695), (T0 + 36, T0 + 890), (T0 + 396, T0 + 898)):
        reference = full.anomaly_ranking(after, before)
        ranked = short.anomaly_ranking(after, before)
        assert [(e["chart"], e["dimension"], e["points"], e["anomalous"]) for e in ranked] == \
            [(e["chart"], e["dimension"], e["points"], e["anomalous"]) for e in reference], (after, before)
    rates = short.anomaly_rates(T0, T0 + 899)
    assert rates == pytest.approx(full.anomaly_rates(T0, T0 + 899))
    assert set(rates) == set(ids)
    top = short.anomaly_ranking(T0 + 480, T0 + 560, limit=2)
    assert {e["dimension"] for e in top} == {"a", "b"}


@pytest.mark.parametrize(
    "first_times, after, before, expected",
    [
        # tier 0 holds the whole window
        ([100, 10, 10], 150, 200, [(0, 149, 200)]),
        # tier 0 from the first per-minute boundary after its oldest sample, tier 1 before
        ([100, 10, 10], 40, 200, [(0, 102, 200), (1, 39, 102)]),
        # tier 1 too young: tier 2 takes the oldest part, cut on its own grid
        ([100, 70, 10], 40, 200, [(0, 102, 200), (1, 72, 102), (2, 39, 72)]),
        # nothing reaches back: the oldest data there is
        ([100, 70, 50], 10, 200, [(0, 102, 200), (1, 72, 102), (2, 36, 72)]),
    ],
)
def test_count_plan_cuts_windows_on_the_coarser_grid(first_times, after, before, expected):
    steps = [1, 6, 36]
    info = [{"tier": t, "update_every": steps[t], "first_time": f,
             "first_point": f if t == 0 else -(-f // steps[t]) * steps[t]} for t, f in enumerate(first_times)]
    plan = count_plan(info, after, before)
    assert plan == expected
    assert count_plan(info, after, before, tier=1) == [(1, after - 1, before)]


def test_tier_parameter_values():
    assert tier_param(None) is None and tier_param("") is None and tier_param("2") == 2 and tier_param(1) == 1
    for bad in ("x", "-1", -1, 1.5, True):
        with pytest.raises(ValueError, match="tier"):
            tier_param(bad)


def test_http_honours_tier_and_names_the_tiers_there_are(short):
    client = TestClient(create_app(short))
    doc = client.get(f"/api/v1/data?chart=system.app&after={T0}&before={T0 + 598}&points=100&options=jsonwrap"
                     f"&tier=1").json()
    assert doc["db_points_per_tier"][1] > 0 and doc["view_update_every"] == 6
    bad = client.get("/api/v1/data?chart=system.app&tier=7")
    assert bad.status_code == 400 and "tiers 0 (1 s per point), 1 (6 s per point), 2 (36 s" in bad.json()["error"]
    weights = client.get(f"/api/v1/weights?after={T0 + 480}&before={T0 + 560}&options=raw").json()
    dims = weights["contexts"]["system.app"]["charts"]["system.app"]["dimensions"]
    assert max(dims, key=dims.get) in ("a", "b")
    forced = client.get(f"/api/v1/weights?after={T0}&before={T0 + 898}&options=raw&tier=2").json()
    assert forced["statistics"]["db_points_per_tier"][2] > 0 and forced["statistics"]["db_points_per_tier"][0] == 0
    assert client.get("/api/v1/weights?tier=3").status_code == 400
