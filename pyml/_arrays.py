"""Conversion of array-like arguments into the exact arrays the compiled core takes.

The core's bindings refuse anything but C-contiguous arrays of the right dtype
(``noconvert``). This module is the one place where user input is converted,
once, and only when the conversion is lossless; otherwise it raises a
``TypeError`` (wrong kind of data) or ``ValueError`` (a value that cannot be
represented), naming the argument and the offending value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_MAX_EXACT_INT = 2**53
_UINT32_LIMIT = 2**32


def is_integer(value: Any) -> bool:
    """Whether ``value`` is a Python or NumPy integer (a bool is not)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def as_int(name: str, value: Any) -> int:
    """An integer argument (Python or NumPy integer, not bool) as ``int``, else ``TypeError`` naming it."""
    if not is_integer(value):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(value)


def as_count(name: str, value: Any, minimum: int, requirement: str) -> int:
    """An integer argument of at least ``minimum`` as ``int``.

    Anything else (a bool, a float, a smaller integer) raises
    ``ValueError(f"{name} must be {requirement}, got {value!r}")``, e.g.
    ``requirement="a positive integer"``.
    """
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{name} must be {requirement}, got {value!r}")
    return int(value)


def _contiguous(arr: np.ndarray, dtype: Any = None) -> np.ndarray:
    """C-contiguous copy only if needed; unlike ``ascontiguousarray`` keeps 0-d shape."""
    return np.asarray(arr, dtype=dtype, order="C")


def _asarray(name: str, x: Any) -> np.ndarray:
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like: {exc}") from None


def _first_bad(name: str, arr: np.ndarray, bad: np.ndarray) -> str:
    index = np.unravel_index(int(np.flatnonzero(bad)[0]), arr.shape) if arr.ndim else ()
    where = f"{name}[{', '.join(str(int(i)) for i in index)}]" if arr.ndim else name
    value = arr[index]
    return f"{where} = {value.item() if hasattr(value, 'item') else value!r}"


def _overflow_message(name: str, arr: np.ndarray) -> str:
    """Name the first element of an object array too large for float64."""
    for index, value in enumerate(arr.reshape(-1).tolist()):
        try:
            float(value)
        except OverflowError:
            text = repr(value)
            shown = text if len(text) <= 40 else f"{text[:20]}...{text[-8:]} ({len(text)} digits)"
            where = f"{name}[{index}]" if arr.ndim else name
            return f"{where} = {shown} is beyond the float64 range and cannot be stored"
        except (TypeError, ValueError):
            continue
    return f"{name} holds a value beyond the float64 range"


def as_float64(name: str, x: Any) -> np.ndarray:
    """Return ``x`` as a C-contiguous float64 array of the same shape.

    Floats of any width up to 64 bits, booleans and integers that float64
    represents exactly are accepted; anything else raises.
    """
    arr = _asarray(name, x)
    kind = arr.dtype.kind
    if kind == "O":
        try:
            converted = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numeric, got objects such as {arr.flat[0]!r}") from None
        except OverflowError:
            raise ValueError(_overflow_message(name, arr)) from None
        return _contiguous(converted)
    if kind == "f":
        if arr.dtype.itemsize > 8:
            converted = arr.astype(np.float64)
            lossy = (converted != arr) & ~(np.isnan(arr))
            if lossy.any():
                raise ValueError(f"{_first_bad(name, arr, lossy)} cannot be represented exactly as float64")
            return _contiguous(converted)
        return _contiguous(arr, dtype=np.float64)
    if kind in "iu":
        converted = arr.astype(np.float64)
        if arr.dtype.itemsize > 4:
            lossy = np.asarray(np.abs(converted) >= _MAX_EXACT_INT)
            if lossy.any():
                # Large but exact integers (powers of two, say) are fine.
                exact = np.array([float(v) == int(v) for v in np.atleast_1d(arr[lossy]).tolist()], dtype=bool)
                lossy = lossy.copy()
                lossy[lossy] = ~exact
                if lossy.any():
                    raise ValueError(f"{_first_bad(name, arr, lossy)} cannot be represented exactly as float64")
        return _contiguous(converted)
    if kind == "b":
        return _contiguous(arr, dtype=np.float64)
    raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")


def as_flags(name: str, x: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``x`` as a 1-D bool array of length 1 (broadcast) or ``prod(shape)``.

    Accepts booleans, and integers or floats that are exactly 0 or 1.
    """
    arr = _asarray(name, x)
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be boolean, got objects such as {arr.flat[0]!r}") from None
    if arr.dtype.kind in "iuf":
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            raise ValueError(f"{_first_bad(name, arr, bad)} is not a boolean (0 or 1)")
        arr = arr.astype(bool)
    elif arr.dtype.kind != "b":
        raise TypeError(f"{name} must be boolean, got dtype {arr.dtype}")
    if arr.size != 1 and arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}; expected a single flag or the values' shape {shape}")
    return _contiguous(arr.reshape(-1), dtype=bool)


def as_words(name: str, x: Any) -> np.ndarray:
    """Return ``x`` as a C-contiguous uint32 array of the same shape.

    Integers (or integral floats) in ``[0, 2**32)`` are accepted.
    """
    arr = _asarray(name, x)
    if arr.dtype == np.uint32:
        return _contiguous(arr)
    if arr.dtype.kind == "O":
        try:
            arr = np.asarray(arr.tolist(), dtype=np.float64) if arr.ndim else np.asarray(float(arr[()]))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be integers, got objects such as {arr.flat[0]!r}") from None
    kind = arr.dtype.kind
    if kind in "iu":
        bad = (arr < 0) | (arr >= _UINT32_LIMIT) if kind == "i" else arr >= _UINT32_LIMIT
        if np.any(bad):
            raise ValueError(f"{_first_bad(name, arr, np.asarray(bad))} is outside the 32-bit word range [0, 2**32)")
        return _contiguous(arr, dtype=np.uint32)
    if kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | (arr < 0) | (arr >= _UINT32_LIMIT) | (np.floor(arr) != arr)
        if np.any(bad):
            raise ValueError(f"{_first_bad(name, arr, np.asarray(bad))} is not a 32-bit storage word")
        return _contiguous(arr, dtype=np.uint32)
    raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
