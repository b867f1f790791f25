"""Every endpoint that reads the host's detector answers under every profile (each has its own result type)."""

from __future__ import annotations

import numpy as np
import pytest
from starlette.testclient import TestClient

import pyml
from pyml import MLConfig
from pyml.api import create_app
from pyml.lab.profiles import TrainingSizing, profile_config

T0 = 1_700_000_000

ENDPOINTS = [
    "/api/v1/info", "/api/v1/charts", "/api/v1/chart?chart=system.cpu", "/api/v1/alarms?all",
    "/api/v1/alarms", "/api/v1/alarm_log", "/api/v1/ml_info", "/api/v1/contexts",
    "/api/v1/allmetrics?format=json", "/api/v1/allmetrics?format=prometheus", "/metrics",
    f"/api/v1/anomaly_events?after={T0}&before={T0 + 400}",
    f"/api/v1/weights?method=anomaly-rate&after={T0 + 200}&before={T0 + 399}",
    "/api/v1/data?chart=anomaly_detection.anomaly_rate&after=-30",
    "/api/v1/data?chart=anomaly_detection.detector_events&after=-30",
    "/api/v1/data?chart=system.cpu&after=-30&options=anomaly-bit",
]


@pytest.mark.parametrize("profile", ["pyml", "netdata-2", "netdata-1.33"])
def test_detector_endpoints_answer_under_every_profile(profile: str) -> None:
    cfg = profile_config(profile, TrainingSizing(60, 120, 60))
    host = pyml.Host("profiled", cfg, background=False)
    try:
        host.add_chart("system.cpu", ["user", "system"])
        rng = np.random.default_rng(3)
        for i in range(400):
            values = 10 + rng.normal(0, 1, 2) + (80 if 300 <= i < 330 else 0)
            host.collect_all(T0 + i, values)
            host.train_due()
        assert host.last_detector_result is not None
        with TestClient(create_app(host)) as client:
            for path in ENDPOINTS:
                response = client.get(path)
                assert response.status_code == 200, (profile, path, response.text[:300])
            alarms = client.get("/api/v1/alarms?all").json()["alarms"]
            (alarm,) = alarms.values()
            assert alarm["status"] in {"CLEAR", "WARNING"}
            assert client.get("/api/v1/info").json()["ml-info"]["profile"] == profile
    finally:
        host.close()


def test_default_host_reports_its_detector_as_clear_before_any_event() -> None:
    host = pyml.Host("default", MLConfig(), background=False)
    try:
        host.add_chart("system.cpu", ["user"])
        host.collect_all(T0, [1.0])
        with TestClient(create_app(host)) as client:
            (alarm,) = client.get("/api/v1/alarms?all").json()["alarms"].values()
            assert alarm["status"] == "CLEAR"
    finally:
        host.close()
