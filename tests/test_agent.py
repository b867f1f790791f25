"""``pyml agent``: the real agent on this machine's /proc, and the agent loop on /proc snapshots."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from pyml import MLConfig
from pyml.agent import Agent, DataDirLocked, default_data_dir, run_agent
from pyml.cli import main as cli_main
from pyml.sources import ProcCollector

PROC_DATA = Path(__file__).parent / "data" / "proc"
SYS = PROC_DATA / "sys"
T0 = 1_700_000_000


# ---------------------------------------------------------------------- the real agent, as a process


class AgentProcess:
    """``pyml agent`` in a subprocess, with the URL it logs."""

    def __init__(self, data_dir: Path) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pyml", "agent", "--port", "0", "--data-dir", str(data_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
            cwd=data_dir.parent,  # not the repository root, whose pyml/ is the unbuilt source
        )
        self.log: list[str] = []
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            found = re.search(r"API on (http://\S+)", line)
            if found:
                # Keep draining stderr so the agent never blocks on a full pipe.
                threading.Thread(target=self._drain, daemon=True).start()
                return found.group(1)
        self.proc.kill()
        raise AssertionError("the agent did not start:\n" + "".join(self.log))

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def wait_for_rows(self, path: str, n: int, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for ``n`` rows holding a value (a relative window always has all its rows, as in
        Netdata: those before the first sample are null)."""
        deadline = time.monotonic() + timeout
        while True:
            doc = self.get(path)
            filled = [row for row in doc["data"] if any(v is not None for v in row[1:])]
            if len(filled) >= n or time.monotonic() > deadline:
                return doc
            time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=15)


def test_real_agent_serves_this_machine_and_resumes_after_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    first = AgentProcess(data_dir)
    try:
        charts = first.get("/api/v1/charts")["charts"]
        assert "system.cpu" in charts and "anomaly_detection.anomaly_rate" in charts
        bits = first.wait_for_rows("/api/v1/data?chart=system.cpu&after=-60&options=anomaly-bit", 2)
        assert bits["labels"][0] == "time" and "user" in bits["labels"] and len(bits["data"]) >= 2
        # Not trained yet (Netdata's defaults need an hour of data): every existing point is normal.
        assert {v for row in bits["data"] for v in row[1:] if v is not None} <= {0.0}
        assert any(v is not None for row in bits["data"] for v in row[1:])
        values = first.get("/api/v1/data?chart=system.cpu&after=-60")
        info = first.get("/api/v1/ml_info")
        uid = first.get("/api/v1/info")["uid"]
        assert info["total-dimensions"] > 0 and info["trained-dimensions"] == 0
    finally:
        status = first.stop(signal.SIGTERM)
    assert status == 0, "".join(first.log)
    assert any("stopped after" in line for line in first.log)

    second = AgentProcess(data_dir)
    try:
        assert any("resuming from" in line for line in second.log)
        newest, oldest = values["data"][0][0], values["data"][-1][0]
        again = second.get(f"/api/v1/data?chart=system.cpu&after={oldest}&before={newest}")
        assert again["data"] == values["data"]  # the first run's samples survived the restart
        assert second.get("/api/v1/info")["uid"] == uid  # the same host, not a new one
    finally:
        status = second.stop(signal.SIGINT)
    assert status == 0, "".join(second.log)


# ---------------------------------------------------------------------- the agent loop on snapshots


