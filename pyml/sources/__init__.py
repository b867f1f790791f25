"""Where values come from: this machine's ``/proc`` and ``/sys`` (:class:`ProcCollector`)."""

from __future__ import annotations

from .proc import ChartSpec, Collection, ProcCollector

__all__ = ["ChartSpec", "Collection", "ProcCollector"]
