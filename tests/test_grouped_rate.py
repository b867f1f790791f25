"""GroupedRateDetector rule by rule: SPEC-NETDATA-2 §5.5 (who counts as what), §7.1 (the stored rate),
§7.2 (per-context rates), §7.3 (the grouped query, the edge rule, gaps, ML not running), pyml's anomaly
events, ml_info (§8.5), configuration and argument checks."""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace

import numpy as np
import pytest

from pyml.engine.detector import AnomalyEvent
from pyml.engine.grouped_rate import (
    ACTIVE,
    GROUPING_METHODS,
    MAX_CONTEXT_ID,
    SILENCED,
    TRAINED,
    VARIABLE,
    GroupedRateDetector,
    SlotStatus,
    grouped_value,
    stored_rate,
)

T0 = 1_700_000_000
ON = ACTIVE | TRAINED | VARIABLE  # a trained variable dimension: counted by its bit


def tick(det, t, bits, status=None, modelled=None, context=None, **kw):
    n = len(bits)
    status = [ON] * n if status is None else status
    modelled = [True] * n if modelled is None else modelled
    context = [0] * n if context is None else context
    return det.tick(
        t, np.array(bits, dtype=bool), np.array(status, dtype=np.uint8), np.array(modelled, dtype=bool),
        np.array(context, dtype=np.int64), **kw,
    )


def feed(det, t0, rates_percent, n=100):
    """One tick per second whose host rate is each given whole percentage (n = 100 trained dims)."""
    results = []
    for i, pct in enumerate(rates_percent):
        results.append(tick(det, t0 + i, [j < pct for j in range(n)]))
    return results


# ---------------------------------------------------------------------------
# §5.5: who is counted, and as what


@pytest.mark.parametrize(
    "flags, modelled, bit, counted_as, stats",
    [
        # chart excluded by charts-to-skip: not counted, "disabled-sp", no type or training status
        (ACTIVE | VARIABLE | TRAINED, False, True, None, {"disabled_sp": 1}),
        # constant (any training status): counted normal whatever the bit, training status "trained"
        (ACTIVE, True, True, "normal", {"enabled": 1, "constant": 1, "trained": 1}),
        (ACTIVE | TRAINED, True, True, "normal", {"enabled": 1, "constant": 1, "trained": 1}),
        (ACTIVE | SILENCED, True, True, "normal", {"enabled": 1, "constant": 1, "trained": 1}),
        # variable and untrained: out of the denominator
        (ACTIVE | VARIABLE, True, False, None, {"enabled": 1, "variable": 1, "untrained": 1}),
        (ACTIVE | VARIABLE, True, True, None, {"enabled": 1, "variable": 1, "untrained": 1}),
        # variable and trained: by its bit
        (ACTIVE | VARIABLE | TRAINED, True, True, "anomalous", {"enabled": 1, "variable": 1, "trained": 1}),
        (ACTIVE | VARIABLE | TRAINED, True, False, "normal", {"enabled": 1, "variable": 1, "trained": 1}),
        # variable and silenced: counted normal, "silenced" and "trained"
        (ACTIVE | VARIABLE | SILENCED, True, True, "normal",
         {"enabled": 1, "variable": 1, "silenced": 1, "trained": 1}),
        (ACTIVE | VARIABLE | SILENCED | TRAINED, True, True, "normal",
         {"enabled": 1, "variable": 1, "silenced": 1, "trained": 1}),
        # a slot not in use: nothing at all, whatever else is set
        (TRAINED | VARIABLE, True, True, None, {}),
        (0, False, True, None, {}),
        # bits above the four flags are ignored
        (ON | 0xF0, True, True, "anomalous", {"enabled": 1, "variable": 1, "trained": 1}),
    ],
)
def test_who_is_counted_and_as_what(flags, modelled, bit, counted_as, stats):
    r = tick(GroupedRateDetector(), T0, [bit], [flags], [modelled])
    assert (r.anomalous, r.normal) == ((counted_as == "anomalous") * 1, (counted_as == "normal") * 1)
    names = ("enabled", "disabled_sp", "constant", "variable", "untrained", "trained", "silenced")
    assert {k: getattr(r, k) for k in names} == {k: stats.get(k, 0) for k in names}
    assert (r.pending_without_model, r.pending_with_model) == (0, 0)
    assert r.total == r.anomalous + r.normal


