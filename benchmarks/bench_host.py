"""The whole ``Host.collect_all`` tick, training throughput and the total ML overhead at 1 Hz.

Budgets (DESIGN §6):
- ``collect_all`` end to end (bank, store, detector, Python) at D = 100,000: <= 50 ns per dimension;
- total ML overhead at 1 Hz with defaults (ticks plus amortised training):
  <= 0.3 % of one core per 10,000 dimensions, <= 3 % for 100,000.
Both under the ``netdata-1.33`` profile (its models are installed; the
``pyml`` profile's bank tick is compared with it in bench_tick_pyml.py).
The overhead is computed from the tick median and the training time per
model measured in this same run. The sample store is touched once before
timing, so ticks are measured in steady state (a fresh store pays a one-time
page fault per dimension and block of history as it first fills).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import scaled

import pyml
from pyml import core

T0 = 1_700_000_000
SIZES = [scaled(10_000, 500), scaled(100_000, 2_000)]
TRAIN_SAMPLES = scaled(14_400, 3_600)

_results: dict[str, float] = {}


def _walk(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return np.cumsum(rng.normal(0, 1, (n, d)), axis=0) + 1000.0


@pytest.fixture(scope="module")
def trained_model() -> "core.Model":
    rng = np.random.default_rng(3)
    return core.train(_walk(rng, TRAIN_SAMPLES, 1)[:, 0])


def _host_with_models(n_dims: int, model: "core.Model") -> pyml.Host:
    host = pyml.Host("bench", pyml.MLConfig(profile="netdata-1.33"), background=False)
    per_chart = 100
    for c in range(n_dims // per_chart):
        host.add_chart(f"system.c{c}", [f"d{i}" for i in range(per_chart)])
    for dim_id in host.dimension_ids():
        host._bank.set_model(host._slot_of[dim_id], model)
    return host


@pytest.mark.parametrize("n_dims", SIZES)
@pytest.mark.benchmark(group="host-collect_all")
def test_collect_all_tick(benchmark, n_dims, trained_model):
    host = _host_with_models(n_dims, trained_model)
    rng = np.random.default_rng(11)
    ticks = _walk(rng, 64, n_dims)
    for i in range(16):  # fill the prediction windows
        host.collect_all(T0 + i, ticks[i])
    clock = {"i": 16}

    def one_tick() -> None:
        i = clock["i"]
        host.collect_all(T0 + i, ticks[i % 64])
        clock["i"] = i + 1

    benchmark.pedantic(one_tick, rounds=scaled(200, 5), iterations=1, warmup_rounds=2)
    assert host.last_time == T0 + clock["i"] - 1
    assert host.last_detector_result is not None and host.last_detector_result.trained == n_dims
    if benchmark.stats is not None and not getattr(benchmark, "disabled", False):
        ns = benchmark.stats.stats.median / n_dims * 1e9
        _results[f"tick-{n_dims}"] = benchmark.stats.stats.median
        print(f"\ncollect_all at D={n_dims}: {ns:.1f} ns per dimension")
    host.close()


@pytest.mark.benchmark(group="host-training")
def test_training_throughput_both_cores(benchmark):
    rng = np.random.default_rng(5)
    n_models = scaled(64, 4)
    histories = np.ascontiguousarray(_walk(rng, TRAIN_SAMPLES, n_models).T)
    bank = core.Bank()
    slots = np.array([bank.add_slot() for _ in range(n_models)], dtype=np.int64)

    def train() -> object:
        return bank.train(slots, histories, min_samples=min(3600, TRAIN_SAMPLES), max_iterations=1000, threads=2)

    report = benchmark.pedantic(train, rounds=scaled(5, 1), iterations=1)
    assert all(s == "trained" for s in report.status)
    if benchmark.stats is not None and not getattr(benchmark, "disabled", False):
        per_model = benchmark.stats.stats.median / n_models
        _results["train-per-model-2-threads"] = per_model
        print(f"\ntraining: {1 / per_model:.0f} models per second on 2 threads")


@pytest.mark.benchmark(group="host-training")
def test_training_one_model_one_thread(benchmark):
    rng = np.random.default_rng(6)
    history = _walk(rng, TRAIN_SAMPLES, 1)[:, 0]
    model = benchmark(core.train, history)
    assert model.centers.shape == (2, 6)
    if benchmark.stats is not None and not getattr(benchmark, "disabled", False):
        _results["train-one"] = benchmark.stats.stats.median


@pytest.mark.parametrize("n_dims", SIZES)
def test_total_overhead_budget(n_dims):
    if f"tick-{n_dims}" not in _results or "train-one" not in _results:
        pytest.skip("timings are off (benchmarks disabled)")
    cfg = pyml.MLConfig(profile="netdata-1.33")
    tick = _results[f"tick-{n_dims}"]
    training = n_dims / cfg.train_every * _results["train-one"]  # models per second x seconds per model
    share = (tick + training) * 100.0  # percent of one core at one tick per second
    per_10k = share * 10_000 / n_dims
    print(f"\nML overhead at D={n_dims}: {share:.3f} % of one core "
          f"({per_10k:.3f} % per 10,000 dimensions; tick {tick * 1e3:.2f} ms, training {training * 1e3:.2f} ms/s)")
    if n_dims >= 100_000:
        assert tick / n_dims <= 50e-9
        assert share <= 3.0
    else:
        assert per_10k <= 0.3
