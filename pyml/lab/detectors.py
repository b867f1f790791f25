"""Example detectors written with :mod:`pyml.lab.custom`'s interface (numba kernels).

:func:`peaks_detector` is the engine's score-peak rule (:mod:`pyml.engine.peaks`,
``MLConfig.score_peak_window``) written as a user would write it: two float64
of state per dimension (the remembered score and its age in ticks), and one
``step`` that ages the remembered score, forgets it after ``window`` ticks,
and reports the tick's capped score when it rises above it. Over the
``peaks`` formulation's engine it gives exactly the built-in formulation's
scores (tests/test_custom.py).

:func:`surprise_detector` is the lab's calibrated rule (measured on NAB's
tuning half; see its docstring): the engine's k-means score says *that*
something is beyond what the model was trained on (the score saturates at
100), and two running statistics per dimension say *how surprising* that is
for this dimension: how rarely its score saturates, and how far the value's
change from the previous tick lies in the tail of its usual changes. The
score is reported once per incident, at its onset, and the bit is set with
it when the surprise is high enough, so bits are sparse and at the onset.

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

__all__ = ["peaks_detector", "surprise_detector"]

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


# surprise_detector: state layout (9 float64 per dimension; with the daily profile 5 more, then the mean,
# variance and visits of each slot of the day)
_RATE, _MEAN, _VAR, _SEEN, _TOP, _TOP_AGE, _PREV, _SMEAN, _SVAR = 0, 1, 2, 3, 4, 5, 6, 7, 8
_PHASE, _DSHORT, _DLMEAN, _DLVAR, _DLSEEN, _DCELLS = 9, 10, 11, 12, 13, 14
# ... and parameter order
_WINDOW, _MEMORY, _DECADES, _BIT_LEVEL, _SATURATION, _PRIOR, _SCORE_DECADES, _SCORE_WARMUP = 0, 1, 2, 3, 4, 5, 6, 7
(_DAY_DECADES, _DAY_SLOTS, _DAY_PERIOD, _DAY_WARMUP, _DAY_MEMORY, _DAY_SPAN, _DAY_LONG_MEMORY,
 _DAY_PHASE0) = 8, 9, 10, 11, 12, 13, 14, 15


@numba.njit
def _surprise_init(state: np.ndarray, params: np.ndarray) -> None:  # pragma: no cover - jitted
    state[_RATE] = params[_PRIOR]
    state[_MEAN] = 0.0
    state[_VAR] = 0.0
    state[_SEEN] = 0.0
    state[_TOP] = -math.inf
    state[_TOP_AGE] = math.inf
    state[_PREV] = math.nan
    state[_SMEAN] = 0.0
    state[_SVAR] = 0.0
    if params[_DAY_DECADES] > 0.0:
        state[_PHASE:] = 0.0
        state[_PHASE] = params[_DAY_PHASE0]


@numba.njit
def _day_profile(state: np.ndarray, params: np.ndarray, value: float) -> float:  # pragma: no cover - jitted
    """The daily profile's g_day for this tick (0 below 3 sd), its statistics updated; advances the phase."""
    period = params[_DAY_PERIOD]
    phase = state[_PHASE]                      # tick of the day
    state[_PHASE] = phase + 1.0 if phase + 1.0 < period else 0.0
    g_day = 0.0
    if math.isnan(value):
        return g_day
    nslots = params[_DAY_SLOTS]
    slot = int((phase * nslots) // period)
    k = period / nslots                        # ticks per slot and day
    mean_at, var_at, visits_at = _DCELLS + slot, _DCELLS + int(nslots) + slot, _DCELLS + 2 * int(nslots) + slot
    visits = state[visits_at]
    mu = state[mean_at]
    if visits >= params[_DAY_WARMUP] * k:      # the slot holds day_warmup days
        z = (value - mu) / max(math.sqrt(state[var_at]), 1e-9)
        span = params[_DAY_SPAN]
        state[_DSHORT] += (min(z * z, 1e4) - state[_DSHORT]) / span
        seen = state[_DLSEEN]
        if seen >= 2.0 * span:                 # the short mean against its own long-run Gaussian
            zl = (state[_DSHORT] - state[_DLMEAN]) / max(math.sqrt(state[_DLVAR]), 1e-9)
            if zl >= 3.0:
                tail = 0.5 * math.erfc(zl / math.sqrt(2.0))
                g_day = min(1.0, max(0.0, -math.log10(tail + 1e-300) / params[_DAY_DECADES]))
        al = 1.0 / min(seen + 1.0, params[_DAY_LONG_MEMORY])
        dl = state[_DSHORT] - state[_DLMEAN]
        state[_DLMEAN] += al * dl
        state[_DLVAR] = (1.0 - al) * (state[_DLVAR] + al * dl * dl)
        state[_DLSEEN] = seen + 1.0
    a = 1.0 / min(visits + 1.0, params[_DAY_MEMORY] * k)
    dv = value - mu
    state[mean_at] = mu + a * dv
    state[var_at] = (1.0 - a) * (state[var_at] + a * dv * dv)
    state[visits_at] = visits + 1.0
    return g_day


@numba.njit
def _surprise_step(state: np.ndarray, params: np.ndarray, value: float, score: float, bit: bool,
                   trained: bool) -> tuple[float, bool]:  # pragma: no cover - jitted
    change = value - state[_PREV]  # NaN after a gap and at the start
    state[_PREV] = value
    g_day = _day_profile(state, params, value) if params[_DAY_DECADES] > 0.0 else 0.0
    report = 0.0
    if trained and not math.isnan(change):
        seen = state[_SEEN]
        saturated = min(score, SCORE_CAP) >= params[_SATURATION]
        if saturated:
            # how rarely this dimension saturates: 0 at rate 1, 1 at rate 10^-decades or below
            g_rate = min(1.0, -math.log10(max(state[_RATE], 1e-12)) / params[_DECADES])
            # how far in the tail of its usual changes this change is: -log10(two-sided Gaussian tail) / 10
            g_change = 0.0
            if seen >= 2.0:
                sd = max(math.sqrt(state[_VAR]), 1e-9)
                tail = 0.5 * math.erfc(abs(change - state[_MEAN]) / (sd * math.sqrt(2.0)))
                g_change = min(1.0, max(0.0, -math.log10(tail + 1e-10) / 10.0))
            report = 50.0 + 50.0 * max(g_rate, g_change)
        else:
            report = 0.5 * min(score, SCORE_CAP)
        score_tail = params[_SCORE_DECADES] > 0.0
        x = 0.0
        if score_tail:
            # how far in the upper tail of this dimension's usual log-scores this one is (from 3 sd up)
            x = math.log(1.0 + min(score, SCORE_CAP))
            if seen >= params[_SCORE_WARMUP]:
                sd = max(math.sqrt(state[_SVAR]), 1e-6)
                z = (x - state[_SMEAN]) / (sd * math.sqrt(2.0))
                if z >= 3.0 / math.sqrt(2.0):
                    tail = 0.5 * math.erfc(z)
                    g_score = min(1.0, max(0.0, -math.log10(tail + 1e-300) / params[_SCORE_DECADES]))
                    report = max(report, 100.0 * g_score)
        memory = params[_MEMORY]
        a_rate = 1.0 / min(seen + 2.0, memory)  # the prior rate counts as one observation
        state[_RATE] += a_rate * ((1.0 if saturated else 0.0) - state[_RATE])
        a = 1.0 / min(seen + 1.0, memory)  # running mean and variance, exponential after `memory` ticks
        d = change - state[_MEAN]
        state[_MEAN] += a * d
        state[_VAR] = (1.0 - a) * (state[_VAR] + a * d * d)
        if score_tail:
            ds = x - state[_SMEAN]
            state[_SMEAN] += a * ds
            state[_SVAR] = (1.0 - a) * (state[_SVAR] + a * ds * ds)
        state[_SEEN] = seen + 1.0
        report = max(report, 100.0 * g_day)
    # report once per incident: only a score above what was reported in the last `window` ticks
    state[_TOP_AGE] += 1.0
    if state[_TOP_AGE] > params[_WINDOW]:
        state[_TOP] = -math.inf
    if report > state[_TOP]:
        state[_TOP] = report
        state[_TOP_AGE] = 0.0
        return report, report >= 100.0 * params[_BIT_LEVEL]
    return 0.0, False


def surprise_detector(window: float = 120, memory: float = 4000, decades: float = 4, bit_level: float = 0.75,
                      saturation: float = 100, prior_rate: float = 0.01, score_decades: float = 0.0,
                      score_warmup: float = 100, day_decades: float = 0.0, day_slots: int = 12,
                      day_period: float = 288, day_warmup: float = 2.0, day_memory: float = 7.0,
                      day_span: float = 10, day_long_memory: float = 4032, day_phase0: float = 0) -> Detector:
    """The lab's calibrated rule over the engine's k-means score, as a :class:`~pyml.lab.custom.Detector`.

    Per dimension and tick (a tick without a model or without a value and
    its predecessor reports 0 and changes no statistic)::

        change = value - previous value
        if score >= saturation:                      # beyond what the model was trained on
            g_rate   = min(1, -log10(rate) / decades)
            g_change = min(1, -log10(tail(|change - mean| / sd) + 1e-10) / 10)
            report   = 50 + 50 * max(g_rate, g_change)
        else:
            report   = score / 2
        if score_decades > 0 and seen >= score_warmup:     # the score tail
            z = (ln(1 + score) - smean) / sd,  sd = max(sqrt(svar), 1e-6)
            if z >= 3:
                report = max(report, 100 * min(1, -log10(upper tail(z)) / score_decades))
        rate        <- rate + a' * (saturated - rate),   a' = 1 / min(seen + 2, memory)
        mean, var   <- running mean and variance of change, a = 1 / min(seen + 1, memory)
        smean, svar <- the same of ln(1 + score)         (only with score_decades > 0)
        report      = max(report, 100 * g_day)          (the daily profile, with day_decades > 0)
        reported    = report if report > the highest report of the last `window` ticks, else 0
        bit         = reported >= 100 * bit_level

    ``tail(z)`` is the two-sided Gaussian tail ``erfc(z / sqrt 2) / 2``;
    ``rate`` starts at ``prior_rate``; ``upper tail(z)`` is ``erfc(z / sqrt 2) / 2``
    (``score`` capped at 100 throughout). Nine float64 of state per dimension.
    Parameters are in ticks; the defaults are the ones chosen on NAB's
    tuning half (5-minute samples: ``window`` 10 hours, ``memory`` 2 weeks),
    except ``score_decades``: 0 (off) is the rule as chosen and as the
    ``pyml`` profile runs it; 12 (with ``score_warmup`` 100) was the best
    score tail on the same half, which did not carry over to the held-out
    half (README, "The score tail").

    ``day_decades`` > 0 adds the **daily profile** (the ``pyml`` profile
    runs it with 10; README, "The daily profile"), before the rule on every
    tick with a value: the day's ``day_period`` ticks (``86400 /
    update_every``) are cut into ``day_slots`` slots, the tick of the day
    starting at ``day_phase0`` (the first tick's ``(t mod 86400) //
    update_every``) and counting every tick, gaps included; per slot the
    running mean and variance of the value (forgetting after
    ``day_memory`` days); once the slot holds ``day_warmup`` days, ``z =
    (value - mean) / sd`` and a ``day_span``-tick mean of ``min(z², 10⁴)``,
    whose own running mean and variance forget after ``day_long_memory``
    ticks; 3 or more of their standard deviations above give ``g_day =
    min(1, -log10(upper tail) / day_decades)``. It is
    :class:`pyml.core.Bank`'s ``day_*`` stage bit for bit (with ``day_slots``
    and ``day_period`` as the bank's ``day_slots`` and ``day_slots *
    day_ticks_per_slot``), and adds ``5 + 3 * day_slots`` float64 of state.
    """
    day = day_decades > 0
    if day and not (1 <= day_slots <= day_period and float(day_slots).is_integer()):
        raise ValueError(f"day_slots = {day_slots!r} must be an integer in [1, day_period = {day_period!r}]")
    return Detector("surprise", state_size=(_DCELLS + 3 * int(day_slots)) if day else 9,
                    init_state=_surprise_init, step=_surprise_step,
                    params={"window": window, "memory": memory, "decades": decades, "bit_level": bit_level,
                            "saturation": saturation, "prior_rate": prior_rate,
                            "score_decades": score_decades, "score_warmup": score_warmup,
                            "day_decades": day_decades, "day_slots": day_slots, "day_period": day_period,
                            "day_warmup": day_warmup, "day_memory": day_memory, "day_span": day_span,
                            "day_long_memory": day_long_memory, "day_phase0": day_phase0})