def test_counts_add_up_over_a_mixed_host():
    statuses = [ON, ON, ON, ACTIVE, ACTIVE | VARIABLE, ACTIVE | VARIABLE | SILENCED, ON, 0]
    bits = [1, 1, 0, 1, 1, 1, 1, 1]
    modelled = [True] * 6 + [False, True]
    r = tick(GroupedRateDetector(), T0, bits, statuses, modelled)
    assert (r.anomalous, r.normal) == (2, 3)  # two trained anomalous; trained normal, constant, silenced
    assert (r.enabled, r.disabled_sp, r.constant, r.variable) == (6, 1, 1, 5)
    assert (r.untrained, r.trained, r.silenced) == (1, 5, 1)
    assert r.anomaly_rate_collected == 4000 and r.anomaly_rate == 40.0
    assert r.host_anomaly_rate == 0.4


def test_the_status_enum_matches_the_flags():
    assert [int(f) for f in (SlotStatus.ACTIVE, SlotStatus.TRAINED, SlotStatus.SILENCED, SlotStatus.VARIABLE)] == [
        ACTIVE, TRAINED, SILENCED, VARIABLE] == [0x01, 0x02, 0x04, 0x08]


# ---------------------------------------------------------------------------
# §7.1 / §7.2: the stored rates


@pytest.mark.parametrize(
    "anomalous, normal, collected",
    [
        (0, 0, 0),  # no dimension counted: 0
        (7, 993, 70),  # the spec's example: 7 of 1000 -> 0.70
        (1, 2, 3333),  # truncated, not rounded
        (2, 1, 6666),
        (1, 0, 10000),
        (43, 82, 3439),  # 0.344 * 10000.0 is 3439.9999... in double: Netdata stores 3439
        (57, 43, 5699),  # likewise 0.57 * 10000.0 = 5699.999...: 56.99 %, not 57.00 %
        (7, 93, 700),  # but 0.07 * 10000.0 = 700.0000000000001: 7.00 %
    ],
)
def test_stored_rate_is_netdatas_double_truncation(anomalous, normal, collected):
    assert stored_rate(anomalous, normal) == collected
    r = tick(GroupedRateDetector(), T0, [True] * anomalous + [False] * normal)
    assert r.anomaly_rate_collected == collected
    assert r.anomaly_rate == collected / 100
    assert r.context_values.tolist() == ([collected / 100] if anomalous + normal else [])


def test_context_rates_one_dimension_per_context_in_order_of_appearance():
    names = {0: "system.cpu", 1: "disk.io", 2: "net.net", 7: "mem.available"}
    det = GroupedRateDetector(context_name=names)
    # slots: two in context 1, one in 0, one not modelled in 2, one with no context
    r = tick(det, T0, [1, 0, 1, 1, 1], [ON] * 5, [True, True, True, False, True], [1, 1, 0, 2, -1])
    assert r.contexts == ("system.cpu", "disk.io", "net.net")  # one tick: ascending id
    assert r.new_contexts == r.contexts
    assert r.context_rates == {"system.cpu": 100.0, "disk.io": 50.0, "net.net": 0.0}
    assert (r.anomalous, r.normal) == (3, 1)  # the slot with no context still counts for the host
    # context 7 appears later; context 2 loses its slot but stays, at 0
    r = tick(det, T0 + 1, [0, 0, 1, 1], [ON, ON, ON, 0], [True] * 4, [1, 1, 7, 2])
    assert r.contexts == ("system.cpu", "disk.io", "net.net", "mem.available")
    assert r.new_contexts == ("mem.available",)
    assert r.context_rates == {"system.cpu": 0.0, "disk.io": 0.0, "net.net": 0.0, "mem.available": 100.0}
    assert det.context_ids() == [0, 1, 2, 7]
    r = tick(det, T0 + 2, [], [], [], [])
    assert r.contexts == ("system.cpu", "disk.io", "net.net", "mem.available") and r.new_contexts == ()
    assert r.context_values.tolist() == [0.0] * 4


def test_context_rate_uses_the_same_truncation():
    r = tick(GroupedRateDetector(), T0, [True] * 43 + [False] * 82, context=[3] * 125)
    assert r.context_values.tolist() == [34.39]


