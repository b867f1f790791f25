"""pyml.db survives SIGKILL at any moment: the file opens, passes integrity_check, and keeps every commit.

A writer subprocess inserts events and saves batches of models in a loop,
printing a line after each call returns (that is, after its COMMIT). The test
kills it with SIGKILL after seeded random delays, several rounds on the same
file, and checks after each round.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import pyml
from pyml.engine.db import AnomalyDB

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

HOST = "5a0d7c1e-2b3f-5c4d-8e9f-0a1b2c3d4e5f"
BATCH = 20        # models saved together in one transaction per iteration
ROTATING = 40     # one more model per iteration, cycling over this many ids

# Kept in step with blob() below; the writer runs as `python -c WRITER path start`.
WRITER = f"""
import hashlib, sys
from pyml.engine.db import AnomalyDB

HOST, BATCH, ROTATING = {HOST!r}, {BATCH}, {ROTATING}

def blob(i, k):
    seed = hashlib.sha256(f"{{i}}/{{k}}".encode()).digest()
    return seed * (1 + (i * 7 + k) % 60)

path, i = sys.argv[1], int(sys.argv[2])
db = AnomalyDB(path)
print("ready", flush=True)
while True:
    db.insert_event(HOST, i * 10, i * 10 + 5, [[1.0 + i / 1e6, f"chart.{{i}}|dim"], [0.5, "c|x"]])
    print(f"E {{i}}", flush=True)
    models = [(f"batch|{{k}}", blob(i, k), float(i)) for k in range(BATCH)]
    models.append((f"rot|{{i % ROTATING}}", blob(i, -1), float(i)))
    db.save_models(HOST, models)
    print(f"M {{i}}", flush=True)
    i += 1
"""


def blob(i: int, k: int) -> bytes:
    seed = hashlib.sha256(f"{i}/{k}".encode()).digest()
    return seed * (1 + (i * 7 + k) % 60)


def run_and_kill(path: Path, start: int, delay: float, wait_ready: bool) -> list[str]:
    """Run the writer from iteration ``start``; SIGKILL it ``delay`` s after start-up (or spawn)."""
    env = dict(os.environ)
    package_root = str(Path(pyml.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(start)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=str(path.parent), env=env)
    lines: list[str] = []
    ready = threading.Event()

    def drain() -> None:  # keep the pipe empty so the writer never blocks on print
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("ready"):
                ready.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        if wait_ready and not ready.wait(30):
            pytest.fail(f"writer did not start: {proc.stderr.read() if proc.poll() else ''}")
        time.sleep(delay)
        assert proc.poll() is None, f"writer exited early: {proc.stderr.read()}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        reader.join(30)
        assert proc.stderr is not None
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return lines


def check(path: Path, events: set[int], models: dict[str, int], rounds: list[tuple[int, int]]
          ) -> None:
    """Open, integrity-check and compare with what was reported committed."""
    with sqlite3.connect(str(path)) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    raw.close()
    with AnomalyDB(path) as db:
        stored = db.anomaly_events(HOST, 0, 2**63 - 1)
        # Every reported event is there; anything else is the one call in flight per round.
        stored_i = {a // 10 for a, _ in stored}
        assert all(b == a + 5 and a % 10 == 0 for a, b in stored)
        assert events <= stored_i, sorted(events - stored_i)[:10]
        in_flight = stored_i - events
        for i in in_flight:
            assert any(i == last + 1 for _, last in rounds), (i, rounds)
        for i in sorted(events)[-3:]:
            assert db.anomaly_event_info(HOST, i * 10, i * 10 + 5) == [
                [1.0 + i / 1e6, f"chart.{i}|dim"], [0.5, "c|x"]]
        saved = db.load_models(HOST)
    # A batch is atomic: every batch model comes from the same iteration.
    batch_t = {saved[f"batch|{k}"][1] for k in range(BATCH) if f"batch|{k}" in saved}
    assert len(batch_t) <= 1
    if batch_t:
        assert all(f"batch|{k}" in saved for k in range(BATCH))
    for dim, (data, trained_at) in saved.items():
        i = int(trained_at)
        assert trained_at == i
        assert data == blob(i, int(dim.split("|")[1]) if dim.startswith("batch|") else -1), dim
    # Every reported save is there, or a later one overwrote it.
    for dim, i in models.items():
        assert dim in saved, dim
        assert saved[dim][1] >= i, (dim, saved[dim][1], i)


def test_sigkill_never_corrupts_or_loses_commits(tmp_path: Path) -> None:
    path = tmp_path / "anomaly-detection.db"
    rng = random.Random(20220301)
    events: set[int] = set()
    models: dict[str, int] = {}
    rounds: list[tuple[int, int]] = []
    start = 0
    written = 0
    for r in range(7):
        # Round 0 is killed counting from spawn, so it may die during start-up or schema creation.
        wait_ready = r > 0
        delay = rng.uniform(0.05, 0.5) if wait_ready else rng.uniform(0.15, 0.6)
        lines = run_and_kill(path, start, delay, wait_ready)
        last = start - 1
        for line in lines:
            kind, _, num = line.partition(" ")
            if kind == "E":
                events.add(int(num))
                last = max(last, int(num))
            elif kind == "M":
                i = int(num)
                for k in range(BATCH):
                    models[f"batch|{k}"] = i
                models[f"rot|{i % ROTATING}"] = i
        rounds.append((start, last))
        written += last - start + 1
        if path.exists():
            check(path, events, models, rounds)
        start = last + 2  # leave a gap after a possible in-flight event
    assert written > 50, "the writer barely ran; the kills tested nothing"
    check(path, events, models, rounds)
