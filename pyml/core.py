"""The public face of the compiled core (``pyml._core``).

Every function here validates and converts its arguments once (see
``pyml._arrays``), then calls the core with the GIL released.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import _core
from ._arrays import as_flags, as_float64, as_int, as_words, is_integer

__all__ = ["pack", "unpack", "unpack_double", "EMPTY_SLOT", "ANOMALY_BIT", "RESET_FLAG", "ANOMALOUS_ZERO",
           "Bank", "TrainReport", "MAX_MODELS", "STATUS_ACTIVE", "STATUS_TRAINED", "STATUS_SILENCED",
           "STATUS_VARIABLE",
           "features", "kmeans", "train", "fill_gaps", "Model", "MAX_DIFF_N", "MAX_SMOOTH_N", "MAX_LAG_N",
           "sampling_table", "sample_mask", "DEFAULT_SEED", "calibrate", "day_slot_of", "SECONDS_PER_DAY"]

EMPTY_SLOT: int = _core.EMPTY_SLOT
ANOMALY_BIT: int = _core.ANOMALY_BIT
RESET_FLAG: int = _core.RESET_FLAG
ANOMALOUS_ZERO: int = _core.ANOMALOUS_ZERO


def _shaped(out: np.ndarray, shape: tuple[int, ...]) -> Any:
    return out.reshape(shape) if shape else out[0]


def pack(values: Any, anomalous: Any = False, reset: Any = False) -> Any:
    """Pack sample values into 32-bit storage words.

    Parameters
    ----------
    values : array-like of float, any shape
        Sample values. NaN means "no value" and packs to the empty slot 0;
        ±inf and magnitudes beyond 1.6777215e21 saturate.
    anomalous, reset : bool or array-like of bool
        The anomaly and reset flags, one for all values or one per value.

    Returns
    -------
    numpy.ndarray of uint32 with the shape of ``values`` (a ``numpy.uint32``
    for a scalar), bit-exact with the reference's 80-bit ``long double`` pack.
    """
    arr = as_float64("values", values)
    flags_a = as_flags("anomalous", anomalous, arr.shape)
    flags_r = as_flags("reset", reset, arr.shape)
    return _shaped(_core.pack(arr.reshape(-1), flags_a, flags_r), arr.shape)


def unpack(words: Any) -> tuple[Any, Any, Any]:
    """Unpack storage words into ``(values, anomalous, exists)``.

    Values are the reference's 80-bit results as float64 (what queries show).
    The empty word 0 unpacks to ``(nan, False, False)``.
    """
    arr = as_words("words", words)
    values, anomalous, exists = _core.unpack(arr.reshape(-1))
    return _shaped(values, arr.shape), _shaped(anomalous, arr.shape), _shaped(exists, arr.shape)


def unpack_double(words: Any) -> Any:
    """Unpack storage words with the double-precision steps training uses.

    The empty word gives NaN.
    """
    arr = as_words("words", words)
    return _shaped(_core.unpack_double(arr.reshape(-1)), arr.shape)


# ---------------------------------------------------------------- features, k-means, model

Model = _core.Model

#: Accepted feature parameters: diff_n in [0, MAX_DIFF_N], smooth_n in
#: [0, MAX_SMOOTH_N] (0 behaves as 1: no smoothing), lag_n in [0, MAX_LAG_N].
MAX_DIFF_N: int = _core.MAX_DIFF_N
MAX_SMOOTH_N: int = _core.MAX_SMOOTH_N
MAX_LAG_N: int = _core.MAX_LAG_N


def _series(name: str, x: Any) -> np.ndarray:
    arr = as_float64(name, x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    return arr


def features(x: Any, diff_n: int = 1, smooth_n: int = 3, lag_n: int = 5, variant: str = "v1") -> np.ndarray:
    """Feature vectors of a raw series, as Netdata v1.33 (``variant="v1"``) or 2.x (``"v2"``) builds them.

    Parameters
    ----------
    x : array-like of float, shape (n,)
        Raw samples, oldest first (NaN and inf propagate).
    diff_n : int in [0, 1]
        Difference with the value ``diff_n`` samples earlier (0 = none).
    smooth_n : int in [0, 5]
        Trailing mean over ``smooth_n`` values (0 behaves as 1: none), computed
        with the reference's running sum from the newest end.
    lag_n : int in [0, 5]
        Earlier values appended to each vector.
    variant : "v1" or "v2"
        v1 (SPEC §2): newest element first, absolute values, the mean as
        ``sum * (1/S)`` with a running sum from the newest end. v2
        (SPEC-NETDATA-2 §3.3): oldest element first, signed, ``sum / S`` with
        a running sum moving forward (add the new difference, divide, subtract
        the oldest), and with ``diff_n = 0`` the newest element of the last
        row is 0 (Netdata zeroes its buffer's last S slots). For ``lag_n < 5``
        both have ``lag_n + 1`` coordinates (Netdata's v2 vectors always have
        6, the extra ones unwritten).

    Returns
    -------
    numpy.ndarray of float64, shape (m, lag_n + 1)
        ``m = n - diff_n - (smooth_n - 1) - lag_n`` rows (none if that is not
        positive), oldest vector first. v1: row ``r`` is
        ``[|y[j]|, |y[j-1]|, ..., |y[j-lag_n]|]`` for ``j = n - m + r``, where
        ``y`` is the differenced, smoothed series; v2: row ``r`` is
        ``[s[r], s[r+1], ..., s[r+lag_n]]`` with ``s[r]`` the mean of the
        differences ``r .. r+S-1``. Bit-exact with the reference.

    Examples
    --------
    >>> features([1, 3, 6, 10, 15, 9, 9, 9, 9], variant="v2")[0].tolist()   # SPEC-NETDATA-2's example
    [3.0, 4.0, 1.0, -0.3333333333333333, -2.0, 0.0]
    """
    arr = _series("x", x)
    return _core.features(arr, as_int("diff_n", diff_n), as_int("smooth_n", smooth_n),
                          as_int("lag_n", lag_n), str(variant))


def kmeans(X: Any, k: int = 2, max_iterations: int = 1000) -> np.ndarray:
    """k-means of the rows of ``X``, equal bit for bit to dlib's.

    dlib's ``pick_initial_centers(k, ..., linear_kernel, 0.01)`` (first row,
    then the row at the 99th percentile of distance) followed by
    ``find_clusters_using_kmeans(..., max_iterations)``: deterministic; an
    empty cluster's centre becomes the zero vector.

    Parameters
    ----------
    X : array-like of finite float, shape (n, f)
    k : int, 1 <= k <= n
    max_iterations : int >= 1

    Returns
    -------
    numpy.ndarray of float64, shape (k, f): the centres.
    """
    arr = as_float64("X", X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-dimensional (samples x features), got shape {arr.shape}")
    return _core.kmeans(arr, as_int("k", k), as_int("max_iterations", max_iterations))


def train(history: Any, diff_n: int = 1, smooth_n: int = 3, lag_n: int = 5, max_iterations: int = 1000, *,
          features: str = "v1", max_vectors: int = 0, seed: int = _core.DEFAULT_SEED) -> Model:
    """Train one model on a raw history, as the reference trains a dimension.

    Leading NaNs (missing points) are dropped and later ones take the previous
    value; then :func:`features`, :func:`kmeans` with k = 2, and the range of
    the training vectors' mean distance to the two centres (``min_dist``
    starts at DBL_MAX, ``max_dist`` at DBL_MIN, so a constant history gives
    ``min_dist = 0``, ``max_dist = DBL_MIN`` and any later non-zero distance
    scores 100).

    Parameters
    ----------
    history : array-like of float, shape (n,)
        Raw values, oldest first; NaN = missing point; +-inf is refused.
    diff_n, smooth_n, lag_n : int
        Feature parameters, as for :func:`features`.
    max_iterations : int >= 1
        k-means iterations.
    features : "v1" or "v2"
        The feature recipe (:func:`features`' ``variant``).
    max_vectors : int
        0: train on every vector. Else (>= 2) Netdata 2.x's sub-sampling
        (SPEC-NETDATA-2 §3.2): of E vectors, vector j is kept iff
        ``sampling_table(max_vectors, seed)[j % max_vectors] <= cutoff`` with
        ``cutoff = uint32(4294967295.0 * min(1, max_vectors / E))``
        (:func:`sample_mask`); k-means and the distance range use the kept
        vectors only.
    seed : int in [0, 2**32)
        Seed of the sampling table (``std::mt19937``).

    Returns
    -------
    Model

    Raises
    ------
    ValueError
        For +-inf (naming index and value), a history too short for two
        (kept) feature vectors, or parameters out of range.
    """
    arr = _series("history", history)
    return _core.train(arr, as_int("diff_n", diff_n), as_int("smooth_n", smooth_n),
                       as_int("lag_n", lag_n), as_int("max_iterations", max_iterations), features=str(features),
                       max_vectors=as_int("max_vectors", max_vectors), seed=as_int("seed", seed))


#: Default seed of the sampling table: ``std::mt19937``'s own default.
DEFAULT_SEED: int = _core.DEFAULT_SEED


def sampling_table(size: int, seed: int) -> np.ndarray:
    """The first ``size`` outputs of ``std::mt19937(seed)``, uint32[size].

    Equal to ``numpy.random.RandomState(seed).randint(0, 2**32, size=size, dtype=numpy.uint32)``.
    """
    return _core.sampling_table(as_int("size", size), as_int("seed", seed))


def sample_mask(vectors: int, max_vectors: int, seed: int) -> np.ndarray:
    """Which of ``vectors`` training vectors (oldest first) the sub-sampling keeps, bool[vectors].

    ``ratio = max_vectors / vectors`` if ``vectors > max_vectors`` else 1;
    ``cutoff = uint32(4294967295.0 * ratio)``; vector j is kept iff
    ``sampling_table(max_vectors, seed)[j % max_vectors] <= cutoff``
    (SPEC-NETDATA-2 §3.2).
    """
    return _core.sample_mask(as_int("vectors", vectors), as_int("max_vectors", max_vectors), as_int("seed", seed))


def fill_gaps(history: Any) -> tuple[np.ndarray, int]:
    """The gap handling :func:`train` applies: ``(filled, existing)``.

    Leading NaNs are dropped, later NaNs take the previous value; ``existing``
    counts the non-NaN points. +-inf raises ValueError naming index and value.
    """
    arr = _series("history", history)
    filled, existing = _core.fill_gaps(arr)
    return filled, int(existing)


# ---------------------------------------------------------------- dimension bank

TrainReport = _core.TrainReport


#: The most models a bank keeps per slot (Netdata's ``number of models per dimension`` range).
MAX_MODELS: int = _core.MAX_MODELS
#: Per-slot status bits of :meth:`Bank.status`.
STATUS_ACTIVE: int = _core.STATUS_ACTIVE      # slot in use
STATUS_TRAINED: int = _core.STATUS_TRAINED    # holds a model, or trained with fewer than 2 vectors
STATUS_SILENCED: int = _core.STATUS_SILENCED  # silenced by noisy-dimension suppression
STATUS_VARIABLE: int = _core.STATUS_VARIABLE  # value changed at a prediction since the last training attempt


def _times(name: str, value: Any, n: int) -> list[int]:
    """after / before of :meth:`Bank.train`: one integer for all slots or one per slot."""
    if is_integer(value):
        return [int(value)] * n if value else []
    if isinstance(value, np.ndarray):
        items = value.reshape(-1).tolist()
    else:
        try:
            items = list(value)
        except TypeError:
            raise TypeError(f"{name} must be an integer or a sequence of integers, got {value!r}") from None
    return [as_int(f"{name}[{i}]", v) for i, v in enumerate(items)]


class Bank(_core.Bank):
    """Many dimensions' prediction state, scored together once per tick.

    ``Bank(diff_n=1, smooth_n=3, lag_n=5, threshold=0.99, capacity=0, *,
    models=1, features="v1", suppression_window=0, suppression_threshold=0,
    kernel="best", calibration="none", peak_window=120, memory=4000,
    decades=4.0, bit_level=0.75, saturation=100.0, prior_rate=0.01,
    score_decades=0.0, score_warmup=100, day_decades=0.0, day_slots=12,
    day_ticks_per_slot=7200, day_warmup=2.0, day_memory=7.0, day_span=10,
    day_long_memory=1209600)``: the
    feature parameters and
    ``dimension_anomaly_score_threshold`` of the configuration; ``capacity``
    reserves room for that many slots; the keywords choose the mechanisms
    (their defaults are Netdata v1.33's, bit-exact):

    * ``models`` (1..168): models a slot keeps (Netdata's ring; SPEC-NETDATA-2 §4.1).
    * ``features``: ``"v1"`` (v1.33) or ``"v2"`` (Netdata 2.x: oldest first,
      signed, ``/ S``; the first prediction on the window's next value).
    * ``suppression_window``, ``suppression_threshold``: both 0 (off) or
      both >= 1: noisy-dimension suppression (SPEC-NETDATA-2 §6).
    * ``kernel``: ``"best"``, ``"baseline"`` or ``"avx2"`` (identical results).
    * ``calibration``: ``"none"`` (the vote's bit and score, as above) or
      ``"surprise"`` (the ``pyml`` profile's per-slot rule, below), with its
      parameters ``peak_window`` (ticks, in [0, 2**31]), ``memory`` (ticks,
      in [1, 2**32]), ``decades`` (> 0), ``bit_level`` (in (0, 1]),
      ``saturation`` (in (0, 100]) and ``prior_rate`` (in [0, 1]); the
      defaults are the lab's (:func:`pyml.lab.detectors.surprise_detector`).
      ``score_decades`` (>= 0; 0, the default, turns it off) adds the
      **score tail**: after ``score_warmup`` predictions (in [0, 2**32]) a
      slot's level is at least ``100 * min(1, -log10(tail) / score_decades)``,
      ``tail`` the upper Gaussian tail of ``ln(1 + score)`` against its running
      mean and variance, when that lies 3 standard deviations or more above
      the mean (measured on NAB with 12 decades and 100 predictions; the
      ``pyml`` profile runs without it).
      ``day_decades`` (>= 0; 0 turns it off; the ``pyml`` profile: 10) adds
      the **daily profile**: per slot of the day (``day_slots`` of them, an
      integer in [1, 1440]; :meth:`tick`'s ``day_slot`` says which one a tick
      is in) the running mean and variance of the value, forgetting after
      ``day_memory`` days; once a slot of the day holds ``day_warmup`` days
      (``day_ticks_per_slot`` ticks per slot and day), a ``day_span``-tick
      mean of the squared standardised value is judged against its own
      long-run mean and variance (forgetting after ``day_long_memory``
      ticks), and 3 or more standard deviations above it raise the level to
      ``100 * min(1, -log10(upper tail) / day_decades)`` (README, "The daily
      profile").

    A slot is one dimension: its prediction window (the last ``window`` =
    ``diff_n + smooth_n + lag_n`` raw values), its models (each with the time
    range it was trained on, ``after``/``before`` in epoch seconds), its status
    and its generation. :meth:`tick` takes one value per slot and returns one
    storage word per slot: the value goes into the window, the feature vector
    (v1: bit for bit the last row of :func:`features` over the window; v2: the
    row of ``features(window, variant="v2")``) is scored by the slot's models
    (each bit for bit ``Model.score``), and the word is :func:`pack` of the
    value with the vote's bit.

    * The vote (SPEC-NETDATA-2 §5.3): models oldest to newest; a NaN score is
      skipped; the first score below ``100 * threshold`` ends it as normal;
      otherwise the slot is anomalous iff some score was not NaN. The slot's
      score is the one that ended the vote, else the lowest score consulted.
      With one model this is v1.33's ``score >= 100 * threshold``.
      :attr:`models_consulted` counts the models visited.
    * A new model joins by Netdata's ring rule: appended while fewer than
      ``models``; else it replaces the newest when the second newest and it
      cover the newest's span (``models > 2``); else the oldest leaves. With
      ``models > 1`` the models are stored with float32 centres (double
      distances, uint32 times) and score as stored; :meth:`models` returns them
      as they score.
    * Suppression: per slot, predictions and anomalous predictions since the
      last reset (:meth:`suppression_counts`); after a prediction whose vote did
      not end as normal, ``anomalous >= suppression_threshold`` and
      ``predictions >= suppression_window`` silence the slot (SILENCED): normal,
      counting nothing, until a model is installed (or a training keeps fewer
      than 2 vectors). Model installs, those trainings and every
      ``'too_few_points'`` attempt reset the counters.
    * :meth:`status`: per slot ACTIVE, TRAINED, SILENCED, VARIABLE (the value
      changed at a prediction since the last training attempt; also tracked
      while silenced); :meth:`model_counts`: models held.
    * NaN means no value: the window is emptied and the word is the empty slot 0.
    * inf, or a magnitude beyond 1.6777215e21, is stored saturated and empties
      the window (a gap for the model).
    * A slot is normal (score 0) without a model, while silenced, and until its
      window holds ``window`` consecutive values again (v1; v2 one more:
      :attr:`warmup`).
    * Free slots are ignored and yield the empty word.

    Calibration ``"surprise"``: after the vote, per slot and tick, the rule of
    :func:`pyml.lab.detectors.surprise_detector` (bit for bit its numba
    ``_surprise_step``) runs on the slot's value, its vote score and whether
    it made a prediction with a model this tick (``trained``: a model, a full
    window, not silenced). It keeps seven numbers per slot (:meth:`calibration_state`:
    the saturation rate, the mean and variance of the value's change, how many
    ticks fed them, the highest level reported within ``peak_window`` ticks,
    its age, the previous value) and gives

    * a **level** (``tick(want_levels=True)``): 0 without a prediction or
      after a gap (NaN, inf or beyond the storable range: the change is
      undefined); ``score / 2`` while the capped score is below
      ``saturation``; ``50 + 50 * g`` when it saturates, ``g`` in [0, 1] the
      larger of how rarely this slot saturates (``-log10(rate) / decades``)
      and how far in the tail of its usual changes this change lies;
    * the **reported score** (``want_scores``): the level when it is above
      every level reported in the last ``peak_window`` ticks, else 0 (one
      report per incident, at its onset);
    * the **bit** (``want_bits`` and the storage word's anomaly bit): reported
      score ``>= 100 * bit_level``.

    Suppression counts the vote's bits, before calibration. The state is reset
    when a slot is added or removed; a model install (training, ``set_models``,
    ``queue_model``) and :meth:`clear_model` keep it: the rule is calibrated on
    the slot's score stream, not on one model. It is not persisted: a bank
    made again (a restarted host) starts every slot from the prior
    (``rate = prior_rate``, no change statistics), as a new dimension does.

    Slots are added and removed while running without disturbing the others; a
    removed slot is reused by a later :meth:`add_slot` with its generation
    incremented. :meth:`train` trains slots on worker threads with the GIL
    released and queues the results; the next tick applies them, dropping the
    results of slots removed or reused meanwhile. Every method may be called
    from any thread; a tick never waits for training.

    This class converts array-like arguments losslessly (``pyml._arrays``);
    its base, ``pyml._core.Bank``, takes exact float64 arrays only.

    Examples
    --------
    >>> bank = Bank()
    >>> slot = bank.add_slot()
    >>> words = bank.tick([12.5])
    >>> report = bank.train([slot], [history], min_samples=3600)  # doctest: +SKIP
    >>> nd2 = Bank(models=18, features="v2", suppression_window=900, suppression_threshold=450)
    >>> report = nd2.train([0], [window], min_samples=900, after=t - 21600, before=t,
    ...                    max_vectors=1440, seed=seed, skip_constant=True)  # doctest: +SKIP
    """

    def tick(self, values: Any, *, reset: Any = None, want_bits: bool = False, want_scores: bool = False,
             want_levels: bool = False, day_slot: int = -1) -> Any:
        """One tick of every slot.

        Parameters
        ----------
        values : array-like of float, shape (size,)
            One value per slot, NaN = no value; free slots are ignored.
        reset : None, bool or array-like of bool (one, or one per slot)
            The storage words' reset flag.
        want_bits, want_scores : bool
            Also return the anomaly bits (True = anomalous; the stored bit)
            and the scores. Without calibration: the score of the model that
            ended the vote as normal, else the lowest score of the models
            consulted (NaN if every one was NaN); 0 when there is no
            prediction (window not full, gap, silenced, free slot) or no
            model. With ``calibration="surprise"``: the rule's bit and its
            reported score (0-100; 0 unless the level is a new peak).
        want_levels : bool
            Also return the calibrated levels before the once-per-incident
            suppression (0-100; 0 without a prediction), what a host-level
            detector reads. Only with ``calibration="surprise"`` (else
            ``ValueError``).
        day_slot : int
            The tick's slot of the day for the daily profile (``0`` to
            ``day_slots - 1``; :func:`day_slot_of` gives it from the tick's
            timestamp); ``-1`` (the default): none, the profile rests this
            tick. Ignored without a daily profile; ``ValueError`` beyond it.

        Returns
        -------
        words : numpy.ndarray of uint32, shape (size,)
            Alone, or ``(words, bits, scores, levels)`` with only the
            requested ones, in that order.
        """
        if type(values) is np.ndarray and values.dtype == np.float64 and values.flags.c_contiguous:
            arr = values
        else:
            arr = as_float64("values", values)
        if arr.ndim != 1:
            raise ValueError(f"values must be 1-dimensional with {self.size} elements, got shape {arr.shape}")
        flags = None if reset is None else as_flags("reset", reset, arr.shape)
        return super().tick(arr, reset=flags, want_bits=bool(want_bits), want_scores=bool(want_scores),
                            want_levels=bool(want_levels), day_slot=as_int("day_slot", day_slot))

    def train(
        self, slots: Any, histories: Any, *, min_samples: int, max_iterations: int = 1000, threads: int = 2,
        after: Any = 0, before: Any = 0, max_vectors: int = 0, seed: int = _core.DEFAULT_SEED,
        skip_constant: bool = False,
    ) -> TrainReport:
        """Train slots from their histories and queue the models for the next tick.

        Parameters
        ----------
        slots : sequence of int
            Slots in use, no repeats.
        histories : 2-D array-like (one row per slot) or sequence of 1-D array-likes
            Raw values, oldest first; NaN = missing point (leading gaps are
            dropped, later ones forward-filled); +-inf is refused.
        min_samples : int
            Existing (non-NaN) points a history needs, >= 1; with fewer the
            slot is reported ``'too_few_points'`` and keeps its model.
        max_iterations : int
            k-means iterations, >= 1.
        threads : int
            Worker threads, 1 to 64.
        after, before : int or sequence of int (one per slot)
            The time range each history covers, epoch seconds in [0, 2**32):
            kept with the model, for the ring rule and persistence.
        max_vectors : int
            0: train on every vector. >= 2: Netdata 2.x's sub-sampling (see
            :func:`sample_mask`) and its outcomes: a history with fewer values
            than one vector's ``window`` (after the leading gaps) is
            ``'too_few_points'``, fewer than 2 kept vectors ``'few_vectors'``
            (the slot becomes TRAINED without a new model).
        seed : int in [0, 2**32)
            Seed of the sampling table.
        skip_constant : bool
            Slots whose VARIABLE status is clear when the call starts are not
            trained (``'constant'``; nothing changes), as Netdata skips
            constant dimensions.

        Returns
        -------
        TrainReport
            Per slot: ``status``, ``trained``, ``existing``, ``seconds``,
            ``messages``. Results apply at the next tick: a model joins the
            slot's models (ring rule), ``'trained'`` and ``'few_vectors'``
            reset the suppression counters and clear SILENCED and VARIABLE,
            ``'too_few_points'`` resets the counters and clears VARIABLE.

        Raises
        ------
        ValueError, IndexError, TypeError
            For any bad argument, before anything is trained.
        """
        items = slots.reshape(-1).tolist() if isinstance(slots, np.ndarray) else list(slots)
        slot_list = [as_int(f"slots[{i}]", s) for i, s in enumerate(items)]
        if isinstance(histories, np.ndarray) and histories.ndim == 2:
            hist: Any = as_float64("histories", histories)
        else:
            hist = []
            for i, h in enumerate(histories):
                arr = as_float64(f"histories[{i}]", h)
                if arr.ndim != 1:
                    raise ValueError(f"histories[{i}] must be 1-dimensional, got shape {arr.shape}")
                hist.append(arr)
        return super().train(
            slot_list,
            hist,
            min_samples=as_int("min_samples", min_samples),
            max_iterations=as_int("max_iterations", max_iterations),
            threads=as_int("threads", threads),
            after=_times("after", after, len(slot_list)),
            before=_times("before", before, len(slot_list)),
            max_vectors=as_int("max_vectors", max_vectors),
            seed=as_int("seed", seed),
            skip_constant=bool(skip_constant),
        )

    def remove_slot(self, slot: int) -> None:
        """Free a slot (its window and model are dropped); IndexError if it is not in use."""
        super().remove_slot(as_int("slot", slot))

    def generation(self, slot: int) -> int:
        """How many times the slot was reused (0 if never freed); IndexError if it is not in use."""
        return super().generation(as_int("slot", slot))

    def trained(self, slot: int) -> bool:
        """Whether the slot has a model; IndexError if it is not in use."""
        return super().trained(as_int("slot", slot))

    def model(self, slot: int) -> Any:
        """A copy of the slot's newest model (the one model with ``models=1``), or None when it holds none.

        IndexError if the slot is not in use.
        """
        return super().model(as_int("slot", slot))

    def models(self, slot: int) -> list[tuple[Model, int, int]]:  # type: ignore[override]
        """The slot's models, oldest first, as ``(Model, after, before)``, exactly as they score.

        With ``models > 1`` the centres are the float32 values stored. IndexError
        if the slot is not in use.
        """
        return super().models(as_int("slot", slot))

    def set_models(self, slot: int, models: Any) -> None:
        """Replace the slot's models now (restoring persisted ones), oldest first, without the ring rule.

        ``models``: a sequence of ``(Model, after, before)``, at most
        :attr:`models_per_slot` of them, each Model with 2 centres of ``lag_n + 1``
        coordinates. TRAINED if any (cleared if none), SILENCED cleared,
        suppression counters reset; the window and VARIABLE stay. Errors
        (ValueError, TypeError, IndexError) change nothing.
        """
        items = []
        for i, item in enumerate(models):
            if not isinstance(item, tuple) or len(item) != 3:
                raise TypeError(f"models[{i}] must be a tuple (Model, after, before), got {item!r}")
            model, after, before = item
            items.append((model, as_int(f"models[{i}] after", after), as_int(f"models[{i}] before", before)))
        super().set_models(as_int("slot", slot), items)

    def queue_model(self, slot: int, model: Any, after: int, before: int) -> None:
        """Queue a model for the slot as training does (e.g. a model received from elsewhere).

        The next tick installs it by the ring rule (resetting the suppression
        counters, clearing SILENCED and VARIABLE, setting TRAINED), unless the
        slot was removed or reused before. ValueError for a model of the wrong
        shape or times outside [0, 2**32); IndexError for a slot not in use.
        """
        super().queue_model(as_int("slot", slot), model, as_int("after", after), as_int("before", before))

    def set_model(self, slot: int, model: Any) -> None:
        """Give the slot this one model now (e.g. a persisted one restored with ``Model.from_bytes``).

        ``set_models(slot, [(model, 0, 0)])``. ValueError unless the model has
        2 centres of ``lag_n + 1`` coordinates; IndexError if the slot is not in
        use. A model queued by :meth:`train` before this call still joins at the
        next tick.
        """
        super().set_model(as_int("slot", slot), model)

    def clear_model(self, slot: int) -> None:
        """Forget the slot's models (it scores 0 until the next one; TRAINED cleared; calibration state kept)."""
        super().clear_model(as_int("slot", slot))

    def calibration_state(self) -> dict[str, Any]:
        """Every slot's calibration state as float64 arrays of length :attr:`size`.

        Keys as the rule names them: ``rate``, ``mean``, ``var``, ``seen``,
        ``top``, ``top_age`` (inf: nothing reported yet), ``prev``, ``smean``,
        ``svar`` (the score tail's statistics, 0 without it). Free
        slots show whatever state they will drop when reused. ``ValueError``
        for a bank with ``calibration="none"``.
        """
        return super().calibration_state()

    def set_calibration_state(self, slots: Any, state: Mapping[str, Any]) -> None:
        """Give ``slots[i]`` row ``i`` of ``state``: a calibration state saved before a restart.

        ``state`` has the keys :meth:`calibration_state` returns, one row per
        slot of ``slots`` (``day_mean``, ``day_var``, ``day_visits`` of shape
        ``(len(slots), day_slots)``). ``ValueError`` naming the field for a
        missing key, a wrong shape or a value the rule cannot be in (a rate
        outside [0, 1], a negative variance, a count that is not a whole
        number), or for a bank with ``calibration="none"``; ``IndexError`` for
        a slot not in use. Nothing changes when it raises.
        """
        super().set_calibration_state(np.asarray(slots, dtype=np.int64).reshape(-1), dict(state))


def calibrate(values: Any, scores: Any, trained: Any, *, calibration: str = "surprise", peak_window: float = 120,
              memory: float = 4000, decades: float = 4.0, bit_level: float = 0.75, saturation: float = 100.0,
              prior_rate: float = 0.01, score_decades: float = 0.0,
              score_warmup: float = 100, day_decades: float = 0.0, day_slots: float = 12,
              day_ticks_per_slot: float = 7200, day_warmup: float = 2.0, day_memory: float = 7.0,
              day_span: float = 10, day_long_memory: float = 1209600,
              day_slot: Any = None) -> tuple[Any, Any, Any]:
    """The bank's calibration rule over recorded ticks, without a bank.

    Parameters
    ----------
    values, scores : array-like of float, shape (ticks, slots)
        Per tick and slot the value (NaN, inf or beyond the storable range =
        a gap) and the k-means (vote) score.
    trained : array-like of bool, shape (ticks, slots)
        Whether the slot made a prediction with a model at that tick.
    calibration, peak_window, memory, decades, bit_level, saturation, prior_rate, score_decades, score_warmup
        As :class:`Bank`'s (``calibration`` must be ``"surprise"``); likewise the daily profile's
        ``day_decades``, ``day_slots``, ``day_ticks_per_slot``, ``day_warmup``, ``day_memory``,
        ``day_span``, ``day_long_memory``.
    day_slot : None or array-like of int, shape (ticks,)
        Each tick's slot of the day (``-1``: none); None: none at all.

    Returns
    -------
    scores : numpy.ndarray of float64, shape (ticks, slots)
        The reported scores (0 unless a new peak).
    bits : numpy.ndarray of bool, shape (ticks, slots)
    levels : numpy.ndarray of float64, shape (ticks, slots)
        The levels before the once-per-incident suppression.

    Every slot starts from the prior; the results are those a
    ``Bank(calibration=...)`` gives for the same inputs, and equal
    ``pyml.lab.custom.run_detector(surprise_detector(...), ...)`` bit for bit
    on finite values.
    """
    v = as_float64("values", values)
    if v.ndim != 2:
        raise ValueError(f"values must be 2-dimensional (ticks, slots), got shape {v.shape}")
    s = as_float64("scores", scores)
    if s.shape != v.shape:
        raise ValueError(f"scores has shape {s.shape}; expected {v.shape} like values")
    t = as_flags("trained", trained, v.shape)
    if t.size != v.size:
        raise ValueError(f"trained must have the values' shape {v.shape}, got a single flag")
    numbers = {}
    for name, x in (("peak_window", peak_window), ("memory", memory), ("decades", decades),
                    ("bit_level", bit_level), ("saturation", saturation), ("prior_rate", prior_rate),
                    ("score_decades", score_decades), ("score_warmup", score_warmup),
                    ("day_decades", day_decades), ("day_slots", day_slots), ("day_ticks_per_slot", day_ticks_per_slot),
                    ("day_warmup", day_warmup), ("day_memory", day_memory), ("day_span", day_span),
                    ("day_long_memory", day_long_memory)):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a number, got {x!r}")
        numbers[name] = float(x)
    slots_of_day = None
    if day_slot is not None:
        ints = np.asarray([as_int(f"day_slot[{i}]", x) for i, x in enumerate(np.asarray(day_slot).reshape(-1).tolist())],
                          dtype=np.int64)
        if ints.shape != (v.shape[0],):
            raise ValueError(f"day_slot has {ints.size} elements; expected {v.shape[0]} (one per tick)")
        if ints.size and (ints.min() < -1 or ints.max() > np.iinfo(np.int32).max):
            raise ValueError(f"day_slot values must be -1 (none) or slots of the day, got {ints.min()}..{ints.max()}")
        slots_of_day = np.ascontiguousarray(ints, dtype=np.int32)
    return _core.calibrate(v, s, t.reshape(v.shape), calibration=calibration, day_slot=slots_of_day, **numbers)


#: Seconds in a day: the daily profile's period.
SECONDS_PER_DAY = 86400


def day_slot_of(t: float, update_every: int, day_slots: int) -> int:
    """The slot of the day of a tick at ``t`` (epoch seconds, UTC) on an ``update_every`` grid.

    The tick of the day is ``(t mod 86400) // update_every`` and the day's
    ``P = round(86400 / update_every)`` ticks are cut into ``min(day_slots, P)``
    equal slots: ``tick_of_day * slots // P``. So a restart or a gap keeps the
    phase, and 12 slots at any cadence are the day's 2-hour periods.
    """
    per_day = max(1, round(SECONDS_PER_DAY / update_every))
    slots = min(int(day_slots), per_day)
    tick_of_day = (int(t) % SECONDS_PER_DAY) // int(update_every)
    return min(slots - 1, tick_of_day * slots // per_day)
