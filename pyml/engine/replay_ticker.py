"""The fast synchronous tick of a replay: a host's models, schedule and detector, without what a replay never reads.

A replay (``pyml replay``, ``pyml lab nab``, ``pyml lab hostcase``) feeds a
synchronous host (``background=False``) one tick at a time and, after each,
trains what the host's scheduler says is due. Through the public API that is
``Host.collect_all`` then ``Host.train_due`` per tick, and most of its cost is
not the models: every tick also writes the sample store and the rollup
tiers, packs the internal charts' values, and every training reads its
histories back out of the store. A replay reads none of that: it wants the
anomaly bits (and scores) of the tick, the dimensions that trained, and the
host's anomaly events with their info.

:class:`ReplayTicker` runs the same tick on the same host with the same code
for everything that decides a result:

- the bank's tick and the host level (``Host._bank_tick``,
  ``Host._level_tick``: the calibration, score peaks, the collected counts,
  the profile's detector), the dimensions of the dynamic internal chart added
  when the detector first names a group (they take bank slots, so the slot
  space the detector sees is the same), events stored in the host's database;
- training through ``Host._train_histories`` (the scheduler's outcome, the
  trained range ``after``/``before``) on the histories the store would have
  returned: the tick's storage words, kept here in a ring of ``max_points``
  ticks per slot (a skipped tick is the empty word, as in the store),
  decoded in double precision as the host decodes them, so a training reads
  a row or two instead of the store's blocks.

Layout. The ring is slot-major (one row of ``max_points`` words per slot of
the host at the start, 4 bytes a word, the store's own size): a training
reads contiguous rows, a tick writes one word per slot with a stride. That
suits replays of up to some thousands of dimensions; a tick of 10^5 of them
would pay a cache miss per slot, the cost the store's time-major staging
avoids.

What it leaves out: the sample store and the tiers (nothing is written; the
host's ``data``/``read_words`` show nothing of a replay run this way) and the
values of the internal charts. Results (bits, scores, trainings, events and
event info) are identical to ``collect_all`` + ``train_due`` at every tick;
``tests/test_replay_fast.py`` checks that for every profile.

A ticker drives a fresh host (no tick yet), whose dimensions do not change
while it runs; it is single-threaded, like the host's tick.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np

from .. import _core
from .host import Host, TrainingReport

__all__ = ["ReplayTicker"]

_ANOMALY_BIT = _core.ANOMALY_BIT


class ReplayTicker:
    """Tick a fresh synchronous :class:`~pyml.engine.host.Host` as a replay does, minus store, tiers and charts.

    Parameters
    ----------
    host : Host
        Built with ``background=False`` and ML on, its charts added, no tick
        collected yet.
    want_scores : bool
        Return each tick's anomaly scores as well as its bits (keyword-only).

    Each :meth:`tick` equals ``host.collect_all(t, values, want_scores=...)``
    followed by ``host.train_due()``.
    """

    def __init__(self, host: Host, *, want_scores: bool = False) -> None:
        if not isinstance(host, Host):
            raise TypeError(f"host must be a pyml Host, got {type(host).__name__}: {host!r}")
        if host.background:
            raise ValueError(f"host {host.name!r} trains in the background; a replay ticker needs background=False")
        if not host.ml_enabled:
            raise ValueError(f"host {host.name!r} has ML off (enabled = no, or hosts to skip names it); "
                             "replay it with collect_all")
        if host.last_time is not None or host._pending_t is not None:
            raise ValueError(f"host {host.name!r} already holds ticks (last at {host.last_time}); "
                             "a replay ticker starts a fresh host")
        self._host = host
        self._want_scores = bool(want_scores)
        self._ue = host.update_every
        self._index = host._slot_index.copy()
        self._dims = int(self._index.size)
        self._ids = host.dimension_ids()
        self._depth = max(1, int(host._max_points))
        self._width = int(host._bank.size)  # slots that can train (the dynamic chart's come later, unmodelled)
        self._ring = np.zeros((self._width, self._depth), dtype=np.uint32)  # slot-major: a history is one row
        self._first_k: int | None = None
        self._last_k: int | None = None
        self._names_seen: Sequence[str] = ()  # the dynamic chart's names at the last tick, all known to the host

    @property
    def dimension_ids(self) -> list[str]:
        """The host's dimension ids, the order of :meth:`tick`'s values and results."""
        return list(self._ids)

    def tick(self, t: int, values: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, TrainingReport]:
        """Collect one tick and train what is due after it.

        ``t`` is epoch seconds (an integer, later than the previous tick's on
        the host's grid); ``values`` float64[D] in :attr:`dimension_ids` order,
        NaN for no value. Returns ``(scores, bits, report)``: the tick's
        anomaly scores per dimension (0-100 scale; None unless
        ``want_scores``), its stored anomaly bits, and the training round's
        :class:`~pyml.engine.host.TrainingReport`.
        """
        host = self._host
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError(f"t must be a non-negative integer of epoch seconds, got {t!r}")
        k = int(t) // self._ue
        if self._last_k is not None and k <= self._last_k:
            raise ValueError(f"t = {t} is not after the last tick {self._last_k * self._ue} "
                             f"(timestamps must move forward on the {self._ue}s grid)")
        if not isinstance(values, np.ndarray) or values.dtype != np.float64 or values.shape != (self._dims,):
            shape = getattr(values, "shape", None)
            raise ValueError(f"values must be a float64 array of shape ({self._dims},), got "
                             f"{type(values).__name__} of shape {shape} and dtype {getattr(values, 'dtype', None)}")
        started = time.perf_counter()
        by_slot = np.full(host._bank.size, math.nan)
        by_slot[self._index] = values
        words, scores, levels = host._bank_tick(by_slot, None, self._want_scores, k * self._ue)
        out = host._level_tick(k, words, levels, started)
        self._remember(k, words)
        names = out.dynamic_names if out.dynamic_names else [name for name, _ in out.dynamic]
        if names is not self._names_seen and names != self._names_seen:
            known = host._dynamic_slots
            if any(name not in known for name in names):
                host._write_dynamic(words, by_slot, out.dynamic_pairs())  # new groups take slots, as in the host's tick
            self._names_seen = names
        host._last_k = k
        host._last_words = words
        if out.event is not None:
            host._store_event(out.event)
        report = self._train(k)
        picked = words[self._index]
        bits = (picked != 0) & ((picked & _ANOMALY_BIT) == 0)
        return (None if scores is None or not self._want_scores else scores[self._index]), bits, report

    def _remember(self, k: int, words: np.ndarray) -> None:
        """Keep the words of tick ``k`` (the empty word for the ticks skipped since the last one)."""
        ring, depth = self._ring, self._depth
        if self._first_k is None:
            self._first_k = k
        elif self._last_k is not None and k - self._last_k > 1:
            skipped = k - self._last_k - 1
            if skipped >= depth:
                ring.fill(0)
            else:
                ring[:, np.arange(self._last_k + 1, k) % depth] = 0
        ring[:, k % depth] = words[: self._width]
        self._last_k = k

    def _train(self, k: int) -> TrainingReport:
        """``Host.train_due`` with the histories taken from the ring."""
        host = self._host
        due = host._scheduler.due(k, host._collected)
        if not due:
            return TrainingReport()
        slots = [s for s in due if s in host._id_of_slot and host._modelled[s]]
        if not slots:
            return TrainingReport()
        started = time.perf_counter()
        assert self._first_k is not None
        depth = self._depth
        oldest = max(self._first_k, k - depth + 1)
        start, end = oldest % depth, k % depth + 1  # the ring's columns of ticks oldest..k, in time order
        rows = self._ring[slots]
        words = rows[:, start:end] if start < end else np.concatenate([rows[:, start:], rows[:, :end]], axis=1)
        words = np.ascontiguousarray(words)
        histories = _core.unpack_double(words.reshape(-1)).reshape(words.shape)
        ids = [host._id_of_slot[s] for s in slots]
        return host._train_histories(slots, ids, histories, k, self._first_k * self._ue, started)
