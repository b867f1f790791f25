"""Netdata's HTTP API and Prometheus exposition over pyml hosts (extra ``server``)."""

from __future__ import annotations

from .server import ApiServer, create_app

__all__ = ["ApiServer", "create_app"]
