"""The ``pyml`` profile's host level: anomaly events from sparse onset bits and calibrated scores.

Under the ``pyml`` profile each dimension's rule (the lab's ``surprise`` rule)
sets its stored anomaly bit sparsely, at the *onset* of an unusual saturation
(once per incident and dimension), and can also report a **calibrated score**
every tick: below 50 while the k-means score is below saturation (half the
score), and ``50 + 50 g`` while it saturates, where ``g`` in [0, 1] says how
rarely this dimension saturates (``g = -log10(rate) / decades``) or how far
in the tail of its usual changes the value moved. A host has 10^4-10^5 such
dimensions, most of them quiet. This module turns them into anomaly events
that name the dimensions involved.

The rules (all in ticks, measured on a real 1-s host recording; the README's
"The pyml profile: events" gives the figures):

1. **Episodes.** A dimension's bit opens an *episode* for it. While the
   episode lasts, the dimension's **evidence** ``E`` (in decades) follows a
   CUSUM of its calibrated score: a tick that saturates adds
   ``log10(q) + decades * g - kappa`` (the log-likelihood ratio of "unusual a
   fraction ``q`` of the time" against the dimension's own saturation rate
   ``10^(-decades g)``, less a reference of ``kappa`` decades, so a dimension
   that saturates often gains nothing), a tick that does not adds
   ``log10(1 - q)``; ``E`` stays within ``[0, evidence_cap]`` and the episode
   ends when it falls back to 0. A bit during an episode does not restart it.
   The evidence is each dimension's own calibration, read from its score: the
   host keeps no rate of its own, and a chronically noisy dimension (one that
   saturates often) accumulates nothing.
2. **Confirmed onsets.** An episode is *engaged* while ``E >= confirm``, and
   *fresh* while it is engaged and younger than ``onset_ticks``: the
   dimension's anomaly began at its bit and stayed unusual (for itself) from
   there. A one-tick spike is never confirmed.
3. **Groups.** Dimensions are grouped by the id the host passes per slot (a
   chart or a context): a group is fresh or engaged when one of its
   dimensions is, so a wide chart counts once and cannot decide for the host.
4. **Events.** An event opens when at least ``onset_groups`` groups are fresh
   at once (a host-level onset). It lasts while its own episodes (those that
   began at most ``onset_ticks`` before it opened, or during it) keep at
   least ``max(end_groups, end_fraction x peak)`` groups engaged, ``peak``
   being the most it had; it ends after ``idle_ticks`` ticks below that,
   which merges close bursts. A new onset wave (the fresh groups rising to
   ``onset_groups`` again) at least ``onset_ticks`` after the event opened
   ends it and opens the next one, so two incidents in a row get an event
   each (the new wave's episodes, those that began at or after the first
   tick of its fresh episodes, are listed in the new event only). Bounds:
   ``after`` = the first tick of the episodes that opened it less
   ``update_every`` (the start of that tick's interval, as v1.33's ``before
   - W * ue``); ``before`` = the last tick the event was sustained. An event
   is reported on the tick it ends (or by :meth:`PymlDetector.finish`).
5. **Attribution.** Each dimension with one of the event's own episodes is
   listed with its **mean calibrated surprise over the event**: the sum of
   ``g`` over the ticks the event was sustained (0 on ticks it did not
   saturate) divided by the number of those ticks, in [0, 1]; 1 means it
   saturated at its rarest level on every one of them. It orders dimensions
   by how unusual their anomaly in the event was against their own
   baseline, in v1.33's ``[[rate, "chart|dim"], ...]`` shape, rate
   descending then id descending.

Without scores (``scores=None``) the host only has the bits: a bit then counts
as a confirmed onset at once (``E = evidence_cap``) that fades by
``log10(1 - q)`` per tick, attribution counts bits, and an event needs
``onset_groups_bits_only`` fresh groups (measured: with bits alone the host
needs more groups to stay clear of false events, and catches less).

Cost. Per tick the full slot space is read a handful of times, a byte per
slot (the bits to find the new onsets, the status and "modelled" flags for
the ``ml_info`` counts); everything else (evidence, episodes, groups, events)
works on the slots in an episode and the slots with a bit, gathered by index,
which on a quiet host are a tiny fraction; a tick with none of them and no
open event stops after the counts. The per-group denominators of
``anomaly_detection.context_anomaly_rate`` are recounted when the slot space
or the slots change (``add_slot``/``remove_slot``) and every
``refresh_ticks`` ticks, not on every tick.

The detector is single-writer (the host's tick); reads of its properties from
other threads see the last result, not a tick in progress.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np

from .detector import MAX_EVENT_DIMS, AnomalyEvent, _index, _slot, _slot_array, _timestamp
from .event_info import rank_event_dimensions
from .grouped_rate import _array, _bools, _grow, _lookup, _lookup_check, _status  # the same argument checks

__all__ = [
    "ACTIVE",
    "CONFIG_FIELDS",
    "DEFAULT_PARAMETERS",
    "SILENCED",
    "TRAINED",
    "VARIABLE",
    "PymlDetector",
    "PymlResult",
    "SATURATED",
]

logger = logging.getLogger(__name__)

#: Per-slot status flags (bank -> host -> detectors), one uint8 per slot.
ACTIVE = 0x01
TRAINED = 0x02
SILENCED = 0x04
VARIABLE = 0x08

#: A calibrated score at or above this means the dimension's k-means score saturated this tick.
SATURATED = 50.0

#: The measured defaults (ticks; case A at 1 s; see the README's "The pyml profile: events").
DEFAULT_PARAMETERS: dict[str, float] = {
    "decades": 4.0,
    "unusual_fraction": 0.9,
    "reference_decades": 0.5,
    "confirm_decades": 6.0,
    "evidence_cap": 20.0,
    "onset_ticks": 10,
    "onset_groups": 4,
    "onset_groups_bits_only": 6,
    "end_groups": 2,
    "end_fraction": 0.5,
    "idle_ticks": 30,
    "refresh_ticks": 60,
}

#: Config fields :meth:`PymlDetector.from_config` reads when the configuration has a value for them.
CONFIG_FIELDS: dict[str, str] = {
    "surprise_decades": "decades",
    "event_unusual_fraction": "unusual_fraction",
    "event_reference_decades": "reference_decades",
    "event_confirm_decades": "confirm_decades",
    "event_evidence_cap": "evidence_cap",
    "event_onset_ticks": "onset_ticks",
    "event_onset_groups": "onset_groups",
    "event_onset_groups_bits_only": "onset_groups_bits_only",
    "event_end_groups": "end_groups",
    "event_end_fraction": "end_fraction",
    "event_idle_ticks": "idle_ticks",
    "dimension_rate_threshold": "dimension_rate_threshold",
}

Lookup = Union[Callable[[int], str], Sequence[str], Mapping[int, str]]

_EMPTY = np.zeros(0, dtype=np.int64)


# ---------------------------------------------------------------------------
# argument checks


def _number(name: str, value: Any, low: float, high: float | None = None, *, open_low: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < low or (open_low and number == low) or (high is not None and number > high):
        where = f"{'>' if open_low else '>='} {low:g}" + ("" if high is None else f" and <= {high:g}")
        raise ValueError(f"{name} must be finite and {where}, got {value!r}")
    return number


def _count(name: str, value: Any, low: int = 1) -> int:
    number = _index(name, value)
    if number < low:
        raise ValueError(f"{name} must be at least {low}, got {value!r}")
    return number


def _groups(value: Any) -> np.ndarray:
    arr = _array("context_ids", value)
    if arr.dtype == np.int64:
        return arr
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu" or arr.dtype == np.uint64:
        raise TypeError(f"context_ids must hold integer ids, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _scores(value: Any) -> np.ndarray:
    arr = _array("scores", value)
    if arr.dtype.kind == "f":
        return arr
    if arr.size == 0:
        return np.zeros(0, dtype=np.float64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"scores must be real numbers (calibrated scores, 0-100), got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _distinct(keys: np.ndarray) -> int:
    """Number of distinct values in a small integer array."""
    if keys.size < 2:
        return int(keys.size)
    ordered = np.sort(keys)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


# ---------------------------------------------------------------------------
# the result


@dataclass(frozen=True)
class PymlResult:
    """Everything one :meth:`PymlDetector.tick` decided.

    Attributes
    ----------
    t : int
        The tick's timestamp.
    ml_running : bool
        Whether ML ran for the host this tick (if not, every count is 0).
    anomalous, normal, total, trained : int
        ``total``: active slots of modelled charts; ``trained``: those holding
        a model (and not silenced); ``anomalous``: trained slots whose bit is
        set this tick; ``normal = total - anomalous``
        (``anomaly_detection.dimensions``, ``/api/v1/ml_info``).
    engaged : int
        Dimensions in a confirmed anomaly episode (evidence at least
        ``confirm_decades``).
    engaged_groups, onset_groups, groups : int
        Groups with an engaged dimension; groups with a fresh one (the onset
        signal an event needs ``onset_needed`` of); groups with an active
        modelled slot (as of the last recount).
    onset_needed : int
        Fresh groups that open an event on this tick (``onset_groups``, or
        ``onset_groups_bits_only`` on a tick without scores).
    anomaly_rate : float
        ``engaged_groups / groups`` in percent, truncated to two decimals
        (``anomaly_detection.anomaly_rate``).
    event_open : bool
        An event is open after this tick (``above_threshold``).
    new_event : bool
        An event opened on this tick (``new_anomaly_event``).
    event : AnomalyEvent or None
        The event that ended on this tick.
    contexts : tuple of str
        Names of every group seen so far, in order of appearance (the
        dimensions of ``anomaly_detection.context_anomaly_rate``).
    context_values : ndarray of float64
        Percent of each group's active modelled slots that are engaged,
        truncated to two decimals, aligned with ``contexts``.
    new_contexts : tuple of str
        Groups that appeared on this tick (the last ones of ``contexts``).
    scored : bool
        The tick came with calibrated scores (False: bits only).
    """

    t: int
    ml_running: bool
    anomalous: int
    normal: int
    total: int
    trained: int
    engaged: int
    engaged_groups: int
    onset_groups: int
    groups: int
    onset_needed: int
    anomaly_rate: float
    event_open: bool
    new_event: bool
    event: AnomalyEvent | None
    contexts: tuple[str, ...]
    context_values: np.ndarray = field(compare=False, repr=False)
    new_contexts: tuple[str, ...] = ()
    scored: bool = True

    @property
    def host_anomaly_rate(self) -> float:
        """This tick's ``anomalous / total`` as a fraction (0.0 without any): the share of the
        host's modelled dimensions whose stored bit is set (as the other profiles' results say it)."""
        return self.anomalous / self.total if self.total else 0.0

    @property
    def context_rates(self) -> dict[str, float]:
        """``{group name: percent engaged}`` for every group seen so far."""
        return dict(zip(self.contexts, self.context_values.tolist()))

    def ml_info(self) -> dict[str, int]:
        """The counters of ``/api/v1/ml_info`` (Netdata 2's keys)."""
        return {
            "version": 2,
            "ml-running": int(self.ml_running),
            "anomalous-dimensions": self.anomalous,
            "normal-dimensions": self.normal,
            "total-dimensions": self.total,
            "trained-dimensions": self.trained,
        }


# ---------------------------------------------------------------------------
# the detector


class PymlDetector:
    """The ``pyml`` profile's host-level detector (see the module's description for the rules).

    Parameters
    ----------
    update_every : int
        The host's update interval in seconds; timestamps are divided by it
        to count ticks.
    decades : real > 0, keyword-only
        The per-dimension rule's ``decades``: a calibrated score ``50 + 50 g``
        means a saturation rate of ``10^(-decades g)``. Must match the rule's.
    unusual_fraction : real in (0, 1), keyword-only
        ``q``: how often an anomalous dimension is assumed to saturate.
    reference_decades : real >= 0, keyword-only
        ``kappa``: a saturated tick must be rarer than ``q 10^-kappa`` for the
        dimension to gain evidence.
    confirm_decades : real > 0, keyword-only
        Evidence that confirms an episode (engaged).
    evidence_cap : real >= confirm_decades, keyword-only
        The most evidence a dimension holds.
    onset_ticks : int >= 1, keyword-only
        An engaged episode younger than this is a fresh onset.
    onset_groups : int >= 1, keyword-only
        Fresh groups that open an event.
    onset_groups_bits_only : int >= 1, keyword-only
        The same on a tick without calibrated scores.
    end_groups : int >= 1, end_fraction : real in [0, 1], keyword-only
        An event is sustained while its own engaged groups number at least
        ``max(end_groups, end_fraction x peak)``.
    idle_ticks : int >= 1, keyword-only
        Ticks an event may stay below that before it ends.
    refresh_ticks : int >= 1, keyword-only
        Ticks between recounts of the per-group denominators.
    dimension_rate_threshold : real in [0, 1], keyword-only
        Event info lists a dimension when its mean surprise in the event is
        at least this (and above 0).
    max_event_dims : int, keyword-only
        At most this many dimensions per event's info.
    slot_id : callable, sequence or mapping, keyword-only
        Slot -> ``"chart|dim"``, looked up when an event ends (default ``str``).
    context_name : callable, sequence or mapping, keyword-only
        Group id -> name, looked up once when a group appears (default ``str``).

    Notes
    -----
    What the host passes per tick (all of the slot space, one entry per slot):
    the stored anomaly bits, the :data:`ACTIVE`/:data:`TRAINED`/
    :data:`SILENCED` status flags, the "modelled" mask (chart not skipped),
    a group id (the chart's id, or its context's, as a small non-negative
    integer; a negative id keeps a slot out of every group: it then counts as
    a group of its own for onsets and is left out of the per-group chart)
    and, when the bank reports them, the calibrated scores. A slot counts when
    it is active, modelled, trained and not silenced; any other slot's bit and
    score are ignored and its episode ends. :meth:`add_slot` and
    :meth:`remove_slot` tell the detector that a slot now holds another
    dimension (its episode and event share are dropped); they never fail on a
    slot the detector has not seen.

    Examples
    --------
    >>> det = PymlDetector(onset_groups=1, confirm_decades=3)
    >>> on = np.array([ACTIVE | TRAINED], dtype=np.uint8)
    >>> r = det.tick(1_700_000_000, [True], on, [True], [0], scores=[100.0])
    >>> r.anomalous, r.engaged, r.event_open, r.new_event
    (1, 1, True, True)
    """

    def __init__(
        self,
        update_every: int = 1,
        *,
        decades: float = DEFAULT_PARAMETERS["decades"],
        unusual_fraction: float = DEFAULT_PARAMETERS["unusual_fraction"],
        reference_decades: float = DEFAULT_PARAMETERS["reference_decades"],
        confirm_decades: float = DEFAULT_PARAMETERS["confirm_decades"],
        evidence_cap: float = DEFAULT_PARAMETERS["evidence_cap"],
        onset_ticks: int = int(DEFAULT_PARAMETERS["onset_ticks"]),
        onset_groups: int = int(DEFAULT_PARAMETERS["onset_groups"]),
        onset_groups_bits_only: int = int(DEFAULT_PARAMETERS["onset_groups_bits_only"]),
        end_groups: int = int(DEFAULT_PARAMETERS["end_groups"]),
        end_fraction: float = DEFAULT_PARAMETERS["end_fraction"],
        idle_ticks: int = int(DEFAULT_PARAMETERS["idle_ticks"]),
        refresh_ticks: int = int(DEFAULT_PARAMETERS["refresh_ticks"]),
        dimension_rate_threshold: float = 0.0,
        max_event_dims: int = MAX_EVENT_DIMS,
        slot_id: Lookup | None = None,
        context_name: Lookup | None = None,
    ) -> None:
        self._update_every = _count("update_every", update_every)
        self._decades = _number("decades", decades, 0.0, open_low=True)
        self._q = _number("unusual_fraction", unusual_fraction, 0.0, 1.0, open_low=True)
        if self._q >= 1.0:
            raise ValueError(f"unusual_fraction must be below 1, got {unusual_fraction!r}")
        self._kappa = _number("reference_decades", reference_decades, 0.0)
        self._confirm = _number("confirm_decades", confirm_decades, 0.0, open_low=True)
        self._cap = _number("evidence_cap", evidence_cap, 0.0, open_low=True)
        if self._cap < self._confirm:
            raise ValueError(f"evidence_cap ({evidence_cap!r}) must be at least confirm_decades ({confirm_decades!r})")
        self._onset = _count("onset_ticks", onset_ticks)
        self._k_on = _count("onset_groups", onset_groups)
        self._k_on_bits = _count("onset_groups_bits_only", onset_groups_bits_only)
        self._k_off = _count("end_groups", end_groups)
        self._rho = _number("end_fraction", end_fraction, 0.0, 1.0)
        self._idle = _count("idle_ticks", idle_ticks)
        self._refresh = _count("refresh_ticks", refresh_ticks)
        self._dim_threshold = _number("dimension_rate_threshold", dimension_rate_threshold, 0.0, 1.0)
        self._max_event_dims = _count("max_event_dims", max_event_dims)
        _lookup_check("slot_id", slot_id)
        _lookup_check("context_name", context_name)
        self._slot_id = slot_id
        self._context_name = context_name
        # The two CUSUM steps, in decades.
        self._gain0 = math.log10(self._q) - self._kappa  # plus decades * g on a saturated tick
        self._loss = math.log10(1.0 - self._q)

        # Per slot (dense, grown on demand): evidence, episode start (tick), event share.
        self._evidence = np.zeros(0, dtype=np.float64)
        self._start = np.zeros(0, dtype=np.int64)
        self._share = np.zeros(0, dtype=np.float64)
        self._member = np.zeros(0, dtype=bool)
        self._mark = np.zeros(0, dtype=bool)  # scratch, all False between ticks
        self._live = _EMPTY  # slots in an episode (evidence > 0), ascending
        self._buffers = (np.zeros(0, np.uint8), np.zeros(0, np.uint8), np.zeros(0, np.bool_))

        # The open event.
        self._open_k: int | None = None
        self._last_k = 0
        self._after_k = 0
        self._peak = 0
        self._event_ticks = 0
        self._members: list[np.ndarray] = []
        self._prev_onset = 0

        # Per-group denominators and the groups seen so far.
        self._group_total = np.zeros(0, dtype=np.int64)
        self._n_groups = 0
        self._position = np.zeros(0, dtype=np.int64)  # group id -> index in appearance order, -1 unseen
        self._group_ids: list[int] = []
        self._group_ids_array = _EMPTY
        self._group_names: tuple[str, ...] = ()
        self._recount_due = True
        self._since_recount = 0
        self._counted_n = -1

        self._last_t: int | None = None
        self._prev_k: int | None = None
        self._last: PymlResult | None = None

    @classmethod
    def from_config(
        cls,
        cfg: Any,
        update_every: int = 1,
        *,
        slot_id: Lookup | None = None,
        context_name: Lookup | None = None,
        max_event_dims: int = MAX_EVENT_DIMS,
    ) -> PymlDetector:
        """A detector configured from a ``pyml.MLConfig``-like object.

        Reads the fields of :data:`CONFIG_FIELDS` when the configuration has a
        value (not None) for them (``surprise_decades``, ``event_onset_groups``,
        ..., ``dimension_rate_threshold``); every other parameter is the
        measured default of :data:`DEFAULT_PARAMETERS`.
        """
        if cfg is None:
            raise TypeError("cfg must be a configuration object (an MLConfig), got None")
        kwargs: dict[str, Any] = {}
        for name, parameter in CONFIG_FIELDS.items():
            value = getattr(cfg, name, None)
            if value is not None:
                kwargs[parameter] = value
        return cls(update_every, slot_id=slot_id, context_name=context_name, max_event_dims=max_event_dims, **kwargs)

    # -- read-only views -------------------------------------------------

    @property
    def update_every(self) -> int:
        """The host's update interval in seconds."""
        return self._update_every

    @property
    def parameters(self) -> dict[str, float]:
        """The detector's parameters by name (the keys of :data:`DEFAULT_PARAMETERS`)."""
        return {
            "decades": self._decades,
            "unusual_fraction": self._q,
            "reference_decades": self._kappa,
            "confirm_decades": self._confirm,
            "evidence_cap": self._cap,
            "onset_ticks": self._onset,
            "onset_groups": self._k_on,
            "onset_groups_bits_only": self._k_on_bits,
            "end_groups": self._k_off,
            "end_fraction": self._rho,
            "idle_ticks": self._idle,
            "refresh_ticks": self._refresh,
        }

    @property
    def dimension_rate_threshold(self) -> float:
        """The smallest mean surprise that lists a dimension in an event."""
        return self._dim_threshold

    @property
    def max_event_dims(self) -> int:
        """At most this many dimensions per event's info."""
        return self._max_event_dims

    @property
    def slot_id(self) -> Lookup | None:
        """The slot -> ``"chart|dim"`` lookup used for event info."""
        return self._slot_id

    @slot_id.setter
    def slot_id(self, mapping: Lookup | None) -> None:
        _lookup_check("slot_id", mapping)
        self._slot_id = mapping

    @property
    def context_name(self) -> Lookup | None:
        """The group id -> name lookup."""
        return self._context_name

    @context_name.setter
    def context_name(self, mapping: Lookup | None) -> None:
        _lookup_check("context_name", mapping)
        self._context_name = mapping

    @property
    def last_t(self) -> int | None:
        """The timestamp of the last tick, or None."""
        return self._last_t

    @property
    def last_result(self) -> PymlResult | None:
        """What the last tick decided."""
        return self._last

    @property
    def event_open(self) -> bool:
        """Whether an anomaly event is open."""
        return self._open_k is not None

    @property
    def contexts(self) -> tuple[str, ...]:
        """Every group seen so far, in order of appearance."""
        return self._group_names

    def context_ids(self) -> list[int]:
        """The ids of :attr:`contexts`, same order."""
        return list(self._group_ids)

    def evidence(self) -> np.ndarray:
        """Per-slot evidence in decades (0 outside an episode), a copy."""
        return self._evidence.copy()

    def episode_starts(self) -> dict[int, int]:
        """``{slot: tick index of its episode's first tick}`` for the slots in an episode."""
        return {int(s): int(self._start[s]) for s in self._live.tolist()}

    def ml_info(self) -> dict[str, int]:
        """``/api/v1/ml_info`` from the last tick (all 0 before the first)."""
        if self._last is not None:
            return self._last.ml_info()
        return {
            "version": 2,
            "ml-running": 0,
            "anomalous-dimensions": 0,
            "normal-dimensions": 0,
            "total-dimensions": 0,
            "trained-dimensions": 0,
        }

    # -- slots -------------------------------------------------------------

    def add_slot(self, slot: int) -> None:
        """A new dimension took ``slot``: drop whatever episode or event share it had."""
        self._forget(np.array([_slot(slot)], dtype=np.int64))

    def add_slots(self, slots: Any) -> None:
        """:meth:`add_slot` for several slots."""
        self._forget(_slot_array("slots", slots).astype(np.int64))

    def remove_slot(self, slot: int) -> None:
        """The dimension of ``slot`` went away: its episode ends and it is not listed in the open event."""
        self._forget(np.array([_slot(slot)], dtype=np.int64))

    def remove_slots(self, slots: Any) -> None:
        """:meth:`remove_slot` for several slots."""
        self._forget(_slot_array("slots", slots).astype(np.int64))

    def _scratch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-tick scratch buffers over the slot space (never state)."""
        if self._buffers[0].size < n:
            size = max(n, 2 * self._buffers[0].size, 64)
            self._buffers = (np.zeros(size, np.uint8), np.zeros(size, np.uint8), np.zeros(size, np.bool_))
        flags, low_bit, mask = self._buffers
        return flags[:n], low_bit[:n], mask[:n]

    def _reserve(self, size: int) -> None:
        if size <= self._evidence.size:  # the per-slot arrays always grow together, to the same size
            return
        self._evidence = _grow(self._evidence, size, 0.0)
        self._start = _grow(self._start, size, 0)
        self._share = _grow(self._share, size, 0.0)
        self._member = _grow(self._member, size, False)
        self._mark = _grow(self._mark, size, False)

    def _forget(self, indices: np.ndarray) -> None:
        self._recount_due = True
        if indices.size == 0:
            return
        self._reserve(int(indices.max()) + 1)
        self._evidence[indices] = 0.0
        self._share[indices] = 0.0
        if self._live.size:
            self._live = self._live[~np.isin(self._live, indices)]

    # -- the tick ------------------------------------------------------------

    def _recount(self, n: int, st: np.ndarray, md: np.ndarray, cx: np.ndarray) -> tuple[Any, ...]:
        """Plan a recount of the per-group denominators; look up the names of new groups (may raise)."""
        enabled = np.flatnonzero(((st & ACTIVE) != 0) & md)
        ids = cx[enabled]
        ids = ids[ids >= 0]
        totals = np.bincount(ids) if ids.size else np.zeros(0, dtype=np.int64)
        present = np.flatnonzero(totals)
        seen = self._position
        inside = present < seen.size
        fresh = np.concatenate([present[~inside], present[inside][seen[present[inside]] < 0]])
        fresh.sort()
        names = [_lookup("context_name", self._context_name, int(i), "group") for i in fresh.tolist()]
        return totals, fresh, names, n

    def _commit_recount(self, plan: tuple[Any, ...]) -> None:
        totals, fresh, names, n = plan
        self._group_total = totals.astype(np.int64)
        self._n_groups = int(np.count_nonzero(totals))
        if fresh.size:
            self._position = _grow(self._position, int(fresh.max()) + 1, -1)
            for ident, name in zip(fresh.tolist(), names):
                self._position[ident] = len(self._group_ids)
                self._group_ids.append(ident)
            self._group_ids_array = np.asarray(self._group_ids, dtype=np.int64)
            self._group_names = self._group_names + tuple(names)
        self._recount_due = False
        self._since_recount = 0
        self._counted_n = n

    def _event_info(self, split: tuple[int, np.ndarray, np.ndarray] | None = None) -> list[list[Any]]:
        """``[value, id]`` pairs of the open event, value descending then id descending.

        With ``split = (before_k, cand, start)`` (a new onset wave splits the
        event; ``start`` is this tick's episode start of the slots ``cand``),
        slots whose current episode began at or after ``before_k`` belong to
        the next event and are left out.
        """
        ticks = self._event_ticks
        if not self._members or ticks == 0:
            return []
        slots = np.unique(np.concatenate(self._members))
        if split is not None:
            before_k, cand, start = split
            starts = self._start[slots]
            if cand.size:
                at = np.minimum(np.searchsorted(cand, slots), cand.size - 1)
                current = cand[at] == slots
                starts = np.where(current, start[at], starts)
            slots = slots[starts < before_k]
        values = self._share[slots] / float(ticks)
        positive = values > 0.0
        return rank_event_dimensions(slots[positive], values[positive], threshold=self._dim_threshold,
                                     limit=self._max_event_dims,
                                     ident=lambda slot: _lookup("slot_id", self._slot_id, slot, "slot"), log=logger)

    def _close(self, split: tuple[int, np.ndarray, np.ndarray] | None = None) -> AnomalyEvent:
        """The open event as it stands (info looked up; may raise). Changes nothing."""
        ue = self._update_every
        return AnomalyEvent(self._after_k * ue - ue, self._last_k * ue, self._event_info(split))

    def _clear_event(self) -> None:
        if self._members:
            slots = np.concatenate(self._members)
            self._share[slots] = 0.0
            self._member[slots] = False
        self._members = []
        self._open_k = None
        self._event_ticks = 0
        self._peak = 0

    def tick(
        self,
        t: Any,
        bits: Any,
        status: Any,
        modelled: Any,
        context_ids: Any,
        scores: Any = None,
        *,
        ml_running: bool = True,
    ) -> PymlResult:
        """Run the host level for the tick at ``t``.

        Parameters
        ----------
        t : int
            Epoch seconds; must increase from tick to tick (a jump is a gap:
            episodes lose ``log10(1 - q)`` per missing tick and an open event
            whose last sustained tick is more than ``idle_ticks`` ago ends).
        bits : array-like of bool, shape (n,)
            The anomaly bit of every slot as stored this tick.
        status : array-like of uint8, shape (n,)
            Status flags of every slot (:data:`ACTIVE`, :data:`TRAINED`,
            :data:`SILENCED`, :data:`VARIABLE`).
        modelled : array-like of bool, shape (n,)
            The slot's chart is modelled (not excluded by ``charts to skip``).
        context_ids : array-like of int, shape (n,)
            Each slot's group id (its chart's or context's).
        scores : array-like of float, shape (n,), optional
            Each slot's calibrated score (0-100) this tick. Without it the
            tick runs on bits alone (see the module's description).
        ml_running : bool, keyword-only
            False: every count 0, episodes and the open event end (it is
            returned), nothing else changes.

        Returns
        -------
        PymlResult

        Invalid arguments, and a failing ``slot_id`` or ``context_name``
        lookup, raise before anything changes.
        """
        stamp = t if type(t) is int else _timestamp(t)
        if self._last_t is not None and stamp <= self._last_t:
            raise ValueError(f"t = {stamp} does not follow the previous tick t = {self._last_t}")
        bt = _bools("bits", bits)
        st = _status(status)
        md = _bools("modelled", modelled)
        cx = _groups(context_ids)
        n = bt.size
        sc = None if scores is None else _scores(scores)
        if not st.size == md.size == cx.size == n or (sc is not None and sc.size != n):
            lengths = f"{bt.size}, {st.size}, {md.size}, {cx.size}" + ("" if sc is None else f", {sc.size}")
            raise ValueError(f"bits, status, modelled, context_ids{'' if sc is None else ' and scores'} must have "
                             f"one entry per slot each; got lengths {lengths}")
        k = stamp // self._update_every
        if not ml_running:
            return self._not_running(stamp, k)
        self._reserve(n)

        # -- counts (full passes, one byte per slot, into scratch buffers) -------------
        flags, low_bit, mask = self._scratch(n)
        np.bitwise_and(st, ACTIVE | TRAINED | SILENCED, out=flags)
        np.bitwise_and(flags, ACTIVE, out=low_bit)
        np.logical_and(low_bit.view(np.bool_), md, out=mask)
        total = int(np.count_nonzero(mask))
        np.equal(flags, ACTIVE | TRAINED, out=mask)
        np.logical_and(mask, md, out=mask)
        n_trained = int(np.count_nonzero(mask))
        counted = mask  # scratch: read by index below, never kept
        onsets = bt.nonzero()[0]  # bt is 1-D: flatnonzero's result, without its ravel
        if onsets.size:
            onsets = onsets[counted[onsets]]

        # -- groups: recount the denominators when due (may raise on a name lookup) ---
        recount = self._recount_due or n != self._counted_n or self._since_recount + 1 >= self._refresh
        plan = self._recount(n, st, md, cx) if recount else None
        new_names: list[str] = plan[2] if plan is not None else []
        if not onsets.size and not self._live.size and self._open_k is None:
            return self._quiet(stamp, k, plan, total, n_trained, sc is not None, new_names)

        # -- episodes: the live slots and this tick's onsets -------------------------
        live = self._live
        dropped = _EMPTY
        if live.size and int(live[-1]) >= n:  # the slot space shrank: those episodes end
            dropped = live[live >= n]
            live = live[live < n]
        if onsets.size and live.size:
            cand = np.concatenate([live, onsets])
            cand.sort()
            keep = np.empty(cand.size, dtype=np.bool_)
            keep[0] = True
            np.not_equal(cand[1:], cand[:-1], out=keep[1:])
            cand = cand[keep]
        else:
            cand = onsets if onsets.size else live
        gap = 0 if self._prev_k is None else k - self._prev_k - 1
        prev = self._evidence[cand]
        if gap and live.size:
            prev = np.maximum(prev + gap * self._loss, 0.0)
        ok = counted[cand]
        self._mark[onsets] = True
        is_bit = self._mark[cand]
        self._mark[onsets] = False
        started = is_bit & (prev <= 0.0)
        start = np.where(started, k, self._start[cand])
        if sc is not None:
            s = sc[cand]
            saturated = s >= SATURATED
            g = np.minimum(np.maximum((s - SATURATED) / SATURATED, 0.0), 1.0)
            g[~saturated] = 0.0
            step = np.where(saturated, self._gain0 + self._decades * g, self._loss)
            needed = self._k_on
        else:
            g = is_bit.astype(np.float64)
            step = np.where(is_bit, self._cap, self._loss)
            needed = self._k_on_bits
        evidence = np.minimum(np.maximum(prev + step, 0.0), self._cap)
        evidence[~(ok & ((prev > 0.0) | is_bit))] = 0.0
        in_episode = evidence > 0.0
        engaged = evidence >= self._confirm
        fresh = engaged & (k - start < self._onset)
        keys = np.where(cx[cand] >= 0, cx[cand], -1 - cand)
        onset_groups = _distinct(keys[fresh])
        engaged_groups = _distinct(keys[engaged])

        # -- the event -----------------------------------------------------------------
        open_k = self._open_k
        ended: AnomalyEvent | None = None
        close = False
        split = False
        peak = self._peak
        last_k = self._last_k
        if open_k is not None and k - last_k > self._idle:
            close = True  # a gap longer than the idle time
        elif open_k is not None:
            own = engaged & (start >= open_k - self._onset)
            own_groups = _distinct(keys[own])
            peak = max(peak, own_groups)
            if onset_groups >= needed and self._prev_onset < needed and k - open_k >= self._onset:
                close = split = True  # a new onset wave
            elif own_groups >= max(self._k_off, self._rho * peak):
                last_k = k
            elif k - last_k >= self._idle:
                close = True
        if close:
            self._last_k = last_k
            # may raise (slot_id); nothing committed yet. On a split, the new wave's episodes are the next event's.
            ended = self._close((int(start[fresh].min()), cand, start) if split else None)
        opens = (open_k is None or close) and onset_groups >= needed

        # -- commit ------------------------------------------------------------------------
        if plan is not None:
            self._commit_recount(plan)
        else:
            self._since_recount += 1
        if dropped.size:
            self._evidence[dropped] = 0.0
        self._evidence[cand] = evidence
        self._start[cand] = start
        self._live = cand[in_episode]
        if close:
            self._clear_event()
        else:
            self._peak = peak
            self._last_k = last_k
        new_event = False
        if opens:
            new_event = True
            self._open_k = k
            self._last_k = k
            self._after_k = int(start[fresh].min())
            self._peak = 0
            self._event_ticks = 0
            self._members = []
        if self._open_k is not None and self._last_k == k:  # the event is sustained on this tick
            own = in_episode & (start >= self._open_k - self._onset)
            members = cand[own]
            if members.size:
                self._share[members] += g[own]
                joined = members[~self._member[members]]
                if joined.size:
                    self._member[joined] = True
                    self._members.append(joined)
            self._event_ticks += 1
        self._prev_onset = onset_groups
        self._prev_k = k
        self._last_t = stamp

        # -- per-group values (only the groups with an engaged slot are not 0) --------------------
        values = np.zeros(len(self._group_ids), dtype=np.float64)
        if values.size and engaged_groups:
            engaged_ids = cx[cand[engaged]]
            size = self._group_total.size
            engaged_ids = engaged_ids[(engaged_ids >= 0) & (engaged_ids < size)]
            if engaged_ids.size:
                engaged_ids.sort()
                first = np.empty(engaged_ids.size, dtype=np.bool_)
                first[0] = True
                np.not_equal(engaged_ids[1:], engaged_ids[:-1], out=first[1:])
                starts = np.flatnonzero(first)
                ids = engaged_ids[starts]
                hits = np.diff(np.append(starts, engaged_ids.size))
                totals = self._group_total[ids]
                shown = (totals > 0) & (ids < self._position.size)
                ids, hits, totals = ids[shown], hits[shown], totals[shown]
                at = self._position[ids]
                shown = at >= 0
                rates = np.minimum(hits[shown] / totals[shown], 1.0)
                values[at[shown]] = np.trunc(rates * 10000.0) / 100
        groups = self._n_groups
        rate = math.trunc(min(engaged_groups / groups, 1.0) * 10000.0) / 100 if groups else 0.0
        anomalous = int(onsets.size)
        result = PymlResult(
            t=stamp,
            ml_running=True,
            anomalous=anomalous,
            normal=total - anomalous,
            total=total,
            trained=n_trained,
            engaged=int(np.count_nonzero(engaged)),
            engaged_groups=engaged_groups,
            onset_groups=onset_groups,
            groups=groups,
            onset_needed=needed,
            anomaly_rate=rate,
            event_open=self._open_k is not None,
            new_event=new_event,
            event=ended,
            contexts=self._group_names,
            context_values=values,
            new_contexts=tuple(new_names),
            scored=sc is not None,
        )
        self._last = result
        return result

    def _quiet(self, stamp: int, k: int, plan: tuple[Any, ...] | None, total: int, n_trained: int, scored: bool,
               new_names: list[str]) -> PymlResult:
        """The rest of a tick with no onset, no episode and no open event (most ticks of a quiet host).

        What :meth:`tick` would do with nothing to follow: no evidence, no
        group fresh or engaged, no event to open; only the counters move.
        """
        if plan is not None:
            self._commit_recount(plan)
        else:
            self._since_recount += 1
        self._prev_onset = 0
        self._prev_k = k
        self._last_t = stamp
        result = PymlResult(
            t=stamp, ml_running=True, anomalous=0, normal=total, total=total, trained=n_trained, engaged=0,
            engaged_groups=0, onset_groups=0, groups=self._n_groups,
            onset_needed=self._k_on if scored else self._k_on_bits, anomaly_rate=0.0, event_open=False,
            new_event=False, event=None, contexts=self._group_names,
            context_values=np.zeros(len(self._group_ids), dtype=np.float64), new_contexts=tuple(new_names),
            scored=scored,
        )
        self._last = result
        return result

    def _not_running(self, stamp: int, k: int) -> PymlResult:
        ended = self.finish() if self._open_k is not None else None  # may raise before changes
        self._evidence[self._live] = 0.0
        self._live = _EMPTY
        self._prev_onset = 0
        self._prev_k = k
        self._last_t = stamp
        result = PymlResult(
            t=stamp, ml_running=False, anomalous=0, normal=0, total=0, trained=0, engaged=0, engaged_groups=0,
            onset_groups=0, groups=self._n_groups, onset_needed=self._k_on, anomaly_rate=0.0, event_open=False,
            new_event=False, event=ended, contexts=self._group_names,
            context_values=np.zeros(len(self._group_ids), dtype=np.float64),
        )
        self._last = result
        return result

    def finish(self) -> AnomalyEvent | None:
        """End the open event now (the host is closing) and return it, or None.

        The event ends at its last sustained tick. Episodes are kept.
        """
        if self._open_k is None:
            return None
        event = self._close()
        self._clear_event()
        return event

    def __repr__(self) -> str:
        return (
            f"PymlDetector(update_every={self._update_every}, onset_groups={self._k_on}, "
            f"confirm_decades={self._confirm:g}; last_t={self._last_t}, live={self._live.size}, "
            f"event_open={self.event_open})"
        )
