"""``pyml.Host``: the registry of charts and dimensions and the per-tick path.

One tick (``collect_all``) is one call into the core's dimension bank (window
push, features, score, anomaly bit, storage word for every dimension), one
row into the sample store, one detector tick, and a look at which dimensions
are due to train. Training runs on a background worker (the core releases
the GIL) or, with ``background=False``, only when asked (``train_now``,
``train_due``), which makes a replay deterministic.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .. import _core, core
from .._arrays import as_count, as_flags, as_float64
from ..config import MLConfig
from .calibration_store import FILE_NAME as CALIBRATION_FILE, SAVE_EVERY as CALIBRATION_SAVE_EVERY
from .calibration_store import load_calibration, restore_calibration, save_calibration
from .deferred import DatabaseHandle, DeferredWrites
from .db import AnomalyDB
from .detector import AnomalyEvent
from .host_level import HostTickInput, HostTickOutput, make_host_level
from .model_ring import decode_ring, encode_ring, is_ring
from .peaks import ScorePeaks
from .registry import REGISTRY_VERSION, load_registry, write_registry
from ..query import DataQuery, parse_number
from .scheduler import TrainingScheduler
from .storage import SampleStore, StoreError
from .tiers import DEFAULT_TIERS, TierSpec, Tiers, store_reader

log = logging.getLogger("pyml.host")

_REGISTRY_VERSION = REGISTRY_VERSION
_NO_FLAG = np.zeros(1, dtype=bool)  # one "false" broadcast to every packed value

#: Charts written by the detector itself (SPEC §7); never collected, never modelled.
INTERNAL_CHART_PREFIX = "anomaly_detection."


@dataclass
class Chart:
    """A chart: an id, a display name (skip patterns match it) and its dimensions."""

    id: str
    name: str
    dimensions: list[str] = field(default_factory=list)
    modelled: bool = True
    internal: bool = False
    title: str = ""
    units: str = ""
    family: str = ""
    context: str = ""
    chart_type: str = "line"
    priority: int = 1000
    dimension_names: dict[str, str] = field(default_factory=dict)  # id -> display name, where they differ
    update_every: int = 0          # seconds between the chart's values; 0: the host's


@dataclass
class TrainingReport:
    """What one round of training did."""

    trained: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # dimension id -> reason
    seconds: float = 0.0
    durations: list[float] = field(default_factory=list)


def _seconds_range(after: Any, before: Any) -> tuple[int, int]:
    a, b = int(parse_number("after", after)), int(parse_number("before", before))
    if a > b:
        raise ValueError(f"after ({after}) is later than before ({before})")
    if a < 0:
        raise ValueError(f"after must be epoch seconds >= 0, got {after!r}")
    return a, b


def _ms_range(after_ms: Any, before_ms: Any) -> tuple[int, int]:
    a, b = parse_number("after", after_ms), parse_number("before", before_ms)
    if a > b:
        raise ValueError(f"after ({after_ms}) is later than before ({before_ms})")
    if a < 0:
        raise ValueError(f"after must be epoch milliseconds >= 0, got {after_ms!r}")
    return int(a // 1000), int(b // 1000)


def _check_time(t: Any) -> float:
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, float, np.integer, np.floating)):
        raise TypeError(f"timestamp must be a number of seconds, got {t!r}")
    t = float(t)
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"timestamp must be a finite, non-negative number of seconds, got {t!r}")
    return t


class Host:
    """One monitored host: its charts, dimensions, models, samples and detector.

    Parameters
    ----------
    name : str
        Host name (``hosts_to_skip`` matches it).
    config : MLConfig, optional
        The ``[ml]`` settings; ``MLConfig()`` by default.
    update_every : int
        Seconds between ticks; timestamps are floored to this grid.
    storage_dir : path, optional
        Keep samples (memory-mapped) and state there, so a restart resumes.
    background : bool
        Train due dimensions on a worker thread (default). With ``False``
        nothing trains unless asked (``train_now``, ``train_due``).
    training_threads : int
        Threads one training round uses (keyword-only).
    history : int, optional
        Ticks of samples to keep per dimension (keyword-only); at least
        the points one training reads plus one (``max_train_samples + 1``
        under ``netdata-1.33``), which is the default.
    tiers : sequence of TierSpec
        Rollup tiers kept beside the samples (keyword-only): per minute for
        14 days and per hour for a year by default (:mod:`pyml.engine.tiers`);
        ``()`` keeps none.
    training_pool : pyml.engine.training_pool.TrainingPool, optional
        With ``background=True``, train on this pool's threads (shared
        fairly with the other hosts registered there) instead of a worker
        thread of the host's own (keyword-only).
    """

    def __init__(
        self,
        name: str,
        config: MLConfig | None = None,
        update_every: int = 1,
        storage_dir: str | Path | None = None,
        background: bool = True,
        *,
        training_threads: int = 2,
        history: int | None = None,
        tiers: Sequence[TierSpec] = DEFAULT_TIERS,
        training_pool: Any = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"host name must be a non-empty string, got {name!r}")
        as_count("update_every", update_every, 1, "a positive integer")
        self.name = name
        self.config = config if config is not None else MLConfig()
        self.update_every = int(update_every)
        self.storage_dir = Path(storage_dir) if storage_dir is not None else None
        self.background = bool(background)
        self.training_threads = int(training_threads)
        self.host_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"pyml.host.{name}"))
        cfg = self.config
        self.ml_enabled = bool(cfg.enabled) and not cfg.host_is_skipped(name)

        window, threshold = cfg.suppression
        calibration = cfg.calibration_settings(self.update_every)
        self._calibrated = calibration["calibration"] != "none"
        # the calibration's daily profile: each tick's slot of the day, from its timestamp
        self._day_slots = int(calibration.get("day_slots", 0)) if calibration.get("day_decades", 0.0) else 0
        self._bank = core.Bank(diff_n=cfg.diff_n, smooth_n=cfg.effective_smooth_n(self.update_every),
                               lag_n=cfg.lag_n, threshold=cfg.dimension_anomaly_score_threshold,
                               models=cfg.models_per_dimension, features=cfg.feature_variant,
                               suppression_window=window, suppression_threshold=threshold,
                               **(calibration if self._calibrated else {}))
        # Training: deterministic sub-sampling per host (Netdata seeds it per process at random).
        self._training_seed = zlib.crc32(f"pyml.training.{name}".encode("utf-8"))
        self._ring_size = cfg.models_per_dimension
        # Points a training needs and reads (the profile's rule: samples or a time window).
        self._min_points, self._max_points = cfg.training_points(self.update_every)
        depth = self._max_points + 1
        if history is not None:
            depth = max(depth, as_count("history", history, 1, "a positive number of ticks"))
        tiers = tuple(tiers)
        depth = max(depth, tiers[0].grouping + 1 if tiers else 1)  # an open tier-1 point is rebuilt from it
        self._store = SampleStore(
            depth,
            self.update_every,
            directory=None if self.storage_dir is None else self.storage_dir / "samples",
        )
        self._tiers = Tiers(self.update_every, tiers, capacity=self._store.capacity,
                            directory=None if self.storage_dir is None else self.storage_dir / "tiers",
                            reader=store_reader(self._store))
        self._scheduler = TrainingScheduler(cfg.train_every_ticks(self.update_every), self._min_points)
        self._charts: dict[str, Chart] = {}
        # Collected dimensions in collect_all order (dicts keep insertion order):
        # adding or removing one is O(1); the slot index array is rebuilt
        # lazily, once, at the next tick that needs it.
        self._collected_dims: dict[str, int] = {}   # dimension id -> slot
        self._slot_of: dict[str, int] = {}
        self._id_of_slot: dict[int, str] = {}
        # Contexts (a chart's context, else its id) as small integers per slot, for the host level.
        self._context_ids: dict[str, int] = {}
        self._context_names: list[str] = []
        # int64, the dtype the host levels take (no conversion per tick)
        self._context_of_slot = np.zeros(0, dtype=np.int64)  # -1 for slots of charts that are not modelled
        # Modelled charts as small integers per slot (-1: not modelled), for detectors grouping by chart.
        self._chart_ids: dict[str, int] = {}
        self._chart_names: list[str] = []
        self._chart_of_slot = np.zeros(0, dtype=np.int64)
        self._host_level = make_host_level(cfg, self.update_every, self._id_of_slot, self._context_names.__getitem__,
                                           self._chart_names.__getitem__)
        self._restored_charts: set[str] = set()
        self._registry_dirty = False
        self._slot_index_cache: np.ndarray | None = np.zeros(0, dtype=np.int64)  # slots in collect_all order
        # Where collect_all's values go in the by-slot array: the index above, or the slice it equals
        # (dimensions added in order take consecutive slots, and a slice copy is cheaper than a scatter).
        self._slot_target: tuple[np.ndarray | None, slice | np.ndarray] = (None, slice(0, 0))
        self._by_slot = np.zeros(0)                     # collect_all's by-slot values, refilled every tick
        self._tick_masks = (np.zeros(0, dtype=bool), np.zeros(0, dtype=bool))  # _level_tick's scratch
        self._modelled = np.zeros(0, dtype=bool)        # per slot
        self._collected = np.zeros(0, dtype=np.int64)   # per slot: values since added
        self._last_k: int | None = None
        self._pending_t: float | None = None            # per-chart collect: the open tick
        self._pending_values: np.ndarray | None = None
        self._pending_reset: np.ndarray | None = None
        self._last_result: Any = None
        self._last_output: HostTickOutput | None = None
        self._last_words = np.zeros(0, dtype=np.uint32)
        # score peaks in Python for a thresholded profile that asks for them (the calibration does its own)
        self._peaks = (ScorePeaks(cfg.score_peak_window)
                       if cfg.score_peak_window > 0 and not self._calibrated else None)

        self._lock = threading.RLock()                  # store and registry vs. the trainer
        self._models_to_save: list[tuple[int, str]] = []   # trained, applied by the next tick, then saved
        self._models_to_delete: list[str] = []             # of removed dimensions, deleted by the next tick
        self._training_ms: list[float] = []             # durations since the last tick (read-and-zeroed)
        self._train_queue: list[int] = []
        self._training_batches = 0                      # batches taken off the queue, not finished
        self._train_wakeup = threading.Condition(self._lock)
        self._closing = False
        self._worker: threading.Thread | None = None
        if self.storage_dir is not None:
            self.storage_dir.mkdir(parents=True, exist_ok=True)
        self._db = DatabaseHandle(":memory:" if self.storage_dir is None else self.storage_dir / "anomaly-detection.db")
        self._db_writes = DeferredWrites(self._db)      # events and models, retried while the database fails
        self._registry_written: dict[str, Any] | None = None  # the document on disk (the next write's backup)
        self._registry_error: str | None = None
        self._registry_retry_at = 0.0
        self._calibration_saved_at: float | None = None  # tick time of the last calibration state written
        if self.storage_dir is not None and self._registry_path.exists():
            try:
                self._restore()
            except BaseException:  # nothing of a host that cannot start stays open
                self._db.close()
                self._store.close()
                raise
        if self.ml_enabled:
            for spec in self._host_level.charts:
                if spec.id in self._charts:
                    # Restored from a run under another profile: this profile's dimensions are added; the
                    # old ones keep their history and get no new values (gaps), nothing is dropped.
                    restored = self._charts[spec.id]
                    for d, _ in spec.dimensions:
                        if d not in restored.dimensions:
                            self._add_dimension(restored, d)
                    continue
                self.add_chart(spec.id, [d for d, _ in spec.dimensions], _internal=True, title=spec.title,
                               units=spec.units, family=spec.family, context=spec.id, priority=spec.priority,
                               chart_type=spec.chart_type)
        # slots of the internal charts' fixed dimensions, in the host level's row order
        self._internal_slot_array = np.array(
            [self._slot_of[f"{spec.id}|{d}"] for spec in self._host_level.charts for d, _ in spec.dimensions]
            if self.ml_enabled else [], dtype=np.int64)
        # the dynamic chart (one dimension per context), created with its first dimension
        self._dynamic_slots: dict[str, int] = {}
        self._dynamic_index: tuple[Any, np.ndarray] = ((), np.zeros(0, dtype=np.int64))
        dynamic = self._host_level.dynamic_chart
        if self.ml_enabled and dynamic is not None and dynamic in self._charts:
            self._dynamic_slots = {d: self._slot_of[f"{dynamic}|{d}"] for d in self._charts[dynamic].dimensions}
        if self.ml_enabled and self._last_k is not None and "anomaly_detection.anomaly_rate" in self._charts:
            self._host_level.resume(self._last_k * self.update_every, self._read_values)
        self._pool_client: Any = None
        if self.background and self.ml_enabled:
            if training_pool is not None:
                self._pool_client = training_pool.register(name, self._train_slots)
            else:
                self._worker = threading.Thread(target=self._training_worker, name=f"pyml-train-{name}",
                                                daemon=True)
                self._worker.start()

    # ------------------------------------------------------------------ registry

    def add_chart(self, chart_id: str, dimensions: Sequence[str] = (), name: str | None = None, **info: Any) -> Chart:
        """Add a chart (and its dimensions). ``name`` defaults to the id; skip patterns match it.

        ``info`` sets the other fields of :class:`Chart` (title, units, family,
        ...). A chart whose ``update_every`` differs from the host's (a Netdata
        chart collected every 5 s on a 1 s host) is stored at its own seconds
        and, as Netdata v1.33 does, not modelled.
        """
        if not isinstance(chart_id, str) or not chart_id:
            raise ValueError(f"chart id must be a non-empty string, got {chart_id!r}")
        if chart_id in self._restored_charts:
            return self._merge_restored_chart(chart_id, list(dimensions), name, info)
        if chart_id in self._charts:
            raise ValueError(f"chart {chart_id!r} already exists on host {self.name!r}")
        internal = bool(info.pop("_internal", False))
        if chart_id.startswith(INTERNAL_CHART_PREFIX) and not internal:
            raise ValueError(f"chart ids starting with {INTERNAL_CHART_PREFIX!r} are reserved for pyml's own charts")
        dims = list(dimensions)
        if len(set(dims)) != len(dims):
            raise ValueError(f"chart {chart_id!r} lists a dimension twice: {dims!r}")
        for d in dims:
            self._check_dim_name(d)
        chart_name = chart_id if name is None else name
        every = info.get("update_every", 0)
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise ValueError(f"chart {chart_id!r}: update_every must be a non-negative integer of seconds "
                             f"(0: the host's), got {every!r}")
        modelled = (self.ml_enabled and not internal and not self.config.chart_is_skipped(chart_name)
                    and every in (0, self.update_every))
        chart = Chart(chart_id, chart_name, [], modelled, internal, **info)
        self._charts[chart_id] = chart
        for d in dims:
            self._add_dimension(chart, d)
        return chart

    def add_dimension(self, chart_id: str, dimension: str) -> None:
        """Add one dimension to an existing chart (appended to ``dimension_ids()``)."""
        chart = self._chart(chart_id)
        if chart.internal:
            raise ValueError(f"chart {chart_id!r} is pyml's own; its dimensions are fixed")
        self._check_dim_name(dimension)
        if dimension in chart.dimensions:
            raise ValueError(f"dimension {dimension!r} already exists in chart {chart_id!r}")
        self._add_dimension(chart, dimension)

    def remove_dimension(self, chart_id: str, dimension: str) -> None:
        """Remove a dimension; its slot, model and samples are freed."""
        chart = self._chart(chart_id)
        if chart.internal:
            raise ValueError(f"chart {chart_id!r} is pyml's own and cannot be changed")
        if dimension not in chart.dimensions:
            raise KeyError(f"chart {chart_id!r} has no dimension {dimension!r}")
        with self._lock:
            chart.dimensions.remove(dimension)
            self._remove_dimension_ids([f"{chart_id}|{dimension}"])

    def remove_chart(self, chart_id: str) -> None:
        """Remove a chart and all its dimensions."""
        chart = self._chart(chart_id)
        if chart.internal:
            raise ValueError(f"chart {chart_id!r} is pyml's own and cannot be removed")
        with self._lock:
            self._remove_dimension_ids([f"{chart_id}|{d}" for d in chart.dimensions])
            del self._charts[chart_id]

    def charts(self) -> list[Chart]:
        """All charts, in the order they were added."""
        return list(self._charts.values())

    def chart(self, chart_id: str) -> Chart:
        """One chart by id (KeyError if unknown)."""
        return self._chart(chart_id)

    def dimension_ids(self) -> list[str]:
        """``"chart|dimension"`` ids in the order ``collect_all`` expects."""
        return list(self._collected_dims)

    @property
    def _slot_index(self) -> np.ndarray:
        """The slot of each collected dimension, in ``collect_all`` order (cached)."""
        index = self._slot_index_cache
        if index is None:
            index = np.fromiter(self._collected_dims.values(), dtype=np.int64, count=len(self._collected_dims))
            self._slot_index_cache = index
        return index

    def _chart(self, chart_id: str) -> Chart:
        try:
            return self._charts[chart_id]
        except KeyError:
            raise KeyError(f"host {self.name!r} has no chart {chart_id!r}") from None

    @staticmethod
    def _check_dim_name(dimension: Any) -> None:
        if not isinstance(dimension, str) or not dimension or "|" in dimension:
            raise ValueError(f"dimension names must be non-empty strings without '|', got {dimension!r}")

    def _add_dimension(self, chart: Chart, dimension: str) -> None:
        dim_id = f"{chart.id}|{dimension}"
        with self._lock:
            slot = int(self._bank.add_slot())
            self._ensure_slot_arrays(slot + 1)
            self._store.clear_slot(slot)
            self._tiers.clear_slot(slot)
            if self._peaks is not None:
                self._peaks.ensure_size(slot + 1)
                self._peaks.reset(slot)
            chart.dimensions.append(dimension)
            self._slot_of[dim_id] = slot
            if not chart.internal:
                self._collected_dims[dim_id] = slot
                self._id_of_slot[slot] = dim_id
                self._slot_index_cache = None
            self._modelled[slot] = chart.modelled
            self._collected[slot] = 0
            # Only modelled charts' contexts and ids reach the host level (-1: none).
            self._context_of_slot[slot] = self._context_id(chart) if chart.modelled else -1
            self._chart_of_slot[slot] = self._chart_id(chart) if chart.modelled else -1
            if chart.modelled:
                k = self._last_k if self._last_k is not None else 0
                self._scheduler.add(slot, dim_id, k)
                self._host_level.add_slot(slot)
            self._registry_dirty = True

    def _remove_dimension_ids(self, dim_ids: list[str]) -> None:
        """Free the slots of these dimensions (O(1) each; their saved models go in one statement).

        A slot still waiting in the training queue is left there: training
        skips slots that are no longer in use.
        """
        for dim_id in dim_ids:
            slot = self._slot_of.pop(dim_id)
            del self._id_of_slot[slot]
            del self._collected_dims[dim_id]
            if self._modelled[slot]:
                self._scheduler.remove(slot)
                self._host_level.remove_slot(slot)
            self._modelled[slot] = False
            self._collected[slot] = 0
            self._bank.remove_slot(slot)
        self._slot_index_cache = None
        self._models_to_delete.extend(dim_ids)
        self._registry_dirty = True

    def _context_id(self, chart: Chart) -> int:
        """The small integer standing for the chart's context (its id when it names none)."""
        name = chart.context or chart.id
        ident = self._context_ids.get(name)
        if ident is None:
            ident = self._context_ids[name] = len(self._context_names)
            self._context_names.append(name)
        return ident

    def _chart_id(self, chart: Chart) -> int:
        """The small integer standing for the chart (its id's position in order of appearance)."""
        ident = self._chart_ids.get(chart.id)
        if ident is None:
            ident = self._chart_ids[chart.id] = len(self._chart_names)
            self._chart_names.append(chart.id)
        return ident

    def _ensure_slot_arrays(self, n: int) -> None:
        if n <= self._modelled.size:
            return
        size = max(n, 2 * self._modelled.size, 64)
        self._modelled = np.concatenate([self._modelled, np.zeros(size - self._modelled.size, dtype=bool)])
        self._collected = np.concatenate([self._collected, np.zeros(size - self._collected.size, dtype=np.int64)])
        self._context_of_slot = np.concatenate(
            [self._context_of_slot, np.full(size - self._context_of_slot.size, -1, dtype=np.int64)])
        self._chart_of_slot = np.concatenate(
            [self._chart_of_slot, np.full(size - self._chart_of_slot.size, -1, dtype=np.int64)])
        self._store.ensure_capacity(size)
        self._tiers.ensure_capacity(size)

    # ------------------------------------------------------------------ collection

    def collect_all(self, t: float, values: Any, reset: Any = False, *,
                    want_scores: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        """Store one tick of every dimension, in ``dimension_ids()`` order.

        ``values`` is 1-D with one value per dimension; NaN means no value.
        ``reset`` (one flag, or one per dimension) sets the storage words'
        counter-reset flag. The call is rejected whole (nothing stored) for a
        wrong length or type, or a timestamp that is not later than the
        previous tick.

        With ``want_scores=True`` it returns ``(scores, anomalous)``, one entry
        per dimension in ``dimension_ids()`` order: the anomaly scores of this
        tick (0-100 scale, may exceed 100; 0 when there is no score: no model,
        window not full, gap) and the anomaly bits stored with the samples.
        With ``score_peak_window`` set, the scores are the reported peaks
        (capped at 100, 0 between peaks; :mod:`pyml.peaks`); the bits are not
        affected.
        Otherwise it returns None.
        """
        t = _check_time(t)
        arr = as_float64("values", values)
        if arr.ndim != 1 or arr.size != len(self._collected_dims):
            raise ValueError(f"values must be 1-D with {len(self._collected_dims)} elements (one per dimension), "
                             f"got shape {arr.shape}")
        flags = None if reset is False else as_flags("reset", reset, arr.shape)  # the default: no flag to check
        if self._pending_t is not None:
            if self._store.tick_of(t) <= self._store.tick_of(self._pending_t):
                raise ValueError(f"timestamp {t} is not after the open tick {self._pending_t}")
            self._complete_pending()
        self._check_forward(t)
        by_slot = self._values_by_slot(arr)
        reset_by_slot = None
        if flags is not None and flags.any():
            reset_by_slot = np.zeros(self._bank.size, dtype=bool)
            reset_by_slot[self._slot_index] = flags
        scores = self._tick(t, by_slot, reset_by_slot, want_scores=bool(want_scores))
        if scores is None:
            return None
        words = self._last_words[self._slot_index]
        anomalous = (words != 0) & ((words & _core.ANOMALY_BIT) == 0)
        return scores[self._slot_index], anomalous

    def _values_by_slot(self, values: np.ndarray) -> np.ndarray:
        """``values`` (in ``dimension_ids()`` order) by slot, NaN for every other slot.

        The array is the host's own, refilled on every call: a tick only reads
        it or writes this tick's internal values into it, and neither the bank
        nor the tiers keep it, so nothing sees it change afterwards.
        """
        size = self._bank.size
        by_slot = self._by_slot
        if by_slot.size != size:
            by_slot = self._by_slot = np.empty(size)
        by_slot.fill(np.nan)
        by_slot[self._slot_target_of(self._slot_index)] = values
        return by_slot

    def _slot_target_of(self, index: np.ndarray) -> slice | np.ndarray:
        """``index`` (the slots in collect order), or the slice it equals when the slots are consecutive."""
        known, target = self._slot_target
        if known is not index:
            target = index
            if index.size and int(index[-1]) - int(index[0]) == index.size - 1 and \
                    bool(np.all(np.diff(index) == 1)):
                target = slice(int(index[0]), int(index[-1]) + 1)
            self._slot_target = (index, target)
        return target

    def collect(self, chart_id: str, t: float, values: Any, reset: bool = False) -> None:
        """Collect one chart's values at ``t``.

        The host tick for ``t`` completes when a later ``t`` first arrives, or
        at :meth:`flush`. Dimensions not collected in a tick are gaps.
        ``reset=True`` sets the counter-reset flag on every dimension of the
        chart for this tick (a counter of the chart went backwards).
        """
        chart = self._chart(chart_id)
        if chart.internal:
            raise ValueError(f"chart {chart_id!r} is written by pyml itself and cannot be collected")
        t = _check_time(t)
        arr = as_float64("values", values)
        if arr.ndim != 1 or arr.size != len(chart.dimensions):
            raise ValueError(f"values for chart {chart_id!r} must be 1-D with {len(chart.dimensions)} elements, "
                             f"got shape {arr.shape}")
        chart_reset = bool(as_flags("reset", reset, ()).reshape(-1)[0])
        k = self._store.tick_of(t)
        if self._pending_t is not None and k != self._store.tick_of(self._pending_t):
            if k < self._store.tick_of(self._pending_t):
                raise ValueError(f"timestamp {t} is before the open tick {self._pending_t}")
            self._complete_pending()
        if self._pending_t is None:
            self._check_forward(t)
            self._pending_t = t
            self._pending_values = np.full(self._bank.size, np.nan)
            self._pending_reset = np.zeros(self._bank.size, dtype=bool)
        assert self._pending_values is not None and self._pending_reset is not None
        if self._pending_values.size < self._bank.size:
            grown = np.full(self._bank.size, np.nan)
            grown[: self._pending_values.size] = self._pending_values
            self._pending_values = grown
            grown_reset = np.zeros(self._bank.size, dtype=bool)
            grown_reset[: self._pending_reset.size] = self._pending_reset
            self._pending_reset = grown_reset
        slots = [self._slot_of[f"{chart_id}|{d}"] for d in chart.dimensions]
        self._pending_values[slots] = arr
        self._pending_reset[slots] = chart_reset

    def flush(self) -> None:
        """Complete an open per-chart tick and write samples to disk (with ``storage_dir``)."""
        if self._pending_t is not None:
            self._complete_pending()
        with self._lock:
            if self._registry_dirty:
                self._registry_retry_at = 0.0  # an explicit flush tries now
                self._write_registry()
            self._store.flush()
            self._tiers.flush()
        self._db_writes.run(force=True)
        self._save_calibration(force=False)

    def _save_calibration(self, force: bool) -> None:
        """Write the calibration state (storage_dir, a calibrated profile): at close (``force``), else
        when ``CALIBRATION_SAVE_EVERY`` seconds of ticks passed since the last write. A failed write is
        logged and tried again after as long: the previous file stays as it was."""
        if self.storage_dir is None or not self._calibrated or self._last_k is None:
            return
        now = float(self._last_k * self.update_every)
        if not force and self._calibration_saved_at is not None and \
                now - self._calibration_saved_at < CALIBRATION_SAVE_EVERY:
            return
        self._calibration_saved_at = now
        with self._lock:
            pairs = sorted((slot, dim_id) for slot, dim_id in self._id_of_slot.items() if self._modelled[slot])
        path = self.storage_dir / CALIBRATION_FILE
        try:
            save_calibration(path, self._bank, [d for _, d in pairs], [slot for slot, _ in pairs], now)
        except OSError as exc:
            log.warning("host %r: calibration state not written to %s (%s); the previous one is kept, "
                        "tried again in %.0f s of ticks", self.name, path, exc, CALIBRATION_SAVE_EVERY)

    def _complete_pending(self) -> None:
        t, values, reset = self._pending_t, self._pending_values, self._pending_reset
        self._pending_t, self._pending_values, self._pending_reset = None, None, None
        assert t is not None and values is not None and reset is not None
        if values.size < self._bank.size:
            values = np.concatenate([values, np.full(self._bank.size - values.size, np.nan)])
            reset = np.concatenate([reset, np.zeros(self._bank.size - reset.size, dtype=bool)])
        self._tick(t, values, reset if reset.any() else None)

    def _check_forward(self, t: float) -> None:
        k = self._store.tick_of(t)
        if self._last_k is not None and k <= self._last_k:
            raise ValueError(f"timestamp {t} is not after the last tick {self._last_k * self.update_every} "
                             f"(timestamps must move forward on the {self.update_every}s grid)")

    def _tick(self, t: float, by_slot: np.ndarray, reset: np.ndarray | None = None,
              want_scores: bool = False) -> np.ndarray | None:
        k = self._store.tick_of(t)
        started = time.perf_counter()
        words, scores, levels = self._bank_tick(by_slot, reset, want_scores, k * self.update_every)
        if self.ml_enabled:
            out = self._level_tick(k, words, levels, started)
            row = np.array(out.row, dtype=np.float64)
            words[self._internal_slot_array] = _core.pack(row, _NO_FLAG, _NO_FLAG)
            by_slot[self._internal_slot_array] = row  # the tiers aggregate the values of every slot
            if out.dynamic:
                words, by_slot = self._write_dynamic(words, by_slot, out.dynamic)
            elif len(out.dynamic_names):
                words, by_slot = self._write_dynamic_arrays(words, by_slot, out.dynamic_names, out.dynamic_values)
        with self._lock:
            if self._registry_dirty:
                self._write_registry()
            self._store.append(k * self.update_every, words)
            self._tiers.append(k * self.update_every, by_slot, words)
            self._last_k = k
        self._last_words = words
        if not want_scores:
            scores = None
        if self.ml_enabled:
            self._store_event(self._last_output.event)
            self._delete_removed_models()
            self._save_applied_models(k)
            if self.background:
                due = self._scheduler.due(k, self._collected)
                if due and self._pool_client is not None:
                    self._pool_client.submit(due)
                elif due:
                    with self._train_wakeup:
                        self._train_queue.extend(due)
                        self._train_wakeup.notify()
        return scores

    def _bank_tick(self, by_slot: np.ndarray, reset: np.ndarray | None, want_scores: bool,
                   t: float) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The bank's part of the tick at ``t``: ``(words, scores, levels)`` by slot (scores, levels None unless computed).

        Scores are computed when asked for, or when the profile needs them
        (the calibration's levels, the score peaks); with ``score_peak_window``
        they are the reported peaks.
        """
        scores = levels = None
        if self._calibrated:
            # the calibration stage's reported scores, and its scores before the once-per-incident cut
            day_slot = core.day_slot_of(t, self.update_every, self._day_slots) if self._day_slots else -1
            words, scores, levels = self._bank.tick(by_slot, reset=reset, want_scores=True, want_levels=True,
                                                    day_slot=day_slot)
        elif want_scores or self._peaks is not None:
            words, scores = self._bank.tick(by_slot, reset=reset, want_scores=True)
            if self._peaks is not None:
                self._peaks.ensure_size(scores.size)
                scores = self._peaks.update_unchecked(scores)
        else:
            words = self._bank.tick(by_slot) if reset is None else self._bank.tick(by_slot, reset=reset)
        return words, scores, levels

    def _level_tick(self, k: int, words: np.ndarray, levels: np.ndarray | None, started: float) -> HostTickOutput:
        """The host level's part of tick ``k`` (ML on): count collected values, run the detector, keep its result.

        ``words`` are the bank's words of the tick, ``levels`` the calibration's
        per-slot levels (or None), ``started`` the ``perf_counter`` at which
        the tick began (for the prediction time the internal charts show).
        """
        n = words.size
        exists, counted = self._level_masks(n)
        np.not_equal(words, 0, out=exists)
        modelled = self._modelled[:n]
        np.logical_and(exists, modelled, out=counted)
        self._collected[:n] += counted
        anomalous = (words & _core.ANOMALY_BIT) == 0  # a new array: the host level may keep it
        anomalous &= counted
        with self._lock:
            durations, self._training_ms = self._training_ms, []
        out = self._host_level.tick(HostTickInput(
            t=k * self.update_every, bits=anomalous, status=self._bank.status()[: words.size],
            modelled=modelled, contexts=self._context_of_slot[: words.size],
            charts=self._chart_of_slot[: words.size], levels=levels,
            prediction_ms=(time.perf_counter() - started) * 1000.0,
            training_total_ms=sum(durations), training_max_ms=max(durations, default=0.0)))
        self._last_result = out.result
        self._last_output = out
        return out

    def _level_masks(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Two bool scratch arrays of ``n`` slots for :meth:`_level_tick` (contents undefined)."""
        exists, counted = self._tick_masks
        if exists.size < n:
            size = max(n, 2 * exists.size, 64)
            exists, counted = self._tick_masks = (np.empty(size, dtype=bool), np.empty(size, dtype=bool))
        return exists[:n], counted[:n]

    def _write_dynamic(self, words: np.ndarray, by_slot: np.ndarray,
                       values: list[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Write the dynamic internal chart's ``(dimension, value)`` pairs into this tick's words and values."""
        return self._write_dynamic_arrays(words, by_slot, tuple(name for name, _ in values),
                                          np.array([v for _, v in values], dtype=np.float64))

    def _write_dynamic_arrays(self, words: np.ndarray, by_slot: np.ndarray, names: Sequence[str],
                              values: Any) -> tuple[np.ndarray, np.ndarray]:
        """Write the dynamic internal chart's values (``values[i]`` of dimension ``names[i]``) into this tick.

        A new name gets a new dimension, hence a new slot: the tick's arrays
        grow to it (the bank had no value for it this tick). The slots of a
        sequence of names are looked up once and kept while the level hands
        the same object (the detectors keep one tuple until a group appears).
        """
        known, slots = self._dynamic_index
        if names is not known:
            words, by_slot, slots = self._dynamic_slots_of(words, by_slot, names)
            self._dynamic_index = (names, slots)
        numbers = np.asarray(values, dtype=np.float64)
        if numbers.shape != slots.shape:
            raise ValueError(f"the dynamic chart has {slots.size} dimensions but {numbers.size} values were given")
        words[slots] = _core.pack(numbers, _NO_FLAG, _NO_FLAG)
        by_slot[slots] = numbers
        return words, by_slot

    def _dynamic_slots_of(self, words: np.ndarray, by_slot: np.ndarray,
                          names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The slots of the dynamic chart's dimensions ``names``, added where new (the tick's arrays grown)."""
        chart_id = self._host_level.dynamic_chart
        assert chart_id is not None
        new = [name for name in names if name not in self._dynamic_slots]
        if new:
            if chart_id not in self._charts:
                self.add_chart(chart_id, new, _internal=True, title="Percentage of anomalous dimensions by context",
                               units="percentage", family="anomaly_rate", context=chart_id, priority=39183,
                               chart_type="stacked")
            else:
                chart = self._charts[chart_id]
                for name in new:
                    self._add_dimension(chart, name)
            for name in new:
                self._dynamic_slots[name] = self._slot_of[f"{chart_id}|{name}"]
            if self._bank.size > words.size:
                grow = self._bank.size - words.size
                words = np.concatenate([words, np.zeros(grow, dtype=np.uint32)])
                by_slot = np.concatenate([by_slot, np.full(grow, np.nan)])
        slots = np.fromiter((self._dynamic_slots[name] for name in names), dtype=np.int64, count=len(names))
        return words, by_slot, slots

    def _delete_removed_models(self) -> None:
        """Delete the saved models of dimensions removed since the last tick, in one transaction."""
        if self._models_to_delete:
            with self._lock:
                todo, self._models_to_delete = self._models_to_delete, []
            self._db_writes.delete_models(self.host_id, todo)

    def _save_applied_models(self, k: int) -> None:
        """Persist the models that this tick applied (storage_dir only)."""
        if not self._models_to_save or self._bank.pending_models():
            return
        with self._lock:
            todo, self._models_to_save = self._models_to_save, []
            rows = []
            for slot, dim_id in todo:
                if self._id_of_slot.get(slot) == dim_id:
                    if self._ring_size > 1:
                        ring = self._bank.models(slot)
                        if ring:
                            rows.append((dim_id, encode_ring(ring), float(ring[-1][2])))
                    else:
                        model = self._bank.model(slot)
                        if model is not None:
                            rows.append((dim_id, model.to_bytes(), float(k * self.update_every)))
        self._db_writes.save_models(self.host_id, rows)

    def _store_event(self, event: AnomalyEvent | None) -> None:
        """Store an anomaly event that ended (on this tick, or at close)."""
        if event is not None:
            self._db_writes.insert_event(self.host_id, int(event.after), int(event.before), event.info)
        else:
            self._db_writes.run()  # retries what a failing database left queued (rate-limited)

    # ------------------------------------------------------------------ training

    def train_now(self) -> TrainingReport:
        """Train every modelled dimension that has ``min_train_samples`` points.

        Synchronous; new models apply from the next tick.
        """
        with self._lock:
            slots = self._scheduler.all_eligible(self._collected)
        return self._train_slots(slots)

    def train_due(self) -> TrainingReport:
        """Train what the scheduler says is due at the last tick (synchronous)."""
        if self._last_k is None:
            return TrainingReport()
        with self._lock:
            slots = self._scheduler.due(self._last_k, self._collected)
        return self._train_slots(slots)

    def _train_slots(self, slots: Iterable[int]) -> TrainingReport:
        report = TrainingReport()
        slots = [s for s in slots if s in self._id_of_slot and self._modelled[s]]
        if not slots or not self.ml_enabled:
            return report
        started = time.perf_counter()
        with self._lock:
            k = self._last_k if self._last_k is not None else 0
            _, words = self._store.latest(slots, self._max_points)
            ids = [self._id_of_slot[s] for s in slots]
            first = self._store.first_time
        histories = _core.unpack_double(np.ascontiguousarray(words).reshape(-1)).reshape(words.shape)
        return self._train_histories(slots, ids, histories, k, first, started)

    def _train_histories(self, slots: list[int], ids: list[str], histories: np.ndarray, k: int, first: int | None,
                         started: float) -> TrainingReport:
        """Train ``slots`` (in use, modelled; ``ids`` their dimension ids) on ``histories`` at tick ``k``.

        ``histories`` (float64, one row per slot) are the decoded words of the newest ``max_points`` ticks
        up to ``k`` (fewer when fewer are kept), oldest first; ``first`` is the
        timestamp of the oldest tick kept (None: none), ``started`` the
        ``perf_counter`` at which the round began. Reports the outcome to the
        scheduler and returns what was trained.
        """
        report = TrainingReport()
        cfg = self.config
        # The range trained on (SPEC-NETDATA-2 §3.1): up to the newest tick, as far back as the window reaches.
        before = k * self.update_every
        after = max(before - self._max_points * self.update_every, first if first is not None else before)
        outcome = self._bank.train(np.asarray(slots, dtype=np.int64), histories,
                                   min_samples=self._min_points, max_iterations=cfg.max_kmeans_iters,
                                   threads=self.training_threads, after=after, before=before,
                                   max_vectors=cfg.max_training_vectors, seed=self._training_seed,
                                   skip_constant=cfg.skip_constant_training)
        with self._lock:
            for slot, dim_id, status, message in zip(slots, ids, outcome.status, outcome.messages):
                # 'constant' (nothing changed since the last attempt) and 'few_vectors' (trained with no
                # new model) are successful attempts; only 'trained' brings a model to save.
                ok = status in ("trained", "constant", "few_vectors")
                current = slot in self._id_of_slot and self._id_of_slot[slot] == dim_id
                if current:
                    self._scheduler.done(slot, k, ok)
                if status == "trained":
                    report.trained.append(dim_id)
                    if current and self.storage_dir is not None:
                        self._models_to_save.append((slot, dim_id))
                else:
                    report.skipped[dim_id] = f"{status}: {message}" if message else str(status)
        report.durations = [float(d) for d in outcome.seconds]
        with self._lock:
            self._training_ms.extend(d * 1000.0 for d in report.durations)
        report.seconds = time.perf_counter() - started
        return report

    def _training_worker(self) -> None:
        batch = 16
        while True:
            with self._train_wakeup:
                while not self._train_queue and not self._closing:
                    self._train_wakeup.wait()
                if self._closing:
                    return
                slots = self._train_queue[:batch]
                del self._train_queue[:batch]
                self._training_batches += 1
            try:
                self._train_slots(slots)
            except Exception:  # keep the worker alive; the failure is logged
                log.exception("training of %d dimensions failed on host %s", len(slots), self.name)
            finally:
                with self._lock:
                    self._training_batches -= 1

    def wait_for_training(self, timeout: float = 60.0) -> bool:
        """Block until the background worker has drained its queue; False on timeout."""
        if self._pool_client is not None:
            return bool(self._pool_client.wait_idle(timeout))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._train_queue and self._training_batches == 0:
                    return True
            time.sleep(0.01)
        return False

    # ------------------------------------------------------------------ queries

    def _query(self) -> DataQuery:
        return DataQuery(self)

    def data(self, chart: str, after: float = 0, before: float = 0, points: int = 0, group: str = "average",
             dimensions: Sequence[str] | str | None = None, options: Sequence[str] | str = ()) -> dict[str, Any]:
        """Samples of one chart in the shape of ``/api/v1/data`` (SPEC §1.10)."""
        return self._query().data(chart, after, before, points, group, dimensions, options)

    def anomaly_rates(self, after: float, before: float) -> dict[str, float]:
        """``{"chart|dim": fraction}`` of anomalous existing points, per modelled dimension."""
        return self._query().anomaly_rates(after, before)

    def host_anomaly_rate(self, after: float, before: float) -> float:
        """Fraction of modelled (dimension, point) pairs in the range that are anomalous."""
        return self._query().host_anomaly_rate(after, before)

    def anomaly_events(self, after_ms: Any, before_ms: Any) -> list[list[int]]:
        """``[[after_s, before_s], ...]`` of events fully inside the range (milliseconds in, seconds out)."""
        after_s, before_s = _ms_range(after_ms, before_ms)
        return self._db.anomaly_events(self.host_id, after_s, before_s)

    def anomaly_event_info(self, after: Any, before: Any) -> list[list[Any]] | None:
        """The ``[[rate, "chart|dim"], ...]`` of the event with exactly these bounds (seconds), or None."""
        after_s, before_s = _seconds_range(after, before)
        return self._db.anomaly_event_info(self.host_id, after_s, before_s)

    def ml_info(self) -> dict[str, Any]:
        """Counters from the last detector tick (``/api/v1/ml_info``), then the profile and its keys.

        The counters are the profile's (SPEC §5.7 for ``netdata-1.33``: version 1
        and four counts; SPEC-NETDATA-2 §8.5 for ``netdata-2``: version 2 with
        ``ml-running``); pyml adds ``"profile"`` and ``"ml-config"``, every
        effective ``[ml]`` key of the profile (:meth:`MLConfig.ml_info`).
        """
        info: dict[str, Any] = dict(self._host_level.ml_info())
        info["profile"] = self.config.profile
        info["ml-config"] = self.config.ml_info()
        return info

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the host still while several reads must agree with each other.

        Inside ``with host.reading():`` no tick completes and no sample is
        evicted, so ``last_time``, ``first_time`` and queries over ranges
        computed from them see the same state (a scrape of ``/metrics`` does
        this). Keep the block short: collection waits for it.
        """
        with self._lock:
            yield

    @property
    def first_time(self) -> int | None:
        """Timestamp of the oldest tick still kept, or None."""
        return self._store.first_time

    @property
    def last_time(self) -> int | None:
        """Timestamp of the newest completed tick, or None."""
        return None if self._last_k is None else self._last_k * self.update_every

    @property
    def last_detector_result(self) -> TickResult | None:
        """What the detector decided at the newest tick."""
        return self._last_result

    # ------------------------------------------------------------------ public read view
    # What the query layer (pyml.query) and the HTTP API (pyml.api) read; they
    # use nothing private. Every read is safe from any thread.

    @property
    def history_ticks(self) -> int:
        """How many of the most recent ticks the sample store always keeps."""
        return int(self._store.readable_ticks)

    def _read_values(self, dimension_id: str, after: int, before: int) -> tuple[np.ndarray, np.ndarray]:
        """Times and stored values (NaN for no value) of one dimension over ``[after, before]``."""
        times, words = self.read_words([dimension_id], after, before)
        return times, core.unpack(words[0])[0]

    def read_words(self, dimension_ids: Sequence[str], after: float, before: float) -> tuple[np.ndarray, np.ndarray]:
        """Storage words of dimensions for the kept ticks in ``[after, before]`` (epoch seconds).

        ``dimension_ids`` are ``"chart|dimension"`` ids, the detector's own
        ``anomaly_detection.*`` charts included. Returns ``(times, words)``:
        int64[n] epoch seconds oldest first and uint32[len(dimension_ids), n];
        ticks that were skipped hold the empty word 0. KeyError names an
        unknown id.
        """
        with self._lock:
            try:
                slots = [self._slot_of[d] for d in dimension_ids]
            except KeyError as exc:
                raise KeyError(f"host {self.name!r} has no dimension {exc.args[0]!r}") from None
            return self._store.read(slots, after, before)

    @property
    def tier_count(self) -> int:
        """Number of tiers: tier 0 (every sample) and the rollup tiers (per minute, per hour, ...)."""
        return 1 + self._tiers.count

    def tier_info(self) -> list[dict[str, Any]]:
        """Per tier (0 first): ``tier``, ``update_every`` (seconds per point), ``points`` kept,
        ``first_time`` (first second of data it holds), ``first_point``/``last_point`` (end
        times of its oldest and newest complete points; None when it has none)."""
        with self._lock:
            info = [{"tier": 0, "update_every": self.update_every, "points": self.history_ticks,
                     "first_time": self.first_time, "first_point": self.first_time, "last_point": self.last_time}]
            for tier in range(1, self.tier_count):
                info.append({"tier": tier, "update_every": self._tiers.step(tier),
                             "points": self._tiers.specs[tier - 1].points,
                             "first_time": self._tiers.first_time(tier),
                             "first_point": self._tiers.first_point(tier),
                             "last_point": self._tiers.last_point(tier)})
            return info

    def read_tier(self, dimension_ids: Sequence[str], tier: int, after: float,
                  before: float) -> tuple[np.ndarray, np.ndarray]:
        """Rollup points of dimensions whose end lies in ``[after, before]`` (epoch seconds).

        ``tier`` is 1 or more (tier 0 is :meth:`read_words`). Returns
        ``(ends, points)``: int64[n] end times oldest first and a
        :data:`pyml.engine.tiers.POINT` array ``(len(dimension_ids), n)``
        (``sum``, ``min``, ``max``, ``count``, ``anomaly_count``; ``count`` 0
        where a dimension has no sample). The newest, still open point is
        included (partial) when its end is in the range. KeyError names an
        unknown id; ValueError an unknown tier.
        """
        with self._lock:
            try:
                slots = [self._slot_of[d] for d in dimension_ids]
            except KeyError as exc:
                raise KeyError(f"host {self.name!r} has no dimension {exc.args[0]!r}") from None
            ends, _, points = self._tiers.read(tier, slots, after, before)
            return ends, points

    def modelled_dimension_ids(self) -> list[str]:
        """Ids of the dimensions that have ML, in ``dimension_ids()`` order."""
        with self._lock:
            return [d for d in self.dimension_ids() if self._modelled[self._slot_of[d]]]

    def anomaly_ranking(self, after: float, before: float, baseline_after: float | None = None,
                        baseline_before: float | None = None, *, charts: Sequence[str] | str | None = None,
                        contexts: Sequence[str] | str | None = None, nonzero: bool = False,
                        limit: int | None = None) -> list[dict[str, Any]]:
        """Every modelled dimension ranked by its anomaly rate in ``[after, before]``, highest first.

        See :func:`pyml.query.ranking.anomaly_ranking` for the parameters and
        the entries returned (``chart``, ``dimension``, ``context``,
        ``anomaly_rate`` in percent, ``points``, ``anomalous``, and with a
        baseline window ``baseline_rate`` and ``change``).
        """
        from ..query.ranking import anomaly_ranking
        return anomaly_ranking(self, after, before, baseline_after, baseline_before, charts=charts,
                               contexts=contexts, nonzero=nonzero, limit=limit)

    # ------------------------------------------------------------------ persistence

    @property
    def _registry_path(self) -> Path:
        assert self.storage_dir is not None
        return self.storage_dir / "registry.json"

    def _write_registry(self) -> None:
        """Write charts, dimensions and their slots atomically (called with the lock held).

        The dirty flag is cleared only once the file is written; a failure is
        logged once (and once more when writing works again) and retried by
        a tick at most every 5 s (at once by ``flush`` and ``close``), so
        nothing added meanwhile is forgotten.
        """
        if self.storage_dir is None:
            self._registry_dirty = False
            return
        if self._registry_error is not None and time.monotonic() < self._registry_retry_at:
            return  # failing: try again every few seconds, not at every tick
        self._registry_retry_at = time.monotonic() + 5.0
        charts = [
            {
                "id": c.id, "name": c.name, "internal": c.internal, "title": c.title, "units": c.units,
                "family": c.family, "context": c.context, "chart_type": c.chart_type, "priority": c.priority,
                **({"dimension_names": c.dimension_names} if c.dimension_names else {}),
                **({"update_every": c.update_every} if c.update_every else {}),
                "dimensions": [[d, self._slot_of[f"{c.id}|{d}"]] for d in c.dimensions],
            }
            for c in self._charts.values()
        ]
        document = {"version": _REGISTRY_VERSION, "host": self.name, "host_id": self.host_id,
                    "update_every": self.update_every, "order": list(self._collected_dims), "charts": charts}
        try:
            self._store.commit_slots()  # cleared slots are on disk before the registry hands them out
            write_registry(self._registry_path, document, self._registry_written)
        except OSError as exc:
            if self._registry_error is None:
                self._registry_error = f"{exc.strerror or exc}"
                log.error("host registry %s: cannot write (%s); keeping the charts in memory and retrying every "
                          "5 s", self._registry_path, self._registry_error)
            return
        self._registry_written = document
        self._registry_dirty = False
        if self._registry_error is not None:
            log.warning("host registry %s: written again", self._registry_path)
            self._registry_error = None

    def _restore(self) -> None:
        """Rebuild charts, slots and models from ``storage_dir`` after a restart."""
        path = self._registry_path
        registry, self._registry_written = load_registry(path, self.update_every, self._store.capacity)
        if registry.host_id is not None:
            self.host_id = registry.host_id
        order = registry.order
        charts = [{"id": c.id, "name": c.name, "internal": c.internal, **c.info,
                   "dimensions": [[d, slot] for d, slot in c.dimensions]} for c in registry.charts]
        slots = [slot for c in registry.charts for _, slot in c.dimensions]
        highest = max(slots, default=-1)
        for expected in range(highest + 1):
            got = int(self._bank.add_slot())
            if got != expected:
                raise StoreError(f"cannot restore slot {expected} of {path}")
        for free in sorted(set(range(highest + 1)) - set(slots)):
            self._bank.remove_slot(free)
        self._ensure_slot_arrays(highest + 1)
        last = self._store.last_time
        self._last_k = None if last is None else self._store.tick_of(last)
        k = self._last_k if self._last_k is not None else 0
        saved = self._db.load_models(self.host_id)
        by_id: dict[str, tuple[Chart, str, int]] = {}
        untrained: list[int] = []
        for c in charts:
            chart = Chart(c["id"], c["name"], [], False, bool(c["internal"]), c.get("title", ""), c.get("units", ""),
                          c.get("family", ""), c.get("context", ""), c.get("chart_type", "line"),
                          int(c.get("priority", 1000)), dict(c.get("dimension_names", {})),
                          int(c.get("update_every", 0)))
            chart.modelled = (self.ml_enabled and not chart.internal and not self.config.chart_is_skipped(chart.name)
                              and chart.update_every in (0, self.update_every))
            self._charts[chart.id] = chart
            if not chart.internal:
                self._restored_charts.add(chart.id)
            for dim, slot in c["dimensions"]:
                chart.dimensions.append(dim)
                dim_id = f"{chart.id}|{dim}"
                self._slot_of[dim_id] = int(slot)
                by_id[dim_id] = (chart, dim, int(slot))
        for dim_id in order:
            chart, _, slot = by_id[dim_id]
            self._collected_dims[dim_id] = slot
            self._id_of_slot[slot] = dim_id
            self._modelled[slot] = chart.modelled
            if not chart.modelled:
                continue
            self._context_of_slot[slot] = self._context_id(chart)
            self._chart_of_slot[slot] = self._chart_id(chart)
            trained = False
            if dim_id in saved:
                try:
                    trained = self._restore_models(slot, saved[dim_id][0])
                except ValueError as exc:
                    log.warning("ignoring the saved model of %s: %s", dim_id, exc)
            if not trained:
                untrained.append(slot)
            self._scheduler.add(slot, dim_id, k, trained=trained)
            self._host_level.add_slot(slot)
        for start in range(0, len(untrained), 4096):  # points already collected, read in slot batches
            batch = untrained[start:start + 4096]
            _, words = self._store.latest(batch, self._min_points)
            self._collected[batch] = np.count_nonzero(words, axis=1)
        self._slot_index_cache = None
        self._restore_calibration()

    def _restore_calibration(self) -> None:
        """The restored dimensions' calibration state from ``storage_dir`` (a calibrated profile).

        A file that cannot be used is logged and ignored: the dimensions start from the prior.
        """
        assert self.storage_dir is not None
        path = self.storage_dir / CALIBRATION_FILE
        if not self._calibrated or not path.exists():
            return
        slot_of = {dim_id: slot for slot, dim_id in self._id_of_slot.items() if self._modelled[slot]}
        try:
            ids, rows = load_calibration(path, self._bank)
            restored = restore_calibration(self._bank, ids, rows, slot_of)
        except (OSError, ValueError) as exc:
            log.warning("host %r: calibration state %s not used, its dimensions start from the prior: %s",
                        self.name, path, exc)
            return
        log.info("host %r: calibration state of %d of %d dimensions restored from %s", self.name, restored,
                 len(slot_of), path)

    def _restore_models(self, slot: int, blob: bytes) -> bool:
        """Give ``slot`` its saved models; whether any was kept.

        A ring keeps the models whose training range ended within ``delete
        models older than`` of the newest tick (all of them when the profile
        has no such key), at most the profile's model count, newest last.
        """
        if not is_ring(blob):
            self._bank.set_model(slot, _core.Model.from_bytes(blob))
            return True
        ring = decode_ring(blob)
        max_age = self.config.delete_models_older_than
        if max_age and self._last_k is not None:
            oldest = self._last_k * self.update_every - max_age
            ring = [entry for entry in ring if entry[2] >= oldest]
        ring = ring[-self._ring_size:]
        if ring:
            self._bank.set_models(slot, ring)
        return bool(ring)

    def _merge_restored_chart(self, chart_id: str, dims: list[str], name: str | None, info: dict[str, Any]) -> Chart:
        """``add_chart`` of a chart restored from ``storage_dir``: keep its samples, add new dimensions."""
        self._restored_charts.discard(chart_id)
        chart = self._charts[chart_id]
        for key, value in info.items():
            if hasattr(chart, key) and key not in ("id", "dimensions", "modelled", "internal"):
                setattr(chart, key, value)
        if name is not None and name != chart.name:
            log.warning("chart %s was restored with name %r; keeping it (not %r)", chart_id, chart.name, name)
        for d in dims:
            if d not in chart.dimensions:
                self.add_dimension(chart_id, d)
        self._registry_dirty = True
        return chart

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Complete an open tick, stop the worker and write everything out."""
        if self._pending_t is not None:
            self._complete_pending()
        with self._train_wakeup:
            self._closing = True
            self._train_wakeup.notify_all()
        if self._pool_client is not None:
            self._pool_client.close()
            self._pool_client = None
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        self._delete_removed_models()
        self._save_calibration(force=True)
        if self.ml_enabled:
            self._store_event(self._host_level.finish())  # an event still open ends with the host
        with self._lock:
            if self._registry_dirty:
                self._registry_retry_at = 0.0
                self._write_registry()
            unsaved_registry = self._registry_dirty and self.storage_dir is not None
            self._store.close()
            self._tiers.close()
        self._db_writes.run(force=True)
        unsaved_writes = len(self._db_writes)
        self._db.close()
        if unsaved_registry or unsaved_writes:
            lost = []
            if unsaved_registry:
                lost.append(f"the chart registry {self._registry_path} ({self._registry_error}): charts added "
                            "since it was last written will be missing at the next start")
            if unsaved_writes:
                lost.append(f"{unsaved_writes} event/model write(s) to {self._db.path} ({self._db_writes.failing})")
            message = f"host {self.name!r} closed without saving " + "; ".join(lost)
            log.error("%s", message)
            raise StoreError(message)

    def __enter__(self) -> "Host":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
