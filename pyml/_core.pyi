"""Type stubs of ``pyml._core``, the compiled extension (each section mirrors one part of csrc/bindings.cpp).

Checked against the built extension by ``stubtest`` (ci/wheel_check.sh): a
name the extension has and this file lacks fails the check. The functions
take exact arrays (C-contiguous, the dtype named); ``pyml.core`` converts
array-likes first.
"""

from collections.abc import Iterable, Sequence
from typing import Any, Literal, SupportsFloat, SupportsIndex, SupportsInt, overload

import numpy as np
import numpy.typing as npt

# ---------------------------------------------------------------- storage word

EMPTY_SLOT: int
ANOMALY_BIT: int
RESET_FLAG: int
ANOMALOUS_ZERO: int

def pack(
    values: npt.NDArray[np.float64], anomalous: npt.NDArray[np.bool_], reset: npt.NDArray[np.bool_]
) -> npt.NDArray[np.uint32]:
    """Pack float64 values into storage words; NaN becomes the empty slot 0."""

def pack_scalar(value: SupportsFloat | SupportsIndex, anomalous: bool, reset: bool) -> int:
    """Pack one value (the scalar path of pack)."""

def pack_reference(value: SupportsFloat | SupportsIndex, flags: SupportsInt | SupportsIndex) -> int:
    """The reference pack in 80-bit arithmetic with raw flags (NaN packs like zero)."""

def unpack(
    words: npt.NDArray[np.uint32],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Unpack storage words (80-bit reference results) into (values, anomalous, exists)."""

def unpack_double(words: npt.NDArray[np.uint32]) -> npt.NDArray[np.float64]:
    """Unpack storage words with the double-precision path training uses; empty gives NaN."""

def unpack_reference(word: SupportsInt | SupportsIndex) -> float:
    """The reference unpack in 80-bit arithmetic (word 0 gives 0.0)."""

def accumulate_tier_point(values: npt.NDArray[np.float64], words: npt.NDArray[np.uint32],
                          sum: npt.NDArray[np.float64], min: npt.NDArray[np.float64], max: npt.NDArray[np.float64],
                          count: npt.NDArray[np.uint16], normal: npt.NDArray[np.uint32]) -> None:
    """Add one tick to the first tier's open point, in place (NaN values are gaps; see pyml/tier_point.hpp)."""

# ---------------------------------------------------------------- ML core: features, k-means, model

MAX_DIFF_N: int
MAX_SMOOTH_N: int
MAX_LAG_N: int

def features(
    x: npt.NDArray[np.float64], diff_n: int = 1, smooth_n: int = 3, lag_n: int = 5, variant: str = "v1"
) -> npt.NDArray[np.float64]:
    """Feature vectors of a raw series: float64[m, lag_n + 1], oldest first (exact float64 input only)."""

def kmeans(X: npt.NDArray[np.float64], k: int = 2, max_iterations: int = 1000) -> npt.NDArray[np.float64]:
    """dlib-equal k-means of the rows of X (finite float64[n, f]): the centres, float64[k, f]."""

def train(
    history: npt.NDArray[np.float64],
    diff_n: int = 1,
    smooth_n: int = 3,
    lag_n: int = 5,
    max_iterations: int = 1000,
    *,
    features: str = "v1",
    max_vectors: int = 0,
    seed: int = 5489,
) -> Model:
    """Train a Model on a raw history (NaN = missing point); max_vectors > 0 sub-samples the vectors."""

DEFAULT_SEED: int

def sampling_table(size: int, seed: int) -> npt.NDArray[np.uint32]:
    """The first `size` outputs of std::mt19937(seed)."""

def sample_mask(vectors: int, max_vectors: int, seed: int) -> npt.NDArray[np.bool_]:
    """Which of `vectors` training vectors the sub-sampling keeps."""

def fill_gaps(history: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], int]:
    """(filled, existing): leading NaNs dropped, later ones forward-filled."""

