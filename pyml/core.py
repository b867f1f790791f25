"""The public face of the compiled core (``pyml._core``).

Every function here validates and converts its arguments once (see
``pyml._arrays``), then calls the core with the GIL released.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._arrays import as_flags, as_float64, as_words

__all__ = ["pack", "unpack", "unpack_double", "EMPTY_SLOT", "ANOMALY_BIT", "RESET_FLAG", "ANOMALOUS_ZERO"]

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