def test_context_counts_follow_slots_that_change_context_or_state():
    det = GroupedRateDetector(context_name=lambda i: f"c{i}")
    tick(det, T0, [1, 1, 0, 0], context=[0, 0, 1, 1])
    # slot 1 moves to context 1; slot 2 becomes an untrained variable (leaves the denominator)
    r = tick(det, T0 + 1, [1, 1, 1, 0], [ON, ON, ACTIVE | VARIABLE, ON], context=[0, 1, 1, 1])
    assert r.context_rates == {"c0": 100.0, "c1": 50.0}
    # the slot space shrinks to one slot
    r = tick(det, T0 + 2, [0], context=[1])
    assert r.context_rates == {"c0": 0.0, "c1": 0.0}


def test_a_context_appears_only_while_ml_runs():
    det = GroupedRateDetector(context_name=str)
    r = tick(det, T0, [1], context=[4], ml_running=False)
    assert r.contexts == () and r.context_values.size == 0
    r = tick(det, T0 + 1, [1], context=[4])
    assert r.contexts == ("4",) and r.new_contexts == ("4",)


def test_context_name_failures_change_nothing():
    det = GroupedRateDetector(context_name=["only"])
    tick(det, T0, [1], context=[0])
    with pytest.raises(ValueError, match="context_name has no name for context 1"):
        tick(det, T0 + 1, [1, 0], context=[0, 1])
    assert det.contexts == ("only",) and det.last_t == T0
    det.context_name = lambda i: i
    with pytest.raises(TypeError, match="context_name gave 1 for context 1; names must be str"):
        tick(det, T0 + 1, [1, 0], context=[0, 1])
    r = tick(det, T0 + 1, [1, 0], context=[0, 0])  # the rejected ticks left the bookkeeping as it was
    assert r.context_rates == {"only": 50.0}
    with pytest.raises(ValueError, match=f"context id {MAX_CONTEXT_ID + 1} is larger than the largest allowed"):
        tick(det, T0 + 2, [1], context=[MAX_CONTEXT_ID + 1])


# ---------------------------------------------------------------------------
# §7.3: the grouped query over [t - ue - D_g, t - ue]


def test_window_bounds_are_closed_and_exclude_the_current_tick():
    det = GroupedRateDetector(update_every=1, grouping_duration=5, grouping_method="sum",
                              host_rate_threshold_percent=50)
    # tick i stores i percent (1..10)
    rs = feed(det, T0, list(range(1, 11)))
    # at t = T0 + 9 the window is [T0 + 3, T0 + 8]: values 4..9 (six points), not 10 (this tick)
    assert rs[9].window_points == 6
    assert rs[9].grouped_rate == 4 + 5 + 6 + 7 + 8 + 9
    # the first tick has nothing to query: a gap
    assert rs[0].window_points == 0 and rs[0].gap and rs[0].grouped_rate is None
    assert rs[1].window_points == 1 and rs[1].grouped_rate == 1.0


def test_window_upper_bound_is_one_update_every_back():
    # update_every 3 with ticks 1 s apart: a value stored 1 or 2 s ago is not yet in the window
    det = GroupedRateDetector(update_every=3, grouping_duration=4, grouping_method="max",
                              host_rate_threshold_percent=50)
    rs = feed(det, T0, [10, 20, 30, 40, 50, 60, 70, 80])
    # at T0 + 7: window [T0 + 0, T0 + 4]: 10..50; 60 and 70 (T0 + 5, 6) are too recent
    assert rs[7].window_points == 5 and rs[7].grouped_rate == 50.0
    assert [r.window_points for r in rs[:3]] == [0, 0, 0]
    assert rs[3].window_points == 1 and rs[3].grouped_rate == 10.0


def test_the_window_follows_seconds_not_ticks():
    det = GroupedRateDetector(update_every=1, grouping_duration=10, grouping_method="average",
                              host_rate_threshold_percent=1)
    tick(det, T0, [True] + [False] * 3)  # 25 %
    tick(det, T0 + 8, [False] * 4)  # 0 %
    r = tick(det, T0 + 11, [False] * 4)  # window [T0, T0 + 10]: both values
    assert (r.window_points, r.grouped_rate) == (2, 12.5)
    r = tick(det, T0 + 12, [False] * 4)  # window [T0 + 1, T0 + 11]: the 25 % value is out
    assert (r.window_points, r.grouped_rate) == (2, 0.0)


