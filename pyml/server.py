"""Former home of the HTTP API, now :mod:`pyml.api`; kept so existing imports work."""

from __future__ import annotations

from .api.server import DEFAULT_BIND, DEFAULT_PORT, ApiServer, HostCollector, create_app

__all__ = ["ApiServer", "HostCollector", "create_app", "DEFAULT_PORT", "DEFAULT_BIND"]
