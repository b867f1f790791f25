"""Stateful test: GroupedRateDetector against the plain-Python reference of SPEC-NETDATA-2 §7.

Hypothesis drives both in lockstep over random bits, status flags, modelled
masks and context ids, with a slot space that grows and shrinks, slots added
and removed, pauses long enough to empty the query window (gaps), ticks with
ML not running, and early ends of events; every field of every result and the
detector's state are compared after each rule.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from grouped_rate_reference import RefGroupedRate
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pyml.engine.grouped_rate import GroupedRateDetector

MAX_SLOTS = 10
T0 = 1_700_000_000

# Mostly active slots, every combination of the other three flags; now and then a reserved bit.
status_values = st.one_of(
    st.integers(0, 15).map(lambda s: s | 1), st.integers(0, 15), st.sampled_from([0x11, 0xF1, 0x39])
)


def slot_name(slot: int) -> str:
    return f"chart{slot % 3}|dim{slot}"


def context_name(ident: int) -> str:
    return f"ctx.{ident}"


class GroupedRateMachine(RuleBasedStateMachine):
    @initialize(
        update_every=st.integers(1, 3),
        duration=st.integers(1, 6),
        method=st.sampled_from(["average", "min", "max", "sum", "median", "percentile"]),
        threshold=st.sampled_from([0.0, 0.5, 1.0, 10.0, 25.0, 33.33, 50.0, 66.66, 100.0]),
        dim_threshold=st.sampled_from([0.0, 0.05, 0.34, 0.5, 1.0]),
        max_dims=st.integers(1, 4),
        anomaly_rate=st.sampled_from([0.1, 0.3, 0.6]),
        n=st.integers(0, 6),
    )
    def setup(self, update_every, duration, method, threshold, dim_threshold, max_dims, anomaly_rate, n):
        self.real = GroupedRateDetector(
            update_every,
            duration,
            method,
            threshold,
            dimension_rate_threshold=dim_threshold,
            max_event_dims=max_dims,
            slot_id=slot_name,
            context_name=context_name,
        )
        self.ref = RefGroupedRate(
            update_every, duration, method, threshold, dim_threshold, max_dims, slot_name, context_name
        )
        self.p = anomaly_rate
        self.t = T0
        self.n = n

    def compare(self, got, want) -> None:
        c = want["counts"]
        assert (got.anomalous, got.normal, got.enabled, got.disabled_sp) == (
            c["anomalous"], c["normal"], c["enabled"], c["disabled_sp"]
        )
        assert (got.constant, got.variable, got.untrained, got.trained, got.silenced) == (
            c["constant"], c["variable"], c["untrained"], c["trained"], c["silenced"]
        )
        assert got.anomaly_rate_collected == want["collected"]
        if want["r"] is None:
            assert got.grouped_rate is None
        else:
            assert got.grouped_rate == want["r"] or (math.isnan(got.grouped_rate) and math.isnan(want["r"]))
        assert got.window_points == want["points"]
        assert (got.above_threshold, got.new_anomaly_event) == (want["above"], want["new"])
        assert got.contexts == want["contexts"]
        assert got.context_values.tolist() == want["context_values"]
        assert got.new_contexts == want["new_contexts"]
        assert (tuple(got.event) if got.event else None) == want["event"]
        assert got.event_open == want["event_open"]
        if got.event:
            event("an event ended" + (" with info" if got.event.info else " with no dimension listed"))
        if got.gap:
            event("a gap")

    @rule(
        data=st.data(),
        step=st.integers(1, 12),
        running=st.sampled_from([True] * 9 + [False]),
        resize=st.sampled_from([0] * 6 + [-2, -1, 1, 2]),
        repeat=st.integers(1, 5),
    )
    def tick(self, data, step, running, resize, repeat):
        self.n = min(MAX_SLOTS, max(0, self.n + resize))
        n = self.n
        for _ in range(repeat):
            self.t += step if step <= 8 else step * 5  # now and then a pause that empties the window
            bits = [data.draw(st.floats(0, 1), label="u") < self.p for _ in range(n)]
            status = data.draw(st.lists(status_values, min_size=n, max_size=n), label="status")
            modelled = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="modelled")
            context = data.draw(st.lists(st.integers(-1, 5), min_size=n, max_size=n), label="context")
            got = self.real.tick(
                self.t,
                np.array(bits, dtype=bool),
                np.array(status, dtype=np.uint8),
                np.array(modelled, dtype=bool),
                np.array(context, dtype=np.int64),
                ml_running=running,
            )
            want = self.ref.tick(self.t, bits, status, modelled, context, running)
            self.compare(got, want)
            step = 1

    @rule(data=st.data(), repeat=st.integers(1, 8))
    def steady_ticks(self, data, repeat):
        """The same slots, flags and contexts for several ticks: the incremental context counts' common case."""
        n = self.n
        status = data.draw(st.lists(status_values, min_size=n, max_size=n), label="status")
        modelled = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="modelled")
        context = data.draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n), label="context")
        for _ in range(repeat):
            self.t += 1
            bits = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="bits")
            got = self.real.tick(self.t, bits, status, modelled, context)
            self.compare(got, self.ref.tick(self.t, bits, status, modelled, context, True))

    @rule(slot=st.integers(0, MAX_SLOTS + 2), add=st.booleans())
    def slot_changes_hands(self, slot, add):
        if add:
            self.real.add_slot(slot)
        else:
            self.real.remove_slot(slot)
        self.ref.forget(slot)

    @rule()
    def finish(self):
        got = self.real.finish()
        want = self.ref.close()
        assert (tuple(got) if got else None) == want

    @precondition(lambda self: self.real.last_t is not None)
    @rule(data=st.data())
    def rejected_tick_changes_nothing(self, data):
        before = (self.real.series(), self.real.prev_above_threshold, self.real.event_counts(), self.real.contexts)
        n = self.n
        with pytest.raises(ValueError):
            if data.draw(st.booleans(), label="same t"):
                self.real.tick(self.t, [False] * n, [1] * n, [True] * n, [0] * n)
            else:
                self.real.tick(self.t + 1, [False] * n, [1] * (n + 1), [True] * n, [0] * n)
        after = (self.real.series(), self.real.prev_above_threshold, self.real.event_counts(), self.real.contexts)
        np.testing.assert_array_equal(after[0][0], before[0][0])
        np.testing.assert_array_equal(after[0][1], before[0][1])
        assert after[1:2] == before[1:2] and after[3] == before[3]
        np.testing.assert_array_equal(after[2], before[2])

    @invariant()
    def same_state(self):
        if not hasattr(self, "ref"):
            return
        assert self.real.prev_above_threshold == self.ref.prev
        assert self.real.event_open == (self.ref.event is not None)
        assert self.real.contexts == tuple(context_name(i) for i in self.ref.seen)
        counts = self.real.event_counts()
        want = self.ref.event["counts"] if self.ref.event else {}
        assert {int(s): int(c) for s, c in enumerate(counts) if c} == {s: c for s, c in want.items() if c}
        if self.ref.last_t is not None:
            times, values = self.real.series()
            keep = [(s, v) for s, v in self.ref.series if s >= self.ref.last_t - self.ref.ue - self.ref.duration]
            assert list(zip(times.tolist(), values.tolist())) == keep


TestGroupedRateMachine = GroupedRateMachine.TestCase
TestGroupedRateMachine.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