@pytest.mark.parametrize(
    "method, expected",
    [("average", (1 + 2 + 7 + 4) / 4), ("min", 1.0), ("max", 7.0), ("sum", 14.0), ("median", 3.0)],
)
def test_grouping_methods(method, expected):
    det = GroupedRateDetector(update_every=1, grouping_duration=3, grouping_method=method,
                              host_rate_threshold_percent=50)
    rs = feed(det, T0, [1, 2, 7, 4, 0])
    assert rs[4].window_points == 4
    assert rs[4].grouped_rate == expected


def test_median_of_an_odd_window_and_average_in_time_order():
    assert grouped_value(np.array([5.0, 1.0, 3.0]), "median") == 3.0
    values = np.array([0.1, 0.2, 0.3, 1e16, -1e16])
    # in time order: ((0.1 + 0.2) + 0.3 + 1e16) - 1e16 = 0.0 exactly in double; a pairwise or exact sum is not
    sequential = 0.0
    for v in values.tolist():
        sequential += v
    assert grouped_value(values, "sum") == sequential
    assert grouped_value(values, "average") == sequential / 5
    with pytest.raises(ValueError, match="at least one value"):
        grouped_value(np.zeros(0), "average")
    with pytest.raises(ValueError, match="grouping method must be one of average, min, max, sum, median"):
        grouped_value(values, "mode")


def test_an_unknown_grouping_method_is_average_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="pyml.engine.grouped_rate"):
        assert GroupedRateDetector(grouping_method="mean").grouping_method == "average"
        assert GroupedRateDetector(grouping_method="avg").grouping_method == "average"
        assert not caplog.text  # Netdata's aliases of average
        det = GroupedRateDetector(grouping_method="percentile")
    assert det.grouping_method == "average" and det.requested_grouping_method == "percentile"
    assert "'percentile' is not one pyml implements" in caplog.text
    assert GROUPING_METHODS == ("average", "min", "max", "sum", "median")


# ---------------------------------------------------------------------------
# §7.3: the edge rule, gaps, ML not running


def test_above_threshold_is_greater_or_equal_and_new_event_is_the_rising_edge():
    det = GroupedRateDetector(update_every=1, grouping_duration=1, grouping_method="max", host_rate_threshold_percent=2)
    rs = feed(det, T0, [0, 1, 2, 3, 2, 1, 1, 5, 0, 0])
    # the window holds the previous tick (and the one before): max of the last two stored values
    got = [(r.above_threshold, r.new_anomaly_event) for r in rs]
    assert got == [
        (None, None),  # nothing stored yet: gap
        (False, False),  # max(0)
        (False, False),  # max(0, 1)
        (True, True),  # max(1, 2) = 2 >= 2: equality counts
        (True, False),
        (True, False),
        (True, False),  # max(2, 1)
        (False, False),  # max(1, 1)
        (True, True),  # max(1, 5): rises again
        (True, False),  # max(5, 0)
    ]


def test_a_gap_leaves_prev_so_no_new_event_after_it():
    det = GroupedRateDetector(update_every=1, grouping_duration=2, host_rate_threshold_percent=10)
    rs = feed(det, T0, [50, 50, 50])
    assert (rs[1].above_threshold, rs[1].new_anomaly_event) == (True, True)
    # a pause longer than the window: the next tick finds no value, no update
    r = tick(det, T0 + 20, [True] * 50 + [False] * 50)
    assert r.gap and (r.above_threshold, r.new_anomaly_event, r.window_points) == (None, None, 0)
    assert det.prev_above_threshold is True and r.event_open  # the event stays open over the gap
    r = tick(det, T0 + 21, [False] * 100)
    assert (r.above_threshold, r.new_anomaly_event) == (True, False)


def test_ml_not_running_writes_zeros_and_keeps_prev():
    det = GroupedRateDetector(update_every=1, grouping_duration=2, host_rate_threshold_percent=10,
                              slot_id=lambda s: f"c|d{s}")
    feed(det, T0, [50, 50, 50])
    r = tick(det, T0 + 3, [True] * 100, context=[0] * 100, ml_running=False)
    assert (r.above_threshold, r.new_anomaly_event) == (False, False) and not r.gap
    assert (r.anomalous, r.normal, r.enabled, r.trained, r.anomaly_rate_collected) == (0, 0, 0, 0, 0)
    assert r.grouped_rate is None and r.window_points == 0 and not r.ml_running
    assert r.context_values.tolist() == [0.0]
    assert r.event is not None and r.event.before == T0 + 2  # ML stopping ends the event
    assert det.prev_above_threshold is True  # Netdata leaves prev alone
    # the zero was stored: the window now averages 50, 50, 0
    r = tick(det, T0 + 4, [False] * 100)
    assert r.grouped_rate == (50 + 50 + 0) / 3 and r.window_points == 3
    assert (r.above_threshold, r.new_anomaly_event) == (True, False)  # prev was still 1
    assert r.event_open


