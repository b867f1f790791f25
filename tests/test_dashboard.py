"""The dashboard (pyml.api.dashboard): served from the package, offline, and right in a real headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

import pyml
from pyml import MLConfig
from pyml.api import ApiServer, create_app
from pyml.api.dashboard import STATIC_FILES

T0 = 1_700_000_000
INCIDENT = ["system.cpu|d0", "system.cpu|d1", "system.cpu|d2", "system.cpu|d3"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def incident_host() -> pyml.Host:
    """Six CPU dimensions and two network ones; dimensions d0-d3 jump about for 12 ticks after training."""
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=150, max_train_samples=300, train_every=300, min_window_size=10,
                   max_window_size=40, idle_window_size=10, window_rate_threshold=0.3,
                   host_anomaly_rate_threshold=0.3, dimension_rate_threshold=0.05, clamp=False)
    host = pyml.Host("incident-host", cfg, background=False)
    host.add_chart("system.cpu", [f"d{i}" for i in range(6)], units="%", family="cpu", title="CPU")
    host.add_chart("system.net", ["received", "sent"], units="kilobits/s", family="network", title="Network")
    rng = np.random.default_rng(2)
    n = 400
    t = np.arange(n)[:, None]
    cpu = 100 + 20 * np.sin(2 * np.pi * t / 50 + rng.uniform(0, 6, 6)[None, :]) + rng.normal(0, 0.3, (n, 6))
    net = 50 + 5 * np.sin(2 * np.pi * t / 70 + rng.uniform(0, 6, 2)[None, :]) + rng.normal(0, 0.3, (n, 2))
    jumps = np.random.default_rng(9)
    cpu[300:312, :4] += jumps.choice([-1, 1], (12, 4)) * jumps.uniform(150, 300, (12, 4))
    for i in range(n):
        host.collect_all(T0 + i, np.concatenate([cpu[i], net[i]]))
        if i == 200:
            host.train_now()
    return host


@pytest.fixture(scope="module")
def host() -> pyml.Host:
    h = incident_host()
    yield h
    h.close()


def test_the_page_and_its_assets_come_from_the_package(host):
    client = TestClient(create_app(host))
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'src="dashboard/dashboard.js"' in page.text and 'href="dashboard/dashboard.css"' in page.text
    types = {"index.html": "text/html", "dashboard.js": "javascript", "dashboard.css": "text/css"}
    for name in STATIC_FILES:
        served = client.get(f"/dashboard/{name}")
        assert served.status_code == 200 and types[name] in served.headers["content-type"], name
        shipped = resources.files("pyml.api.dashboard").joinpath("static", name).read_bytes()
        assert served.content == shipped
    assert client.get("/dashboard/nope.js").status_code == 404
    assert client.get("/host/incident-host/api/v1/info").status_code == 200  # the page's ?host= paths


def test_nothing_is_fetched_from_elsewhere():
    """Offline: no URL leaves the server (the SVG namespace is a name, never fetched)."""
    for name in STATIC_FILES:
        text = resources.files("pyml.api.dashboard").joinpath("static", name).read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)
        assert "@import" not in text and "url(" not in text.replace("new URL", ""), name


def test_assets_are_declared_as_package_data():
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert '"pyml.api.dashboard" = ["static/*"]' in pyproject


class _Page(HTMLParser):
    """The events and ranked metrics of a rendered page, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, str]] = []
        self.metrics: list[dict[str, str]] = []
        self.selection = ""
        self._in_selection = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "li" and "event" in classes:
            self.events.append(a)
        elif tag == "li" and "metric" in classes:
            self.metrics.append(a)
        self._in_selection = a.get("id") == "selection"

    def handle_data(self, data: str) -> None:
        if self._in_selection:
            self.selection += data


def render(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={profile}", "--window-size=1280,1400", "--virtual-time-budget=15000",
                           *extra, url], capture_output=True, text=True, timeout=240)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (ci/system_deps.sh installs it)")
def test_a_headless_browser_shows_the_event_and_its_dimensions_first(host, tmp_path):
    events = host.anomaly_events(T0 * 1000, (T0 + 400) * 1000)
    assert len(events) == 1
    with ApiServer(host, port=0) as server:
        result = render(server.url + "/", tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    page = _Page()
    page.feed(result.stdout)
    assert [[int(e["data-after"]), int(e["data-before"])] for e in page.events] == events
    assert "active" in page.events[0]["class"].split()          # the event is the selected window
    assert page.selection.startswith("event ")
    shown = [f"{m['data-chart']}|{m['data-dimension']}" for m in page.metrics]
    assert len(shown) >= 4 and set(shown[:4]) == set(INCIDENT), shown   # the incident's dimensions first
    rates = [float(m["data-rate"]) for m in page.metrics]
    assert rates == sorted(rates, reverse=True) and min(rates[:4]) > max(rates[4:], default=0.0)
