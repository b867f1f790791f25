"""The training pool that all hosts of a parent share: fair by time, one batch per host at a time."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import pyml
from pyml.engine.training_pool import TrainingPool


def test_a_small_host_is_not_starved_by_a_big_one() -> None:
    done: list[tuple[str, float]] = []
    lock = threading.Lock()

    def trainer(name: str, cost: float):
        def train(items: list[int]) -> None:
            time.sleep(cost * len(items))
            with lock:
                done.extend((name, time.monotonic()) for _ in items)
        return train

    with TrainingPool(threads=1, batch=10) as pool:
        big = pool.register("big", trainer("big", 0.002))
        small = pool.register("small", trainer("small", 0.002))
        big.submit(list(range(2000)))        # ~4 s of work
        time.sleep(0.05)
        started = time.monotonic()
        small.submit(list(range(30)))
        assert small.wait_idle(10)
        waited = time.monotonic() - started
        # the small host's 30 items went between the big host's batches, not after its 2,000
        assert waited < 1.0, waited
        assert big.pending > 0
        big.close()
    names = [n for n, _ in done]
    assert names.count("small") == 30


def test_time_not_item_count_is_what_is_shared() -> None:
    with TrainingPool(threads=1, batch=4) as pool:
        slow = pool.register("slow", lambda items: time.sleep(0.01 * len(items)))
        fast = pool.register("fast", lambda items: time.sleep(0.001 * len(items)))
        slow.submit(list(range(10_000)))
        fast.submit(list(range(10_000)))
        time.sleep(1.5)
        # both got about the same wall time, so the fast one trained ~10x the items
        assert fast.items > 4 * slow.items, (fast.items, slow.items)
        assert abs(fast.vtime - slow.vtime) < 0.3, (fast.vtime, slow.vtime)
        slow.close()
        fast.close()


def test_one_batch_per_client_at_a_time_and_failures_stay_local() -> None:
    running = {"a": 0}
    most = {"a": 0}
    lock = threading.Lock()

    def train_a(items: list[int]) -> None:
        with lock:
            running["a"] += 1
            most["a"] = max(most["a"], running["a"])
        time.sleep(0.005)
        with lock:
            running["a"] -= 1

    def failing(items: list[int]) -> None:
        raise RuntimeError("boom")

    with TrainingPool(threads=4, batch=2) as pool:
        a = pool.register("a", train_a)
        bad = pool.register("bad", failing)
        a.submit(list(range(100)))
        bad.submit(list(range(10)))
        assert a.wait_idle(10) and bad.wait_idle(10)
    assert most["a"] == 1 and a.items == 100 and bad.batches == 5


def test_an_idle_client_saves_up_no_credit() -> None:
    with TrainingPool(threads=1, batch=1) as pool:
        busy = pool.register("busy", lambda items: time.sleep(0.01))
        busy.submit(list(range(50)))
        assert busy.wait_idle(10)
        late = pool.register("late", lambda items: time.sleep(0.01))
        assert late.vtime == pytest.approx(busy.vtime)   # starts level, not 0.5 s ahead
        late.close()
        busy.close()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="threads"):
        TrainingPool(threads=0)
    with pytest.raises(ValueError, match="batch"):
        TrainingPool(batch=0)
    with TrainingPool() as pool, pytest.raises(TypeError, match="callable"):
        pool.register("x", 3)  # type: ignore[arg-type]


def test_hosts_train_on_the_shared_pool() -> None:
    cfg = pyml.MLConfig(profile="netdata-1.33", min_train_samples=12, max_train_samples=24, train_every=12,
                        charts_to_skip="", clamp=False)
    rng = np.random.default_rng(7)
    with TrainingPool(threads=2) as pool:
        hosts = [pyml.Host(f"h{i}", cfg, training_pool=pool, training_threads=1) for i in range(3)]
        for i, h in enumerate(hosts):
            h.add_chart("c", [f"d{j}" for j in range(5 * (i + 1))])
        for t in range(1000, 1030):
            for h in hosts:
                h.collect_all(t, rng.normal(size=len(h.dimension_ids())))
        for h in hosts:
            assert h.wait_for_training(30)
            h.collect_all(1030, rng.normal(size=len(h.dimension_ids())))
            assert h.ml_info()["trained-dimensions"] == len(h.dimension_ids())
        assert {c.name for c in pool.clients()} == {"h0", "h1", "h2"}
        assert not any(t.name.startswith("pyml-train-h") for t in threading.enumerate())  # no thread per host
        for h in hosts:
            h.close()
        assert pool.clients() == []
