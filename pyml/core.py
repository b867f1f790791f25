"""The public face of the compiled core (``pyml._core``).

Every function here validates and converts its arguments once (see
``pyml._arrays``), then calls the core with the GIL released.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._arrays import as_flags, as_float64, as_int, as_words

__all__ = ["pack", "unpack", "unpack_double", "EMPTY_SLOT", "ANOMALY_BIT", "RESET_FLAG", "ANOMALOUS_ZERO",
           "Bank", "TrainReport",
           "features", "kmeans", "train", "fill_gaps", "Model", "MAX_DIFF_N", "MAX_SMOOTH_N", "MAX_LAG_N"]

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


def features(x: Any, diff_n: int = 1, smooth_n: int = 3, lag_n: int = 5) -> np.ndarray:
    """Feature vectors of a raw series, as the reference (Netdata v1.33) builds them.

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

    Returns
    -------
    numpy.ndarray of float64, shape (m, lag_n + 1)
        ``m = n - diff_n - (smooth_n - 1) - lag_n`` rows (none if that is not
        positive), oldest vector first; row ``r`` is
        ``[|y[j]|, |y[j-1]|, ..., |y[j-lag_n]|]`` for ``j = n - m + r``, where
        ``y`` is the differenced, smoothed series. Bit-exact with the reference.
    """
    arr = _series("x", x)
    return _core.features(arr, as_int("diff_n", diff_n), as_int("smooth_n", smooth_n),
                          as_int("lag_n", lag_n))


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


def train(history: Any, diff_n: int = 1, smooth_n: int = 3, lag_n: int = 5, max_iterations: int = 1000) -> Model:
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

    Returns
    -------
    Model

    Raises
    ------
    ValueError
        For +-inf (naming index and value), a history too short for two
        feature vectors, or parameters out of range.
    """
    arr = _series("history", history)
    return _core.train(arr, as_int("diff_n", diff_n), as_int("smooth_n", smooth_n),
                       as_int("lag_n", lag_n), as_int("max_iterations", max_iterations))


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


class Bank(_core.Bank):
    """Many dimensions' prediction state, scored together once per tick.

    ``Bank(diff_n=1, smooth_n=3, lag_n=5, threshold=0.99, capacity=0)``: the
    feature parameters and ``dimension_anomaly_score_threshold`` of the
    configuration; ``capacity`` reserves room for that many slots.

    A slot is one dimension: its prediction window (the last ``window`` =
    ``diff_n + smooth_n + lag_n`` raw values), its model and its generation.
    :meth:`tick` takes one value per slot and returns one storage word per
    slot: the value goes into the window, the feature vector (bit for bit the
    last row of :func:`features` over the window) is scored against the slot's
    model (bit for bit ``Model.score``), the anomaly bit is
    ``score >= 100 * threshold``, and the word is :func:`pack` of the value with
    that bit.

    * NaN means no value: the window is emptied and the word is the empty slot 0.
    * inf, or a magnitude beyond 1.6777215e21, is stored saturated and empties
      the window (a gap for the model).
    * A slot is normal (score 0) without a model and until its window holds
      ``window`` consecutive values again.
    * Free slots are ignored and yield the empty word.

    Slots are added and removed while running without disturbing the others; a
    removed slot is reused by a later :meth:`add_slot` with its generation
    incremented. :meth:`train` trains slots on worker threads with the GIL
    released and queues the models; the next tick applies them, dropping the
    models of slots removed or reused meanwhile. Every method may be called
    from any thread; a tick never waits for training.

    This class converts array-like arguments losslessly (``pyml._arrays``);
    its base, ``pyml._core.Bank``, takes exact float64 arrays only.

    Examples
    --------
    >>> bank = Bank()
    >>> slot = bank.add_slot()
    >>> words = bank.tick([12.5])
    >>> report = bank.train([slot], [history], min_samples=3600)  # doctest: +SKIP
    """

    def tick(self, values: Any, *, reset: Any = None, want_bits: bool = False, want_scores: bool = False) -> Any:
        """One tick of every slot.

        Parameters
        ----------
        values : array-like of float, shape (size,)
            One value per slot, NaN = no value; free slots are ignored.
        reset : None, bool or array-like of bool (one, or one per slot)
            The storage words' reset flag.
        want_bits, want_scores : bool
            Also return the anomaly bits (True = anomalous) and the scores (0
            when there is no score: no model, window not full, gap, free slot).

        Returns
        -------
        words : numpy.ndarray of uint32, shape (size,)
            Alone, or ``(words, bits, scores)`` with only the requested ones.
        """
        if type(values) is np.ndarray and values.dtype == np.float64 and values.flags.c_contiguous:
            arr = values
        else:
            arr = as_float64("values", values)
        if arr.ndim != 1:
            raise ValueError(f"values must be 1-dimensional with {self.size} elements, got shape {arr.shape}")
        flags = None if reset is None else as_flags("reset", reset, arr.shape)
        return super().tick(arr, reset=flags, want_bits=bool(want_bits), want_scores=bool(want_scores))

    def train(
        self, slots: Any, histories: Any, *, min_samples: int, max_iterations: int = 1000, threads: int = 2
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

        Returns
        -------
        TrainReport
            Per slot: ``status``, ``trained``, ``existing``, ``seconds``,
            ``messages``. Models apply at the next tick.

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
        """A copy of the slot's model, or None before its first one; IndexError if it is not in use."""
        return super().model(as_int("slot", slot))

    def set_model(self, slot: int, model: Any) -> None:
        """Give the slot a model now (e.g. a persisted one restored with ``Model.from_bytes``).

        ValueError unless the model has 2 centres of ``lag_n + 1`` coordinates;
        IndexError if the slot is not in use. A model queued by :meth:`train`
        before this call still replaces it at the next tick.
        """
        super().set_model(as_int("slot", slot), model)

    def clear_model(self, slot: int) -> None:
        """Forget the slot's model (it scores 0 until the next one)."""
        super().clear_model(as_int("slot", slot))
