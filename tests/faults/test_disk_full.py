"""A full disk, for real (a small tmpfs), at start-up and in mid-run: the store, the host, the agent."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import pyml
from pyml import MLConfig
from pyml.agent import Agent
from pyml.engine.storage import SampleStore
from pyml.sources import ProcCollector

PROC_DATA = Path(__file__).parent.parent / "data" / "proc"
T0 = 1_700_000_000
WIDTH = 300


def words_of(k: int) -> np.ndarray:
    return (np.arange(WIDTH, dtype=np.uint32) * 7 + np.uint32(k * 1000 + 1)).astype(np.uint32)


def lost_ticks(store: SampleStore, ticks: range) -> int:
    """Ticks whose words differ from what was appended."""
    _, words = store.read(np.arange(WIDTH), ticks[0], ticks[-1])
    got = {k: words[:, i] for i, k in enumerate(range(ticks[0], ticks[-1] + 1))}
    return sum(1 for k in ticks if k not in got or not np.array_equal(got[k], words_of(k)))


def new_store(path: Path, **kw) -> SampleStore:
    return SampleStore(256, block=16, capacity=WIDTH, directory=path, **kw)


def state_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pyml.storage" and r.levelno >= logging.WARNING]


def test_store_disk_full_in_mid_run_keeps_every_tick(small_disk, ledger, caplog):
    disk = small_disk(1024)
    store = new_store(disk.path / "s")
    for k in range(40):
        store.append(k, words_of(k))
    disk.fill()
    with caplog.at_level(logging.WARNING, logger="pyml.storage"):
        for k in range(40, 200):  # ten blocks while full
            store.append(k, words_of(k))
        assert not store.status().persisting and store.status().unpersisted_bytes > 0
        assert lost_ticks(store, range(200)) == 0  # served from memory meanwhile
        disk.free()
        for k in range(200, 230):
            store.append(k, words_of(k))
    assert store.status().persisting
    lines = state_lines(caplog)
    assert len(lines) == 2, lines  # one line when it failed, one when it recovered
    assert "No space left" in lines[0] and "writing again" in lines[1]
    store.close()
    again = new_store(disk.path / "s")
    lost = lost_ticks(again, range(230))
    ledger.record("store: disk full in mid-run (160 ticks), then freed", True, lost)
    assert lost == 0 and not again.damage


def test_store_disk_full_at_start(small_disk, ledger):
    disk = small_disk(512)
    disk.fill()
    store = new_store(disk.path / "s")  # no header can be written: runs in memory
    for k in range(100):
        store.append(k, words_of(k))
    assert not store.status().persisting and lost_ticks(store, range(100)) == 0
    store.flush()  # still full: no exception
    disk.free()
    store.flush()
    assert store.status().persisting
    store.close()
    again = new_store(disk.path / "s")
    lost = lost_ticks(again, range(100))
    ledger.record("store: disk full at start-up", True, lost)
    assert lost == 0


def test_store_memory_bound_drops_the_oldest_and_says_so(small_disk, ledger, caplog):
    disk = small_disk(512)
    block_bytes = WIDTH * 16 * 4
    store = new_store(disk.path / "s", max_unpersisted_bytes=3 * block_bytes)
    for k in range(16):
        store.append(k, words_of(k))
    disk.fill()
    with caplog.at_level(logging.WARNING, logger="pyml.storage"):
        for k in range(16, 16 + 16 * 8):
            store.append(k, words_of(k))
    status = store.status()
    assert status.unpersisted_bytes <= 3 * block_bytes
    assert status.dropped_ticks == 16 * 5  # blocks 0..7 closed while full; the newest 3 are kept
    dropping = [line for line in state_lines(caplog) if "dropping" in line]
    assert len(dropping) == 1
    kept = range(16 * 5, 16 + 16 * 8)  # blocks 5..7 and the current rows
    assert lost_ticks(store, kept) == 0
    disk.free()
    store.close()
    again = new_store(disk.path / "s")
    lost = lost_ticks(again, kept)
    ledger.record("store: memory bound reached while full (drop reported)", True, lost)
    assert lost == 0


# ---------------------------------------------------------------------- the agent loop on snapshots


def snapshot_agent(data_dir: Path) -> Agent:
    collector = ProcCollector(PROC_DATA / "t0", sys_root=PROC_DATA / "sys")
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=200, train_every=30, clamp=False)
    return Agent(data_dir, cfg, port=None, collector=collector, background=False, hostname="snap")


def loads(agent_or_host, first: int, last: int) -> dict[int, list]:
    host = agent_or_host.host if isinstance(agent_or_host, Agent) else agent_or_host
    rows = host.data("system.load", first, last)["data"]
    return {row[0]: row[1:] for row in rows if all(v is not None for v in row[1:])}


@pytest.mark.parametrize("when", ["start", "mid-run"])
def test_agent_runs_through_a_full_disk(small_disk, ledger, caplog, when):
    disk = small_disk(1024)
    data_dir = disk.path / "d"
    if when == "start":
        disk.fill()
    agent = snapshot_agent(data_dir)
    collected = []
    with caplog.at_level(logging.INFO):
        for i in range(150):
            if when == "mid-run" and i == 20:
                disk.fill()
            if i == 110:
                disk.free()
            assert agent.collect_once(now=T0 + i)
            collected.append(T0 + i)
            if i % 40 == 39:
                agent.flush()
        agent.flush()  # completes the open tick
        before = loads(agent, T0, T0 + 149)
        agent.close()
    assert agent.clean_close
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) <= 4, errors  # store, registry (at start), database: one line each, not one per tick
    again = snapshot_agent(data_dir)
    try:
        after = loads(again, T0, T0 + 149)
    finally:
        again.close()
    lost = sum(1 for t in collected if t not in after or after[t] != before.get(t))
    ledger.record(f"agent: disk full at {when}, freed 90 ticks later", True, lost)
    assert lost == 0 and len(before) == 150


# ---------------------------------------------------------------------- the real agent process


def test_real_agent_on_a_3mb_disk_survives_and_stops_cleanly(small_disk, ledger):
    """The reported crash: SIGBUS at start-up on a 3 MB disk (Netdata's default history of 14,400 ticks)."""
    disk = small_disk(3 * 1024)
    data_dir = disk.path / "d"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "pyml", "agent", "--port", "0", "--data-dir", str(data_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=disk.path.parent)
    log: list[str] = []
    url: list[str] = []
    started = threading.Event()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line)
            found = re.search(r"API on (http://\S+)", line)
            if found:
                url.append(found.group(1))
                started.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        assert started.wait(90), "".join(log)

        def get(path: str):
            with urllib.request.urlopen(url[0] + path, timeout=20) as response:
                return json.loads(response.read())

        time.sleep(4)
        disk.fill()
        time.sleep(6)  # mid-run, full
        assert proc.poll() is None, "".join(log)
        rows = get("/api/v1/data?chart=system.load&after=-30")["data"]
        assert rows, "".join(log)
        disk.free()
        time.sleep(3)
        assert proc.poll() is None, "".join(log)
        seen = get("/api/v1/data?chart=system.load&after=-60")["data"]
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    # (Rows go to a preallocated staging file, so a full disk shows only when a block of 64 ticks is written;
    # the store-level tests above cover that.)
    assert status == 0, "".join(log)
    host = pyml.Host(_hostname(), MLConfig(), storage_dir=data_dir, background=False)
    try:
        stored = {row[0]: row[1:] for row in host.data("system.load", seen[-1][0], seen[0][0])["data"]}
    finally:
        host.close()
    lost = sum(1 for row in seen if row[1] is not None and stored.get(row[0]) != row[1:])
    ledger.record("pyml agent process: 3 MB disk, full in mid-run", status == 0, lost)
    assert lost == 0


def _hostname() -> str:
    import socket

    return socket.gethostname() or "localhost"