class Tree:
    """A proc directory whose content is replaced by a snapshot at will."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def use(self, snapshot: str) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.copytree(PROC_DATA / snapshot, self.root)


def small_config() -> MLConfig:
    return MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=60, train_every=30, clamp=False)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    t = Tree(tmp_path / "proc")
    t.use("t0")
    return t


def make_agent(data_dir: Path, tree: Tree) -> Agent:
    collector = ProcCollector(tree.root, sys_root=SYS)
    return Agent(data_dir, small_config(), port=None, collector=collector, background=False, hostname="snap")


def assert_host_matches_collector(agent: Agent) -> None:
    host_charts = {c.id: c for c in agent.host.charts() if not c.internal}
    for spec in agent.collector.charts():
        assert set(host_charts[spec.id].dimensions) == set(spec.dimensions), spec.id


def test_charts_and_dimensions_follow_the_collector(tmp_path: Path, tree: Tree) -> None:
    agent = make_agent(tmp_path / "d", tree)
    try:
        assert agent.collect_once(now=T0)
        tree.use("t1")
        assert agent.collect_once(now=T0 + 2)
        tree.use("t2")  # disks and interfaces come and go, IRQs appear and vanish, a counter resets
        assert agent.collect_once(now=T0 + 3)
        ids = {c.id for c in agent.host.charts()}
        assert "disk.sdb" in ids and "net.wlan0" in ids
        assert not any(i.endswith(".veth1") or i.endswith(".dm-0") for i in ids)
        assert_host_matches_collector(agent)
        tree.use("t3")
        assert agent.collect_once(now=T0 + 4)
        assert_host_matches_collector(agent)
        agent.flush()
        load = agent.host.data("system.load", T0, T0 + 4)
        assert [row[0] for row in load["data"]] == [T0 + 4, T0 + 3, T0 + 2, T0 + 1, T0]
        assert [row[0] for row in load["data"] if row[1] is not None] == [T0 + 4, T0 + 3, T0 + 2, T0]
        spec = next(s for s in agent.collector.charts() if s.id == "system.load")
        assert load["labels"][1:] == spec.dimensions
    finally:
        agent.close()


def test_clock_going_backwards_skips_the_collection(tmp_path: Path, tree: Tree, caplog: Any) -> None:
    agent = make_agent(tmp_path / "d", tree)
    try:
        assert agent.collect_once(now=T0 + 10)
        with caplog.at_level(logging.WARNING, logger="pyml.agent"):
            assert not agent.collect_once(now=T0 + 5)
        assert "backwards" in caplog.text
        assert not agent.collect_once(now=T0 + 10.5)  # same second
        assert agent.collect_once(now=T0 + 11)
        agent.flush()
        assert agent.host.last_time == T0 + 11 and agent.skipped == 2 and agent.ticks == 2
    finally:
        agent.close()


def test_restart_resumes_and_merges_charts(tmp_path: Path, tree: Tree) -> None:
    data_dir = tmp_path / "d"
    agent = make_agent(data_dir, tree)
    for i in range(3):
        agent.collect_once(now=T0 + 2 * i)
    agent.flush()
    before = agent.host.data("system.load", T0, T0 + 4)
    agent.close()

    tree.use("t2")  # on restart the machine has other devices
    agent = make_agent(data_dir, tree)
    try:
        assert agent.host.last_time == T0 + 4
        assert agent.host.data("system.load", T0, T0 + 4) == before
        assert_host_matches_collector(agent)
        assert agent.collect_once(now=T0 + 6)
        agent.flush()
        assert agent.host.data("system.load", T0 + 6, T0 + 6)["data"][0][0] == T0 + 6
    finally:
        agent.close()


def test_one_agent_per_data_directory(tmp_path: Path, tree: Tree) -> None:
    agent = make_agent(tmp_path / "d", tree)
    try:
        with pytest.raises(DataDirLocked, match="in use"):
            make_agent(tmp_path / "d", tree)
    finally:
        agent.close()
    make_agent(tmp_path / "d", tree).close()  # released at close


def test_run_stops_on_the_event(tmp_path: Path, tree: Tree) -> None:
    agent = make_agent(tmp_path / "d", tree)
    stop = threading.Event()
    stop.set()
    try:
        agent.run(stop)
        assert agent.ticks == 0
        agent.run(threading.Event(), max_ticks=1)  # real clock: collects once at the next second
        assert agent.ticks == 1
    finally:
        agent.close()


def test_default_data_dir_is_per_user(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "pyml"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".local" / "state" / "pyml"


def test_cli_agent_arguments(tmp_path: Path, capsys: Any) -> None:
    assert run_agent(tmp_path / "d", tmp_path / "missing.conf") == 2
    assert "missing.conf" in capsys.readouterr().err
    assert cli_main(["agent", "--update-every", "0", "--data-dir", str(tmp_path / "d")]) == 2
    assert "--update-every" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["agent", "--port", "http"])
    capsys.readouterr()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert run_agent(tmp_path / "d", port=port) == 1
    assert f"cannot listen on 127.0.0.1 port {port}" in capsys.readouterr().err
    again = Agent(tmp_path / "d", port=None, collector=ProcCollector(PROC_DATA / "t0", sys_root=SYS))
    again.close()  # the failed start released the data directory


def test_agent_refuses_bad_arguments(tmp_path: Path, tree: Tree) -> None:
    collector = ProcCollector(tree.root, sys_root=SYS)
    with pytest.raises(ValueError, match="update_every"):
        Agent(tmp_path / "d", port=None, collector=collector, update_every=0)
    with pytest.raises(ValueError, match="flush_every"):
        Agent(tmp_path / "d", port=None, collector=collector, flush_every=0)
