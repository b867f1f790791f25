"""Named formulations: configurations of the engine that the lab compares.

A formulation turns a recording's length into :class:`~pyml.MLConfig`
settings (the lab sizes training windows to each recording, as NAB's
probationary period is sized to each file). Every one runs through the same
engine (:class:`pyml.Host`); they differ only in configuration.

- ``reference``: the reference's features and scoring (SPEC §2–§3): absolute
  first differences, smoothed over 3 samples, with 5 lags; every tick reports
  its score. The default.
- ``peaks``: k-means on the level itself (``diff_n=0, smooth_n=1, lag_n=0``),
  so a model learns the two usual levels of the series and a value far from
  both scores high; and each dimension reports a score only when it rises
  above what it reported within the last ``0.4 × min_train_samples`` ticks
  (``score_peak_window``; :mod:`pyml.peaks`), so one incident is reported
  once, at its start, instead of on every tick it lasts.

The figures behind the choice of ``peaks`` (NAB corpus, every file) are in the
README's lab section.
"""

from __future__ import annotations

from typing import Any, Callable, Dict

__all__ = [
    "DEFAULT_FORMULATION",
    "FORMULATIONS",
    "PEAK_WINDOW_FRACTION",
    "check_formulation",
    "describe_formulation",
    "formulation_settings",
]

#: ``peaks``: ``score_peak_window`` as a fraction of ``min_train_samples``.
PEAK_WINDOW_FRACTION = 0.4

DEFAULT_FORMULATION = "reference"


def _reference(min_train_samples: int) -> Dict[str, Any]:
    return {}


def _peaks(min_train_samples: int) -> Dict[str, Any]:
    return {
        "diff_n": 0,
        "smooth_n": 1,
        "lag_n": 0,
        "score_peak_window": max(1, int(PEAK_WINDOW_FRACTION * min_train_samples)),
    }


#: Name -> function of ``min_train_samples`` giving the settings it changes.
FORMULATIONS: Dict[str, Callable[[int], Dict[str, Any]]] = {
    "reference": _reference,
    "peaks": _peaks,
}


_SUMMARIES: Dict[str, str] = {
    "reference": "netdata's features and scores",
    "peaks": f"diff_n=0, smooth_n=1, lag_n=0, score_peak_window = {PEAK_WINDOW_FRACTION} x min_train_samples",
}


def check_formulation(name: str) -> str:
    """``name`` when it is a known formulation; else ``ValueError`` naming it and the known ones."""
    if name not in FORMULATIONS:
        known = ", ".join(sorted(FORMULATIONS))
        raise ValueError(f"unknown formulation {name!r}; known: {known}")
    return name


def describe_formulation(name: str) -> str:
    """One line saying what formulation ``name`` changes (the lab's commands print it)."""
    return _SUMMARIES[check_formulation(name)]


def formulation_settings(name: str, min_train_samples: int) -> Dict[str, Any]:
    """The :class:`~pyml.MLConfig` settings formulation ``name`` changes, for a training minimum.

    Raises ``ValueError`` naming the formulation when it is unknown.
    """
    return FORMULATIONS[check_formulation(name)](int(min_train_samples))