def test_prev_belongs_to_each_detector():
    # Netdata shares one prev across the hosts of its detection thread; pyml keeps one per host.
    a = GroupedRateDetector(grouping_duration=5, host_rate_threshold_percent=10)
    b = GroupedRateDetector(grouping_duration=5, host_rate_threshold_percent=10)
    ra, rb = feed(a, T0, [50, 50]), feed(b, T0, [50, 50])
    assert ra[1].new_anomaly_event and rb[1].new_anomaly_event


# ---------------------------------------------------------------------------
# anomaly events (pyml's addition)


def test_event_bounds_and_info():
    names = ["sys.cpu|user", "sys.cpu|system", "disk|io", "net|in"]
    # update_every 2 and D_g 1: the window [t - 3, t - 2] holds exactly the previous tick's stored rate
    det = GroupedRateDetector(update_every=2, grouping_duration=1, host_rate_threshold_percent=30,
                              dimension_rate_threshold=0.3, slot_id=names)
    pattern = [  # bits of the four slots per tick; stored rate = anomalous / 4
        [0, 0, 0, 0],  # T0       gap (nothing stored yet)                 stores 0
        [1, 1, 0, 0],  # T0 + 2   r = 0   below                            stores 50
        [1, 1, 1, 0],  # T0 + 4   r = 50  above: the event starts here     stores 75
        [1, 0, 0, 0],  # T0 + 6   r = 75  above                            stores 25
        [1, 0, 0, 1],  # T0 + 8   r = 25  below: the event (T0 + 4, T0 + 6) ends
    ]
    rs = [tick(det, T0 + 2 * i, bits) for i, bits in enumerate(pattern)]
    assert [r.above_threshold for r in rs] == [None, False, True, True, False]
    assert [r.new_anomaly_event for r in rs] == [None, False, True, False, False]
    assert [r.event_open for r in rs] == [False, False, True, True, False]
    event = rs[4].event
    # after = first tick - update_every, before = last tick above; rates over its two ticks, ties by id descending
    assert event == AnomalyEvent(T0 + 4 - 2, T0 + 6, [[1.0, "sys.cpu|user"], [0.5, "sys.cpu|system"],
                                                      [0.5, "disk|io"]])
    assert event.before - event.after == 2 * 2  # two ticks of update_every seconds
    assert all(r.event is None for r in rs[:4])


def test_event_info_ranks_by_rate_then_id_descending_and_cuts():
    det = GroupedRateDetector(grouping_duration=1, host_rate_threshold_percent=1,
                              dimension_rate_threshold=0.5, max_event_dims=3, slot_id=lambda s: f"c|{'abcdef'[s]}")
    tick(det, T0, [1, 1, 1, 1, 1, 1])  # stores 100 %: every later tick here is above
    rows = ([1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 1, 0], [1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1])
    for i, bits in enumerate(rows, start=1):
        assert tick(det, T0 + i, bits).above_threshold
    event = det.finish()
    # of 4 ticks: a 3, b 3, c 2, d 1, e 1, f 1 -> 0.75, 0.75, 0.5, 0.25 x 3; cut at 0.5, then at 3 pairs
    assert event == AnomalyEvent(T0, T0 + 4, [[0.75, "c|b"], [0.75, "c|a"], [0.5, "c|c"]])
    assert not det.event_open and det.finish() is None
    assert det.prev_above_threshold  # finish() ends the event, not the detector's state


def test_too_many_qualifying_dimensions_keep_the_top_with_a_warning(caplog):
    det = GroupedRateDetector(grouping_duration=1, host_rate_threshold_percent=1, dimension_rate_threshold=0.0,
                              max_event_dims=2, slot_id=lambda s: f"c|{s}")
    tick(det, T0, [1, 1, 1])
    tick(det, T0 + 1, [1, 1, 1])
    with caplog.at_level(logging.WARNING, logger="pyml.engine.grouped_rate"):
        event = det.finish()
    assert event.info == [[1.0, "c|2"], [1.0, "c|1"]]
    assert "3 dimensions reached the event rate threshold" in caplog.text


