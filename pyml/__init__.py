"""pyml: Netdata-style machine-learning anomaly detection with a C++ core.

``pyml.core`` holds the compiled primitives (storage words, features,
k-means, scoring).
"""

from __future__ import annotations

from . import core
from .config import MLConfig

__version__ = "0.1.0"

__all__ = ["core", "MLConfig", "__version__"]
