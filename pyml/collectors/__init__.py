"""Former name of :mod:`pyml.sources` (this machine's ``/proc``); kept so existing imports work."""

from __future__ import annotations

from ..sources import ChartSpec, Collection, ProcCollector

__all__ = ["ChartSpec", "Collection", "ProcCollector"]
