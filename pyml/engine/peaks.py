"""Score peaks: report a dimension's anomaly score when it rises, not on every tick after.

The reference turns every score at or above the threshold into an anomalous
point, so one incident that keeps a dimension's score high for minutes is
reported on every one of those ticks. :class:`ScorePeaks` is a small piece of
event logic on top of the score (``MLConfig.score_peak_window``, pyml's own
setting, off by default): per dimension it remembers the last score it
reported and how many ticks ago, and each tick it

1. forgets the remembered score once it is more than ``window`` ticks old;
2. reports the tick's score (capped at 100, as the reference caps it) when
   that score is higher than the remembered one, and remembers it;
3. reports 0 otherwise.

A rise is reported once; a score that keeps rising is reported at each new
high; a plateau is reported again ``window + 1`` ticks after its start. The
state is two numbers per dimension and one tick costs a few vectorised
operations over all dimensions, whatever ``window`` is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import as_count

__all__ = ["SCORE_CAP", "ScorePeaks"]

#: Scores are compared and reported capped at this value (the reference's cap).
SCORE_CAP = 100.0

# Age of a slot that has reported nothing yet: old enough to have expired for any window.
_NEVER = np.iinfo(np.int64).max // 2


class ScorePeaks:
    """Per-slot peak reporting over a vector of slots (see the module's description).

    Parameters
    ----------
    window : int
        Ticks a reported score is remembered; must be at least 1.
    size : int
        Initial number of slots (grows with :meth:`ensure_size`).
    """

    def __init__(self, window: int, size: int = 0) -> None:
        self.window = as_count("window", window, 1, "a positive number of ticks")
        size = as_count("size", size, 0, "a non-negative integer")
        self._peak = np.full(size, -np.inf)
        self._age = np.full(size, _NEVER, dtype=np.int64)

    @property
    def size(self) -> int:
        """Number of slots held."""
        return int(self._peak.size)

    def ensure_size(self, n: int) -> None:
        """Hold at least ``n`` slots; new slots have reported nothing."""
        if n <= self._peak.size:
            return
        grow = n - self._peak.size
        self._peak = np.concatenate([self._peak, np.full(grow, -np.inf)])
        self._age = np.concatenate([self._age, np.full(grow, _NEVER, dtype=np.int64)])

    def reset(self, slot: int) -> None:
        """Forget what ``slot`` reported (a new dimension took the slot)."""
        if not 0 <= slot < self._peak.size:
            raise IndexError(f"slot {slot} is out of range [0, {self._peak.size})")
        self._peak[slot] = -np.inf
        self._age[slot] = _NEVER

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the remembered scores (-inf: none) and their ages in ticks."""
        return self._peak.copy(), self._age.copy()

    def update(self, scores: Any) -> np.ndarray:
        """One tick: take every slot's score, return the scores to report.

        ``scores`` is float64 with one entry per slot (0 when a slot has no
        score this tick). Returns a new array: the capped score where it is
        reported, 0 elsewhere. Raises ``ValueError`` for a wrong length or a
        NaN score (nothing is updated then).
        """
        s = np.asarray(scores, dtype=np.float64)
        if s.ndim != 1 or s.size != self._peak.size:
            raise ValueError(f"scores must be 1-D with {self._peak.size} elements (one per slot), got shape {s.shape}")
        if np.isnan(s).any():
            bad = int(np.flatnonzero(np.isnan(s))[0])
            raise ValueError(f"scores[{bad}] is NaN; a slot without a score scores 0")
        return self.update_unchecked(s)

    def update_unchecked(self, scores: np.ndarray) -> np.ndarray:
        """:meth:`update` for a float64 array already known to be valid (the host's per-tick path)."""
        capped = np.minimum(scores, SCORE_CAP)
        age = self._age
        age += 1
        peak = self._peak
        np.copyto(peak, -np.inf, where=age > self.window)
        rises = np.greater(capped, peak)
        np.copyto(peak, capped, where=rises)
        np.copyto(age, 0, where=rises)
        np.multiply(capped, rises, out=capped)
        return capped
