"""rank_event_dimensions: the one ranking every host-level detector's event info goes through."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from pyml.engine.event_info import rank_event_dimensions


def _rank(slots, values, threshold=0.0, limit=10, ident=str, log=None):
    return rank_event_dimensions(np.asarray(slots, dtype=np.int64), np.asarray(values, dtype=np.float64),
                                 threshold=threshold, limit=limit, ident=ident, log=log)


def test_value_descending_then_id_descending() -> None:
    assert _rank([1, 2, 3, 4], [0.5, 0.9, 0.5, 0.1]) == [[0.9, "2"], [0.5, "3"], [0.5, "1"], [0.1, "4"]]


def test_threshold_is_inclusive() -> None:
    assert _rank([1, 2, 3], [0.2, 0.3, 0.29999], threshold=0.3) == [[0.3, "2"]]


def test_the_cut_keeps_ties_with_the_last_value_for_the_id_tie_break(caplog) -> None:
    # slots 7 and 9 tie with the second-best value; the id order decides which one is kept.
    with caplog.at_level(logging.WARNING):
        pairs = _rank([9, 5, 7], [0.5, 1.0, 0.5], limit=2, ident=lambda s: f"c|d{s}")
    assert pairs == [[1.0, "c|d5"], [0.5, "c|d9"]]
    assert "3 dimensions reached the event rate threshold 0.0; keeping the top 2" in caplog.text


def test_ids_are_looked_up_only_for_slots_that_can_be_listed() -> None:
    asked: list[int] = []

    def ident(slot: int) -> str:
        asked.append(slot)
        return str(slot)

    _rank([1, 2, 3, 4], [0.1, 0.9, 0.8, 0.1], limit=2, ident=ident)
    assert sorted(asked) == [2, 3]


def test_a_failing_lookup_raises_before_anything_is_returned() -> None:
    def ident(slot: int) -> str:
        raise KeyError(slot)

    with pytest.raises(KeyError):
        _rank([1], [0.5], ident=ident)


def test_no_slot_gives_an_empty_list() -> None:
    assert _rank([], []) == []
