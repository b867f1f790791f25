"""The host-level anomaly detector: the bit-rate window and anomaly events (SPEC §5).

Once per host tick the detector turns the anomaly bits of every modelled
dimension into one host bit, feeds it to a :class:`BitRateWindow`, and when the
window leaves ``AboveThreshold`` for ``Idle`` it reports an anomaly event with
the dimensions that contributed most to it.

* :class:`BitRateWindow` is the state machine of SPEC §5.2–§5.3, one bit per
  tick, in plain Python.
* :class:`AnomalyDetector` does SPEC §5.1 and §5.4 for a whole host. It works
  on *slots*, integer indices into a slot space that grows on demand; the
  per-dimension state is held in NumPy arrays (a ``(min_window, capacity)``
  ring of bits plus two counters per slot), so one tick costs a handful of
  vectorised operations whatever the number of dimensions.

Neither object is thread-safe: each has a single writer (the host's tick).
"""

from __future__ import annotations

import enum
import logging
import math
import numbers
import operator
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence, Union

import numpy as np

from .._arrays import as_flags
from .event_info import rank_event_dimensions

__all__ = [
    "MAX_EVENT_DIMS",
    "AnomalyDetector",
    "AnomalyEvent",
    "BitRateWindow",
    "SlotCounters",
    "TickResult",
    "Transition",
    "WindowState",
]

logger = logging.getLogger(__name__)

#: The reference keeps at most this many ``[rate, id]`` pairs per event.
MAX_EVENT_DIMS = 2000

SlotIds = Union[Callable[[int], str], Sequence[str]]


class WindowState(enum.Enum):
    """The four states of the bit-rate window (SPEC §5.3)."""

    NotFilled = "NotFilled"
    BelowThreshold = "BelowThreshold"
    AboveThreshold = "AboveThreshold"
    Idle = "Idle"


_NF = WindowState.NotFilled
_BELOW = WindowState.BelowThreshold
_ABOVE = WindowState.AboveThreshold
_IDLE = WindowState.Idle


class Transition(NamedTuple):
    """What one :meth:`BitRateWindow.insert` did: the edge taken and the window length ``W``.

    For ``AboveThreshold -> Idle`` the length is that of the event just ended.
    """

    from_state: WindowState
    to_state: WindowState
    window_length: int


# ---------------------------------------------------------------------------
# argument checks


