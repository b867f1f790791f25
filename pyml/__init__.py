"""pyml: Netdata-style machine-learning anomaly detection with a C++ core.

``pyml.Host`` is the engine for one monitored host (charts, dimensions,
ticks, training, detection, queries); ``pyml.MLConfig`` its ``[ml]``
settings; ``pyml.core`` the compiled primitives (storage words, features,
k-means, scoring, the dimension bank).

``import pyml`` loads NumPy and the compiled core only; ``Host`` and
``MLConfig`` are imported on first use (PEP 562), so a program that needs the
primitives, or only the version, does not pay for the engine, the store and the
query layer. ``from pyml import Host`` works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import core

if TYPE_CHECKING:
    from .config import MLConfig
    from .engine.host import Host

__version__ = "0.1.0"

__all__ = ["core", "Host", "MLConfig", "__version__"]

#: Public names imported on first access: name -> (module, attribute).
_LAZY = {"Host": (".engine.host", "Host"), "MLConfig": (".config", "MLConfig")}


def __getattr__(name: str) -> Any:
    """Import ``Host`` and ``MLConfig`` when first asked for; cache them on the package."""
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pyml' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
