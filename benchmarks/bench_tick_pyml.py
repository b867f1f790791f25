"""One tick of the bank configured for the ``pyml`` profile: one model per
slot, level features (diff_n=0, smooth_n=1, lag_n=0) and the ``surprise``
calibration after the vote, with the profile's parameters (a score tail
too if the profile turns it on); against the netdata-1.33 bank (one model, v1.33
features, no calibration) ticking the same values in the same run.

Budget: at D = 100,000 on one thread, the pyml tick costs at most twice the
netdata-1.33 tick, both for the words alone and for the call a host makes
(pyml: bits, scores and levels; netdata-1.33: bits and scores). The pyml
bank without calibration is measured too, so the stage's own cost shows, and
the rule without its daily profile, so the profile's cost shows.

The daily profile runs with one tick per slot of the day (``day_ticks_per_slot``
1, each tick in the next of the 12 slots), so every slot of the day judges
after 24 ticks and the short mean after 44: the path two days of 1-s ticks
take, reached within the benchmark's warm-up.

Every slot holds a model; the values wander, with gaps, saturated values and
spikes, so slots saturate now and then and the rare path (logarithms, erfc)
is taken. Before timing, the pyml bank's bits, scores and levels over a run
of ticks are checked against ``core.calibrate`` fed with its uncalibrated
twin's values, vote scores and predictions (the equality the tests prove),
and they must contain bits.

Run: ``pytest benchmarks/bench_tick_pyml.py -s`` (``PYML_BENCH_SCALE=small``
for a quick pass; ``--benchmark-disable`` checks results only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from budget import median, record
from conftest import SMALL, scaled

from pyml import MLConfig, core

SIZE = scaled(100_000, 2_000)
ROWS = 64              # distinct ticks cycled through by the benchmarks
MODELS = 48            # distinct trained models spread over the slots
LEVEL = {"diff_n": 0, "smooth_n": 1, "lag_n": 0}
CHECKED = 48           # ticks compared with core.calibrate before timing
# the pyml profile's rule at 1 s per tick, its daily profile judging from the 24th tick (see above)
RULE = {**MLConfig(profile="pyml").calibration_settings(1), "day_ticks_per_slot": 1.0, "day_long_memory": 4000.0}
DAY_SLOTS = int(RULE["day_slots"])
NO_DAY = {**RULE, "day_decades": 0.0}                          # ... without the daily profile
TAILED = {**RULE, "score_decades": 12.0, "score_warmup": 100}   # ... with the score tail measured on NAB


def _classes(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """MODELS kinds of series: a level and a noise scale each."""
    level = rng.integers(0, 4, MODELS) * 10.0 ** rng.integers(-2, 5, MODELS)
    return level, 1.0 + level * 0.01


def _ticks(rng: np.random.Generator, kind: np.ndarray, level: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """A quiet host: each slot noise around its kind's level, with gaps, saturated values and spikes."""
    size = kind.size
    ticks = level[kind] + scale[kind] * rng.normal(size=(ROWS, size))
    ticks[rng.random((ROWS, size)) < 0.002] = np.nan      # a few gaps
    ticks[rng.random((ROWS, size)) < 0.0005] = np.inf     # and a few saturated values
    spikes = rng.random((ROWS, size)) < 0.01               # and some anomalies
    ticks[spikes] += 1e3 * (1.0 + level[kind[np.nonzero(spikes)[1]]])
    return ticks


def _trained(bank: core.Bank, kind: np.ndarray, level: np.ndarray, scale: np.ndarray, seed: int) -> None:
    """Every slot trained on a history of its kind (one model per kind, shared by its slots)."""
    rng = np.random.default_rng(seed)
    size = kind.size
    for _ in range(size):
        bank.add_slot()
    first = [int(np.flatnonzero(kind == k)[0]) for k in range(MODELS)]
    histories = [level[k] + scale[k] * rng.normal(size=600) for k in range(MODELS)]
    report = bank.train(first, histories, min_samples=100)
    assert list(report.status) == ["trained"] * MODELS
    bank.tick(np.full(size, np.nan))   # applies the queued models
    models = [bank.model(s) for s in first]
    for slot in range(size):
        bank.set_model(slot, models[kind[slot]])
    assert bank.trained_count == size


