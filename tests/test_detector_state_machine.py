"""Stateful tests: BitRateWindow and AnomalyDetector against a plain-Python reference model.

The reference keeps whole histories in lists and recomputes every count from
them (the last ``Min`` bits are ``history[-Min:]``); it knows nothing of ring
positions or NumPy. Hypothesis drives both in lockstep and compares after
every rule.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pyml.engine.detector import AnomalyDetector, BitRateWindow, WindowState

NF, BELOW, ABOVE, IDLE = (
    WindowState.NotFilled,
    WindowState.BelowThreshold,
    WindowState.AboveThreshold,
    WindowState.Idle,
)

MAX_SLOT = 11


class RefWindow:
    """SPEC §5.3 written as directly as possible."""

    def __init__(self, low: int, high: int, idle: int, threshold: int) -> None:
        self.low, self.high, self.idle, self.threshold = low, high, idle, threshold
        self.history: list[int] = []  # every bit since the buffer was last replaced
        self.state = NF
        self.length = 0

    def last_bits(self) -> list[int]:
        return self.history[-self.low :]

    def insert(self, bit: int) -> tuple[WindowState, WindowState, int]:
        self.history.append(bit)
        ones = sum(self.last_bits())
        filled = len(self.history) >= self.low
        prev = self.state
        if prev == NF:
            nxt = NF if not filled else (ABOVE if ones >= self.threshold else BELOW)
        elif prev == BELOW:
            nxt = ABOVE if ones >= self.threshold else BELOW
        elif prev == ABOVE:
            nxt = IDLE if ones < self.threshold or self.length == self.high else ABOVE
        else:
            nxt = NF if self.length == self.idle else IDLE
        edge = (prev, nxt)
        if edge in [(NF, BELOW), (BELOW, BELOW), (BELOW, ABOVE)]:
            self.length = self.low
            returned = self.low
        elif edge == (ABOVE, IDLE):
            returned = self.length
            self.length = 1
        elif edge == (IDLE, NF):
            self.history = [bit]
            self.length = 1
            returned = 1
        else:
            self.length += 1
            returned = self.length
        self.state = nxt
        return prev, nxt, returned


class RefDetector:
    """SPEC §5.1 and §5.4 with one Python list of bits and one K per dimension."""

    def __init__(self, params: dict) -> None:
        low, high, idle, rate = params["windows"]
        self.low = low
        self.window = RefWindow(low, high, idle, int(low * rate))
        self.host_threshold = params["host_threshold"]
        self.dim_threshold = params["dim_threshold"]
        self.max_dims = params["max_dims"]
        self.update_every = params["update_every"]
        self.dims: dict[int, dict] = {}
        self.rate = 0.0

    def tick(self, t: int, bits: list[bool], trained: list[bool]) -> dict:
        host_bit = self.rate >= self.host_threshold
        prev, nxt, w = self.window.insert(int(host_bit))
        reset = prev != ABOVE
        new_event = prev == ABOVE and nxt == IDLE
        pairs = []
        anomalous = n_trained = 0
        for slot, dim in self.dims.items():
            b = int(bits[slot])
            if reset:
                dim["k"] = sum(dim["bits"][-self.low :])
            dim["k"] += b
            dim["bits"].append(b)
            rate = dim["k"] / w
            anomalous += b
            n_trained += int(trained[slot])
            if new_event and rate >= self.dim_threshold:
                pairs.append((rate, f"c{slot}|d"))
        total = len(self.dims)
        self.rate = anomalous / total if anomalous else 0.0
        event = None
        if new_event and pairs:
            pairs.sort()
            pairs.reverse()
            event = (t - w * self.update_every, t, [[r, i] for r, i in pairs[: self.max_dims]])
        return {
            "host_bit": host_bit,
            "edge": (prev, nxt, w),
            "reset": reset,
            "new_event": new_event,
            "rate": self.rate,
            "counts": (total, n_trained, total - anomalous, anomalous),
            "event": event,
        }


window_params = st.integers(1, 6).flatmap(
    lambda low: st.tuples(
        st.just(low),
        st.integers(low + 1, low + 8),
        st.integers(1, 5),
        st.sampled_from([0.0, 0.01, 0.2, 0.25, 0.5, 0.75, 0.99, 1.0]),
    )
)


class WindowMachine(RuleBasedStateMachine):
    """BitRateWindow alone, one bit per rule."""

    @initialize(params=window_params)
    def setup(self, params):
        self.real = BitRateWindow(*params)
        self.ref = RefWindow(params[0], params[1], params[2], int(params[0] * params[3]))

    @rule(bit=st.booleans())
    def insert(self, bit):
        got = self.real.insert(bit)
        assert tuple(got) == self.ref.insert(int(bit))

    @rule(bits=st.lists(st.booleans(), min_size=1, max_size=12), repeat=st.integers(1, 3))
    def insert_run(self, bits, repeat):
        for bit in bits * repeat:
            assert tuple(self.real.insert(bit)) == self.ref.insert(int(bit))

    @invariant()
    def same_state(self):
        if not hasattr(self, "ref"):
            return
        assert self.real.state == self.ref.state
        assert self.real.length == self.ref.length
        assert self.real.buffer() == self.ref.last_bits()
        assert self.real.ones == sum(self.ref.last_bits())
        assert self.real.filled == (len(self.ref.history) >= self.ref.low)


class DetectorMachine(RuleBasedStateMachine):
    """AnomalyDetector with slots coming and going, one tick per rule."""

    @initialize(
        windows=window_params,
        host_threshold=st.sampled_from([0.0, 0.1, 0.25, 0.34, 0.5, 1.0]),
        dim_threshold=st.sampled_from([0.0, 0.05, 0.3, 0.8, 1.0]),
        max_dims=st.integers(1, 4),
        update_every=st.integers(1, 3),
        slots=st.sets(st.integers(0, MAX_SLOT), max_size=6),
    )
    def setup(self, windows, host_threshold, dim_threshold, max_dims, update_every, slots):
        params = {
            "windows": windows,
            "host_threshold": host_threshold,
            "dim_threshold": dim_threshold,
            "max_dims": max_dims,
            "update_every": update_every,
        }
        low, high, idle, rate = windows
        self.real = AnomalyDetector(
            low,
            high,
            idle,
            rate,
            host_anomaly_rate_threshold=host_threshold,
            dimension_rate_threshold=dim_threshold,
            max_event_dims=max_dims,
            update_every=update_every,
            slot_id=lambda slot: f"c{slot}|d",
        )
        self.ref = RefDetector(params)
        self.t = 1_600_000_000
        for slot in sorted(slots):
            self.real.add_slot(slot)
            self.ref.dims[slot] = {"bits": [], "k": 0}

    def space(self) -> int:
        return max(self.ref.dims, default=-1) + 1

    @rule(slot=st.integers(0, MAX_SLOT))
    def add_slot(self, slot):
        if slot in self.ref.dims:
            with pytest.raises(ValueError, match=f"slot {slot} is already active"):
                self.real.add_slot(slot)
            return
        self.real.add_slot(slot)
        self.ref.dims[slot] = {"bits": [], "k": 0}

    @rule(slot=st.integers(0, MAX_SLOT))
    def remove_slot(self, slot):
        if slot not in self.ref.dims:
            with pytest.raises(ValueError, match=f"slot {slot} is not active"):
                self.real.remove_slot(slot)
            return
        self.real.remove_slot(slot)
        del self.ref.dims[slot]

    @rule(data=st.data(), gap=st.integers(1, 3), repeat=st.integers(1, 4))
    def tick(self, data, gap, repeat):
        # Entries of inactive slots and beyond the slot space are noise the detector must ignore.
        size = max(self.real.n_slots, 1) + data.draw(st.integers(0, 2), label="extra")
        for _ in range(repeat):
            bits = data.draw(st.lists(st.booleans(), min_size=size, max_size=size), label="bits")
            trained = data.draw(st.lists(st.booleans(), min_size=size, max_size=size), label="trained")
            self.t += gap
            got = self.real.tick(self.t, np.array(bits), np.array(trained))
            want = self.ref.tick(self.t, bits, trained)
            assert got.host_bit == want["host_bit"]
            assert (got.from_state, got.to_state, got.window_length) == want["edge"]
            assert got.window_duration == want["edge"][2] * self.ref.update_every
            assert got.reset == want["reset"] and got.new_event == want["new_event"]
            assert got.host_anomaly_rate == want["rate"]
            assert (got.total, got.trained, got.normal, got.anomalous) == want["counts"]
            assert (tuple(got.event) if got.event else None) == want["event"]
            if got.new_event:
                event("an event ended" if got.event else "an event ended with no dimension listed")

    @precondition(lambda self: self.real.last_t is not None)
    @rule(bits=st.lists(st.booleans(), min_size=MAX_SLOT + 1, max_size=MAX_SLOT + 1))
    def rejected_tick_changes_nothing(self, bits):
        before = self.real.counters()
        state = (self.real.state, self.real.window.length, self.real.host_anomaly_rate)
        with pytest.raises(ValueError):
            self.real.tick(self.t, np.array(bits), np.array(bits))  # same t again
        after = self.real.counters()
        np.testing.assert_array_equal(after.ones, before.ones)
        np.testing.assert_array_equal(after.k, before.k)
        assert (self.real.state, self.real.window.length, self.real.host_anomaly_rate) == state

    @invariant()
    def same_state(self):
        if not hasattr(self, "ref"):
            return
        assert self.real.state == self.ref.window.state
        assert self.real.window.length == self.ref.window.length
        assert self.real.window.buffer() == self.ref.window.last_bits()
        assert self.real.n_active == len(self.ref.dims)
        assert self.real.active_slots().tolist() == sorted(self.ref.dims)
        counters = self.real.counters()
        assert len(counters.ones) == self.real.n_slots >= self.space()
        for slot in range(self.real.n_slots):
            dim = self.ref.dims.get(slot)
            want_ones = sum(dim["bits"][-self.ref.low :]) if dim else 0
            want_k = dim["k"] if dim else 0
            assert (int(counters.ones[slot]), int(counters.k[slot])) == (want_ones, want_k), f"slot {slot}"
        assert self.real.host_anomaly_rate == self.ref.rate


_settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TestWindowMachine = WindowMachine.TestCase
TestWindowMachine.settings = _settings
TestDetectorMachine = DetectorMachine.TestCase
TestDetectorMachine.settings = _settings


def test_reference_model_reproduces_the_spec_trace():
    """The reference itself agrees with SPEC §5.5, so agreeing with it means something."""
    ref = RefWindow(30, 600, 30, int(30 * 0.25))
    edges = {t: ref.insert(b) for t, b in enumerate([0] * 40 + [1] * 20 + [0] * 110)}
    assert edges[29] == (NF, BELOW, 30)
    assert edges[46] == (BELOW, ABOVE, 30)
    assert edges[82] == (ABOVE, ABOVE, 66)
    assert edges[83] == (ABOVE, IDLE, 66)
    assert edges[113] == (IDLE, NF, 1)
    assert edges[142] == (NF, BELOW, 30)
