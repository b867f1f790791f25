"""The grouped host anomaly-rate detector of Netdata today (SPEC-NETDATA-2 §5.5, §7.1-§7.3), plus events.

Netdata removed the bit-rate window of v1.33 in v1.37. Since then the host
level works like this, once per second and host:

1. **Counts** (§5.5, §7.1). Every dimension of a chart that is not excluded by
   ``charts to skip`` is *enabled*. An enabled dimension whose metric type is
   *constant* counts as normal whatever its bit; a *variable* one counts as
   anomalous or normal by its bit when trained, as normal when silenced, and
   not at all while untrained. ``rate = anomalous / (anomalous + normal)``.
2. **Stored rate** (§7.1). ``trunc(rate * 10000)`` is written with divisor 100
   into ``anomaly_detection.anomaly_rate``: percent with two decimals. The same
   formula per *context* gives ``anomaly_detection.context_anomaly_rate``
   (§7.2), one dimension per context, added as contexts appear, never removed.
3. **Detector events** (§7.3). A one-point query of that stored series over
   ``[now - ue - D_g, now - ue]`` with the configured grouping gives ``r``
   (percent); ``above_threshold = r >= threshold``, ``new_anomaly_event =
   above_threshold and not prev``, ``prev = above_threshold``. A window with no
   value gives no update that second (a gap). ML not running writes 0 and 0.

pyml adds **anomaly events** on top (not in Netdata since v1.37): an event is a
maximal run of ticks with ``above_threshold = 1``. It ends at the first tick
whose computed ``above_threshold`` is 0 (or whose ML is not running), or when
:meth:`GroupedRateDetector.finish` is called at close; a gap neither ends nor
extends it. Its bounds are ``after = t_first - update_every`` (the start of
the first tick's interval, as v1.33's ``before - W * ue``) and ``before =
t_last``, the last tick that was above. Its info lists the dimensions by their
anomaly rate within the event, ``anomalous ticks / ticks of the event``, counted
with the anomaly bits as stored (a constant dimension's anomalous bit counts
here though the host rate counts it normal), in v1.33's shape: ``[[rate,
"chart|dim"], ...]``, rate descending then id descending, only rates of at least
``dimension_rate_threshold`` and never a dimension with no anomalous tick, at
most ``max_event_dims`` pairs. An event is reported even when no dimension
qualifies (empty info): the host rate was above the threshold all the same.

Choices where Netdata's code has no pyml counterpart, each documented where it
is implemented: ``now`` is the tick's ``t`` (Netdata's detection thread reads
the wall clock a moment after the point at ``now`` was stored, so the query
ends at the previous point, as here); the series is the detector's own copy of
the values it wrote (:meth:`GroupedRateDetector.seed` refills it after a
restart); ``prev`` belongs to the detector, one per host, whereas Netdata's is
one ``static thread_local`` shared by every host of the detection thread, so
with several hosts its edge compares against the previously processed host;
pyml does not copy that. The window is the spec's closed interval, ``D_g /
ue + 1`` points when every tick is there; Netdata's query planner may also
align a one-point query's end to a multiple of its grouping, which is not
modelled (not verified against a running agent). Both rates are evaluated
division first, ``trunc((a / (a + n)) * 10000.0)``, as Netdata's code does;
the spec's ``trunc(100 * 100 * a / (a + n))`` reads the same on paper but
differs in the last digit for 54 pairs with a, n < 300 (43 and 82: 34.39 %, not 34.40 %).

Vectorisation. Everything per slot is a handful of NumPy operations on the
tick's arrays: boolean masks and ``count_nonzero`` for the counts, one
``uint32`` add for the event counters while an event is open. Per-context
counts are kept incrementally: the detector remembers last tick's "counted"
and "active" masks and context ids and only revisits the slots where one of
them changed (``bincount`` over those), plus a ``bincount`` over the slots that
are anomalous this tick. A steady tick at 100,000 slots is therefore a few
dozen passes of one byte per slot.

The detector is single-writer (the host's tick); reads of its properties from
other threads see a consistent last result, not a tick in progress.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np

from .detector import MAX_EVENT_DIMS, AnomalyEvent, _positive_int, _real, _slot, _slot_array, _timestamp
from .event_info import rank_event_dimensions

__all__ = [
    "ACTIVE",
    "DEFAULT_DIMENSION_RATE_THRESHOLD",
    "GROUPING_METHODS",
    "MAX_CONTEXT_ID",
    "SILENCED",
    "TRAINED",
    "VARIABLE",
    "GroupedRateDetector",
    "GroupedRateResult",
    "SlotStatus",
    "grouped_value",
    "stored_rate",
]

logger = logging.getLogger(__name__)


class SlotStatus(enum.IntFlag):
    """Per-slot status flags, one ``uint8`` per slot (bank -> host -> detectors)."""

    ACTIVE = 0x01  #: slot in use
    TRAINED = 0x02  #: holds at least one model (or Netdata's "< 2 vectors" trained state)
    SILENCED = 0x04  #: silenced by noisy-dimension suppression (reports normal)
    VARIABLE = 0x08  #: the value changed at a prediction since the last training attempt


ACTIVE = int(SlotStatus.ACTIVE)
TRAINED = int(SlotStatus.TRAINED)
SILENCED = int(SlotStatus.SILENCED)
VARIABLE = int(SlotStatus.VARIABLE)

#: The time groupings of Netdata's query engine that pyml implements for the
#: detector's query (``avg`` and ``mean`` are accepted as ``average``). Netdata
#: has more (percentile, trimmed-mean, trimmed-median, stddev, cv, ses, des,
#: incremental_sum, ...); any other name falls back to ``average`` with a
#: warning, as Netdata does for a name it does not know.
GROUPING_METHODS = ("average", "min", "max", "sum", "median")

#: Events list a dimension whose rate within the event is at least this (pyml's
#: default, the v1.33 ``anomaly event min dimension rate threshold``).
DEFAULT_DIMENSION_RATE_THRESHOLD = 0.05

#: Context ids are dense small integers kept by the host; larger ids are refused.
MAX_CONTEXT_ID = (1 << 20) - 1

_ZERO_COUNTS = dict.fromkeys(
    ("a", "normal", "enabled", "disabled_sp", "constant", "variable", "untrained", "trained", "silenced"), 0
)

SlotIds = Union[Callable[[int], str], Sequence[str], Mapping[int, str]]


# ---------------------------------------------------------------------------
# the two formulas that are Netdata's exactly


def stored_rate(anomalous: int, normal: int) -> int:
    """The integer Netdata collects for a rate: ``trunc((a / (a + n)) * 10000.0)``, 0 when ``a + n == 0``.

    Evaluated as Netdata does, in double precision, the division first: for
    a = 43, n = 82 the exact ``10000 * 43 / 125 = 3440`` but the double
    ``0.344 * 10000.0`` is ``3439.9999...`` and the stored value is 3439
    (34.39 %). The chart divides by 100.
    """
    total = anomalous + normal
    if total == 0:
        return 0
    return int(anomalous / total * 10000.0)


def grouped_value(values: np.ndarray, method: str) -> float:
    """Time-group the values of one query window (at least one value) as Netdata's query engine does.

    ``average`` and ``sum`` add the values in time order in double precision
    (``average`` then divides by the count); ``median`` is the middle value of
    the sorted window, or the mean of the two middle ones.
    """
    if values.size == 0:
        raise ValueError("a query window needs at least one value")
    if method == "average":
        return float(np.add.accumulate(values)[-1]) / values.size
    if method == "sum":
        return float(np.add.accumulate(values)[-1])
    if method == "min":
        return float(values.min())
    if method == "max":
        return float(values.max())
    if method == "median":
        ordered = np.sort(values)
        middle = ordered.size // 2
        if ordered.size % 2:
            return float(ordered[middle])
        return (float(ordered[middle - 1]) + float(ordered[middle])) / 2.0
    raise ValueError(f"grouping method must be one of {', '.join(GROUPING_METHODS)}, got {method!r}")


# ---------------------------------------------------------------------------
# argument checks


def _percent(name: str, value: Any) -> float:
    number = _real(name, value)
    if not 0.0 <= number <= 100.0:
        raise ValueError(f"{name} must be a percentage in [0, 100], got {value!r}")
    return number


def _fraction(name: str, value: Any) -> float:
    number = _real(name, value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return number


def _method(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"grouping_method must be a string, got {value!r}")
    if value in GROUPING_METHODS:
        return value
    if value in ("avg", "mean"):  # Netdata's aliases of average
        return "average"
    logger.warning(
        "anomaly detection grouping method %r is not one pyml implements (%s); using 'average'",
        value,
        ", ".join(GROUPING_METHODS),
    )
    return "average"


def _lookup_check(name: str, mapping: Any) -> None:
    if mapping is not None and not callable(mapping) and not hasattr(mapping, "__getitem__"):
        raise TypeError(f"{name} must be a callable, a sequence or a mapping of names, got {mapping!r}")


def _lookup(name: str, mapping: Any, key: int, what: str) -> str:
    if mapping is None:
        return str(key)
    try:
        found = mapping(key) if callable(mapping) else mapping[key]
    except (IndexError, KeyError) as exc:
        raise ValueError(f"{name} has no name for {what} {key}: {exc!r}") from None
    if not isinstance(found, str):
        raise TypeError(f"{name} gave {found!r} for {what} {key}; names must be str")
    return found


def _array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be array-like: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one entry per slot), got shape {arr.shape}")
    return arr


def _bools(name: str, value: Any) -> np.ndarray:
    arr = _array(name, value)
    if arr.dtype == np.bool_:
        return arr
    if arr.size == 0:
        return np.zeros(0, dtype=bool)
    if arr.dtype.kind in "iuf":
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}[{first}] = {arr[first].item()!r} is not a boolean (0 or 1)")
        return arr.astype(bool)
    raise TypeError(f"{name} must be boolean, got dtype {arr.dtype}")


def _status(value: Any) -> np.ndarray:
    arr = _array("status", value)
    if arr.dtype == np.uint8:
        return arr
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint8)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"status must hold uint8 flags, got dtype {arr.dtype}")
    bad = (arr < 0) | (arr > 255) if arr.dtype.kind == "i" else arr > 255
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"status[{first}] = {int(arr[first])} is not a uint8 set of flags")
    return arr.astype(np.uint8)


def _contexts(value: Any) -> np.ndarray:
    arr = _array("context", value)
    if arr.dtype == np.int64:
        return arr
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu" or arr.dtype == np.uint64:
        raise TypeError(f"context must hold integer context ids, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _check_ids(ids: np.ndarray) -> None:
    if ids.size and int(ids.max()) > MAX_CONTEXT_ID:
        raise ValueError(f"context id {int(ids.max())} is larger than the largest allowed, {MAX_CONTEXT_ID}")


def _grow(arr: np.ndarray, size: int, fill: Any) -> np.ndarray:
    if size <= arr.size:
        return arr
    out = np.full(max(size, 2 * arr.size, 64), fill, dtype=arr.dtype)
    out[: arr.size] = arr
    return out


# ---------------------------------------------------------------------------
# per-context counts


class _ContextTally:
    """The per-context counts behind ``anomaly_detection.context_anomaly_rate`` (§7.2), kept incrementally.

    Holds, per context id, how many counted slots carry it, and the contexts
    seen so far in order of appearance. It remembers last running tick's
    "counted" and "active" masks and context ids and, each tick, revisits only
    the slots where one of them changed. :meth:`plan` computes a tick's
    changes without touching anything (and does the name lookups, which may
    raise); :meth:`commit` applies them and returns the stored values.
    """

    def __init__(self, lookup: SlotIds | None) -> None:
        self.lookup = lookup
        self.names: tuple[str, ...] = ()
        self._names: list[str] = []
        self._ids: list[int] = []
        self._ids_array = np.zeros(0, dtype=np.int64)
        self._counted = np.zeros(0, dtype=np.int64)  # counted slots carrying the id
        self._position = np.zeros(0, dtype=np.int64)  # id -> index in appearance order, -1 unseen
        self._prev_n = 0
        self._prev_counted = np.zeros(0, dtype=bool)
        self._prev_active = np.zeros(0, dtype=bool)
        self._prev_ctx = np.zeros(0, dtype=np.int64)
        self._masks: list[np.ndarray] = []

    @property
    def ids(self) -> list[int]:
        """The ids of :attr:`names`, same order."""
        return list(self._ids)

    def zeros(self) -> np.ndarray:
        """The values of a tick with ML not running: 0 for every context seen."""
        return np.zeros(len(self._ids), dtype=np.float64)

    def plan(
        self, n: int, cx: np.ndarray, counted: np.ndarray, active: np.ndarray, anom: np.ndarray
    ) -> dict[str, Any]:
        """What this tick changes in the per-context counts, without changing anything.

        Only slots whose "counted" or "active" state or context id differs
        from the last running tick are looked at; on a steady tick that is
        three comparisons plus the ids of this tick's anomalous slots.
        """
        m = self._prev_n
        common = min(n, m)
        if not self._masks or self._masks[0].size < common:
            size = max(common, 2 * (self._masks[0].size if self._masks else 0), 64)
            self._masks = [np.zeros(size, dtype=bool) for _ in range(3)]
        ctx_diff, changed_counted, changed_active = (b[:common] for b in self._masks)
        np.not_equal(cx[:common], self._prev_ctx[:common], out=ctx_diff)
        np.not_equal(counted[:common], self._prev_counted[:common], out=changed_counted)
        np.not_equal(active[:common], self._prev_active[:common], out=changed_active)
        ctx_any = bool(ctx_diff.any())
        empty = np.zeros(0, dtype=np.int64)
        plan: dict[str, Any] = {"ctx_any": ctx_any, "ctx_diff": ctx_diff, "old_ids": empty, "new_ids": empty,
                                "fresh": empty, "new_names": []}
        anomalous_ids = cx[np.flatnonzero(anom)]
        plan["anomalous_ids"] = anomalous_ids[anomalous_ids >= 0]
        if n == m and not ctx_any and not changed_counted.any() and not changed_active.any():
            return plan
        if ctx_any:
            relevant = counted[:common] | self._prev_counted[:common]
            changed_counted |= ctx_diff & relevant
            changed_active |= ctx_diff

        idx = np.flatnonzero(changed_counted)
        old_slots = idx[self._prev_counted[idx]]
        new_slots = idx[counted[idx]]
        if n > m:
            new_slots = np.concatenate([new_slots, m + np.flatnonzero(counted[m:n])])
        if m > n:
            old_slots = np.concatenate([old_slots, n + np.flatnonzero(self._prev_counted[n:m])])
        old_ids = self._prev_ctx[old_slots]
        new_ids = cx[new_slots]
        plan["old_ids"] = old_ids[old_ids >= 0]
        plan["new_ids"] = new_ids = new_ids[new_ids >= 0]
        _check_ids(new_ids)

        # Contexts carried by an active slot for the first time.
        look = np.flatnonzero(changed_active & active[:common])
        if n > m:
            look = np.concatenate([look, m + np.flatnonzero(active[m:n])])
        ids = cx[look]
        ids = ids[ids >= 0]
        _check_ids(ids)
        ids = np.unique(ids)
        seen = self._position
        inside = ids < seen.size
        fresh = np.concatenate([ids[~inside], ids[inside][seen[ids[inside]] < 0]])
        fresh.sort()
        plan["fresh"] = fresh
        plan["new_names"] = [_lookup("context_name", self.lookup, int(i), "context") for i in fresh.tolist()]
        return plan

    def commit(
        self, n: int, cx: np.ndarray, counted: np.ndarray, active: np.ndarray, plan: dict[str, Any]
    ) -> np.ndarray:
        """Apply a plan; return the stored per-context values in order of appearance."""
        new_ids, fresh = plan["new_ids"], plan["fresh"]
        if new_ids.size or fresh.size:
            top = max(int(new_ids.max()) + 1 if new_ids.size else 0, int(fresh.max()) + 1 if fresh.size else 0)
            self._counted = _grow(self._counted, top, 0)
            self._position = _grow(self._position, top, -1)
        size = self._counted.size
        if plan["old_ids"].size:
            self._counted -= np.bincount(plan["old_ids"], minlength=size)
        if new_ids.size:
            self._counted += np.bincount(new_ids, minlength=size)
        if fresh.size:
            for ident, name in zip(fresh.tolist(), plan["new_names"]):
                self._position[ident] = len(self._ids)
                self._ids.append(ident)
                self._names.append(name)
            self._ids_array = np.asarray(self._ids, dtype=np.int64)
            self.names = tuple(self._names)

        # The per-slot view of this tick becomes the reference for the next.
        m = self._prev_n
        if n > self._prev_counted.size:
            self._prev_counted = _grow(self._prev_counted, n, False)
            self._prev_active = _grow(self._prev_active, n, False)
            self._prev_ctx = _grow(self._prev_ctx, n, -1)
        self._prev_counted[:n] = counted
        self._prev_active[:n] = active
        common = min(n, m)
        if plan["ctx_any"]:
            np.copyto(self._prev_ctx[:common], cx[:common], where=plan["ctx_diff"])
        if n > m:
            self._prev_ctx[m:n] = cx[m:n]
        if m > n:
            self._prev_counted[n:m] = False
            self._prev_active[n:m] = False
            self._prev_ctx[n:m] = -1
        self._prev_n = n

        ids = self._ids_array
        if ids.size == 0:
            return np.zeros(0, dtype=np.float64)
        anomalous = np.bincount(plan["anomalous_ids"], minlength=size)[ids].astype(np.float64)
        total = self._counted[ids].astype(np.float64)
        rate = np.zeros(ids.size, dtype=np.float64)
        np.divide(anomalous, total, out=rate, where=total > 0)
        return np.trunc(rate * 10000.0) / 100


# ---------------------------------------------------------------------------
# the result


@dataclass(frozen=True)
class GroupedRateResult:
    """Everything one :meth:`GroupedRateDetector.tick` decided.

    Attributes
    ----------
    t : int
        The tick's timestamp.
    ml_running : bool
        Whether ML ran for the host this tick (if not, every count is 0).
    anomalous, normal : int
        Dimensions counted anomalous / normal (SPEC-NETDATA-2 §5.5):
        ``anomaly_detection.dimensions``.
    enabled, disabled_sp : int
        Active slots of modelled / excluded charts (``netdata.ml_status``).
    constant, variable : int
        Enabled slots by metric type (``netdata.ml_metric_types``).
    untrained, trained, silenced : int
        Training status of enabled slots (``netdata.ml_training_status``):
        constant dimensions count as trained, silenced ones as silenced and
        trained; the two pending states are always 0 (removed in v2.1).
    anomaly_rate_collected : int
        ``trunc(rate * 10000)``, the integer stored in
        ``anomaly_detection.anomaly_rate`` (divisor 100).
    grouped_rate : float or None
        ``r``, the grouped value of the stored series over ``[t - ue - D_g,
        t - ue]`` in percent; None when the window held no value (or ML was
        not running).
    window_points : int
        How many stored values the window held.
    above_threshold, new_anomaly_event : bool or None
        The ``anomaly_detection.detector_events`` values; None on a gap (no
        value in the window: no update that second).
    contexts : tuple of str
        Names of every context seen so far, in order of appearance: the
        dimensions of ``anomaly_detection.context_anomaly_rate``.
    context_values : ndarray of float64
        Their stored values this tick (percent, two decimals), aligned with
        ``contexts``.
    new_contexts : tuple of str
        Contexts that appeared on this tick (the last ones of ``contexts``).
    event : AnomalyEvent or None
        The anomaly event that ended on this tick (pyml's addition).
    event_open : bool
        Whether an event is open after this tick.
    """

    t: int
    ml_running: bool
    anomalous: int
    normal: int
    enabled: int
    disabled_sp: int
    constant: int
    variable: int
    untrained: int
    trained: int
    silenced: int
    anomaly_rate_collected: int
    grouped_rate: float | None
    window_points: int
    above_threshold: bool | None
    new_anomaly_event: bool | None
    contexts: tuple[str, ...]
    context_values: np.ndarray = field(compare=False, repr=False)
    new_contexts: tuple[str, ...] = ()
    event: AnomalyEvent | None = None
    event_open: bool = False

    #: Netdata's two pending training states, always 0 since v2.1.
    pending_without_model: int = 0
    pending_with_model: int = 0

    @property
    def total(self) -> int:
        """``anomalous + normal``: the dimensions in the host rate's denominator."""
        return self.anomalous + self.normal

    @property
    def host_anomaly_rate(self) -> float:
        """This tick's ``anomalous / (anomalous + normal)`` as a fraction (0.0 without any)."""
        total = self.anomalous + self.normal
        return self.anomalous / total if total else 0.0

    @property
    def anomaly_rate(self) -> float:
        """The stored host rate in percent: ``anomaly_rate_collected / 100``."""
        return self.anomaly_rate_collected / 100

    @property
    def gap(self) -> bool:
        """No value in the query window: the detector events are not updated this tick."""
        return self.above_threshold is None

    @property
    def context_rates(self) -> dict[str, float]:
        """``{context: stored percent}`` for every context seen so far."""
        return dict(zip(self.contexts, self.context_values.tolist()))

    def ml_info(self) -> dict[str, int]:
        """The counters of ``/api/v1/ml_info`` under Netdata 2 (SPEC-NETDATA-2 §8.5)."""
        return {
            "version": 2,
            "ml-running": int(self.ml_running),
            "anomalous-dimensions": self.anomalous,
            "normal-dimensions": self.normal,
            "total-dimensions": self.anomalous + self.normal,
            "trained-dimensions": self.trained + self.pending_with_model,
        }


# ---------------------------------------------------------------------------
# the detector


class GroupedRateDetector:
    """Netdata 2's host-level detector (SPEC-NETDATA-2 §7.1-§7.3) with pyml's anomaly events.

    Parameters
    ----------
    update_every : int
        The host's update interval ``ue`` in seconds.
    grouping_duration : int
        ``anomaly detection grouping duration`` ``D_g`` in seconds (Netdata
        clamps it to [60, 900]; here any positive number of seconds).
    grouping_method : str
        ``anomaly detection grouping method``: one of :data:`GROUPING_METHODS`;
        any other name is treated as ``average`` with a warning.
    host_rate_threshold_percent : real in [0, 100]
        ``host anomaly rate threshold`` in percent (Netdata's default 1.0).
    dimension_rate_threshold : real in [0, 1], keyword-only
        Event info lists a dimension when its rate within the event is at
        least this (pyml's addition).
    max_event_dims : int, keyword-only
        At most this many dimensions per event's info (a warning is logged
        when more qualified).
    slot_id : callable, sequence or mapping, keyword-only
        Slot -> ``"chart|dim"`` for event info, looked up when an event ends;
        the default is ``str(slot)``.
    context_name : callable, sequence or mapping, keyword-only
        Context id -> context name, looked up once when a context appears;
        the default is ``str(id)``.

    Notes
    -----
    Everything the counts depend on comes with each tick: the anomaly bits,
    the status flags (:class:`SlotStatus`), the host's "modelled" mask and the
    context ids of the whole slot space. :meth:`add_slot` and
    :meth:`remove_slot` only tell the detector that a slot now holds another
    dimension, so that an open event does not carry the old one's count over
    to it; they never fail on a slot the detector has not seen.

    Examples
    --------
    >>> det = GroupedRateDetector(update_every=1, grouping_duration=60, host_rate_threshold_percent=1.0)
    >>> on = np.array([SlotStatus.ACTIVE | SlotStatus.TRAINED | SlotStatus.VARIABLE], dtype=np.uint8)
    >>> r = det.tick(1_700_000_000, np.array([True]), on, np.array([True]), np.array([0]))
    >>> r.anomalous, r.anomaly_rate, r.gap
    (1, 100.0, True)
    >>> r = det.tick(1_700_000_001, np.array([False]), on, np.array([True]), np.array([0]))
    >>> r.grouped_rate, r.above_threshold, r.new_anomaly_event
    (100.0, True, True)
    """

    def __init__(
        self,
        update_every: int = 1,
        grouping_duration: int = 300,
        grouping_method: str = "average",
        host_rate_threshold_percent: float = 1.0,
        *,
        dimension_rate_threshold: float = DEFAULT_DIMENSION_RATE_THRESHOLD,
        max_event_dims: int = MAX_EVENT_DIMS,
        slot_id: SlotIds | None = None,
        context_name: SlotIds | None = None,
    ) -> None:
        self._update_every = _positive_int("update_every", update_every)
        self._duration = _positive_int("grouping_duration", grouping_duration)
        self._requested_method = grouping_method
        self._method = _method(grouping_method)
        self._threshold = _percent("host_rate_threshold_percent", host_rate_threshold_percent)
        self._dim_threshold = _fraction("dimension_rate_threshold", dimension_rate_threshold)
        self._max_event_dims = _positive_int("max_event_dims", max_event_dims)
        _lookup_check("slot_id", slot_id)
        _lookup_check("context_name", context_name)
        self._slot_id = slot_id

        # The stored host-rate series: (t, percent) in time order, live part [lo, hi).
        capacity = 2 * (self._duration + self._update_every + 2)
        self._series_t = np.zeros(capacity, dtype=np.int64)
        self._series_v = np.zeros(capacity, dtype=np.float64)
        self._lo = 0
        self._hi = 0

        self._prev = False
        self._last_t: int | None = None
        self._last: GroupedRateResult | None = None

        self._contexts = _ContextTally(context_name)

        # The open event: per-slot anomalous ticks, first/last tick and tick count.
        self._counts = np.zeros(0, dtype=np.uint32)
        self._event_first: int | None = None
        self._event_last = 0
        self._event_ticks = 0

        # Scratch buffers (never state): uint8 flag planes and boolean masks.
        self._scratch_capacity = 0
        self._u8: list[np.ndarray] = []
        self._b: list[np.ndarray] = []

    @classmethod
    def from_config(
        cls,
        cfg: Any,
        update_every: int = 1,
        *,
        slot_id: SlotIds | None = None,
        context_name: SlotIds | None = None,
        max_event_dims: int = MAX_EVENT_DIMS,
    ) -> GroupedRateDetector:
        """A detector configured from a ``pyml.MLConfig``-like object (the ``netdata-2`` profile's fields).

        Reads ``host_rate_threshold_fraction`` (times 100, rounded to ten
        decimals so that the percent given is the percent used: 7 / 100 * 100
        is 7.000000000000001 otherwise), ``grouping_method`` and
        ``grouping_duration`` (seconds). Reads ``dimension_rate_threshold``
        when the config has a value for it, else uses
        :data:`DEFAULT_DIMENSION_RATE_THRESHOLD`.
        """
        names = ("host_rate_threshold_fraction", "grouping_method", "grouping_duration")
        values = {name: getattr(cfg, name, None) for name in names}
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise TypeError(f"cfg lacks the detector setting(s) {', '.join(missing)}: {cfg!r}")
        dim_threshold = getattr(cfg, "dimension_rate_threshold", None)
        return cls(
            update_every,
            values["grouping_duration"],
            values["grouping_method"],
            round(_real("host_rate_threshold_fraction", values["host_rate_threshold_fraction"]) * 100.0, 10),
            dimension_rate_threshold=DEFAULT_DIMENSION_RATE_THRESHOLD if dim_threshold is None else dim_threshold,
            max_event_dims=max_event_dims,
            slot_id=slot_id,
            context_name=context_name,
        )

    # -- read-only views -------------------------------------------------

    @property
    def update_every(self) -> int:
        """The host's update interval in seconds."""
        return self._update_every

    @property
    def grouping_duration(self) -> int:
        """``D_g`` in seconds."""
        return self._duration

    @property
    def grouping_method(self) -> str:
        """The grouping in use (``average`` for a name pyml does not implement)."""
        return self._method

    @property
    def requested_grouping_method(self) -> str:
        """The grouping method as configured."""
        return self._requested_method

    @property
    def host_rate_threshold_percent(self) -> float:
        """The threshold ``r`` is compared with, in percent."""
        return self._threshold

    @property
    def dimension_rate_threshold(self) -> float:
        """The smallest rate within an event that lists a dimension."""
        return self._dim_threshold

    @property
    def max_event_dims(self) -> int:
        """At most this many dimensions per event's info."""
        return self._max_event_dims

    @property
    def slot_id(self) -> SlotIds | None:
        """The slot -> ``"chart|dim"`` lookup used for event info."""
        return self._slot_id

    @slot_id.setter
    def slot_id(self, mapping: SlotIds | None) -> None:
        _lookup_check("slot_id", mapping)
        self._slot_id = mapping

    @property
    def context_name(self) -> SlotIds | None:
        """The context id -> name lookup."""
        return self._contexts.lookup

    @context_name.setter
    def context_name(self, mapping: SlotIds | None) -> None:
        _lookup_check("context_name", mapping)
        self._contexts.lookup = mapping

    @property
    def last_t(self) -> int | None:
        """The timestamp of the last tick, or None."""
        return self._last_t

    @property
    def last_result(self) -> GroupedRateResult | None:
        """What the last tick decided."""
        return self._last

    @property
    def prev_above_threshold(self) -> bool:
        """``prev`` of §7.3: the last computed ``above_threshold`` (gaps and ML stops leave it)."""
        return self._prev

    @property
    def contexts(self) -> tuple[str, ...]:
        """Every context seen so far, in order of appearance."""
        return self._contexts.names

    def context_ids(self) -> list[int]:
        """The ids of :attr:`contexts`, same order."""
        return self._contexts.ids

    @property
    def event_open(self) -> bool:
        """Whether an anomaly event is open."""
        return self._event_first is not None

    def series(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the stored host-rate values still needed by a future query: ``(t, percent)``."""
        return self._series_t[self._lo : self._hi].copy(), self._series_v[self._lo : self._hi].copy()

    def event_counts(self) -> np.ndarray:
        """Per-slot anomalous ticks of the open event (zeros when none is open), a copy."""
        if self._event_first is None:
            return np.zeros(self._counts.size, dtype=np.uint32)
        return self._counts.copy()

    def ml_info(self) -> dict[str, int]:
        """``/api/v1/ml_info`` under Netdata 2 from the last tick (all 0 before the first)."""
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
        """A new dimension took ``slot``: forget whatever the open event counted for it."""
        self._forget(np.array([_slot(slot)], dtype=np.intp))

    def add_slots(self, slots: Any) -> None:
        """:meth:`add_slot` for several slots."""
        self._forget(_slot_array("slots", slots))

    def remove_slot(self, slot: int) -> None:
        """The dimension of ``slot`` went away: it is not listed in the open event's info."""
        self._forget(np.array([_slot(slot)], dtype=np.intp))

    def remove_slots(self, slots: Any) -> None:
        """:meth:`remove_slot` for several slots."""
        self._forget(_slot_array("slots", slots))

    def _forget(self, indices: np.ndarray) -> None:
        if indices.size == 0:
            return
        self._counts = _grow(self._counts, int(indices.max()) + 1, 0)
        self._counts[indices] = 0

    # -- the series ------------------------------------------------------------

    def seed(self, times: Any, values: Any) -> None:
        """Refill the stored host-rate series before the first tick (e.g. from the store after a restart).

        ``times`` are increasing epoch seconds, ``values`` the stored
        percentages (``anomaly_detection.anomaly_rate``); NaN values (gaps) are
        skipped. Only the values a future query can reach are kept.
        """
        if self._last_t is not None:
            raise ValueError(f"seed() is for a detector that has not ticked; this one ticked at t = {self._last_t}")
        t = _array("times", times)
        v = _array("values", values)
        if t.shape != v.shape:
            raise ValueError(f"times and values must have the same length, got {t.shape} and {v.shape}")
        if t.size and t.dtype.kind not in "iu":
            raise TypeError(f"times must be integer epoch seconds, got dtype {t.dtype}")
        t = t.astype(np.int64)
        try:
            v = v.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"values must be numbers, got dtype {v.dtype}") from None
        if t.size > 1 and (np.diff(t) <= 0).any():
            first = int(np.flatnonzero(np.diff(t) <= 0)[0])
            raise ValueError(f"times must increase: times[{first + 1}] = {int(t[first + 1])} after {int(t[first])}")
        keep = ~np.isnan(v)
        t, v = t[keep], v[keep]
        if t.size:
            t, v = t[-(self._series_t.size // 2) :], v[-(self._series_t.size // 2) :]
        self._lo, self._hi = 0, t.size
        self._series_t[: t.size] = t
        self._series_v[: t.size] = v

    def _window(self, stamp: int) -> tuple[int, int]:
        """Indices ``[lo, hi)`` of the stored values with ``t`` in ``[stamp - ue - D_g, stamp - ue]``."""
        lo, hi = self._lo, self._hi
        times = self._series_t[lo:hi]
        first = lo + int(times.searchsorted(stamp - self._update_every - self._duration, side="left"))
        last = lo + int(times.searchsorted(stamp - self._update_every, side="right"))
        return first, last

    def _append(self, stamp: int, value: float, drop_before: int) -> None:
        self._lo = drop_before
        if self._hi == self._series_t.size:
            live = self._hi - self._lo
            self._series_t[:live] = self._series_t[self._lo : self._hi]
            self._series_v[:live] = self._series_v[self._lo : self._hi]
            self._lo, self._hi = 0, live
        self._series_t[self._hi] = stamp
        self._series_v[self._hi] = value
        self._hi += 1

    # -- the tick ------------------------------------------------------------

    def _scratch(self, n: int) -> None:
        if self._u8 and n <= self._scratch_capacity:
            return
        capacity = max(n, 2 * self._scratch_capacity, 64)
        self._u8 = [np.zeros(capacity, dtype=np.uint8) for _ in range(4)]
        self._b = [np.zeros(capacity, dtype=bool) for _ in range(8)]
        self._scratch_capacity = capacity

    def _event_info(self) -> list[list[Any]]:
        """``[rate, id]`` pairs of the open event, rate descending then id descending."""
        ticks = self._event_ticks
        counts = self._counts
        slots = np.flatnonzero(counts)
        if slots.size == 0:
            return []
        rates = counts[slots].astype(np.float64) / float(ticks)
        return rank_event_dimensions(slots, rates, threshold=self._dim_threshold, limit=self._max_event_dims,
                                     ident=lambda slot: _lookup("slot_id", self._slot_id, slot, "slot"), log=logger)

    def tick(
        self,
        t: Any,
        bits: Any,
        status: Any,
        modelled: Any,
        context: Any,
        *,
        ml_running: bool = True,
    ) -> GroupedRateResult:
        """Run the host level for the tick at ``t`` (SPEC-NETDATA-2 §7.1-§7.3) and pyml's events.

        Parameters
        ----------
        t : int
            Epoch seconds; must increase from tick to tick.
        bits : array-like of bool, shape (n,)
            The anomaly bit of every slot as stored this tick.
        status : array-like of uint8, shape (n,)
            :class:`SlotStatus` flags of every slot.
        modelled : array-like of bool, shape (n,)
            The host's "modelled" mask: the slot's chart is not excluded by
            ``charts to skip`` (an active slot that is not modelled counts as
            ``disabled-sp``).
        context : array-like of int, shape (n,)
            Each slot's context id; a negative id keeps the slot out of the
            per-context chart (it still counts for the host).
        ml_running : bool, keyword-only
            False writes the zeroed snapshot: every count 0, stored rate 0,
            context rates 0, detector events 0 and 0; an open event ends.

        Returns
        -------
        GroupedRateResult

        The four arrays describe the slot space of this tick and must have the
        same length; slots beyond it are absent. Invalid arguments, and a
        failing ``slot_id`` or ``context_name`` lookup, raise before anything
        changes.
        """
        stamp = t if type(t) is int else _timestamp(t)
        if self._last_t is not None and stamp <= self._last_t:
            raise ValueError(f"t = {stamp} does not follow the previous tick t = {self._last_t}")
        if self._last_t is None and self._hi > self._lo and stamp <= int(self._series_t[self._hi - 1]):
            seeded = int(self._series_t[self._hi - 1])
            raise ValueError(f"t = {stamp} is not after the last seeded value, at t = {seeded}")
        bt = _bools("bits", bits)
        st = _status(status)
        md = _bools("modelled", modelled)
        cx = _contexts(context)
        n = bt.size
        if not st.size == md.size == cx.size == n:
            raise ValueError(
                f"bits, status, modelled and context must have one entry per slot each; got lengths "
                f"{bt.size}, {st.size}, {md.size} and {cx.size}"
            )
        running = bool(ml_running)

        # -- the window (before this tick's value is stored) -----------------------
        first, last = self._window(stamp)
        points = last - first

        if running:
            counts = self._count(n, bt, st, md)
            plan = self._contexts.plan(n, cx, counts["counted"], counts["active"], counts["anom"])
            collected = stored_rate(counts["a"], counts["normal"])
            if points:
                r = grouped_value(self._series_v[first:last], self._method)
                above: bool | None = r >= self._threshold
                new: bool | None = above and not self._prev
            else:
                r, above, new = None, None, None
        else:
            counts = None
            plan = None
            collected = 0
            r, above, new = None, False, False

        # -- the event (pyml's addition) -----------------------------------------
        ends = self._event_first is not None and above is False
        event = None
        if ends:
            event = AnomalyEvent(self._event_first - self._update_every, self._event_last, self._event_info())

        # -- commit ------------------------------------------------------------------
        if plan is not None:
            context_values = self._contexts.commit(n, cx, counts["counted"], counts["active"], plan)
        else:
            context_values = self._contexts.zeros()
        if above is not None and running:
            self._prev = above
        if ends:
            self._event_first = None
        if above:
            if self._event_first is None:
                self._counts[:] = 0
                self._event_first = stamp
                self._event_ticks = 0
            self._counts = _grow(self._counts, n, 0)
            # The bits as stored, of active slots of modelled charts.
            stored = np.logical_and(bt, counts["enabled_mask"], out=self._b[3][:n])
            np.add(self._counts[:n], stored.view(np.uint8), out=self._counts[:n], casting="unsafe")
            self._event_last = stamp
            self._event_ticks += 1
        self._append(stamp, collected / 100, first)
        self._last_t = stamp

        tally = counts if counts is not None else _ZERO_COUNTS
        result = GroupedRateResult(
            t=stamp,
            ml_running=running,
            anomalous=tally["a"],
            normal=tally["normal"],
            enabled=tally["enabled"],
            disabled_sp=tally["disabled_sp"],
            constant=tally["constant"],
            variable=tally["variable"],
            untrained=tally["untrained"],
            trained=tally["trained"],
            silenced=tally["silenced"],
            anomaly_rate_collected=collected,
            grouped_rate=r,
            window_points=points if running else 0,
            above_threshold=above,
            new_anomaly_event=new,
            contexts=self._contexts.names,
            context_values=context_values,
            new_contexts=tuple(plan["new_names"]) if plan is not None else (),
            event=event,
            event_open=self._event_first is not None,
        )
        self._last = result
        return result

    def _count(self, n: int, bt: np.ndarray, st: np.ndarray, md: np.ndarray) -> dict[str, Any]:
        """The per-tick counts of §5.5 with boolean masks over the slot space."""
        self._scratch(n)
        u_act, u_var, u_sil, u_trn = (u[:n] for u in self._u8)
        b_en, b_var, b_sil, b_ts, b_trn, b_anom, b_unc, b_cnt = (b[:n] for b in self._b)
        np.bitwise_and(st, ACTIVE, out=u_act)
        active = u_act.view(bool)
        np.bitwise_and(st, VARIABLE, out=u_var)
        np.bitwise_and(st, SILENCED, out=u_sil)
        np.bitwise_and(st, TRAINED, out=u_trn)
        np.logical_and(active, md, out=b_en)  # enabled: active slot of a modelled chart
        np.logical_and(b_en, u_var, out=b_var)  # enabled and variable
        np.logical_and(b_var, u_sil, out=b_sil)  # variable and silenced: counted normal
        np.logical_and(b_var, u_trn, out=b_ts)  # variable and trained (silenced or not)
        np.greater(b_ts, b_sil, out=b_trn)  # trained and not silenced: counted by its bit
        np.logical_and(b_trn, bt, out=b_anom)  # counted anomalous
        np.logical_or(b_ts, b_sil, out=b_unc)
        np.greater(b_var, b_unc, out=b_unc)  # variable, neither trained nor silenced: not counted
        np.greater(b_en, b_unc, out=b_cnt)  # counted: enabled and not an untrained variable
        n_active = int(np.count_nonzero(active))
        enabled = int(np.count_nonzero(b_en))
        variable = int(np.count_nonzero(b_var))
        silenced = int(np.count_nonzero(b_sil))
        trained_counted = int(np.count_nonzero(b_trn))
        anomalous = int(np.count_nonzero(b_anom))
        constant = enabled - variable
        out = {
            "a": anomalous,
            "normal": constant + silenced + trained_counted - anomalous,
            "enabled": enabled,
            "disabled_sp": n_active - enabled,
            "constant": constant,
            "variable": variable,
            "untrained": variable - silenced - trained_counted,
            "trained": constant + silenced + trained_counted,
            "silenced": silenced,
            "active": active,
            "enabled_mask": b_en,
            "counted": b_cnt,
            "anom": b_anom,
        }
        return out

    def finish(self) -> AnomalyEvent | None:
        """End the open event now (the host is closing) and return it, or None.

        The event ends at the last tick that was above the threshold. ``prev``
        is left as it is.
        """
        if self._event_first is None:
            return None
        event = AnomalyEvent(self._event_first - self._update_every, self._event_last, self._event_info())
        self._event_first = None
        return event

    def __repr__(self) -> str:
        return (
            f"GroupedRateDetector(update_every={self._update_every}, grouping_duration={self._duration}, "
            f"grouping_method={self._method!r}, host_rate_threshold_percent={self._threshold!r}; "
            f"last_t={self._last_t}, prev={self._prev}, event_open={self.event_open})"
        )
