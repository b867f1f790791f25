"""The read side: ``/api/v1/data`` shaping, anomaly rates, events and their info over a host."""

from __future__ import annotations

from .data import GROUPINGS, OPTIONS, DataQuery, parse_number

__all__ = ["DataQuery", "GROUPINGS", "OPTIONS", "parse_number"]