def test_event_counts_bits_as_stored_of_active_modelled_slots():
    # a constant dimension's anomalous bit counts in the event (the host rate counts it normal);
    # a slot of an excluded chart or a slot not in use does not
    det = GroupedRateDetector(grouping_duration=1, host_rate_threshold_percent=1, dimension_rate_threshold=0.0,
                              slot_id=["c|trained", "c|constant", "c|excluded", "c|unused", "c|untrained"])
    status = [ON, ACTIVE, ON, TRAINED | VARIABLE, ACTIVE | VARIABLE]
    modelled = [True, True, False, True, True]
    tick(det, T0, [1, 0, 0, 0, 0], status, modelled)
    r = tick(det, T0 + 1, [1, 1, 1, 1, 1], status, modelled)
    assert r.above_threshold and (r.anomalous, r.normal) == (1, 1)
    assert det.finish().info == [[1.0, "c|untrained"], [1.0, "c|trained"], [1.0, "c|constant"]]


def test_an_event_with_no_listed_dimension_is_still_reported():
    det = GroupedRateDetector(grouping_duration=1, host_rate_threshold_percent=1)
    tick(det, T0, [1, 0])
    tick(det, T0 + 1, [0, 0])  # above (window holds 50 %), but nothing anomalous during it
    r = tick(det, T0 + 2, [0, 0])
    r = tick(det, T0 + 3, [0, 0])  # the window [T0 + 1, T0 + 2] holds 0 and 0
    assert r.event == AnomalyEvent(T0, T0 + 2, [])


def test_a_slot_that_changes_hands_during_an_event():
    det = GroupedRateDetector(grouping_duration=1, host_rate_threshold_percent=1, dimension_rate_threshold=0.0,
                              slot_id=lambda s: f"c|{s}")
    tick(det, T0, [1, 1])
    tick(det, T0 + 1, [1, 1])
    tick(det, T0 + 2, [1, 1])
    det.remove_slot(0)  # the old dimension is not listed
    det.add_slot(0)  # the new one counts from here
    det.add_slots([5, 6])  # slots the detector never saw are fine
    det.remove_slots(np.array([6]))
    tick(det, T0 + 3, [1, 0])
    assert det.finish().info == [[2 / 3, "c|1"], [1 / 3, "c|0"]]


def test_slot_id_failures_change_nothing():
    det = GroupedRateDetector(grouping_duration=1, host_rate_threshold_percent=1, slot_id={})
    for i, bit in enumerate([1, 1, 0, 0]):  # above from T0 + 1 (the window then holds 100, then 100/0, ...)
        tick(det, T0 + i, [bit])
    assert det.event_open
    with pytest.raises(ValueError, match="slot_id has no name for slot 0"):
        tick(det, T0 + 4, [0])  # the window [T0 + 2, T0 + 3] holds 0 and 0: the event would end here
    assert det.last_t == T0 + 3 and det.event_open and det.prev_above_threshold
    det.slot_id = {0: "c|d"}
    r = tick(det, T0 + 4, [0])
    assert r.event == AnomalyEvent(T0, T0 + 3, [[1 / 3, "c|d"]])
    assert not det.prev_above_threshold


# ---------------------------------------------------------------------------
# ml_info, seeding the series, configuration, argument checks


def test_ml_info_under_v2():
    det = GroupedRateDetector()
    assert det.ml_info() == {"version": 2, "ml-running": 0, "anomalous-dimensions": 0, "normal-dimensions": 0,
                             "total-dimensions": 0, "trained-dimensions": 0}
    tick(det, T0, [1, 0, 1, 1], [ON, ON, ACTIVE, ACTIVE | VARIABLE])
    assert det.ml_info() == {"version": 2, "ml-running": 1, "anomalous-dimensions": 1, "normal-dimensions": 2,
                             "total-dimensions": 3, "trained-dimensions": 3}
    assert list(det.ml_info()) == ["version", "ml-running", "anomalous-dimensions", "normal-dimensions",
                                   "total-dimensions", "trained-dimensions"]
    tick(det, T0 + 1, [1], ml_running=False)
    assert det.ml_info()["ml-running"] == 0 and det.ml_info()["total-dimensions"] == 0