class Model:
    """A trained model: k centres and the range of the training vectors' mean distance to them."""

    def __init__(self, centers: npt.ArrayLike, min_dist: float, max_dist: float) -> None: ...
    @property
    def centers(self) -> npt.NDArray[np.float64]:
        """float64[k, dims]: the centres (a copy)."""
    @property
    def min_dist(self) -> float: ...
    @property
    def max_dist(self) -> float: ...
    @property
    def k(self) -> int: ...
    @property
    def dims(self) -> int: ...
    def distance(self, vector: npt.ArrayLike) -> float: ...
    def score(self, vector: npt.ArrayLike) -> float: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes | bytearray | memoryview) -> Model: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: None  # type: ignore[assignment]

# ---------------------------------------------------------------- dimension bank

MAX_MODELS: int
STATUS_ACTIVE: int
STATUS_TRAINED: int
STATUS_SILENCED: int
STATUS_VARIABLE: int

def calibrate(
    values: npt.NDArray[np.float64],
    scores: npt.NDArray[np.float64],
    trained: npt.NDArray[np.bool_],
    *,
    calibration: str = "surprise",
    peak_window: float = 120.0,
    memory: float = 4000.0,
    decades: float = 4.0,
    bit_level: float = 0.75,
    saturation: float = 100.0,
    prior_rate: float = 0.01,
    score_decades: float = 0.0,
    score_warmup: float = 100.0,
    day_decades: float = 0.0,
    day_slots: float = 12.0,
    day_ticks_per_slot: float = 7200.0,
    day_warmup: float = 2.0,
    day_memory: float = 7.0,
    day_span: float = 10.0,
    day_long_memory: float = 1209600.0,
    day_slot: npt.NDArray[np.int32] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """The bank's calibration rule over (ticks, slots) inputs: (scores, bits, levels)."""

class TrainReport:
    """What one ``Bank.train`` call did, per requested slot (in request order)."""

    def __len__(self) -> int: ...
    @property
    def slots(self) -> npt.NDArray[np.int64]:
        """The slots, in request order."""
    @property
    def status(self) -> list[str]:
        """'trained' (a model is queued), 'too_few_points', 'error', 'constant' or 'few_vectors'."""
    @property
    def trained(self) -> npt.NDArray[np.bool_]:
        """Whether a model was queued for each slot."""
    @property
    def existing(self) -> npt.NDArray[np.int64]:
        """Points of each history that were not NaN."""
    @property
    def seconds(self) -> npt.NDArray[np.float64]:
        """Wall time spent training each slot, in seconds."""
    @property
    def messages(self) -> list[str]:
        """Why a slot was not trained ('' when it was)."""

class Bank:
    """Many dimensions' prediction state, scored together once per tick.

    Takes exact arrays only (C-contiguous float64 values, bool reset flags);
    ``pyml.core.Bank`` converts array-likes first.
    """

    def __init__(
        self,
        diff_n: int = 1,
        smooth_n: int = 3,
        lag_n: int = 5,
        threshold: float = 0.99,
        capacity: int = 0,
        *,
        models: int = 1,
        features: str = "v1",
        suppression_window: int = 0,
        suppression_threshold: int = 0,
        kernel: str = "best",
        calibration: str = "none",
        peak_window: float = 120.0,
        memory: float = 4000.0,
        decades: float = 4.0,
        bit_level: float = 0.75,
        saturation: float = 100.0,
        prior_rate: float = 0.01,
        score_decades: float = 0.0,
        score_warmup: float = 100.0,
        day_decades: float = 0.0,
        day_slots: float = 12.0,
        day_ticks_per_slot: float = 7200.0,
        day_warmup: float = 2.0,
        day_memory: float = 7.0,
        day_span: float = 10.0,
        day_long_memory: float = 1209600.0,
    ) -> None: ...
    @property
    def size(self) -> int:
        """Number of slots, free ones included: the length ``tick`` takes."""
    @property
    def active(self) -> int:
        """Number of slots in use."""
    @property
    def window(self) -> int:
        """Raw values one feature vector needs: diff_n + smooth_n + lag_n (smooth_n 0 counts as 1)."""
    @property
    def dims(self) -> int:
        """Coordinates of a feature vector: lag_n + 1."""
    @property
    def diff_n(self) -> int: ...
    @property
    def smooth_n(self) -> int: ...
    @property
    def lag_n(self) -> int: ...
    @property
    def threshold(self) -> float: ...
    @property
    def models_per_slot(self) -> int: ...
    @property
    def features(self) -> str:
        """'v1' or 'v2'."""
    @property
    def suppression_window(self) -> int: ...
    @property
    def suppression_threshold(self) -> int: ...
    @property
    def calibration(self) -> str:
        """The per-slot rule after the vote: 'none' or 'surprise'."""
    @property
    def peak_window(self) -> float: ...
    @property
    def memory(self) -> float: ...
    @property
    def decades(self) -> float: ...
    @property
    def bit_level(self) -> float: ...
    @property
    def saturation(self) -> float: ...
    @property
    def prior_rate(self) -> float: ...
    @property
    def score_decades(self) -> float:
        """The score tail's reach in decades (0: off)."""
    @property
    def score_warmup(self) -> float:
        """Predictions a slot makes before its score tail counts."""
    @property
    def day_decades(self) -> float:
        """The daily profile's decades (0: no daily profile)."""
    @property
    def day_slots(self) -> float: ...
    @property
    def day_ticks_per_slot(self) -> float: ...
    @property
    def day_warmup(self) -> float: ...
    @property
    def day_memory(self) -> float: ...
    @property
    def day_span(self) -> float: ...
    @property
    def day_long_memory(self) -> float: ...
    def calibration_state(self) -> dict[str, npt.NDArray[np.float64]]:
        """Per-slot calibration state: rate, mean, var, seen, top, top_age (inf = never), prev, smean, svar,
        and the daily profile's day_* arrays."""
    def set_calibration_state(self, slots: npt.ArrayLike, state: dict[str, Any]) -> None:
        """Give slots[i] row i of `state` (the keys calibration_state returns)."""
    @property
    def warmup(self) -> int:
        """Consecutive values before a slot's first prediction: window (v1) or window + 1 (v2)."""
    @property
    def kernel(self) -> str:
        """'baseline' or 'avx2'."""
    @property
    def models_consulted(self) -> int:
        """Models visited by votes since the bank was made."""
    @property
    def trained_count(self) -> int:
        """Number of slots with a model."""
    def __len__(self) -> int: ...
    def __contains__(self, slot: int) -> bool: ...
    def add_slot(self) -> int:
        """Add a slot (empty window, no model): the lowest free one (generation + 1) or a new one."""
    def remove_slot(self, slot: int) -> None:
        """Free a slot; IndexError if it is not in use."""
    def generation(self, slot: int) -> int:
        """How many times the slot was reused; IndexError if it is not in use."""
    def trained(self, slot: int) -> bool:
        """Whether the slot has a model; IndexError if it is not in use."""
    def trained_mask(self) -> npt.NDArray[np.bool_]:
        """Whether each slot has a model (False for free slots), shape (size,)."""
    def model(self, slot: int) -> Model | None:
        """A copy of the slot's newest model, or None when it holds none."""
    def models(self, slot: int) -> list[tuple[Model, int, int]]:
        """The slot's models, oldest first, as (Model, after, before), as they score."""
    def set_model(self, slot: int, model: Model) -> None:
        """Give the slot this one model now (2 centres of lag_n + 1 coordinates)."""
    def set_models(self, slot: int, models: Sequence[tuple[Model, int, int]]) -> None:
        """Replace the slot's models now, oldest first (at most `models` of them)."""
    def queue_model(self, slot: int, model: Model, after: int, before: int) -> None:
        """Queue a model for the next tick, installed by the ring rule."""
    def clear_model(self, slot: int) -> None:
        """Forget the slot's models (it scores 0 until the next one)."""
    def status(self) -> npt.NDArray[np.uint8]:
        """Per-slot status bits (STATUS_*), shape (size,)."""
    def model_counts(self) -> npt.NDArray[np.uint8]:
        """Models each slot holds, shape (size,)."""
    def suppression_counts(self) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        """(predictions, anomalous) since each slot's last reset."""
    @overload
    def tick(
        self,
        values: npt.NDArray[np.float64],
        *,
        reset: bool | npt.NDArray[np.bool_] | None = None,
        want_bits: Literal[False] = False,
        want_scores: Literal[False] = False,
        want_levels: Literal[False] = False,
        day_slot: int = -1,
    ) -> npt.NDArray[np.uint32]: ...
    @overload
    def tick(
        self,
        values: npt.NDArray[np.float64],
        *,
        reset: bool | npt.NDArray[np.bool_] | None = None,
        want_bits: Literal[True],
        want_scores: Literal[False] = False,
        want_levels: Literal[False] = False,
        day_slot: int = -1,
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.bool_]]: ...
    @overload
    def tick(
        self,
        values: npt.NDArray[np.float64],
        *,
        reset: bool | npt.NDArray[np.bool_] | None = None,
        want_bits: Literal[False] = False,
        want_scores: Literal[True],
        want_levels: Literal[False] = False,
        day_slot: int = -1,
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64]]: ...
    @overload
    def tick(
        self,
        values: npt.NDArray[np.float64],
        *,
        reset: bool | npt.NDArray[np.bool_] | None = None,
        want_bits: Literal[True],
        want_scores: Literal[True],
        want_levels: Literal[False] = False,
        day_slot: int = -1,
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.bool_], npt.NDArray[np.float64]]: ...
    @overload
    def tick(
        self,
        values: npt.NDArray[np.float64],
        *,
        reset: bool | npt.NDArray[np.bool_] | None = None,
        want_bits: Literal[True],
        want_scores: Literal[True],
        want_levels: Literal[True],
        day_slot: int = -1,
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.bool_], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
    @overload
    def tick(
        self,
        values: npt.NDArray[np.float64],
        *,
        reset: bool | npt.NDArray[np.bool_] | None = None,
        want_bits: bool = False,
        want_scores: bool = False,
        want_levels: bool = False,
        day_slot: int = -1,
    ) -> Any: ...
    def train(
        self,
        slots: Iterable[int],
        histories: npt.NDArray[np.float64] | Sequence[npt.NDArray[np.float64]],
        *,
        min_samples: int,
        max_iterations: int = 1000,
        threads: int = 2,
        after: Sequence[int] = ...,
        before: Sequence[int] = ...,
        max_vectors: int = 0,
        seed: int = 5489,
        skip_constant: bool = False,
    ) -> TrainReport:
        """Train slots from their histories (NaN = missing) and queue the models for the next tick."""
    def pending_models(self) -> int:
        """Models queued by training and not yet applied by a tick."""
    def training_in_progress(self) -> int:
        """Slots being trained right now by train calls in flight."""
    def memory_bytes(self) -> int:
        """Bytes the bank holds (slot state, per-slot arrays, queue capacity)."""

