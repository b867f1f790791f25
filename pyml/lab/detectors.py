"""Example detectors written with :mod:`pyml.lab.custom`'s interface (numba kernels).

:func:`peaks_detector` is the engine's score-peak rule (:mod:`pyml.engine.peaks`,
``MLConfig.score_peak_window``) written as a user would write it: two float64
of state per dimension (the remembered score and its age in ticks), and one
``step`` that ages the remembered score, forgets it after ``window`` ticks,
and reports the tick's capped score when it rises above it. Over the
``peaks`` formulation's engine it gives exactly the built-in formulation's
scores (tests/test_custom.py).

Importing this module imports numba (``pip install 'pyml-anomaly[lab]'``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..config import MLConfig
from ..engine.peaks import SCORE_CAP
from .custom import Detector
from .formulations import PEAK_WINDOW_FRACTION

__all__ = ["peaks_detector"]

_PEAK, _AGE = 0, 1  # state layout of peaks_detector


@numba.njit
def _peaks_init(state: np.ndarray, params: np.ndarray) -> None:  # pragma: no cover - jitted
    state[_PEAK] = -math.inf  # nothing reported yet
    state[_AGE] = math.inf  # ... so nothing to remember


@numba.njit
def _peaks_step(state: np.ndarray, params: np.ndarray, value: float, score: float, bit: bool,
                trained: bool) -> tuple[float, bool]:  # pragma: no cover - jitted
    window = params[0]
    capped = min(score, SCORE_CAP)
    state[_AGE] += 1.0
    if state[_AGE] > window:
        state[_PEAK] = -math.inf
    if capped > state[_PEAK]:
        state[_PEAK] = capped
        state[_AGE] = 0.0
        return capped, bit
    return 0.0, bit


def _formulation_window(config: MLConfig) -> float:
    """The ``peaks`` formulation's window: ``max(1, int(0.4 x min_train_samples))``."""
    return float(max(1, int(PEAK_WINDOW_FRACTION * config.min_train_samples)))


def peaks_detector(window: float | None = None) -> Detector:
    """The score-peak rule as a :class:`~pyml.lab.custom.Detector`.

    ``window`` is the ticks a reported score is remembered; default: sized
    per recording as the ``peaks`` formulation sizes it (0.4 x
    ``min_train_samples``). The stored bit is the engine's.
    """
    return Detector("peaks", state_size=2, init_state=_peaks_init, step=_peaks_step,
                    params={"window": _formulation_window if window is None else window})