def test_seed_refills_the_series_after_a_restart():
    det = GroupedRateDetector(grouping_duration=3, host_rate_threshold_percent=5)
    det.seed([T0 - 10, T0 - 3, T0 - 2, T0 - 1], [90.0, 10.0, float("nan"), 2.0])
    r = tick(det, T0, [0])
    assert (r.window_points, r.grouped_rate) == (2, 6.0)  # [T0 - 4, T0 - 1]: 10 and 2; NaN is a gap
    assert (r.above_threshold, r.new_anomaly_event) == (True, True)
    with pytest.raises(ValueError, match="seed\\(\\) is for a detector that has not ticked"):
        det.seed([T0], [1.0])
    late = GroupedRateDetector()
    late.seed([T0 - 1, T0 + 5], [1.0, 2.0])
    with pytest.raises(ValueError, match=f"t = {T0} is not after the last seeded value, at t = {T0 + 5}"):
        tick(late, T0, [0])
    with pytest.raises(ValueError, match="times must increase"):
        GroupedRateDetector().seed([2, 2], [1.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        GroupedRateDetector().seed([1, 2], [1.0])


def test_from_config_reads_the_profile_names():
    cfg = SimpleNamespace(host_rate_threshold_fraction=0.07, grouping_method="max", grouping_duration=120,
                          dimension_rate_threshold=None)
    det = GroupedRateDetector.from_config(cfg, 2, slot_id=str, context_name=str)
    assert 0.07 * 100 != 7.0 and det.host_rate_threshold_percent == 7.0  # the percent survives the fraction
    assert (det.update_every, det.grouping_duration, det.grouping_method) == (2, 120, "max")
    assert det.dimension_rate_threshold == 0.05 and det.slot_id is str and det.context_name is str
    cfg.dimension_rate_threshold = 0.2
    assert GroupedRateDetector.from_config(cfg).dimension_rate_threshold == 0.2
    with pytest.raises(TypeError, match="cfg lacks the detector setting\\(s\\) grouping_method, grouping_duration"):
        GroupedRateDetector.from_config(SimpleNamespace(host_rate_threshold_fraction=0.01))


def test_from_config_with_the_netdata_2_profile():
    from pyml import MLConfig

    det = GroupedRateDetector.from_config(MLConfig(profile="netdata-2"), 1)
    assert (det.host_rate_threshold_percent, det.grouping_duration, det.grouping_method) == (1.0, 300, "average")
    cfg = MLConfig(profile="netdata-2", host_anomaly_rate_threshold=0.7, grouping_method="avg",
                   grouping_duration=60)
    det = GroupedRateDetector.from_config(cfg, 1)
    assert (det.host_rate_threshold_percent, det.grouping_duration, det.grouping_method) == (0.7, 60, "average")


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"update_every": 0}, ValueError, "update_every must be at least 1, got 0"),
        ({"grouping_duration": 2.5}, TypeError, "grouping_duration must be an integer, got 2.5"),
        ({"grouping_method": 3}, TypeError, "grouping_method must be a string, got 3"),
        ({"host_rate_threshold_percent": 101}, ValueError, "must be a percentage in [0, 100], got 101"),
        ({"host_rate_threshold_percent": math.nan}, ValueError, "must be finite, got nan"),
        ({"dimension_rate_threshold": 1.5}, ValueError, "dimension_rate_threshold must be in [0, 1], got 1.5"),
        ({"max_event_dims": 0}, ValueError, "max_event_dims must be at least 1, got 0"),
        ({"slot_id": 5}, TypeError, "slot_id must be a callable, a sequence or a mapping"),
        ({"context_name": 5}, TypeError, "context_name must be a callable, a sequence or a mapping"),
    ],
)
def test_rejects_bad_parameters(kwargs, error, fragment):
    with pytest.raises(error) as excinfo:
        GroupedRateDetector(**kwargs)
    assert fragment in str(excinfo.value)


