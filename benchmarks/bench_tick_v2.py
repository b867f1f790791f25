"""One tick of the bank configured for Netdata 2.x: 18 models per slot, v2
features, noisy-dimension suppression on; against the v1.33 bank (one model,
v1 features) ticking the same values in the same run.

Two cases (DESIGN §6 budgets at D = 100,000, one thread):

* all normal: every slot's first (oldest) model calls its vector normal, so
  the vote ends at once: <= 25 ns per dimension, and not much above v1.33;
* all anomalous: every model of every slot scores 100, so every vote visits
  all 18 models (read from the slots' cold records): <= 150 ns per dimension;
* all anomalous, uncapped: threshold 0 with the models of the first case, so
  every vote visits all 18 models and no score is capped (each takes the full
  arithmetic: the vote kernel decides capped scores without square roots).

Each benchmark checks what it measured: bits all clear or all set, and
``models_consulted`` grown by 1 or 18 per slot and tick; the v1.33 bank's
words equal those of ``bench_tick.py``'s checked setup kind.

Run: ``pytest benchmarks/bench_tick_v2.py -s`` (``PYML_BENCH_SCALE=small``
for a quick pass; ``--benchmark-disable`` checks results only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from budget import median, record
from conftest import SMALL, scaled

from pyml import core

SIZE = scaled(100_000, 2_000)
ROWS = 32
MODELS = 18
DISTINCT = 24          # distinct model rings spread over the slots


def _values(rng: np.random.Generator, size: int) -> np.ndarray:
    level = rng.integers(0, 4, size) * 10.0 ** rng.integers(-2, 4, size)
    return level + np.cumsum(rng.normal(size=(ROWS, size)), axis=0) * (1.0 + level * 0.01)


def _rings(rng: np.random.Generator, kind: str) -> list[list[tuple[core.Model, int, int]]]:
    """DISTINCT rings of 18 models each: `normal` ones with a wide distance range
    (every score far below 99), `anomalous` ones far away with a tiny range
    (every score 100)."""
    rings = []
    for r in range(DISTINCT):
        ring = []
        for m in range(MODELS):
            history = np.cumsum(rng.normal(size=400)) * (1.0 + r)
            model = core.train(history, features="v2", max_vectors=200, seed=r * MODELS + m)
            centers = np.asarray(model.centers)
            if kind in ("normal", "uncapped"):
                model = core.Model(centers, model.min_dist, model.min_dist + 1e9)
            else:
                model = core.Model(centers + 1e7, 0.0, 1e-9)
            ring.append((model, 3600 * m, 3600 * m + 21600))
        rings.append(ring)
    return rings


class Setup:
    def __init__(self, kind: str) -> None:
        rng = np.random.default_rng(20261207)
        # Suppression on as in the netdata-2 profile; for the anomalous case a
        # window no run reaches, so every tick keeps voting.
        window, threshold = (900, 450) if kind == "normal" else (2**31, 2**30)
        self.bank = core.Bank(threshold=0.0 if kind == "uncapped" else 0.99, capacity=SIZE, models=MODELS,
                              features="v2", suppression_window=window, suppression_threshold=threshold)
        self.v1 = core.Bank(capacity=SIZE)
        rings = _rings(rng, kind)
        choice = rng.integers(0, DISTINCT, SIZE)
        v1_models = [core.train(np.cumsum(rng.normal(size=400))) for _ in range(DISTINCT)]
        for slot in range(SIZE):
            self.bank.add_slot()
            self.bank.set_models(slot, rings[choice[slot]])
            self.v1.add_slot()
            self.v1.set_model(slot, v1_models[choice[slot]])
        self.ticks = _values(rng, SIZE)
        self.kind = kind
        for k in range(self.bank.warmup):   # fill the windows
            self.bank.tick(self.ticks[k])
            self.v1.tick(self.ticks[k])
        self.i = self.bank.warmup

    def check(self) -> None:
        before = self.bank.models_consulted
        _, bits, scores = self.bank.tick(self.ticks[self.i % ROWS], want_bits=True, want_scores=True)
        self.i += 1
        per_slot = (self.bank.models_consulted - before) / SIZE
        if self.kind == "normal":
            assert not bits.any() and per_slot == 1
        else:
            assert bits.all() and per_slot == MODELS
            assert (scores == 100.0).all() if self.kind == "anomalous" else (scores < 100.0).all()
        assert not (self.bank.status() & core.STATUS_SILENCED).any()


_setups: dict[str, Setup] = {}


def _setup(kind: str) -> Setup:
    if kind not in _setups:
        _setups[kind] = Setup(kind)
        _setups[kind].check()
    return _setups[kind]


def _cycler(setup: Setup, fn: Any) -> Any:
    state = {"i": 0}

    def one_tick() -> Any:
        state["i"] += 1
        return fn(setup.ticks[state["i"] % ROWS])

    return one_tick


@pytest.mark.parametrize("kind", ["normal", "anomalous", "uncapped"])
@pytest.mark.benchmark(group="bank-tick-netdata-2")
def test_tick_netdata2(benchmark, kind):
    setup = _setup(kind)
    benchmark(_cycler(setup, setup.bank.tick))
    record(f"tick-v2-{kind}", benchmark)
    setup.check()


@pytest.mark.benchmark(group="bank-tick-netdata-2")
def test_tick_v133_same_values(benchmark):
    setup = _setup("normal")
    benchmark(_cycler(setup, setup.v1.tick))
    record("tick-v1", benchmark)


def test_budget_netdata2_tick():
    v1_ns = median("tick-v1") / SIZE * 1e9
    normal_ns = median("tick-v2-normal") / SIZE * 1e9
    anomalous_ns = median("tick-v2-anomalous") / SIZE * 1e9
    uncapped_ns = median("tick-v2-uncapped") / SIZE * 1e9
    print(f"\nD={SIZE}, {MODELS} models, v2 features, suppression: all normal {normal_ns:.1f} ns/dim, "
          f"all anomalous {anomalous_ns:.1f} ns/dim (uncapped scores {uncapped_ns:.1f}); v1.33 bank on the same values {v1_ns:.1f} ns/dim "
          f"(all normal is {normal_ns / v1_ns:.2f}x v1.33)")
    if not SMALL:   # the budgets are for D = 100,000
        assert normal_ns <= 25.0
        assert anomalous_ns <= 150.0
