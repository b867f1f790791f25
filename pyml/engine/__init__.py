"""What runs per tick for one host: the host, its sample store, training
scheduler, detectors, database, internal charts and score post-processing.

The engine knows nothing of HTTP or of where values come from: sources call
:class:`Host`'s collect API, and the query layer reads a host through its
public read view.
"""

from __future__ import annotations

from .host import Chart, Host, TrainingReport

__all__ = ["Chart", "Host", "TrainingReport"]