@pytest.mark.parametrize(
    "args, error, fragment",
    [
        ((T0, [1, 0], [1], [1, 1], [0, 0]), ValueError, "one entry per slot each; got lengths 2, 1, 2 and 2"),
        ((T0, [2], [1], [1], [0]), ValueError, "bits[0] = 2 is not a boolean (0 or 1)"),
        ((T0, ["x"], [1], [1], [0]), TypeError, "bits must be boolean, got dtype <U1"),
        ((T0, [1], [256], [1], [0]), ValueError, "status[0] = 256 is not a uint8 set of flags"),
        ((T0, [1], [-1], [1], [0]), ValueError, "status[0] = -1 is not a uint8 set of flags"),
        ((T0, [1], [1.0], [1], [0]), TypeError, "status must hold uint8 flags, got dtype float64"),
        ((T0, [1], [1], [1], [0.5]), TypeError, "context must hold integer context ids, got dtype float64"),
        ((T0, [[1]], [[1]], [[1]], [[0]]), ValueError, "bits must be 1-D (one entry per slot), got shape (1, 1)"),
        ((T0 + 0.5, [1], [1], [1], [0]), ValueError, "t must be a whole number of epoch seconds"),
    ],
)
def test_rejects_bad_ticks(args, error, fragment):
    det = GroupedRateDetector()
    with pytest.raises(error) as excinfo:
        det.tick(*args)
    assert fragment in str(excinfo.value)
    assert det.last_t is None


def test_time_must_move_forward_and_lists_are_accepted():
    det = GroupedRateDetector()
    r = det.tick(T0, [True, 0], [ON, 1], [1, 1.0], [0, -3])
    assert (r.anomalous, r.normal) == (1, 1)
    with pytest.raises(ValueError, match=f"t = {T0} does not follow the previous tick t = {T0}"):
        det.tick(T0, [True], [ON], [True], [0])
    assert "GroupedRateDetector(update_every=1" in repr(det)


# ---------------------------------------------------------------------------
# with the compiled dimension bank


def test_an_incident_on_the_bank_becomes_one_event_naming_its_dimensions():
    from pyml import core
    from pyml.engine.charts_v2 import internal_charts_v2, internal_row_v2

    rng = np.random.default_rng(11)
    n, history = 20, 1200
    bank = core.Bank(diff_n=1, smooth_n=3, lag_n=5, threshold=0.99)
    slots = [bank.add_slot() for _ in range(n)]
    phase = rng.uniform(0, 2 * np.pi, n)

    def values(k):
        return 50 + 10 * np.sin(2 * np.pi * k / 60 + phase) + rng.normal(0, 0.5, n)

    report = bank.train(slots, np.stack([values(k) for k in range(history)], axis=1), min_samples=600, threads=1)
    assert report.status == ["trained"] * n
    names = [f"app.c{s % 4}|d{s}" for s in range(n)]
    det = GroupedRateDetector(update_every=1, grouping_duration=30, host_rate_threshold_percent=1.0,
                              slot_id=names, context_name=lambda i: f"app.c{i}")
    incident, hit = range(history + 200, history + 260), [3, 7, 8, 15]
    events, above = [], []
    for k in range(history, history + 500):
        v = values(k)
        if k in incident:
            v[hit] += rng.normal(0, 40, len(hit))
        _, bits = bank.tick(v, want_bits=True)
        status = np.where(bank.trained_mask(), ACTIVE | TRAINED | VARIABLE, ACTIVE | VARIABLE).astype(np.uint8)
        r = det.tick(k, bits, status, np.ones(n, bool), np.arange(n) % 4)
        above.append(bool(r.above_threshold))
        if r.event:
            events.append(r.event)
        # what the host stores: the fixed charts' row and the context chart's values, packed as words
        row = internal_row_v2(r)
        assert len(row) == sum(len(c.dimensions) for c in internal_charts_v2())
        words = core.pack(np.array(row + r.context_values.tolist(), dtype=np.float64))
        stored, _, exists = core.unpack(words)
        assert exists[2] and stored[2] == r.anomaly_rate and exists[3] == (not r.gap)
        assert stored[len(row):].tolist() == r.context_values.tolist()
    assert len(events) == 1, events
    after, before, info = events[0]
    assert incident.start <= after + 1 <= incident.start + 5  # the window sees the first anomalous ticks at once
    # bits stay up while the 9-value feature window still holds incident values (8 ticks), and the
    # 31-second query window forgets the last of them 31 ticks later
    assert incident.stop + 30 <= before <= incident.stop + 8 + 31
    assert {ident for _, ident in info[:4]} == {names[s] for s in hit}
    assert sum(above) == before - after
