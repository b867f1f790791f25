"""Former home of score peaks, now :mod:`pyml.engine.peaks`; kept so existing imports work."""

from __future__ import annotations

from .engine.peaks import SCORE_CAP, ScorePeaks

__all__ = ["SCORE_CAP", "ScorePeaks"]
