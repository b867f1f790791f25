"""pyml: Netdata-style machine-learning anomaly detection with a C++ core.

``pyml.Host`` is the engine for one monitored host (charts, dimensions,
ticks, training, detection, queries); ``pyml.MLConfig`` its ``[ml]``
settings; ``pyml.core`` the compiled primitives (storage words, features,
k-means, scoring, the dimension bank).
"""

from __future__ import annotations

from . import core
from .config import MLConfig
from .engine.host import Host

__version__ = "0.1.0"

__all__ = ["core", "Host", "MLConfig", "__version__"]
