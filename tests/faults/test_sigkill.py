"""SIGKILL at random moments while a host writes samples, flushes and trains (a background worker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

import pyml
from pyml import MLConfig

T0 = 1_700_000_000
CFG = dict(min_train_samples=40, max_train_samples=120, train_every=40, clamp=False)

# The writer prints each tick once collect_all returned; training runs on the host's worker thread and
# in the foreground every 25 ticks; a flush every 50; a chart added at tick 130 (a registry write).
WRITER = """
import sys
import numpy as np
import pyml
from pyml import MLConfig

directory, start = sys.argv[1], int(sys.argv[2])
host = pyml.Host("killed", MLConfig(profile="netdata-1.33", **%r), storage_dir=directory, background=True)
if not host.dimension_ids():
    host.add_chart("system.cpu", ["a", "b", "c"])
t = start
print("ready", flush=True)
while True:
    if t == %d + 130 and "system.late" not in [c.id for c in host.charts()]:
        host.add_chart("system.late", ["x"])
    n = len(host.dimension_ids())
    host.collect_all(t, 50 + np.sin(t / 7.0 + np.arange(n)) * 10)
    print(f"tick {t} {n}", flush=True)
    if t %% 25 == 0:
        host.train_due()
    if t %% 50 == 0:
        host.flush()
    t += 1
""" % (CFG, T0)


def run_and_kill(directory: Path, start: int, delay: float) -> list[str]:
    env = dict(os.environ)
    package_root = str(Path(pyml.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(directory), str(start)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=directory.parent)
    lines: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            ready.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert ready.wait(90), proc.stderr.read() if proc.poll() is not None else "no start"
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        reader.join(30)
        err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    return lines


def expected_values(t: int, n: int) -> np.ndarray:
    return 50 + np.sin(t / 7.0 + np.arange(n)) * 10


def test_sigkill_at_random_moments_during_writes_and_training(tmp_path, ledger):
    rng = np.random.default_rng(20240601)
    directory = tmp_path / "d"
    start = T0
    completed: dict[int, int] = {}
    for round_ in range(5):
        lines = run_and_kill(directory, start, float(rng.uniform(0.5, 3.0)))
        ticks = [(int(line.split()[1]), int(line.split()[2])) for line in lines if line.startswith("tick ")]
        completed.update(ticks)
        # The tick in flight (the one after the last printed, or the first if none was) may or may not be
        # stored; the next writer starts after it.
        start = (ticks[-1][0] if ticks else start - 1) + 2
        host = pyml.Host("killed", MLConfig(profile="netdata-1.33", **CFG), storage_dir=directory, background=False)
        try:
            assert not host._store.damage, host._store.damage  # a torn write is not damage
            if not completed:
                continue
            recent = [t for t in completed if t >= max(completed) - 100]
            rows = {r[0]: r[1:] for r in host.data("system.cpu", min(recent), max(recent))["data"]}
            missing = [t for t in recent if t not in rows or None in rows[t]
                       or not np.allclose(rows[t], expected_values(t, 3), rtol=1e-6)]
            late = [t for t in recent if completed[t] == 4]
            if late:
                rows_late = {r[0]: r[1] for r in host.data("system.late", min(late), max(late))["data"]}
                missing += [t for t in late if rows_late.get(t) is None]
            # rows are checked as reads touch them: damage found by these reads counts too
            assert not host._store.damage, host._store.damage
        finally:
            host.close()
        lost = len(missing)
        ledger.record(f"SIGKILL during writes and training (round {round_ + 1})", True, lost)
        assert lost == 0, f"round {round_}: {lost} completed ticks lost: {sorted(missing)[:10]}"
    assert len(completed) > 100, "the writer barely ran; the kills tested little"
