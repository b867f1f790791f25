"""A slow, literal reference of Netdata 2.x's per-dimension ML (SPEC-NETDATA-2).

Written straight from the specification, with no attention to speed:

* §3.3 features: difference forward, smoothing with a running sum that moves
  forward (add the new difference, divide by S, subtract the oldest), the
  buffer's last S slots zeroed, lag vectors oldest element first, signed.
* §3.2 sub-sampling: the table is NumPy's legacy ``RandomState(seed)``, which
  draws the same 32-bit numbers as ``std::mt19937(seed)``.
* §3.1/§3.5 training outcomes, §4.1 the ring rule, §5.1 warm-up and the
  metric type, §5.3 the vote, §6 suppression, as one slot's state machine.

k-means and the score are v1.33's (``reference.py``). Python floats are IEEE
doubles, so scalar arithmetic here is the C++ arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

import reference

ACTIVE, TRAINED, SILENCED, VARIABLE = 0x01, 0x02, 0x04, 0x08
MAX_STORABLE = 1.6777215e21


# --------------------------------------------------------------------------- features (§3.3)


def smoothed_v2(x: Sequence[float], diff_n: int = 1, smooth_n: int = 3) -> List[float]:
    """The smoothed series s[0 .. T-D-S] of a buffer of T values, after the zeroing."""
    buf = [float(v) for v in x]
    t = len(buf)
    d, s = diff_n, max(smooth_n, 1)
    if d >= t or s > t - d:
        return []
    if d > 0:   # d[j] = x[j+D] - x[j]; the last D slots become 0
        buf = [buf[j + d] - buf[j] for j in range(t - d)] + [0.0] * d
    total = 0.0
    for i in range(s - 1):
        total = total + buf[i]
    for i in range(s - 1, t - d):
        total = total + buf[i]
        oldest = buf[i - s + 1]
        buf[i - s + 1] = total / s
        total = total - oldest
    for i in range(t - s, t):   # the last S slots of the whole buffer
        buf[i] = 0.0
    return buf[:t - d - s + 1]


def features_v2(x: Sequence[float], diff_n: int = 1, smooth_n: int = 3, lag_n: int = 5) -> np.ndarray:
    """All lag vectors, oldest first: row j = [s[j], ..., s[j + L]]."""
    s = smoothed_v2(x, diff_n, smooth_n)
    rows = len(s) - lag_n
    if rows <= 0:
        return np.zeros((0, lag_n + 1))
    return np.array([[s[j + e] for e in range(lag_n + 1)] for j in range(rows)], dtype=np.float64)


# --------------------------------------------------------------------------- sub-sampling (§3.2)


def sampling_table(m: int, seed: int) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 2**32, size=m, dtype=np.uint32)


def sample_mask(e: int, m: int, seed: int) -> np.ndarray:
    table = sampling_table(m, seed)
    ratio = m / e if e > m else 1.0
    cutoff = int(4294967295.0 * ratio)
    return np.array([int(table[j % m]) <= cutoff for j in range(e)], dtype=bool)


# --------------------------------------------------------------------------- training (§3.1, §3.4, §3.5)


def distance_range(centers: np.ndarray, X: np.ndarray) -> Tuple[float, float]:
    lo, hi = reference.DBL_MAX, reference.DBL_MIN
    for row in X:
        md = reference.mean_distance(centers, row)
        if md < lo:
            lo = md
        if md > hi:
            hi = md
    return lo, hi


def train_v2(history: Sequence[float], diff_n: int = 1, smooth_n: int = 3, lag_n: int = 5,
             max_iterations: int = 1000, max_vectors: int = 1440, seed: int = 5489,
             min_samples: int = 1, variant: str = "v2"):
    """("trained", (centres, lo, hi)), ("too_few_points", None) or ("few_vectors", None)."""
    filled, existing = reference.fill_gaps(history)
    if existing < min_samples:
        return "too_few_points", None
    n = diff_n + max(smooth_n, 1) + lag_n
    if len(filled) < n:
        return "too_few_points", None
    X = (features_v2 if variant == "v2" else reference.features)(filled, diff_n, smooth_n, lag_n)
    if max_vectors:
        X = X[sample_mask(len(X), max_vectors, seed)]
    if len(X) < 2:
        return "few_vectors", None
    centers = reference.kmeans(X, 2, max_iterations)
    lo, hi = distance_range(centers, X)
    return "trained", (centers, lo, hi)


# --------------------------------------------------------------------------- the ring (§4.1)


@dataclass
class StoredModel:
    centers: np.ndarray   # (2, F), as stored
    min_dist: float
    max_dist: float
    after: int
    before: int


def ring_install(ring: List[StoredModel], capacity: int, new: StoredModel) -> None:
    if len(ring) < capacity:
        ring.append(new)
    elif capacity > 2 and ring[-2].after < ring[-1].before and ring[-2].before > new.after:
        ring[-1] = new
    else:
        del ring[0]
        ring.append(new)


# --------------------------------------------------------------------------- one slot (§5, §6)


@dataclass
class Slot:
    """One dimension's prediction state, as SPEC-NETDATA-2 §5 and §6 describe it."""

    diff_n: int = 1
    smooth_n: int = 3
    lag_n: int = 5
    variant: str = "v2"
    capacity: int = 1
    threshold: float = 0.99
    window: int = 0      # suppression window (0 = off)
    limit: int = 0       # suppression threshold
    values: List[float] = field(default_factory=list)
    ring: List[StoredModel] = field(default_factory=list)
    status: int = ACTIVE
    predictions: int = 0
    anomalous: int = 0
    consulted: int = 0

    @property
    def n(self) -> int:
        return self.diff_n + max(self.smooth_n, 1) + self.lag_n

    @property
    def warmup(self) -> int:
        return self.n + (1 if self.variant == "v2" else 0)

    def stored(self, centers: np.ndarray, lo: float, hi: float, after: int, before: int) -> StoredModel:
        c = np.array(centers, dtype=np.float64).reshape(2, -1)
        if self.capacity > 1:   # stored compactly: float32 centres
            c = c.astype(np.float32).astype(np.float64)
        return StoredModel(c, float(lo), float(hi), int(after), int(before))

    def _reset(self) -> None:
        self.predictions = self.anomalous = 0

    def install(self, centers: np.ndarray, lo: float, hi: float, after: int, before: int) -> None:
        ring_install(self.ring, self.capacity, self.stored(centers, lo, hi, after, before))
        self.status = (self.status | TRAINED) & ~(SILENCED | VARIABLE)
        self._reset()

    def few_vectors(self) -> None:
        self.status = (self.status | TRAINED) & ~(SILENCED | VARIABLE)
        self._reset()

    def failed(self) -> None:
        self.status &= ~VARIABLE
        self._reset()

    def vector(self) -> np.ndarray:
        x = self.values[-self.n:]
        if self.variant == "v2":
            return features_v2(x, self.diff_n, self.smooth_n, self.lag_n)[0]
        return reference.features(x, self.diff_n, self.smooth_n, self.lag_n)[-1]

    def push(self, value: float) -> Tuple[bool, float]:
        """(anomalous, score) of one collected value."""
        if not abs(value) <= MAX_STORABLE:   # a gap: the window empties
            self.values = []
            return False, 0.0
        previous: Optional[float] = self.values[-1] if self.values else None
        self.values = (self.values + [float(value)])[-self.warmup:]
        if len(self.values) < self.warmup:
            return False, 0.0
        if previous is not None and value != previous:
            self.status |= VARIABLE
        if self.status & SILENCED:
            return False, 0.0
        if self.window:
            self.predictions += 1
        v = self.vector()
        score = 0.0 if not self.ring else math.nan
        votes = 0
        for m in self.ring:                  # oldest to newest
            self.consulted += 1
            s = reference.score(m.centers, m.min_dist, m.max_dist, v)
            if math.isnan(s):
                continue
            if s < 100.0 * self.threshold:   # normal at once: no counters, no silencing check
                return False, s
            votes += 1
            score = s if math.isnan(score) or s < score else score
        anomalous = votes > 0
        if self.window:
            if anomalous:
                self.anomalous += 1
            if self.anomalous >= self.limit and self.predictions >= self.window:
                self.status |= SILENCED
        return anomalous, score
