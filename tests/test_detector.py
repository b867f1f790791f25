"""The host-level anomaly detector: BitRateWindow edges, the SPEC §5.5 trace, AnomalyDetector ticks."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from pyml.engine.detector import (
    MAX_EVENT_DIMS,
    AnomalyDetector,
    AnomalyEvent,
    BitRateWindow,
    Transition,
    WindowState,
)

NF = WindowState.NotFilled
BELOW = WindowState.BelowThreshold
ABOVE = WindowState.AboveThreshold
IDLE = WindowState.Idle

T0 = 1_700_000_000

# SPEC §5.5: host bits 0 for ticks 0-39, 1 for 40-59, then 0.
TRACE_BITS = [0] * 40 + [1] * 20 + [0] * 110


def spec_trace_expected(t: int) -> Transition:
    """The transition of tick ``t`` in the SPEC §5.5 trace, from its description and §5.3."""
    if t < 29:
        return Transition(NF, NF, t + 1)
    if t == 29:
        return Transition(NF, BELOW, 30)
    if t < 46:
        return Transition(BELOW, BELOW, 30)
    if t == 46:
        return Transition(BELOW, ABOVE, 30)
    if t < 83:
        return Transition(ABOVE, ABOVE, t - 16)  # 31 ... 66
    if t == 83:
        return Transition(ABOVE, IDLE, 66)
    if t < 113:
        return Transition(IDLE, IDLE, t - 82)  # 2 ... 30
    if t == 113:
        return Transition(IDLE, NF, 1)
    if t < 142:
        return Transition(NF, NF, t - 112)  # 2 ... 29
    if t == 142:
        return Transition(NF, BELOW, 30)
    return Transition(BELOW, BELOW, 30)


# ---------------------------------------------------------------------------
# BitRateWindow


def test_window_state_members():
    assert [s.name for s in WindowState] == ["NotFilled", "BelowThreshold", "AboveThreshold", "Idle"]


@pytest.mark.parametrize(
    "min_window, rate, threshold",
    [(30, 0.25, 7), (30, 0.01, 0), (30, 0.99, 29), (30.9, 0.25, 7), (300, 0.25, 75), (10, 1.0, 10), (7, 0.5, 3)],
)
def test_threshold_is_truncated(min_window, rate, threshold):
    w = BitRateWindow(min_window, 600, 30, rate)
    assert w.threshold == threshold
    assert w.min_window == int(min_window)


def test_window_sizes_are_truncated_like_the_reference():
    w = BitRateWindow(30.7, 600.9, 30.2, 0.25)
    assert (w.min_window, w.max_window, w.idle_window) == (30, 600, 30)
    assert w.threshold == int(30.7 * 0.25)


@pytest.mark.parametrize(
    "args, error, fragment",
    [
        ((0, 600, 30, 0.25), ValueError, "min_window must be at least 1 tick, got 0"),
        ((0.5, 600, 30, 0.25), ValueError, "got 0.5"),
        ((-3, 600, 30, 0.25), ValueError, "got -3"),
        ((30, 30, 30, 0.25), ValueError, "max_window (30) must be greater than min_window (30)"),
        ((30, 20, 30, 0.25), ValueError, "max_window (20)"),
        ((30, 600, 0, 0.25), ValueError, "idle_window must be at least 1 tick, got 0"),
        ((30, 600, 30, 1.5), ValueError, "rate_threshold must be in [0, 1], got 1.5"),
        ((30, 600, 30, -0.1), ValueError, "got -0.1"),
        ((30, 600, 30, float("nan")), ValueError, "rate_threshold must be finite, got nan"),
        ((float("inf"), 600, 30, 0.25), ValueError, "min_window must be finite"),
        (("30", 600, 30, 0.25), TypeError, "min_window must be a real number, got '30'"),
        ((30, 600, True, 0.25), TypeError, "idle_window must be a real number, got True"),
        ((30, None, 30, 0.25), TypeError, "max_window must be a real number, got None"),
    ],
)
def test_window_rejects_bad_parameters(args, error, fragment):
    with pytest.raises(error) as excinfo:
        BitRateWindow(*args)
    assert fragment in str(excinfo.value)


@pytest.mark.parametrize(
    "bit, error", [(2, ValueError), (0.5, ValueError), (-1, ValueError), ("1", TypeError), (None, TypeError)]
)
def test_insert_rejects_non_bits_and_changes_nothing(bit, error):
    w = BitRateWindow(4, 8, 3, 0.5)
    w.insert(1)
    before = (w.state, w.length, w.ones, w.buffer())
    with pytest.raises(error, match="bit must be a bit"):
        w.insert(bit)
    assert (w.state, w.length, w.ones, w.buffer()) == before


def test_insert_accepts_bools_ints_and_numpy_bits():
    w = BitRateWindow(4, 8, 3, 0.5)
    for bit in (True, 0, np.bool_(True), np.int64(1), 1.0):
        w.insert(bit)
    assert w.buffer() == [0, 1, 1, 1]  # the last four of 1, 0, 1, 1, 1


# One row per edge of SPEC §5.3, with Min=4, Max=6, Idle=3, rate 0.5 (T=2):
# (bits fed, expected transition of the last insert, len afterwards, buffer afterwards)
EDGES = [
    ("NotFilled->NotFilled", [0], Transition(NF, NF, 1), 1, [0]),
    ("NotFilled->NotFilled, 3rd", [1, 0, 1], Transition(NF, NF, 3), 3, [1, 0, 1]),
    ("NotFilled->Below", [0, 0, 1, 0], Transition(NF, BELOW, 4), 4, [0, 0, 1, 0]),
    ("NotFilled->Above", [1, 0, 0, 1], Transition(NF, ABOVE, 4), 4, [1, 0, 0, 1]),
    ("Below->Below", [0, 0, 0, 0, 1], Transition(BELOW, BELOW, 4), 4, [0, 0, 0, 1]),
    ("Below->Above", [0, 0, 0, 0, 1, 1], Transition(BELOW, ABOVE, 4), 4, [0, 0, 1, 1]),
    ("Above->Above", [1, 1, 0, 0, 1], Transition(ABOVE, ABOVE, 5), 5, [1, 0, 0, 1]),
    ("Above->Above, still 2 of 4", [1, 1, 0, 0, 1, 1], Transition(ABOVE, ABOVE, 6), 6, [0, 0, 1, 1]),
    ("Above->Idle, rate", [1, 1, 0, 0, 0], Transition(ABOVE, IDLE, 4), 1, [1, 0, 0, 0]),
    ("Above->Idle, Max reached", [1] * 7, Transition(ABOVE, IDLE, 6), 1, [1, 1, 1, 1]),
    ("Idle->Idle", [1, 1, 0, 0, 0, 1], Transition(IDLE, IDLE, 2), 2, [0, 0, 0, 1]),
    ("Idle->Idle, ones ignored", [1, 1, 0, 0, 0, 1, 1], Transition(IDLE, IDLE, 3), 3, [0, 0, 1, 1]),
    ("Idle->NotFilled, fresh buffer", [1, 1, 0, 0, 0, 1, 1, 1], Transition(IDLE, NF, 1), 1, [1]),
    ("NotFilled after Idle", [1, 1, 0, 0, 0, 1, 1, 1, 1], Transition(NF, NF, 2), 2, [1, 1]),
    ("NotFilled->Above after Idle", [1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0], Transition(NF, ABOVE, 4), 4, [1, 1, 0, 0]),
]


@pytest.mark.parametrize("bits, transition, length, buffer", [row[1:] for row in EDGES], ids=[row[0] for row in EDGES])
def test_each_edge(bits, transition, length, buffer):
    w = BitRateWindow(4, 6, 3, 0.5)
    for bit in bits[:-1]:
        w.insert(bit)
    got = w.insert(bits[-1])
    assert got == transition
    assert w.state is transition.to_state
    assert w.length == length
    assert w.buffer() == buffer
    assert w.ones == sum(buffer)
    assert w.filled == (len(buffer) == 4)


def test_the_state_machine_has_only_the_documented_edges():
    allowed = {
        (NF, NF),
        (NF, BELOW),
        (NF, ABOVE),
        (BELOW, BELOW),
        (BELOW, ABOVE),
        (ABOVE, ABOVE),
        (ABOVE, IDLE),
        (IDLE, IDLE),
        (IDLE, NF),
    }
    rng = np.random.default_rng(5)
    seen = set()
    for p in (0.05, 0.3, 0.6, 0.95):
        w = BitRateWindow(5, 9, 4, 0.4)
        for bit in (rng.random(3000) < p).tolist():
            tr = w.insert(bit)
            seen.add((tr.from_state, tr.to_state))
    assert seen == allowed


def test_bit_buffer_counts_the_last_min_bits():
    rng = np.random.default_rng(11)
    bits = (rng.random(200) < 0.4).astype(int).tolist()
    w = BitRateWindow(7, 1000, 5, 1.0)  # T = 7: never above while a zero is in the buffer
    for n, bit in enumerate(bits, start=1):
        w.insert(bit)
        if w.state is IDLE:
            break
        expected = bits[max(0, n - 7) : n]
        assert w.buffer() == expected
        assert w.ones == sum(expected)
        assert w.filled == (n >= 7)


def test_spec_trace_bit_rate_window():
    w = BitRateWindow(30, 600, 30, 0.25)
    assert w.threshold == 7
    for t, bit in enumerate(TRACE_BITS):
        assert w.insert(bit) == spec_trace_expected(t), f"tick {t}"
        if t == 83:
            assert w.buffer() == TRACE_BITS[54:84] and w.ones == 6  # 6 ones < 7
        if t == 113:
            assert w.buffer() == [0]


def test_an_event_is_capped_at_max_window():
    w = BitRateWindow(30, 600, 30, 0.25)
    transitions = [w.insert(1) for _ in range(700)]
    assert transitions[29] == Transition(NF, ABOVE, 30)
    assert transitions[599] == Transition(ABOVE, ABOVE, 600)
    assert transitions[600] == Transition(ABOVE, IDLE, 600)
    assert transitions[630] == Transition(IDLE, NF, 1)  # Idle - 1 = 29 Idle->Idle ticks in between
    assert all(tr == Transition(IDLE, IDLE, i + 2) for i, tr in enumerate(transitions[601:630]))
    # After an event the next one starts no earlier than Idle + Min - 1 ticks later.
    assert transitions[659] == Transition(NF, ABOVE, 30)
    assert all(tr.to_state is not ABOVE for tr in transitions[601:659])


def test_zero_threshold_is_always_above_once_filled():
    w = BitRateWindow(30, 60, 30, 0.01)  # T = int(0.3) = 0
    transitions = [w.insert(0) for _ in range(100)]
    assert transitions[29] == Transition(NF, ABOVE, 30)
    assert transitions[60] == Transition(ABOVE, IDLE, 60)


def test_min_window_of_one():
    w = BitRateWindow(1, 3, 1, 1.0)
    assert w.insert(1) == Transition(NF, ABOVE, 1)
    assert w.insert(1) == Transition(ABOVE, ABOVE, 2)
    assert w.insert(1) == Transition(ABOVE, ABOVE, 3)
    assert w.insert(1) == Transition(ABOVE, IDLE, 3)
    assert w.insert(1) == Transition(IDLE, NF, 1)
    assert w.buffer() == [1] and w.filled
    assert w.insert(0) == Transition(NF, BELOW, 1)


# ---------------------------------------------------------------------------
# AnomalyDetector


def run(det: AnomalyDetector, columns: list[list[int]], trained=None, t0: int = T0, step: int = 1):
    """Tick ``det`` once per row of ``columns`` (one list of bits per slot); return the results."""
    rows = np.array(columns, dtype=bool).T
    n = rows.shape[1]
    trained_flags = np.ones(n, dtype=bool) if trained is None else np.asarray(trained, dtype=bool)
    return [det.tick(t0 + i * step, row, trained_flags) for i, row in enumerate(rows)]


def test_spec_trace_through_the_detector():
    """SPEC §5.5 exactly: the host bits are the trace's, and the observed dimension equals the host bit.

    The host bit of tick t is the anomaly rate of tick t-1, so three "driver" dimensions
    run one tick ahead of the trace; with a host threshold of 0.5 they alone decide it.
    """
    ahead = TRACE_BITS[1:] + [0]
    det = AnomalyDetector(host_anomaly_rate_threshold=0.5, slot_id=["d|a", "d|b", "d|c", "system.cpu|user"].__getitem__)
    det.add_slots([0, 1, 2, 3])
    trained = np.ones(4, dtype=bool)
    results = []
    for t, bit in enumerate(TRACE_BITS):
        r = det.tick(T0 + t, np.array([ahead[t]] * 3 + [bit], dtype=bool), trained)
        results.append(r)
        assert r.host_bit == bool(bit), f"tick {t}"
        assert (r.from_state, r.to_state, r.window_length) == spec_trace_expected(t), f"tick {t}"
        if t == 46:
            assert det.counters().k[3] == 7  # the observed dimension's K at the window's entry
            assert det.counters().k[0] == 8  # the driver is a tick ahead: 39..46
        if t != 83:
            assert not r.new_event and r.event is None
    end = results[83]
    assert end.new_event and not end.reset
    rate = 20 / 66
    assert end.event == AnomalyEvent(
        T0 + 83 - 66, T0 + 83, [[rate, "system.cpu|user"], [rate, "d|c"], [rate, "d|b"], [rate, "d|a"]]
    )
    assert f"{rate:.4f}" == "0.3030"


def test_host_bit_is_the_previous_ticks_rate():
    """One dimension equal to the trace: the window follows one tick late."""
    det = AnomalyDetector(slot_id=lambda slot: "system.cpu|user")
    det.add_slot(0)
    results = run(det, [TRACE_BITS])
    assert results[0].host_bit is False
    for t in range(1, len(TRACE_BITS)):
        r = results[t]
        assert r.host_bit == bool(TRACE_BITS[t - 1])
        if t >= 31:  # filling does not depend on the bits; after that the trace repeats a tick late
            assert (r.from_state, r.to_state, r.window_length) == spec_trace_expected(t - 1), f"tick {t}"
    assert results[47].to_state is ABOVE and results[46].to_state is BELOW
    end = results[84]
    assert end.new_event
    assert end.event == AnomalyEvent(T0 + 84 - 66, T0 + 84, [[20 / 66, "system.cpu|user"]])
    assert [i for i, r in enumerate(results) if r.new_event] == [84]


def test_event_bounds_use_update_every():
    det = AnomalyDetector(update_every=10, host_anomaly_rate_threshold=0.5)
    det.add_slot(0)
    ahead = TRACE_BITS[1:] + [0]
    results = run(det, [ahead], step=10)
    end = results[83]
    assert end.event.before == T0 + 830
    assert end.event.after == T0 + 830 - 66 * 10
    assert end.window_duration == 660
    assert end.chart_values()["anomaly_detection.detector_window"] == {"duration": 660}
    assert end.event.info == [[20 / 66, "0"]]  # default ids: str(slot)


def test_dimension_rate_can_exceed_one():
    # Min=4, Max=6, Idle=2, T=2; one dimension anomalous on every tick.
    det = AnomalyDetector(4, 6, 2, 0.5, host_anomaly_rate_threshold=0.5)
    det.add_slot(0)
    results = run(det, [[1] * 8])
    assert [r.host_bit for r in results[:2]] == [False, True]
    assert (results[3].from_state, results[3].to_state, results[3].window_length) == (NF, ABOVE, 4)
    assert (results[6].from_state, results[6].to_state, results[6].window_length) == (ABOVE, IDLE, 6)
    # K at entry = 3 ones before this tick's bit + 1; then +1 on ticks 4, 5, 6.
    assert results[6].event.info == [[7 / 6, "0"]]
    assert results[6].event.info[0][0] > 1.0


def test_reset_sets_k_to_the_ones_before_this_ticks_bit():
    det = AnomalyDetector(4, 6, 2, 0.5, host_anomaly_rate_threshold=0.6)
    det.add_slots([0, 1, 2])
    # slots 0 and 1 drive the host (2/3 >= 0.6, 1/3 is not); slot 2 has a distinctive pattern.
    driver = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0]
    other = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 1]
    ks = []
    for i, (d, o) in enumerate(zip(driver, other)):
        r = det.tick(T0 + i, np.array([d, d, o], dtype=bool), np.ones(3, dtype=bool))
        ks.append(det.counters().k.tolist())
        assert r.reset == (r.from_state is not ABOVE)
        assert (r.from_state is ABOVE) == (8 <= i <= 10)
        if i == 7:
            assert (r.from_state, r.to_state) == (BELOW, ABOVE)
    # tick 7 (entry, reset): slot 2's buffer before the bit holds ticks 3..6 = 1,0,0,1 -> 2, +0 = 2
    assert ks[7][2] == 2
    # ticks 8, 9: no reset, K accumulates: +1, +1
    assert ks[8][2] == 3 and ks[9][2] == 4
    # ticks before the entry are resets too: K = ones in ticks t-4..t-1 plus this tick's bit
    for t in range(4, 8):
        assert ks[t][2] == sum(other[t - 4 : t]) + other[t]


def test_host_threshold_is_inclusive():
    def next_host_bit(n_dims: int, n_anomalous: int, threshold: float) -> bool:
        det = AnomalyDetector(host_anomaly_rate_threshold=threshold)
        det.add_slots(np.arange(n_dims))
        bits = np.zeros(n_dims, dtype=bool)
        bits[:n_anomalous] = True
        first = det.tick(T0, bits, bits)
        assert first.host_anomaly_rate == n_anomalous / n_dims
        return det.tick(T0 + 1, bits, bits).host_bit

    assert next_host_bit(100, 1, 0.01) is True  # 0.01 >= 0.01
    assert next_host_bit(200, 1, 0.01) is False  # 0.005
    assert next_host_bit(100, 2, 0.02) is True
    assert next_host_bit(100, 1, 0.02) is False
    assert next_host_bit(100, 0, 0.0) is True  # 0 >= 0


def test_counts_and_chart_values():
    det = AnomalyDetector()
    det.add_slots([0, 1, 2, 5])
    bits = np.array([1, 0, 1, 1, 1, 0], dtype=bool)  # slots 3 and 4 are not active: ignored
    trained = np.array([1, 1, 0, 1, 1, 1], dtype=bool)
    r = det.tick(T0, bits, trained)
    assert (r.total, r.trained, r.normal, r.anomalous) == (4, 3, 2, 2)
    assert r.host_anomaly_rate == 0.5
    assert r.chart_values() == {
        "anomaly_detection.dimensions": {"total": 4, "trained": 3, "normal": 2, "anomalous": 2},
        "anomaly_detection.anomaly_rate": {"anomaly_rate": 5000},
        "anomaly_detection.detector_window": {"duration": 1},
        "anomaly_detection.detector_events": {"above_threshold": 0, "reset_bit_counter": 1, "new_anomaly_event": 0},
    }


@pytest.mark.parametrize(
    "n_dims, n_anomalous, value",
    [(100, 57, 5699), (125, 43, 3439), (100, 29, 2900), (3, 1, 3333), (3, 2, 6666), (7, 0, 0), (4, 4, 10000)],
)
def test_anomaly_rate_chart_truncates(n_dims, n_anomalous, value):
    det = AnomalyDetector()
    det.add_slots(np.arange(n_dims))
    bits = np.arange(n_dims) < n_anomalous
    r = det.tick(T0, bits, bits)
    assert r.chart_values()["anomaly_detection.anomaly_rate"] == {"anomaly_rate": value}
    assert value == int(n_anomalous / n_dims * 10000.0)


def test_detector_events_chart_through_an_event():
    det = AnomalyDetector(host_anomaly_rate_threshold=0.5)
    det.add_slot(0)
    results = run(det, [TRACE_BITS[1:] + [0]])
    events = [r.chart_values()["anomaly_detection.detector_events"] for r in results]
    assert events[45] == {"above_threshold": 0, "reset_bit_counter": 1, "new_anomaly_event": 0}
    assert events[46] == {"above_threshold": 1, "reset_bit_counter": 1, "new_anomaly_event": 0}
    assert events[47] == {"above_threshold": 1, "reset_bit_counter": 0, "new_anomaly_event": 0}
    assert events[83] == {"above_threshold": 0, "reset_bit_counter": 0, "new_anomaly_event": 1}
    assert events[84] == {"above_threshold": 0, "reset_bit_counter": 1, "new_anomaly_event": 0}
    durations = [r.chart_values()["anomaly_detection.detector_window"]["duration"] for r in results]
    assert durations[:3] == [1, 2, 3] and durations[82] == 66 and durations[83] == 66 and durations[84] == 2


def _run_to_event(ks: dict[int, int], **kwargs):
    """Tick a detector until an event ends; slot s ends it with K = ks[s].

    Min=4, Max=20, Idle=2, T=2; any anomalous slot sets the next host bit. Slot 0
    is anomalous on ticks 1..4 (the window enters Above at tick 3 and slot 0 ends
    with K=4), the others on ticks 5 .. 4 + ks[s].
    """
    det = AnomalyDetector(4, 20, 2, 0.5, host_anomaly_rate_threshold=0.0001, **kwargs)
    slots = [0, *ks]
    det.add_slots(slots)
    n = max(slots) + 1
    for i in range(40):
        bits = np.zeros(n, dtype=bool)
        bits[0] = 1 <= i <= 4
        for slot, k in ks.items():
            bits[slot] = 5 <= i < 5 + k
        r = det.tick(T0 + i, bits, bits)
        if r.new_event:
            assert det.counters().k.tolist() == [4 if s == 0 else ks.get(s, 0) for s in range(n)]
            return det, r
    raise AssertionError("no event ended")


def test_event_info_sorted_filtered_and_ids_descending_on_ties():
    ids = {0: "host|driver", 1: "a|x", 2: "b|x", 3: "a|y", 4: "c|z", 5: "b|y"}
    _, end = _run_to_event({1: 2, 2: 3, 3: 3, 4: 0, 5: 1}, slot_id=ids.__getitem__, dimension_rate_threshold=0.2)
    w = end.window_length
    assert w == 11  # Above from tick 3 (len 4) through tick 10; host bits 2..8 are set
    # K/W >= 0.2 only (K >= 3 of 11); rate descending, equal rates by id descending.
    assert end.event.info == [[4 / w, "host|driver"], [3 / w, "b|x"], [3 / w, "a|y"]]
    assert end.event == AnomalyEvent(T0 + 11 - w, T0 + 11, end.event.info)


def test_event_info_is_truncated_with_a_warning(caplog):
    ids = [f"chart.{i:02d}|dim" for i in range(30)]
    ks = {slot: 1 + slot % 3 for slot in range(1, 30)}
    caplog.set_level(logging.WARNING, logger="pyml.detector")
    _, end = _run_to_event(ks, slot_id=ids, max_event_dims=5, dimension_rate_threshold=0.0)
    w = end.window_length
    # The driver (K=4), then the largest ids among the ten K=3 slots (2, 5, ..., 29).
    expected = [[4 / w, "chart.00|dim"]] + [[3 / w, f"chart.{s}|dim"] for s in (29, 26, 23, 20)]
    assert end.event.info == expected
    assert any("30 dimensions reached the event rate threshold" in rec.getMessage() for rec in caplog.records)


def test_max_event_dims_default():
    assert AnomalyDetector().max_event_dims == MAX_EVENT_DIMS == 2000


def test_new_event_without_qualifying_dimensions_has_no_event():
    _, end = _run_to_event({1: 0}, dimension_rate_threshold=0.99)
    assert end.new_event and end.event is None


def test_slots_come_and_go_and_reused_slots_start_fresh():
    det = AnomalyDetector(4, 8, 2, 0.5)
    det.add_slot(3)
    assert det.n_slots == 4 and det.n_active == 1
    assert det.active_slots().tolist() == [3]
    ones = np.ones(4, dtype=bool)
    for i in range(3):
        det.tick(T0 + i, ones, ones)
    assert det.counters().ones.tolist() == [0, 0, 0, 3]
    det.remove_slot(3)
    assert not det.is_active(3) and det.n_active == 0
    assert det.counters().ones.tolist() == [0, 0, 0, 0]
    r = det.tick(T0 + 3, ones, ones)
    assert (r.total, r.anomalous, r.host_anomaly_rate) == (0, 0, 0.0)
    det.add_slot(3)
    r = det.tick(T0 + 4, ones, ones)
    assert det.counters().ones.tolist() == [0, 0, 0, 1]
    assert det.counters().k.tolist()[3] == 1
    det.add_slot(1000)  # the slot space grows
    assert det.n_slots == 1001
    with pytest.raises(ValueError, match="at least 1001"):
        det.tick(T0 + 5, ones, ones)
    r = det.tick(T0 + 5, np.ones(1001, dtype=bool), np.ones(1001, dtype=bool))
    assert (r.total, r.anomalous) == (2, 2)
    assert det.counters().ones[[3, 1000]].tolist() == [2, 1]


def test_slot_errors():
    det = AnomalyDetector()
    det.add_slot(2)
    with pytest.raises(ValueError, match="slot 2 is already active"):
        det.add_slot(2)
    with pytest.raises(ValueError, match="slot 1 is not active"):
        det.remove_slot(1)
    with pytest.raises(ValueError, match="slot 9 is not active"):
        det.remove_slot(9)
    with pytest.raises(ValueError, match="slot must be non-negative, got -1"):
        det.add_slot(-1)
    with pytest.raises(TypeError, match="slot must be an integer, got 1.5"):
        det.add_slot(1.5)
    with pytest.raises(TypeError, match="got True"):
        det.add_slot(True)
    # Bulk calls are all or nothing.
    with pytest.raises(ValueError, match="slot 2 is already active"):
        det.add_slots([5, 2])
    assert not det.is_active(5) and det.n_slots == 3
    with pytest.raises(ValueError, match="slot 4 more than once"):
        det.add_slots([4, 4])
    with pytest.raises(ValueError, match="slot 0 is not active"):
        det.remove_slots([2, 0])
    assert det.is_active(2)
    with pytest.raises(TypeError, match="must hold integers"):
        det.add_slots([1.0])
    det.add_slots(np.array([0, 7], dtype=np.uint32))
    det.remove_slots([2, 7])
    assert det.active_slots().tolist() == [0]


def test_tick_argument_errors_change_nothing():
    det = AnomalyDetector(4, 8, 2, 0.5)
    det.add_slots([0, 1])
    det.tick(T0, [True, False], [1, 1])
    snapshot = (det.counters(), det.state, det.window.length, det.window.buffer(), det.host_anomaly_rate, det.last_t)
    bad_calls = [
        ((T0 + 1, [True], [1, 1]), ValueError, "bits has 1 flags; the slot space needs at least 2"),
        ((T0 + 1, [[True, False]], [1, 1]), ValueError, "bits must be 1-D"),
        ((T0 + 1, [2, 0], [1, 1]), ValueError, r"bits\[0\] = 2 is not a boolean"),
        ((T0 + 1, ["a", "b"], [1, 1]), TypeError, "bits must be boolean"),
        ((T0 + 1, [1, 0], [0.5, 1]), ValueError, r"trained\[0\] = 0.5"),
        ((T0, [1, 0], [1, 1]), ValueError, f"t = {T0} does not follow the previous tick t = {T0}"),
        ((T0 - 5, [1, 0], [1, 1]), ValueError, "does not follow"),
        ((T0 + 1.5, [1, 0], [1, 1]), ValueError, "t must be a whole number of epoch seconds, got"),
        ((float("nan"), [1, 0], [1, 1]), ValueError, "got nan"),
        (("soon", [1, 0], [1, 1]), TypeError, "t must be epoch seconds"),
    ]
    for args, error, pattern in bad_calls:
        with pytest.raises(error, match=pattern):
            det.tick(*args)
        after = (det.counters(), det.state, det.window.length, det.window.buffer(), det.host_anomaly_rate, det.last_t)
        np.testing.assert_array_equal(after[0].ones, snapshot[0].ones)
        np.testing.assert_array_equal(after[0].k, snapshot[0].k)
        assert after[1:] == snapshot[1:]
    r = det.tick(np.int64(T0 + 1), np.array([1, 0], dtype=np.uint8), [1.0, 0.0])
    assert (r.t, r.anomalous, r.trained) == (T0 + 1, 1, 1)
    r = det.tick(float(T0 + 2), np.array([True, True, True]), np.array([True, True, True]))  # longer is fine
    assert r.anomalous == 2


def test_failing_slot_id_at_an_event_changes_nothing():
    names = {0: "host|driver"}  # slot 1 has no id
    det = AnomalyDetector(4, 20, 2, 0.5, host_anomaly_rate_threshold=0.0001, slot_id=names.__getitem__)
    det.add_slots([0, 1])
    for i in range(20):
        bits = np.array([1 <= i <= 4, 5 <= i <= 6])
        try:
            r = det.tick(T0 + i, bits, bits)
        except ValueError as exc:
            assert "slot_id has no id for active slot 1" in str(exc)
            assert det.state is ABOVE and det.last_t == T0 + i - 1
            names[1] = "chart|late"
            r = det.tick(T0 + i, bits, bits)
            assert r.new_event and [ident for _, ident in r.event.info] == ["host|driver", "chart|late"]
            break
    else:
        pytest.fail("no event ended")


def test_slot_id_must_give_strings():
    det = AnomalyDetector(4, 20, 2, 0.5, host_anomaly_rate_threshold=0.0001, slot_id=lambda slot: slot)
    det.add_slot(0)
    with pytest.raises(TypeError, match="slot_id gave 0 for slot 0; ids must be str"):
        for i in range(20):
            bits = np.array([1 <= i <= 4])
            det.tick(T0 + i, bits, bits)
    with pytest.raises(TypeError, match="slot_id must be a callable or a sequence"):
        AnomalyDetector(slot_id=5)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"host_anomaly_rate_threshold": 1.5}, ValueError, "host_anomaly_rate_threshold must be in [0, 1], got 1.5"),
        ({"dimension_rate_threshold": -0.1}, ValueError, "dimension_rate_threshold must be at least 0, got -0.1"),
        ({"max_event_dims": 0}, ValueError, "max_event_dims must be at least 1, got 0"),
        ({"update_every": 0}, ValueError, "update_every must be at least 1, got 0"),
        ({"update_every": 1.5}, TypeError, "update_every must be an integer, got 1.5"),
        ({"min_window": 0}, ValueError, "min_window must be at least 1 tick, got 0"),
        ({"max_window": 10}, ValueError, "max_window (10) must be greater than min_window (30)"),
    ],
)
def test_detector_rejects_bad_parameters(kwargs, error, fragment):
    with pytest.raises(error) as excinfo:
        AnomalyDetector(**kwargs)
    assert fragment in str(excinfo.value)


def test_from_config_reads_fields_by_name():
    cfg = SimpleNamespace(
        min_window_size=40,
        max_window_size=100,
        idle_window_size=10,
        window_rate_threshold=0.5,
        host_anomaly_rate_threshold=0.2,
        dimension_rate_threshold=0.3,
        enabled=True,
    )
    det = AnomalyDetector.from_config(cfg, update_every=2, slot_id=str)
    w = det.window
    assert (w.min_window, w.max_window, w.idle_window, w.threshold) == (40, 100, 10, 20)
    assert (det.host_anomaly_rate_threshold, det.dimension_rate_threshold, det.update_every) == (0.2, 0.3, 2)
    assert det.slot_id is str
    with pytest.raises(TypeError, match="cfg lacks the detector setting\\(s\\) idle_window_size"):
        AnomalyDetector.from_config(SimpleNamespace(**{k: v for k, v in vars(cfg).items() if k != "idle_window_size"}))


def test_vectorised_counters_match_a_per_slot_computation():
    rng = np.random.default_rng(3)
    n, ticks, low = 300, 120, 5
    det = AnomalyDetector(low, 12, 3, 0.4, host_anomaly_rate_threshold=0.05)
    det.add_slots(np.arange(n))
    history = rng.random((ticks, n)) < rng.random(n) * 0.3
    k = np.zeros(n, dtype=int)
    for t in range(ticks):
        r = det.tick(T0 + t, history[t], history[t])
        if r.reset:
            k = history[max(0, t - low) : t].sum(axis=0)
        k = k + history[t]
        got = det.counters()
        np.testing.assert_array_equal(got.ones, history[max(0, t - low + 1) : t + 1].sum(axis=0))
        np.testing.assert_array_equal(got.k, k)


def test_internal_row_is_internal_values_flattened():
    from pyml.engine.charts import INTERNAL_CHARTS, internal_row, internal_values

    ahead = TRACE_BITS[1:] + [0]
    det = AnomalyDetector(host_anomaly_rate_threshold=0.5, slot_id=["d|a", "d|b", "d|c", "d|e"].__getitem__)
    det.add_slots([0, 1, 2, 3])
    trained = np.array([True, True, False, True])
    seen = set()
    for t, bit in enumerate(TRACE_BITS):
        r = det.tick(T0 + t, np.array([ahead[t]] * 3 + [bit], dtype=bool), trained)
        seen.add((r.to_state, r.reset, r.new_event))
        values = internal_values(r, 3.7 + t, 12.9, 8.2)
        flat = [v for chart in INTERNAL_CHARTS for v in values[chart.id]]
        assert internal_row(r, 3.7 + t, 12.9, 8.2) == flat, f"tick {t}"
    assert len(seen) >= 3  # idle, above threshold and the event's end were all compared