def _real(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _window_size(name: str, value: Any) -> int:
    """A window size in ticks: a real number truncated to an integer, as the reference does."""
    number = _real(name, value)
    if number < 1.0:
        raise ValueError(f"{name} must be at least 1 tick, got {value!r}")
    return int(number)


def _fraction(name: str, value: Any, upper: float | None = 1.0) -> float:
    number = _real(name, value)
    if number < 0.0 or (upper is not None and number > upper):
        bounds = f"in [0, {upper:g}]" if upper is not None else "at least 0"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return number


def _index(name: str, value: Any) -> int:
    """Anything with ``__index__`` except a bool, as ``int``; else ``TypeError`` naming it."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None


def _positive_int(name: str, value: Any) -> int:
    number = _index(name, value)
    if number < 1:
        raise ValueError(f"{name} must be at least 1, got {value!r}")
    return number


def _bit(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, numbers.Real) and value in (0, 1):
        return int(float(value))
    if isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a bit (True/False or 0/1), got {value!r}")
    raise TypeError(f"{name} must be a bit (True/False or 0/1), got {value!r}")


def _slot(value: Any) -> int:
    number = _index("slot", value)
    if number < 0:
        raise ValueError(f"slot must be non-negative, got {number}")
    return number


def _slot_array(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of slots, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.intp)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype} (first value {arr[0]!r})")
    if arr.dtype.kind == "i" and (arr < 0).any():
        raise ValueError(f"{name} holds a negative slot: {int(arr[np.flatnonzero(arr < 0)[0]])}")
    if int(arr.max()) > np.iinfo(np.intp).max // 2:
        raise ValueError(f"{name} holds a slot too large for a slot space: {int(arr.max())}")
    out = arr.astype(np.intp)
    uniq, counts = np.unique(out, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{name} lists slot {int(uniq[counts > 1][0])} more than once")
    return out


def _flags(name: str, value: Any, n_slots: int) -> np.ndarray:
    """One boolean per slot, 1-D, at least ``n_slots`` long; converted losslessly once."""
    if isinstance(value, np.ndarray) and value.dtype == np.bool_:
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be array-like: {exc}") from None
        if arr.dtype != np.bool_:
            arr = as_flags(name, arr, arr.shape).reshape(arr.shape)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one flag per slot), got shape {arr.shape}")
    if arr.shape[0] < n_slots:
        raise ValueError(f"{name} has {arr.shape[0]} flags; the slot space needs at least {n_slots}")
    return arr


def _timestamp(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"t must be epoch seconds (an integer), got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    if not math.isfinite(number) or number != math.floor(number):
        raise ValueError(f"t must be a whole number of epoch seconds, got {value!r}")
    return int(number)


def _counter_dtype(largest: int) -> np.dtype:
    for dtype in (np.uint16, np.uint32):
        if largest <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


# ---------------------------------------------------------------------------
# the window


class BitRateWindow:
    """The host's bit-rate window state machine (SPEC §5.2–§5.3).

    Parameters
    ----------
    min_window, max_window, idle_window : real
        Window sizes in ticks, truncated to integers as the reference does
        (``Min``, ``Max``, ``Idle``). ``min_window`` and ``idle_window`` must be
        at least 1 and ``max_window`` greater than ``min_window``.
    rate_threshold : real in [0, 1]
        The minimum rate of set bits; the state machine compares the ones in
        the last ``Min`` bits with ``T = int(min_window * rate_threshold)``
        (30 × 0.25 gives 7, an effective rate of 23.3 %).

    Examples
    --------
    >>> w = BitRateWindow(30, 600, 30, 0.25)
    >>> w.threshold
    7
    >>> w.insert(False)
    Transition(from_state=<WindowState.NotFilled: 'NotFilled'>, to_state=<WindowState.NotFilled: 'NotFilled'>, window_length=1)
    """

    def __init__(self, min_window: float, max_window: float, idle_window: float, rate_threshold: float) -> None:
        low = _window_size("min_window", min_window)
        high = _window_size("max_window", max_window)
        idle = _window_size("idle_window", idle_window)
        rate = _fraction("rate_threshold", rate_threshold)
        if high <= low:
            # As the reference's configuration check: with Max <= Min an event could never end by length.
            raise ValueError(f"max_window ({max_window!r}) must be greater than min_window ({min_window!r})")
        self._min = low
        self._max = high
        self._idle = idle
        self._rate = rate
        self._threshold = int(_real("min_window", min_window) * rate)
        self._state = _NF
        self._length = 0
        # The bit buffer (SPEC §5.2): the last min(count, Min) bits, written at ``pos``.
        self._bits = [0] * low
        self._pos = 0
        self._count = 0
        self._ones = 0

    # -- read-only views -------------------------------------------------

    @property
    def min_window(self) -> int:
        """``Min``: the buffer capacity and the length of a new window, in ticks."""
        return self._min

    @property
    def max_window(self) -> int:
        """``Max``: the longest event, in ticks."""
        return self._max

    @property
    def idle_window(self) -> int:
        """``Idle``: how many ticks the window idles after an event."""
        return self._idle

    @property
    def rate_threshold(self) -> float:
        """The rate the threshold was derived from."""
        return self._rate

    @property
    def threshold(self) -> int:
        """``T = int(min_window * rate_threshold)``: set bits needed in the last ``Min``."""
        return self._threshold

    @property
    def state(self) -> WindowState:
        """The current state."""
        return self._state

    @property
    def length(self) -> int:
        """The current window length counter ``len``."""
        return self._length

    @property
    def ones(self) -> int:
        """Set bits among the last ``min(n, Min)`` bits of the buffer."""
        return self._ones

    @property
    def filled(self) -> bool:
        """Whether the buffer holds ``Min`` bits."""
        return self._count >= self._min

    def buffer(self) -> list[int]:
        """The bits in the buffer, oldest first."""
        if self._count < self._min:
            return self._bits[: self._count]
        return self._bits[self._pos :] + self._bits[: self._pos]

    def __repr__(self) -> str:
        return (
            f"BitRateWindow(min_window={self._min}, max_window={self._max}, idle_window={self._idle}, "
            f"rate_threshold={self._rate!r}; state={self._state.name}, length={self._length}, "
            f"ones={self._ones}/{min(self._count, self._min)})"
        )

    # -- the machine -----------------------------------------------------

    def _plan(self, bit: int) -> tuple[Transition, int, int]:
        """The transition ``bit`` would cause, without changing anything.

        Returns the transition, the new ``len`` and the new count of ones
        (before any Idle -> NotFilled buffer replacement).
        """
        lowest = self._min
        ones = self._ones + bit
        if self._count >= lowest:
            ones -= self._bits[self._pos]
        filled = self._count + 1 >= lowest
        state = self._state
        below = ones < self._threshold
        if state is _NF:
            to = (_BELOW if below else _ABOVE) if filled else _NF
        elif state is _BELOW:
            to = _BELOW if below else _ABOVE
        elif state is _ABOVE:
            to = _IDLE if (below or self._length == self._max) else _ABOVE
        else:
            to = _NF if self._length == self._idle else _IDLE

        if state is _NF and to is _BELOW or state is _BELOW:
            length = window = lowest
        elif state is _ABOVE and to is _IDLE:
            window, length = self._length, 1
        elif state is _IDLE and to is _NF:
            window = length = 1
        else:  # NotFilled->NotFilled, NotFilled->Above, Above->Above, Idle->Idle
            window = length = self._length + 1
        return Transition(state, to, window), length, ones

    def _commit(self, bit: int, transition: Transition, length: int, ones: int) -> None:
        if transition.from_state is _IDLE and transition.to_state is _NF:
            # A fresh buffer holding only this bit.
            self._bits = [0] * self._min
            self._bits[0] = bit
            self._pos = 1 % self._min
            self._count = 1
            self._ones = bit
        else:
            self._bits[self._pos] = bit
            self._pos = (self._pos + 1) % self._min
            self._count = min(self._count + 1, self._min)
            self._ones = ones
        self._state = transition.to_state
        self._length = length

    def insert(self, bit: Any) -> Transition:
        """Push one bit and take one edge of the state machine.

        Parameters
        ----------
        bit : bool or 0/1
            The host bit of this tick.

        Returns
        -------
        Transition
            ``(from_state, to_state, window_length)`` exactly as SPEC §5.3.
        """
        value = _bit("bit", bit)
        transition, length, ones = self._plan(value)
        self._commit(value, transition, length, ones)
        return transition


# ---------------------------------------------------------------------------
# the detector


class AnomalyEvent(NamedTuple):
    """An anomaly event, reported on the tick it ends (SPEC §5.1 step 6).

    ``after``/``before`` are epoch seconds (``before`` is the tick's ``t``,
    ``after = before - W * update_every``); ``info`` is the list of
    ``[rate, "chart|dim"]`` pairs, rate descending then id descending.
    """

    after: int
    before: int
    info: list[list[Any]]


@dataclass(frozen=True)
class TickResult:
    """Everything one :meth:`AnomalyDetector.tick` decided.

    Attributes
    ----------
    t : int
        The tick's timestamp.
    host_bit : bool
        The bit inserted into the window: the *previous* tick's host anomaly
        rate compared with ``host_anomaly_rate_threshold``.
    from_state, to_state : WindowState
        The window's edge.
    window_length : int
        ``W`` in ticks (for ``AboveThreshold -> Idle`` the event's length).
    window_duration : int
        ``W * update_every`` in seconds.
    reset : bool
        ``from_state != AboveThreshold`` (the per-dimension counters restarted).
    new_event : bool
        ``AboveThreshold -> Idle``: an event ended on this tick.
    host_anomaly_rate : float
        This tick's anomalous / total modelled dimensions (0.0 without any);
        it decides the *next* tick's host bit.
    total, trained, normal, anomalous : int
        Counts over the active slots.
    event : AnomalyEvent or None
        The event that ended, when ``new_event`` and at least one dimension's
        rate reached ``dimension_rate_threshold`` (the reference stores
        nothing otherwise).
    """

    t: int
    host_bit: bool
    from_state: WindowState
    to_state: WindowState
    window_length: int
    window_duration: int
    reset: bool
    new_event: bool
    host_anomaly_rate: float
    total: int
    trained: int
    normal: int
    anomalous: int
    event: AnomalyEvent | None = None

    @property
    def event_open(self) -> bool:
        """An event is open after this tick (the window is above the threshold), as every profile's result says."""
        return self.to_state is _ABOVE

    def chart_values(self) -> dict[str, dict[str, int]]:
        """The values of the detector's ``anomaly_detection.*`` charts for this tick (SPEC §7).

        Keyed by chart id, then dimension name. ``anomaly_rate`` is the rate
        × 10000 truncated to an integer (the chart divides by 100, giving a
        percentage with two decimals); ``duration`` is ``W × update_every``.
        The timing charts (``prediction_stats``, ``training_stats``) are
        measured by the caller.
        """
        return {
            "anomaly_detection.dimensions": {
                "total": self.total,
                "trained": self.trained,
                "normal": self.normal,
                "anomalous": self.anomalous,
            },
            "anomaly_detection.anomaly_rate": {"anomaly_rate": int(self.host_anomaly_rate * 10000.0)},
            "anomaly_detection.detector_window": {"duration": self.window_duration},
            "anomaly_detection.detector_events": {
                "above_threshold": int(self.to_state is _ABOVE),
                "reset_bit_counter": int(self.reset),
                "new_anomaly_event": int(self.new_event),
            },
        }


class SlotCounters(NamedTuple):
    """Per-slot counters, indexed by slot over the slot space (inactive slots read 0).

    ``ones``: anomalous ticks among the slot's last ``min_window`` ticks.
    ``k``: the event counter of SPEC §5.4; a slot's rate is ``k / W``.
    """

    ones: np.ndarray
    k: np.ndarray


class AnomalyDetector:
    """The host-level anomaly detector (SPEC §5.1, §5.4), vectorised over slots.

    Parameters
    ----------
    min_window, max_window, idle_window, window_rate_threshold : real
        The :class:`BitRateWindow` parameters (``minimum window size``,
        ``maximum window size``, ``idle window size``, ``window minimum
        anomaly rate``).
    host_anomaly_rate_threshold : real in [0, 1]
        The host bit is set when the fraction of anomalous modelled
        dimensions is at least this.
    dimension_rate_threshold : real, at least 0
        A dimension is listed in an event's info when its rate is at least
        this (``anomaly event min dimension rate threshold``).
    max_event_dims : int
        At most this many dimensions are listed per event (the reference's
        2000); a warning is logged when more qualified.
    update_every : int
        The host's update interval in seconds (``W × update_every`` is an
        event's duration).
    slot_id : callable or sequence, optional
        Maps a slot to its ``"chart_id|dim_name"`` id for event info:
        ``slot_id(slot)`` or ``slot_id[slot]``, looked up only when an event
        ends. The default is ``str(slot)``.

    Notes
    -----
    Slots are integer indices into a slot space that grows on demand
    (:meth:`add_slot`). Only active slots are modelled dimensions: they count
    in the totals and rates. A slot removed and added again starts fresh.
    ``tick`` takes the anomaly bits and trained flags of the whole slot space
    (entries of inactive slots, and any beyond :attr:`n_slots`, are ignored).

    Examples
    --------
    >>> det = AnomalyDetector(min_window=30, max_window=600, idle_window=30, window_rate_threshold=0.25)
    >>> det.add_slot(0)
    >>> r = det.tick(1_700_000_000, np.array([True]), np.array([True]))
    >>> r.host_bit, r.host_anomaly_rate, r.anomalous
    (False, 1.0, 1)
    """

    def __init__(
        self,
        min_window: float = 30,
        max_window: float = 600,
        idle_window: float = 30,
        window_rate_threshold: float = 0.25,
        host_anomaly_rate_threshold: float = 0.01,
        dimension_rate_threshold: float = 0.05,
        max_event_dims: int = MAX_EVENT_DIMS,
        update_every: int = 1,
        slot_id: SlotIds | None = None,
    ) -> None:
        window = BitRateWindow(min_window, max_window, idle_window, window_rate_threshold)
        self._host_threshold = _fraction("host_anomaly_rate_threshold", host_anomaly_rate_threshold)
        self._dim_threshold = _fraction("dimension_rate_threshold", dimension_rate_threshold, upper=None)
        self._max_event_dims = _positive_int("max_event_dims", max_event_dims)
        self._update_every = _positive_int("update_every", update_every)
        if slot_id is not None and not callable(slot_id) and not hasattr(slot_id, "__getitem__"):
            raise TypeError(f"slot_id must be a callable or a sequence of ids, got {slot_id!r}")
        self._slot_id = slot_id
        self._window = window

        lowest = window.min_window
        self._ones_dtype = _counter_dtype(lowest)
        # K never exceeds Max + 2 (SPEC §5.4); Min + Max + 2 is a safe bound.
        self._k_dtype = _counter_dtype(lowest + window.max_window + 2)
        self._capacity = 0
        self._n_slots = 0
        self._n_active = 0
        self._active = np.zeros(0, dtype=bool)
        self._ring = np.zeros((lowest, 0), dtype=np.uint8)  # row = tick mod Min, column = slot
        self._ones = np.zeros(0, dtype=self._ones_dtype)
        self._k = np.zeros(0, dtype=self._k_dtype)
        self._scratch = np.zeros(0, dtype=bool)
        self._row = 0
        self._rate = 0.0
        self._last_t: int | None = None

    @classmethod
    def from_config(
        cls, cfg: Any, *, update_every: int = 1, slot_id: SlotIds | None = None, max_event_dims: int = MAX_EVENT_DIMS
    ) -> AnomalyDetector:
        """A detector configured from a ``pyml.MLConfig``-like object.

        Reads ``min_window_size``, ``max_window_size``, ``idle_window_size``,
        ``window_rate_threshold``, ``host_anomaly_rate_threshold`` and
        ``dimension_rate_threshold`` by name.
        """
        names = (
            "min_window_size",
            "max_window_size",
            "idle_window_size",
            "window_rate_threshold",
            "host_anomaly_rate_threshold",
            "dimension_rate_threshold",
        )
        missing = [name for name in names if not hasattr(cfg, name)]
        if missing:
            raise TypeError(f"cfg lacks the detector setting(s) {', '.join(missing)}: {cfg!r}")
        return cls(
            min_window=cfg.min_window_size,
            max_window=cfg.max_window_size,
            idle_window=cfg.idle_window_size,
            window_rate_threshold=cfg.window_rate_threshold,
            host_anomaly_rate_threshold=cfg.host_anomaly_rate_threshold,
            dimension_rate_threshold=cfg.dimension_rate_threshold,
            max_event_dims=max_event_dims,
            update_every=update_every,
            slot_id=slot_id,
        )

    # -- read-only views -------------------------------------------------

    @property
    def window(self) -> BitRateWindow:
        """The host's bit-rate window (read it; only :meth:`tick` should insert)."""
        return self._window

    @property
    def state(self) -> WindowState:
        """The window's current state."""
        return self._window.state

    @property
    def host_anomaly_rate(self) -> float:
        """The rate computed at the end of the last tick (0.0 before the first)."""
        return self._rate

    @property
    def last_t(self) -> int | None:
        """The timestamp of the last tick, or None."""
        return self._last_t

    @property
    def n_slots(self) -> int:
        """Size of the slot space: one more than the highest slot ever added."""
        return self._n_slots

    @property
    def n_active(self) -> int:
        """Number of active slots (modelled dimensions)."""
        return self._n_active

    @property
    def update_every(self) -> int:
        """The host's update interval in seconds."""
        return self._update_every

    @property
    def host_anomaly_rate_threshold(self) -> float:
        return self._host_threshold

    @property
    def dimension_rate_threshold(self) -> float:
        return self._dim_threshold

    @property
    def max_event_dims(self) -> int:
        return self._max_event_dims

    @property
    def slot_id(self) -> SlotIds | None:
        """The slot -> id mapping used for event info."""
        return self._slot_id

    @slot_id.setter
    def slot_id(self, mapping: SlotIds | None) -> None:
        if mapping is not None and not callable(mapping) and not hasattr(mapping, "__getitem__"):
            raise TypeError(f"slot_id must be a callable or a sequence of ids, got {mapping!r}")
        self._slot_id = mapping

    def is_active(self, slot: int) -> bool:
        """Whether ``slot`` is active."""
        index = _slot(slot)
        return index < self._n_slots and bool(self._active[index])

    def active_slots(self) -> np.ndarray:
        """The active slots, ascending."""
        return np.flatnonzero(self._active[: self._n_slots])

    def counters(self) -> SlotCounters:
        """Copies of the per-slot counters over ``[0, n_slots)``."""
        n = self._n_slots
        return SlotCounters(self._ones[:n].copy(), self._k[:n].copy())

    # -- slots -------------------------------------------------------------

    def _reserve(self, n_slots: int) -> None:
        if n_slots <= self._capacity:
            return
        capacity = max(n_slots, 2 * self._capacity, 64)
        extra = capacity - self._capacity
        self._active = np.concatenate([self._active, np.zeros(extra, dtype=bool)])
        self._ones = np.concatenate([self._ones, np.zeros(extra, dtype=self._ones_dtype)])
        self._k = np.concatenate([self._k, np.zeros(extra, dtype=self._k_dtype)])
        ring = np.zeros((self._window.min_window, capacity), dtype=np.uint8)
        ring[:, : self._capacity] = self._ring
        self._ring = ring
        self._scratch = np.zeros(capacity, dtype=bool)
        self._capacity = capacity

    def add_slot(self, slot: int) -> None:
        """Activate ``slot`` (a new modelled dimension), growing the slot space if needed.

        The slot starts with empty counters. Raises ``ValueError`` if it is
        already active.
        """
        index = _slot(slot)
        if index < self._n_slots and self._active[index]:
            raise ValueError(f"slot {index} is already active")
        self._reserve(index + 1)
        self._active[index] = True
        self._n_slots = max(self._n_slots, index + 1)
        self._n_active += 1

    def add_slots(self, slots: Any) -> None:
        """Activate several slots at once (all or none; see :meth:`add_slot`)."""
        indices = _slot_array("slots", slots)
        if indices.size == 0:
            return
        known = indices[indices < self._n_slots]
        if known.size and self._active[known].any():
            raise ValueError(f"slot {int(known[self._active[known]][0])} is already active")
        self._reserve(int(indices.max()) + 1)
        self._active[indices] = True
        self._n_slots = max(self._n_slots, int(indices.max()) + 1)
        self._n_active += int(indices.size)

    def _clear(self, indices: Any) -> None:
        self._active[indices] = False
        self._ones[indices] = 0
        self._k[indices] = 0
        self._ring[:, indices] = 0

    def remove_slot(self, slot: int) -> None:
        """Deactivate ``slot`` (a dimension went away); its counters are cleared.

        Raises ``ValueError`` if the slot is not active.
        """
        index = _slot(slot)
        if not (index < self._n_slots and self._active[index]):
            raise ValueError(f"slot {index} is not active")
        self._clear(index)
        self._n_active -= 1

    def remove_slots(self, slots: Any) -> None:
        """Deactivate several slots at once (all or none; see :meth:`remove_slot`)."""
        indices = _slot_array("slots", slots)
        if indices.size == 0:
            return
        outside = indices >= self._n_slots
        if outside.any():
            raise ValueError(f"slot {int(indices[outside][0])} is not active")
        inactive = ~self._active[indices]
        if inactive.any():
            raise ValueError(f"slot {int(indices[inactive][0])} is not active")
        self._clear(indices)
        self._n_active -= int(indices.size)

    # -- the tick ------------------------------------------------------------

    def _id_of(self, slot: int) -> str:
        mapping = self._slot_id
        if mapping is None:
            return str(slot)
        try:
            ident = mapping(slot) if callable(mapping) else mapping[slot]
        except (IndexError, KeyError) as exc:
            raise ValueError(f"slot_id has no id for active slot {slot}: {exc!r}") from None
        if not isinstance(ident, str):
            raise TypeError(f"slot_id gave {ident!r} for slot {slot}; ids must be str")
        return ident

    def _event_info(self, bits: np.ndarray, window: int) -> list[list[Any]]:
        """``[rate, id]`` pairs of the active slots whose rate reaches the threshold.

        Computed from this tick's counters before they are committed (on an
        event's last tick there is no reset, so ``K`` grows by this tick's bit).
        """
        n = self._n_slots
        slots = np.flatnonzero(self._active[:n])
        k = self._k[slots].astype(np.int64) + bits[slots]
        return rank_event_dimensions(slots, k.astype(np.float64) / float(window), threshold=self._dim_threshold,
                                     limit=self._max_event_dims, ident=self._id_of, log=logger)

    def tick(self, t: Any, bits: Any, trained: Any) -> TickResult:
        """Run one detector pass (SPEC §5.1) for the host tick at ``t``.

        Parameters
        ----------
        t : int
            Epoch seconds of this tick; must increase from tick to tick.
        bits : array-like of bool, shape (>= n_slots,)
            The current anomaly bit of every slot (inactive slots ignored).
        trained : array-like of bool, shape (>= n_slots,)
            Whether each slot's dimension has a model.

        Returns
        -------
        TickResult
            The edge taken, the window length, counts, this tick's host
            anomaly rate and, when an event ended, the event.

        The host bit inserted is the previous tick's rate against
        ``host_anomaly_rate_threshold`` (SPEC §5.1 step 1). Invalid arguments
        raise before anything changes.
        """
        stamp = _timestamp(t)
        if self._last_t is not None and stamp <= self._last_t:
            raise ValueError(f"t = {stamp} does not follow the previous tick t = {self._last_t}")
        n = self._n_slots
        bit_flags = _flags("bits", bits, n)
        trained_flags = _flags("trained", trained, n)

        host_bit = int(self._rate >= self._host_threshold)
        transition, length, window_ones = self._window._plan(host_bit)
        from_state, to_state, w = transition
        reset = from_state is not _ABOVE
        new_event = from_state is _ABOVE and to_state is _IDLE

        active = self._active[:n]
        scratch = self._scratch[:n]
        np.logical_and(bit_flags[:n], active, out=scratch)
        b8 = scratch.view(np.uint8)

        info: list[list[Any]] | None = None
        if new_event and self._n_active:
            info = self._event_info(b8, w)  # may raise (slot_id); nothing changed yet

        anomalous = int(np.count_nonzero(scratch))
        # -- commit ----------------------------------------------------------
        self._window._commit(host_bit, transition, length, window_ones)
        k = self._k[:n]
        ones = self._ones[:n]
        if reset:
            np.copyto(k, ones, casting="unsafe")  # K = ones before this tick's bit
        np.add(k, b8, out=k, casting="unsafe")
        row = self._ring[self._row, :n]
        np.subtract(ones, row, out=ones, casting="unsafe")
        np.add(ones, b8, out=ones, casting="unsafe")
        row[:] = b8
        self._row = (self._row + 1) % self._window.min_window

        np.logical_and(trained_flags[:n], active, out=scratch)
        n_trained = int(np.count_nonzero(scratch))
        total = self._n_active
        rate = anomalous / total if anomalous else 0.0
        self._rate = rate
        self._last_t = stamp

        event = None
        if info:
            event = AnomalyEvent(stamp - w * self._update_every, stamp, info)
        return TickResult(
            t=stamp,
            host_bit=bool(host_bit),
            from_state=from_state,
            to_state=to_state,
            window_length=w,
            window_duration=w * self._update_every,
            reset=reset,
            new_event=new_event,
            host_anomaly_rate=rate,
            total=total,
            trained=n_trained,
            normal=total - anomalous,
            anomalous=anomalous,
            event=event,
        )

    def __repr__(self) -> str:
        return (
            f"AnomalyDetector({self._n_active} active of {self._n_slots} slots, state={self.state.name}, "
            f"host_anomaly_rate={self._rate!r}, last_t={self._last_t})"
        )