ALLMETRICS_CHART_END: bytes
ALLMETRICS_DIMENSION_END: bytes
ALLMETRICS_CHART_CLOSE: bytes

@overload
def decode_allmetrics(
    body: bytes, expected_keys: None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], bytes] | None:
    """Netdata's allmetrics JSON decoded for its values alone, with its keys; None outside the common shape."""
@overload
def decode_allmetrics(body: bytes, expected_keys: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
    """The same, None as well when its chart and dimension ids differ from expected_keys."""

class AllmetricsDecoder:
    """One source's allmetrics decoder: it learns the answer it scans and reads the next one against it.

    An answer equal to the learned one outside its ``last_updated`` and ``value``
    tokens is read by comparing the text between them (several times cheaper
    than a scan); any other answer is scanned and learned again.
    """

    def __init__(self) -> None: ...
    def decode(self, body: bytes, expected_keys: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
        """(last_updated, values) as ``decode_allmetrics(body, expected_keys)`` gives them, or None."""
    @property
    def learned(self) -> bool:
        """Whether an answer is learned."""
    @property
    def compared(self) -> int:
        """Answers read against the learned one."""
    @property
    def scanned(self) -> int:
        """Answers scanned."""
    @property
    def learnings(self) -> int:
        """Answers learned (after a growing pause of plain scans when learned answers go unused)."""
