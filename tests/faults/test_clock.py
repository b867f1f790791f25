"""Stored ticks ahead of the clock: one warning at start-up, one line when skipping starts, none per tick."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pyml import MLConfig
from pyml.agent import Agent
from pyml.sources import ProcCollector

PROC_DATA = Path(__file__).parent.parent / "data" / "proc"


def snapshot_agent(data_dir: Path) -> Agent:
    collector = ProcCollector(PROC_DATA / "t0", sys_root=PROC_DATA / "sys")
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=60, train_every=30, clamp=False)
    return Agent(data_dir, cfg, port=None, collector=collector, background=False, hostname="clock")


def test_data_ahead_of_the_clock_is_reported_once(tmp_path, caplog, ledger):
    future = int(time.time()) + 86_400
    agent = snapshot_agent(tmp_path / "d")
    for i in range(3):
        assert agent.collect_once(now=future + i)
    agent.close()
    with caplog.at_level(logging.INFO, logger="pyml.agent"):
        agent = snapshot_agent(tmp_path / "d")
        try:
            now = time.time()
            results = [agent.collect_once(now=now + i) for i in range(20)]
            assert agent.collect_once(now=future + 10)  # the clock passes the stored ticks: collecting again
        finally:
            agent.close()
    assert results == [False] * 20
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("ahead of this machine's clock" in m for m in lines) == 1
    assert sum("went backwards" in m for m in lines) == 1 and sum("past" in m for m in lines) == 1, lines
    ledger.record("stored ticks a day ahead of the clock (reported once)", True, 0)
