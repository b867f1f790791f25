"""Staggered training: which slots are due to (re)train at tick ``k``.

A slot trains for the first time as soon as it has collected
``min_train_samples`` values, then retrains at a fixed offset within
``train_every`` derived from its dimension id, so retraining work is spread
evenly and stays flat as dimensions come and go. A failed training retries at
the slot's next offset. Pure: it keeps no clock and takes ``k`` (tick
numbers) from its caller.
"""

from __future__ import annotations

import heapq
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np


def stagger_offset(dimension_id: str, train_every: int) -> int:
    """The retrain offset of a dimension within ``train_every`` ticks (stable across runs)."""
    return zlib.crc32(dimension_id.encode("utf-8")) % train_every


@dataclass
class _SlotState:
    generation: int
    offset: int
    trained: bool = False


@dataclass
class TrainingScheduler:
    """Decides when each slot trains.

    Parameters
    ----------
    train_every : int
        Retrain period in ticks.
    min_train_samples : int
        Values a slot must have collected before its first training.
    """

    train_every: int
    min_train_samples: int
    _slots: dict[int, _SlotState] = field(default_factory=dict, init=False)
    _queue: list[tuple[int, int, int]] = field(default_factory=list, init=False)  # (due tick, slot, generation)
    _generation: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.train_every < 1:
            raise ValueError(f"train_every must be >= 1, got {self.train_every!r}")
        if self.min_train_samples < 1:
            raise ValueError(f"min_train_samples must be >= 1, got {self.min_train_samples!r}")

    def add(self, slot: int, dimension_id: str, k: int, *, trained: bool = False, collected: int = 0) -> None:
        """Start scheduling ``slot`` (for ``dimension_id``) from tick ``k``.

        ``trained``/``collected`` restore the state of a dimension that already
        has a model or samples (after a restart).
        """
        self._generation += 1
        state = _SlotState(self._generation, stagger_offset(dimension_id, self.train_every), trained)
        self._slots[slot] = state
        if trained:
            self._push(self._next_offset_tick(state, k), slot, state)
        else:
            self._push(k + max(0, self.min_train_samples - collected - 1), slot, state)

    def remove(self, slot: int) -> None:
        """Stop scheduling ``slot``; its queued entries are ignored from now on."""
        self._slots.pop(slot, None)

    def __contains__(self, slot: int) -> bool:
        return slot in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    def due(self, k: int, collected: "Sequence[int] | np.ndarray") -> list[int]:
        """Slots due to train at tick ``k`` (each is returned once per due time).

        ``collected[slot]`` is how many values the slot has collected. A slot
        not yet trained whose count is still short is re-queued for when it
        could have enough; every returned slot must be reported back with
        :meth:`done`.
        """
        out: list[int] = []
        while self._queue and self._queue[0][0] <= k:
            _, slot, generation = heapq.heappop(self._queue)
            state = self._slots.get(slot)
            if state is None or state.generation != generation:
                continue
            have = int(collected[slot])
            if not state.trained and have < self.min_train_samples:
                self._push(k + self.min_train_samples - have, slot, state)
                continue
            out.append(slot)
        return out

    def all_eligible(self, collected: "Sequence[int] | np.ndarray") -> list[int]:
        """Every scheduled slot with at least ``min_train_samples`` collected values."""
        return [s for s in self._slots if int(collected[s]) >= self.min_train_samples]

    def done(self, slot: int, k: int, trained: bool) -> None:
        """Record the outcome of a training of ``slot`` that started at tick ``k``.

        Success or failure, the slot is next due at its next stagger offset.
        """
        state = self._slots.get(slot)
        if state is None:
            return
        state.trained = state.trained or trained
        self._generation += 1
        state.generation = self._generation
        self._push(self._next_offset_tick(state, k), slot, state)

    def trained(self, slot: int) -> bool:
        """Whether ``slot`` has had a successful training."""
        return self._slots[slot].trained

    def _next_offset_tick(self, state: _SlotState, k: int) -> int:
        """The first tick on the slot's offset at least half a period after ``k``."""
        earliest = k + max(1, self.train_every // 2)
        nxt = earliest - (earliest % self.train_every) + state.offset
        if nxt < earliest:
            nxt += self.train_every
        return nxt

    def _push(self, due_k: int, slot: int, state: _SlotState) -> None:
        heapq.heappush(self._queue, (due_k, slot, state.generation))
