"""pyml's dashboard: one page served by the package itself, reading the v1 API.

Design: the page (``static/index.html``, ``dashboard.js``, ``dashboard.css``)
is plain HTML, SVG and JavaScript written for pyml, with no build step and no
third-party asset, so it works offline: every byte comes from this package
(Starlette's ``StaticFiles(packages=...)``). It holds no state of its own and
asks only the public HTTP API, relative to where it is served:

* the host anomaly rate over time: ``/api/v1/data`` of
  ``anomaly_detection.anomaly_rate`` (long windows come from the rollup
  tiers), with ``/api/v1/anomaly_events`` marked on it;
* a window (an event, or a range dragged on the rate chart) ranks the
  anomalous metrics: ``/api/v1/weights?method=anomaly-rate&options=raw``;
  each ranked metric shows its values and an anomaly ribbon,
  ``/api/v1/data`` with ``jw-anomaly-rates``;
* charts by family: ``/api/v1/charts``;
* everything that follows *now* refreshes every second.

``?host=<hostname>`` shows another host of the same server
(``/host/<hostname>/api/v1/...``).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["dashboard_routes", "STATIC_FILES"]

#: The files the page is made of (all inside this package).
STATIC_FILES = ("index.html", "dashboard.js", "dashboard.css")


def _index_html() -> bytes:
    return resources.files(__name__).joinpath("static", "index.html").read_bytes()


def dashboard_routes() -> list[BaseRoute]:
    """``/`` (the page) and ``/dashboard/<file>`` (its assets), for :func:`pyml.api.create_app`."""
    page = _index_html()

    def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    static: Any = StaticFiles(packages=[(__name__, "static")])
    return [Route("/", index, methods=["GET", "HEAD"]), Mount("/dashboard", app=static, name="dashboard")]
