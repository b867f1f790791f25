"""Stateful test: PymlDetector against the plain-Python model in tests/pyml_events_reference.py.

Hypothesis draws the detector's parameters, then a run of ticks (with and
without scores, with gaps, with the slot space growing and shrinking, ML
stopping), slot changes and closes; after every step both must have decided
the same counts, groups, event state and events, exactly.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from pyml.engine.pyml_events import PymlDetector
from pyml_events_reference import RefPyml

T0 = 1_700_000_000
MAX_SLOTS = 9

SCORE = st.one_of(
    st.sampled_from([0.0, 10.0, 49.99, 50.0, 55.0, 62.5, 75.0, 87.5, 99.0, 100.0]),
    st.floats(0.0, 100.0, allow_nan=False),
)
STATUS = st.sampled_from([0x00, 0x01, 0x03, 0x03, 0x03, 0x03, 0x07, 0x0B, 0x02])


@st.composite
def ticks(draw: st.DrawFn, n: int) -> dict:
    return {
        "bits": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        "status": draw(st.lists(STATUS, min_size=n, max_size=n)),
        "modelled": draw(st.lists(st.sampled_from([True, True, True, False]), min_size=n, max_size=n)),
        "groups": draw(st.lists(st.sampled_from([-1, 0, 0, 1, 1, 2, 3]), min_size=n, max_size=n)),
        "scores": draw(st.none() | st.lists(SCORE, min_size=n, max_size=n)),
    }


class PymlMachine(RuleBasedStateMachine):
    """PymlDetector and RefPyml in lockstep."""

    @initialize(
        ue=st.sampled_from([1, 1, 2, 5]),
        confirm=st.sampled_from([1.0, 3.0, 6.0]),
        extra=st.sampled_from([0.0, 2.0, 8.0]),
        q=st.sampled_from([0.6, 0.9]),
        kappa=st.sampled_from([0.0, 0.5, 1.5]),
        onset=st.integers(1, 5),
        k_on=st.integers(1, 3),
        k_on_bits=st.integers(1, 3),
        k_off=st.integers(1, 2),
        rho=st.sampled_from([0.0, 0.5, 1.0]),
        idle=st.integers(1, 6),
        refresh=st.integers(1, 4),
        threshold=st.sampled_from([0.0, 0.0, 0.3]),
        max_dims=st.sampled_from([2000, 2]),
        n=st.integers(0, MAX_SLOTS),
    )
    def setup(self, ue, confirm, extra, q, kappa, onset, k_on, k_on_bits, k_off, rho, idle, refresh, threshold,
              max_dims, n) -> None:
        kwargs = dict(confirm_decades=confirm, evidence_cap=confirm + extra, unusual_fraction=q,
                      reference_decades=kappa, onset_ticks=onset, onset_groups=k_on,
                      onset_groups_bits_only=k_on_bits, end_groups=k_off, end_fraction=rho, idle_ticks=idle,
                      refresh_ticks=refresh, dimension_rate_threshold=threshold, max_event_dims=max_dims)
        self.det = PymlDetector(ue, **kwargs)
        self.ref = RefPyml(ue, confirm=confirm, cap=confirm + extra, q=q, kappa=kappa, onset=onset, k_on=k_on,
                           k_on_bits=k_on_bits, k_off=k_off, rho=rho, idle=idle, refresh=refresh,
                           dim_threshold=threshold, max_dims=max_dims)
        self.ue = ue
        self.t = T0 - T0 % ue
        self.n = n
        self.got = None
        self.want = None

    def _compare(self, got, want) -> None:
        assert got.ml_running == want["running"]
        for name in ("anomalous", "normal", "total", "trained", "engaged", "engaged_groups", "onset_groups",
                     "event_open", "new_event", "anomaly_rate"):
            assert getattr(got, name) == want[name], (name, getattr(got, name), want[name])
        assert list(got.contexts) == want["contexts"]
        assert got.context_values.tolist() == want["values"]
        if want["running"]:
            assert list(got.new_contexts) == want["new_contexts"]
        self._compare_events(got.event, want["event"])
        if want["event"] is not None:
            event(f"event ended ({'listed dimensions' if want['event'][2] else 'no dimension listed'})")
        if want["new_event"]:
            event("event opened" + (" as one ended (a new onset wave or the idle time)" if want["event"] else ""))
            if not got.scored:
                event("event opened on bits alone")

    @staticmethod
    def _compare_events(got, want) -> None:
        if want is None:
            assert got is None
        else:
            assert got is not None
            assert (got.after, got.before, got.info) == want

    @rule(data=st.data(), step=st.sampled_from([1, 1, 1, 1, 2, 7]), resize=st.sampled_from([0, 0, 0, 0, 1, -1]))
    def tick(self, data, step, resize) -> None:
        self.n = min(MAX_SLOTS, max(0, self.n + resize))
        self.t += step * self.ue
        arrays = data.draw(ticks(self.n))
        got = self.det.tick(self.t, np.array(arrays["bits"], dtype=bool), np.array(arrays["status"], dtype=np.uint8),
                            np.array(arrays["modelled"], dtype=bool), np.array(arrays["groups"], dtype=np.int64),
                            None if arrays["scores"] is None else np.array(arrays["scores"]))
        want = self.ref.tick(self.t, arrays["bits"], arrays["status"], arrays["modelled"], arrays["groups"],
                             arrays["scores"])
        self._compare(got, want)

    @rule()
    def stopped(self) -> None:
        self.t += self.ue
        n = self.n
        got = self.det.tick(self.t, np.zeros(n, bool), np.zeros(n, np.uint8), np.zeros(n, bool),
                            np.zeros(n, np.int64), ml_running=False)
        want = self.ref.tick(self.t, [False] * n, [0] * n, [False] * n, [0] * n, ml_running=False)
        self._compare(got, want)

    @rule(slot=st.integers(0, MAX_SLOTS + 2), add=st.booleans())
    def slot_changes(self, slot, add) -> None:
        (self.det.add_slot if add else self.det.remove_slot)(slot)
        self.ref.forget(slot)

    @rule()
    def finish(self) -> None:
        self._compare_events(self.det.finish(), self.ref.finish())

    @invariant()
    def same_episodes(self) -> None:
        if not hasattr(self, "det"):
            return
        evidence = self.det.evidence()
        live = {s: float(evidence[s]) for s in self.det.episode_starts()}
        assert live == self.ref.evidence
        assert self.det.event_open == (self.ref.event is not None)


TestPymlMachine = PymlMachine.TestCase
TestPymlMachine.settings = settings(max_examples=200, stateful_step_count=60, deadline=None,
                                    suppress_health_check=[HealthCheck.too_slow])
