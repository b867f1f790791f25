"""Former home of the v1.33 host detector, now :mod:`pyml.engine.detector`; kept so existing imports work."""

from __future__ import annotations

from .engine.detector import *  # noqa: F401,F403
from .engine.detector import __all__  # noqa: F401
