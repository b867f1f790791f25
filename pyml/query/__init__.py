"""The read side over a host's public read view: ``/api/v1/data`` (window, grouping, result),
anomaly rates and the anomaly ranking."""

from __future__ import annotations

from .data import GROUPINGS, OPTIONS, DataQuery, DataResult, NoMatch, parse_number, parse_options
from .ranking import anomaly_ranking
from .window import QueryWindow, plan_window

__all__ = ["DataQuery", "DataResult", "NoMatch", "GROUPINGS", "OPTIONS", "QueryWindow", "anomaly_ranking",
           "parse_number", "parse_options", "plan_window"]
