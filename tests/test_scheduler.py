"""Staggered training scheduler."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyml.engine.scheduler import TrainingScheduler, stagger_offset


def _run(scheduler: TrainingScheduler, ticks: range, collected: np.ndarray, ok: bool = True) -> list[tuple[int, int]]:
    events = []
    for k in ticks:
        collected += 1
        for slot in scheduler.due(k, collected):
            scheduler.done(slot, k, ok)
            events.append((k, slot))
    return events


def test_first_training_as_soon_as_enough_samples_then_at_stagger_offsets():
    s = TrainingScheduler(train_every=100, min_train_samples=10)
    for slot in range(3):
        s.add(slot, f"system.cpu|d{slot}", 0)
    events = _run(s, range(0, 450), np.zeros(3, dtype=int))
    firsts = [k for k, slot in events if k < 20]
    assert firsts == [9, 9, 9]
    for slot in range(3):
        retrains = [k for k, sl in events if sl == slot and k > 9]
        offset = stagger_offset(f"system.cpu|d{slot}", 100)
        assert retrains and all(k % 100 == offset for k in retrains)
        assert all(b - a == 100 for a, b in zip(retrains, retrains[1:]))
        assert retrains[0] - 9 >= 50  # at least half a period after the first training


def test_gaps_delay_the_first_training_until_enough_values():
    s = TrainingScheduler(train_every=50, min_train_samples=10)
    s.add(0, "a|b", 0)
    collected = np.zeros(1, dtype=int)
    assert s.due(9, collected) == []  # nothing collected yet
    collected[0] = 10
    assert s.due(18, collected) == []  # re-queued for when 10 values could exist
    assert s.due(19, collected) == [0]


def test_failed_training_retries_at_next_offset_and_removed_slots_are_forgotten():
    s = TrainingScheduler(train_every=40, min_train_samples=5)
    s.add(0, "x|y", 0)
    s.add(1, "x|z", 0)
    collected = np.full(2, 100)
    assert sorted(s.due(10, collected)) == [0, 1]
    s.done(0, 10, False)
    s.remove(1)
    s.done(1, 10, True)  # a result for a removed slot is ignored
    assert 1 not in s and not s.trained(0)
    later = [k for k in range(11, 200) if s.due(k, collected) and (s.done(0, k, False) or True)]
    assert all(k % 40 == stagger_offset("x|y", 40) for k in later)


def test_restored_trained_slot_waits_for_its_offset():
    s = TrainingScheduler(train_every=60, min_train_samples=5)
    s.add(3, "a|b", 1000, trained=True, collected=0)
    collected = np.zeros(4, dtype=int)
    due = [k for k in range(1000, 1200) if s.due(k, collected)]
    assert due and due[0] >= 1030 and due[0] % 60 == stagger_offset("a|b", 60)


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="train_every"):
        TrainingScheduler(train_every=0, min_train_samples=1)
    with pytest.raises(ValueError, match="min_train_samples"):
        TrainingScheduler(train_every=10, min_train_samples=0)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=200, max_value=2000))
def test_retraining_load_is_flat(n_dims):
    train_every = 100
    s = TrainingScheduler(train_every=train_every, min_train_samples=1)
    for slot in range(n_dims):
        s.add(slot, f"chart.{slot // 10}|dim{slot}", 0, trained=True)
    per_tick = np.zeros(train_every, dtype=int)
    collected = np.zeros(n_dims, dtype=int)
    for k in range(0, 200 + train_every):
        due = s.due(k, collected)
        for slot in due:
            s.done(slot, k, True)
        if k >= 200:
            per_tick[k - 200] = len(due)
    assert per_tick.sum() == n_dims  # each dimension exactly once per period
    mean = n_dims / train_every
    assert per_tick.max() <= mean + 6 * np.sqrt(mean) + 3