class Setup:
    def __init__(self) -> None:
        rng = np.random.default_rng(20261208)
        level, scale = self.level, self.scale = _classes(rng)
        kind = rng.integers(0, MODELS, SIZE)
        kind[:MODELS] = np.arange(MODELS)
        self.ticks = _ticks(rng, kind, level, scale)
        # Far from every model: every slot saturates on every tick with a value.
        self.far = self.ticks + 1e6 * (1.0 + level[kind])
        seed = int(rng.integers(2**32))
        self.pyml = core.Bank(capacity=SIZE, **RULE, **LEVEL)
        self.uncalibrated = core.Bank(capacity=SIZE, **LEVEL)
        self.saturating = core.Bank(capacity=SIZE, **RULE, **LEVEL)
        self.tailed = core.Bank(capacity=SIZE, **TAILED, **LEVEL)
        self.no_day = core.Bank(capacity=SIZE, **NO_DAY, **LEVEL)
        self.v133 = core.Bank(capacity=SIZE)
        for bank in (self.pyml, self.uncalibrated, self.saturating, self.tailed, self.no_day, self.v133):
            _trained(bank, kind, level, scale, seed)
        self.i = 0

    def check(self) -> None:
        """CHECKED ticks: the pyml bank equals core.calibrate over its twin from the state both start in."""
        state = self.pyml.calibration_state()
        assert (state["seen"] == 0).all(), "the check runs once, from the prior"
        # The tick that applied the models (all NaN) is the first of the rule's ticks.
        rows = {"values": [np.full(SIZE, np.nan)], "scores": [np.zeros(SIZE)], "trained": [np.zeros(SIZE, bool)],
                "out": [], "bits": [], "levels": []}
        day_slots = [-1]   # the tick that applied the models gave no slot of the day
        for _ in range(CHECKED):
            values = self.ticks[self.i % ROWS]
            day_slots.append(self.i % DAY_SLOTS)
            self.i += 1
            _, scores = self.uncalibrated.tick(values, want_scores=True)
            _, bits, out, levels = self.pyml.tick(values, want_bits=True, want_scores=True, want_levels=True,
                                                  day_slot=day_slots[-1])
            for key, row in (("values", values), ("scores", scores), ("trained", np.abs(values) <= 1.6777215e21),
                             ("out", out), ("bits", bits), ("levels", levels)):
                rows[key].append(row)
        r = {k: np.stack(v) for k, v in rows.items()}
        want_out, want_bits, want_levels = (x[1:] for x in core.calibrate(r["values"], r["scores"], r["trained"],
                                                                          **RULE, day_slot=day_slots))
        assert np.array_equal(r["out"], want_out) and np.array_equal(r["levels"], want_levels)
        assert np.array_equal(r["bits"], want_bits)
        assert r["bits"].any() and (r["levels"] >= 50.0).any()
        state = self.pyml.calibration_state()
        assert (state["day_lseen"] > 0).all(), "the daily profile judges in the timed ticks"


_setup_once: list[Setup] = []


def _setup() -> Setup:
    if not _setup_once:
        _setup_once.append(Setup())
        _setup_once[0].check()
    return _setup_once[0]


def _cycler(ticks: np.ndarray, fn: Any, day: bool, **kw: Any) -> Any:
    state = {"i": 0}

    def one_tick() -> Any:
        state["i"] += 1
        if day:
            return fn(ticks[state["i"] % ROWS], day_slot=state["i"] % DAY_SLOTS, **kw)
        return fn(ticks[state["i"] % ROWS], **kw)

    return one_tick


HOST_PYML = {"want_bits": True, "want_scores": True, "want_levels": True}
CASES = {
    # name: (bank attribute, ticks attribute, tick keywords)
    "pyml-words": ("pyml", "ticks", {}),
    "pyml-host": ("pyml", "ticks", HOST_PYML),
    "no-daily-profile-words": ("no_day", "ticks", {}),
    "level-uncalibrated-words": ("uncalibrated", "ticks", {}),
    "v133-words": ("v133", "ticks", {}),
    "v133-host": ("v133", "ticks", {"want_bits": True, "want_scores": True}),
    "pyml-host-all-saturated": ("saturating", "far", HOST_PYML),
    "score-tail-words": ("tailed", "ticks", {}),
    "score-tail-host": ("tailed", "ticks", HOST_PYML),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.benchmark(group="bank-tick-pyml")
def test_tick(benchmark, case):
    setup = _setup()
    attr, ticks, kw = CASES[case]
    bank = getattr(setup, attr)
    one_tick = _cycler(getattr(setup, ticks), bank.tick, bank.calibration != "none", **kw)
    for _ in range(1 if SMALL else 2 * ROWS):   # a previous value for the rule; the daily profile warm
        one_tick()
    out = benchmark(one_tick)
    record(f"tick-{case}", benchmark)
    if kw is HOST_PYML:
        _, bits, scores, levels = out
        assert ((scores == 0) | (scores == levels)).all() and (levels <= 100.0).all()
        assert (scores[bits] >= 75.0).all()
        saturated = np.mean(levels >= 50.0)
        if ticks == "far":
            assert saturated > 0.99
        else:
            assert 0.001 < saturated < 0.05   # a quiet host: the spikes and a few tails


def test_budget_pyml_tick():
    ns = {case: median(f"tick-{case}") / SIZE * 1e9 for case in CASES}
    print(f"\nD={SIZE} ns/dim: " + ", ".join(f"{case} {v:.1f}" for case, v in ns.items()) +
          f"; pyml/netdata-1.33 words {ns['pyml-words'] / ns['v133-words']:.2f}x, "
          f"host call {ns['pyml-host'] / ns['v133-host']:.2f}x; calibration stage "
          f"{ns['pyml-words'] - ns['level-uncalibrated-words']:.1f} ns/dim, its daily profile "
          f"{ns['pyml-words'] - ns['no-daily-profile-words']:.1f} ns/dim; with the score tail "
          f"{ns['score-tail-words'] / ns['v133-words']:.2f}x and {ns['score-tail-host'] / ns['v133-host']:.2f}x")
    if not SMALL:   # the budget is for D = 100,000
        assert ns["pyml-words"] <= 2.0 * ns["v133-words"]
        assert ns["pyml-host"] <= 2.0 * ns["v133-host"]
