"""The bank's calibration stage (``Bank(calibration="surprise")``) against the
lab's numba rule, ``pyml.lab.custom.run_detector(surprise_detector(...))``:
fed with the bank's own values, vote scores and predictions, over random
series with gaps, level shifts and spikes (hypothesis) and over NAB files of
the tuning half, both kernels; ``pyml.core.calibrate`` likewise over the
lab's engine traces. Then the stage's life in the bank (installs, clear_model,
reuse, free slots), its parameters and its API.

The levels (``want_levels``) are checked against the same numba rule with
``window=0``: a peak window of 0 forgets every peak at once, so the rule
reports every tick's level, and the statistics do not depend on the window.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyml import core

pytest.importorskip("numba")
from pyml.lab.custom import run_detector, trace  # noqa: E402
from pyml.lab.detectors import surprise_detector  # noqa: E402

DATA = Path(__file__).parent / "data"
# NAB files of the tuning half (SHA-256 of the key starts with an even hex digit).
TUNING_FILES = [
    DATA / "nab" / "data" / "realAWSCloudwatch" / "iio_us-east-1_i-a2eb1cd9_NetworkIn.csv",
    DATA / "nab_tuning" / "data" / "realAdExchange" / "exchange-4_cpc_results.csv",
    DATA / "nab_tuning" / "data" / "realTraffic" / "occupancy_t4013.csv",
]
KERNELS = ["baseline"] + (["avx2"] if "avx2" in (core.Bank().kernel,) else [])
MAX_STORABLE = 1.6777215e21
LEVEL = {"diff_n": 0, "smooth_n": 1, "lag_n": 0}  # the pyml configuration's features
NAMES = ("peak_window", "memory", "decades", "bit_level", "saturation", "prior_rate", "score_decades",
         "score_warmup")


def _rule(params: dict[str, float]) -> object:
    """The lab's detector with the bank's parameter names."""
    return surprise_detector(window=params["peak_window"], memory=params["memory"], decades=params["decades"],
                             bit_level=params["bit_level"], saturation=params["saturation"],
                             prior_rate=params["prior_rate"], score_decades=params.get("score_decades", 0.0),
                             score_warmup=params.get("score_warmup", 100.0))


def _lab(params: dict[str, float], values: np.ndarray, scores: np.ndarray, trained: np.ndarray):
    """(scores, bits, levels) of the numba rule; a value the bank cannot store is a gap to the bank."""
    gaps = np.where(np.abs(values) <= MAX_STORABLE, values, np.nan)
    no_bits = np.zeros(values.shape, dtype=bool)
    out, bits = run_detector(_rule(params), gaps, scores, no_bits, trained)
    levels, _ = run_detector(_rule({**params, "peak_window": 0.0}), gaps, scores, no_bits, trained)
    return out, bits, levels


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(np.asarray(a, np.float64).view(np.uint64),
                                                 np.asarray(b, np.float64).view(np.uint64))


def _series(rng: np.random.Generator, ticks: int, slots: int, gaps: bool, shifts: bool, spikes: bool) -> np.ndarray:
    level = rng.normal(0.0, 50.0, slots)
    x = np.empty((ticks, slots))
    for t in range(ticks):
        if shifts:
            moved = rng.random(slots) < 0.01
            level[moved] += rng.normal(0.0, 40.0, int(moved.sum()))
        x[t] = level + rng.normal(0.0, 1.0, slots)
    if spikes:
        hit = rng.random(x.shape) < 0.01
        x[hit] += rng.normal(0.0, 200.0, int(hit.sum()))
    if gaps:
        x[rng.random(x.shape) < 0.02] = np.nan
        x[rng.random(x.shape) < 0.002] = np.inf
    return x


class Twins:
    """A calibrated bank and its uncalibrated twin with the same models, fed the same ticks.

    Records the twin's vote scores and which slots predicted with a model (a
    model after the tick applied its queue, and a full window), the rule's
    ``trained``, and the calibrated bank's outputs.
    """

    def __init__(self, slots: int, params: dict[str, float], kernel: str, features: dict[str, object]) -> None:
        self.plain = core.Bank(kernel=kernel, **features)
        self.calibrated = core.Bank(kernel=kernel, calibration="surprise", **features, **params)
        for _ in range(slots):
            self.plain.add_slot()
            self.calibrated.add_slot()
        self.run = np.zeros(slots, dtype=np.int64)
        self.rows: dict[str, list[np.ndarray]] = {k: [] for k in
                                                  ("values", "scores", "trained", "out", "bits", "levels", "words")}

    def train(self, slots: list[int], histories: list[np.ndarray], t: int) -> None:
        finite = [np.where(np.isfinite(h), h, np.nan) for h in histories]   # training refuses inf
        for bank in (self.plain, self.calibrated):
            report = bank.train(slots, finite, min_samples=10, after=t, before=t + 1)
            assert set(report.status) <= {"trained", "too_few_points"}

    def tick(self, values: np.ndarray) -> None:
        words0, scores0 = self.plain.tick(values, want_scores=True)
        words, bits, out, levels = self.calibrated.tick(values, want_bits=True, want_scores=True, want_levels=True)
        storable = np.abs(values) <= MAX_STORABLE
        self.run = np.where(storable, np.minimum(self.run + 1, self.plain.warmup), 0)
        trained = self.plain.trained_mask() & (self.run == self.plain.warmup)
        # Calibration changes only the anomaly bit of a word.
        assert np.array_equal(words0 & ~np.uint32(core.ANOMALY_BIT), words & ~np.uint32(core.ANOMALY_BIT))
        for key, row in (("values", values), ("scores", scores0), ("trained", trained), ("out", out),
                         ("bits", bits), ("levels", levels), ("words", words)):
            self.rows[key].append(np.array(row))

    def check(self, params: dict[str, float]) -> int:
        """Compare everything recorded; return how many scores the rule reported."""
        r = {k: np.stack(v) for k, v in self.rows.items()}
        want_out, want_bits, want_levels = _lab(params, r["values"], r["scores"], r["trained"])
        assert _same(r["out"], want_out)
        assert np.array_equal(r["bits"], want_bits)
        assert _same(r["levels"], want_levels)
        # The stored bit is the rule's.
        _, anomalous, _ = core.unpack(r["words"].reshape(-1))
        assert np.array_equal(anomalous.reshape(r["bits"].shape), want_bits)
        return int(np.count_nonzero(want_out))


def _params(**kw: float) -> dict[str, float]:
    out = {"peak_window": 120.0, "memory": 4000.0, "decades": 4.0, "bit_level": 0.75, "saturation": 100.0,
           "prior_rate": 0.01}
    out.update(kw)
    return out


params_strategy = st.fixed_dictionaries({
    "peak_window": st.sampled_from([0.0, 1.0, 7.0, 120.0]),
    "memory": st.sampled_from([1.0, 2.5, 30.0, 4000.0]),
    "decades": st.sampled_from([1.0, 4.0, 6.5]),
    "bit_level": st.sampled_from([0.5, 0.75, 1.0]),
    "saturation": st.sampled_from([50.0, 99.0, 100.0]),
    "prior_rate": st.sampled_from([0.0, 0.01, 0.5]),
    "score_decades": st.sampled_from([0.0, 0.0, 1.0, 12.0]),   # 0: no score tail (the rule as first chosen)
    "score_warmup": st.sampled_from([0.0, 5.0, 100.0]),
})


# ---------------------------------------------------------------- the rule alone


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), params=params_strategy, gaps=st.booleans(), shifts=st.booleans(),
       spikes=st.booleans())
def test_calibrate_equals_the_numba_rule(seed, params, gaps, shifts, spikes):
    rng = np.random.default_rng(seed)
    ticks, slots = 300, 11
    values = _series(rng, ticks, slots, gaps, shifts, spikes)
    saturated = rng.random(values.shape) < 0.05
    scores = np.where(saturated, 100.0 + 20.0 * rng.random(values.shape), 100.0 * rng.random(values.shape))
    trained = np.arange(ticks)[:, None] >= rng.integers(0, ticks // 2, slots)[None, :]
    trained &= rng.random(values.shape) > 0.02
    out, bits, levels = core.calibrate(values, scores, trained, **params)
    want_out, want_bits, want_levels = _lab(params, values, scores, trained)
    assert _same(out, want_out)
    assert np.array_equal(bits, want_bits)
    assert _same(levels, want_levels)


@pytest.mark.parametrize("path", TUNING_FILES, ids=lambda p: p.name)
def test_calibrate_equals_the_numba_rule_over_nab_traces(path):
    """The engine's trace of a NAB file (the level features of the peaks formulation), then both rules."""
    engine = trace(path, formulation="peaks")
    params = _params(peak_window=max(1.0, 0.4 * engine.config.min_train_samples), memory=2016.0)
    for tail in (0.0, 12.0):   # without and with the score tail (the pyml profile's)
        params["score_decades"] = tail
        _check_nab_trace(engine, params)


def _check_nab_trace(engine, params):
    out, bits, levels = core.calibrate(engine.values, engine.scores, engine.trained, **params)
    want_out, want_bits, want_levels = _lab(params, engine.values, engine.scores, engine.trained)
    assert _same(out, want_out)
    assert np.array_equal(bits, want_bits)
    assert _same(levels, want_levels)
    assert engine.trained.any() and (out > 0).any()
    assert bits.sum() < 0.05 * bits.size   # sparse (two of the three files saturate at all)


# ---------------------------------------------------------------- in the bank


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), params=params_strategy, kernel=st.sampled_from(KERNELS),
       features=st.sampled_from([LEVEL, {"diff_n": 1, "smooth_n": 3, "lag_n": 5},
                                 {**LEVEL, "models": 3, "features": "v2"}]), gaps=st.booleans(),
       shifts=st.booleans(), spikes=st.booleans())
def test_bank_equals_the_numba_rule_on_its_own_scores(seed, params, kernel, features, gaps, shifts, spikes):
    rng = np.random.default_rng(seed)
    ticks, slots = 240, 13
    values = _series(rng, ticks, slots, gaps, shifts, spikes)
    twins = Twins(slots, params, kernel, features)
    due = rng.integers(20, 60, slots)   # each slot trains first at its own tick, then every 60 ticks
    for t in range(ticks):
        slots_due = [j for j in range(slots) if t >= due[j] and (t - due[j]) % 60 == 0]
        if slots_due:
            twins.train(slots_due, [values[max(0, t - 50):t, j] for j in slots_due], t)
        twins.tick(values[t])
    assert twins.check(params) > 0
    assert np.stack(twins.rows["trained"]).any()


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("path", TUNING_FILES, ids=lambda p: p.name)
def test_bank_equals_the_numba_rule_over_nab_files(path, kernel):
    """A NAB series as one slot (and shifted copies as others), trained every 288 ticks on the last 1440."""
    from pyml.lab.formats import read_recording

    x = read_recording(path).values[:, 0]
    values = np.stack([x, np.roll(x, 500), 2.0 * x + 1.0], axis=1)
    params = _params(peak_window=240.0, memory=2016.0, score_decades=12.0)
    twins = Twins(values.shape[1], params, kernel, LEVEL)
    for t in range(values.shape[0]):
        if t >= 300 and t % 288 == 0:
            twins.train([0, 1, 2], [values[max(0, t - 1440):t, j] for j in range(3)], t)
        twins.tick(values[t])
    assert twins.check(params) > 0


# ---------------------------------------------------------------- the stage's life in the bank


def _trained_pair(calibrated: core.Bank) -> None:
    for _ in range(2):
        calibrated.add_slot()
    model = core.train(np.r_[np.zeros(50), np.ones(50)], **LEVEL)
    calibrated.set_model(0, model)
    calibrated.set_model(1, model)


def test_installs_and_clear_model_keep_the_state_reuse_resets_it():
    bank = core.Bank(calibration="surprise", **LEVEL)
    _trained_pair(bank)
    for t in range(30):
        bank.tick([0.1 * (t % 3), 0.2 * (t % 2)])
    state = bank.calibration_state()
    assert state["seen"].tolist() == [29.0, 29.0]   # the first value has no change
    model = core.train(np.r_[np.full(50, 5.0), np.full(50, 6.0)], **LEVEL)
    bank.set_model(0, model)
    bank.queue_model(1, model, 10, 20)
    bank.tick([0.0, 0.0])
    assert bank.calibration_state()["seen"].tolist() == [30.0, 30.0]
    bank.clear_model(0)
    bank.tick([0.0, 0.0])
    state = bank.calibration_state()
    assert state["seen"].tolist() == [30.0, 31.0]   # without a model: no statistic changes, kept
    bank.remove_slot(1)
    words, bits, scores, levels = bank.tick([0.0, 7.0], want_bits=True, want_scores=True, want_levels=True)
    assert words[1] == core.EMPTY_SLOT and not bits[1] and scores[1] == 0.0 and levels[1] == 0.0
    assert bank.add_slot() == 1
    fresh = bank.calibration_state()
    assert (fresh["rate"][1], fresh["mean"][1], fresh["var"][1], fresh["seen"][1]) == (0.01, 0.0, 0.0, 0.0)
    assert fresh["top"][1] == -math.inf and fresh["top_age"][1] == math.inf and math.isnan(fresh["prev"][1])
    assert fresh["seen"][0] == 30.0


def test_an_onset_is_reported_once_with_its_bit():
    """A level change: bit and score at its first tick, nothing while it lasts."""
    bank = core.Bank(calibration="surprise", peak_window=50, **LEVEL)
    slot = bank.add_slot()
    rng = np.random.default_rng(3)
    history = 10.0 + 3.0 * rng.normal(size=500)   # wide: the normal ticks below never saturate
    bank.set_model(slot, core.train(history, **LEVEL))
    got = [bank.tick([v], want_bits=True, want_scores=True, want_levels=True) for v in
           np.r_[10.0 + rng.normal(size=200), 40.0 + rng.normal(size=200)]]
    bits = np.array([g[1][0] for g in got])
    scores = np.array([g[2][0] for g in got])
    levels = np.array([g[3][0] for g in got])
    assert np.flatnonzero(bits).tolist() == [200]
    assert scores[200] >= 75.0 and levels[200] == scores[200]
    assert (levels[201:] >= 50.0).all()            # it keeps saturating ...
    assert (scores[201:] < 75.0).all()             # ... and is not reported as a new onset


def test_parameters_are_validated_naming_the_value():
    for name, bad in (("peak_window", -1.0), ("peak_window", 3e9), ("memory", 0.5), ("memory", 1e10),
                      ("decades", 0.0), ("decades", math.inf), ("bit_level", 0.0), ("bit_level", 1.5),
                      ("saturation", 0.0), ("saturation", 100.5), ("prior_rate", -0.1), ("prior_rate", math.nan),
                      ("score_decades", -1.0), ("score_decades", math.inf), ("score_warmup", -1.0),
                      ("score_warmup", 5e9), ("score_warmup", math.nan)):
        with pytest.raises(ValueError, match=name):
            core.Bank(calibration="surprise", **{name: bad})
        with pytest.raises(ValueError, match=name):
            core.calibrate(np.zeros((2, 1)), np.zeros((2, 1)), np.ones((2, 1), dtype=bool), **{name: bad})
    with pytest.raises(ValueError, match="'bayes'"):
        core.Bank(calibration="bayes")
    with pytest.raises(ValueError, match="none"):
        core.calibrate(np.zeros((2, 1)), np.zeros((2, 1)), np.ones((2, 1), dtype=bool), calibration="none")
    with pytest.raises(ValueError, match="shape"):
        core.calibrate(np.zeros((2, 1)), np.zeros((2, 2)), np.ones((2, 1), dtype=bool))
    with pytest.raises(ValueError, match="2-dimensional"):
        core.calibrate(np.zeros(2), np.zeros(2), np.ones(2, dtype=bool))
    with pytest.raises(TypeError, match="memory"):
        core.calibrate(np.zeros((2, 1)), np.zeros((2, 1)), np.ones((2, 1), dtype=bool), memory="long")


def test_levels_and_state_need_calibration():
    bank = core.Bank(**LEVEL)
    bank.add_slot()
    with pytest.raises(ValueError, match="calibration 'none'"):
        bank.tick([1.0], want_levels=True)
    with pytest.raises(ValueError, match="calibration 'none'"):
        bank.calibration_state()
    assert bank.calibration == "none"
    assert bank.tick([1.0]).shape == (1,)   # the failed call changed nothing


def test_properties_repr_and_tuple_order():
    bank = core.Bank(calibration="surprise", peak_window=30, memory=86400, decades=5.0, bit_level=0.8,
                     saturation=99.0, prior_rate=0.001, **LEVEL)
    assert (bank.calibration, bank.peak_window, bank.memory, bank.decades, bank.bit_level, bank.saturation,
            bank.prior_rate) == ("surprise", 30.0, 86400.0, 5.0, 0.8, 99.0, 0.001)
    assert "calibration='surprise', peak_window=30.0, memory=86400.0" in repr(bank)
    assert "calibration" not in repr(core.Bank())
    bank.add_slot()
    out = bank.tick([1.0], want_levels=True)
    assert len(out) == 2 and out[1].dtype == np.float64
    words, bits, levels = bank.tick([1.0], want_bits=True, want_levels=True)
    assert bits.dtype == np.bool_ and levels.dtype == np.float64
    assert sorted(bank.calibration_state()) == ["day_lmean", "day_lseen", "day_lvar", "day_mean", "day_short",
                                                "day_var", "day_visits", "mean", "prev", "rate", "seen", "smean",
                                                "svar", "top", "top_age", "var"]
    assert bank.calibration_state()["day_mean"].shape == (1, 0)          # no daily profile: no slots of the day
    assert (bank.score_decades, bank.score_warmup) == (0.0, 100.0) and "score_decades" not in repr(bank)
    tailed = core.Bank(calibration="surprise", score_decades=12.0, score_warmup=7, **LEVEL)
    assert (tailed.score_decades, tailed.score_warmup) == (12.0, 7.0)
    assert "score_decades=12.0, score_warmup=7.0" in repr(tailed)


def test_memory_per_slot_grows_by_48_bytes_64_with_the_score_tail():
    plain = core.Bank(capacity=4096, **LEVEL)
    calibrated = core.Bank(capacity=4096, calibration="surprise", **LEVEL)
    extra = (calibrated.memory_bytes() - plain.memory_bytes()) / 4096
    assert 48.0 <= extra < 49.0
    tailed = core.Bank(capacity=4096, calibration="surprise", score_decades=12.0, **LEVEL)
    extra = (tailed.memory_bytes() - plain.memory_bytes()) / 4096
    assert 64.0 <= extra < 65.0


def test_score_tail_reports_a_score_unusual_for_the_slot_without_saturation():
    """A slot whose scores stay small: a score far above its usual ones is an onset with the tail, not without."""
    ticks = 600
    values = np.ones((ticks, 2)) + 0.001 * np.arange(ticks)[:, None]
    rng = np.random.default_rng(11)
    scores = np.repeat(np.abs(rng.normal(1.0, 0.3, ticks))[:, None], 2, axis=1)
    scores[400] = 40.0   # far below saturation, far above this slot's usual scores
    trained = np.ones((ticks, 2), dtype=bool)
    out, bits, levels = core.calibrate(values, scores, trained, score_decades=12.0, score_warmup=100)
    plain_out, plain_bits, plain_levels = core.calibrate(values, scores, trained)
    assert np.flatnonzero(bits[:, 0]).tolist() == [400] and not plain_bits.any()
    assert levels[400, 0] > 75.0 and plain_levels[400, 0] == 20.0
    # the score tail only ever raises the level, and with a warm-up longer than the series changes nothing
    assert (levels >= plain_levels).all()
    late = core.calibrate(values, scores, trained, score_decades=12.0, score_warmup=ticks)
    assert _same(late[2], plain_levels)
    state = core.Bank(calibration="surprise", score_decades=12.0, **LEVEL)
    state.add_slot()
    assert state.calibration_state()["smean"][0] == 0.0


# ------------------------------------------------------------------ the daily profile

DAY = dict(day_decades=10.0, day_slots=12, day_warmup=2.0, day_memory=7.0, day_span=10.0, day_long_memory=500.0)


def _daily_series(ticks: int, dims: int, period: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values with a daily cycle, a contextual anomaly (a normal value at the wrong time of day), gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(ticks)
    values = 5.0 * np.sin(2 * np.pi * t / period)[:, None] + rng.normal(size=(ticks, dims))
    values[ticks - 3 * period:ticks - 3 * period + period // 4, 0] *= -1.0   # the cycle upside down for a while
    values[rng.random((ticks, dims)) < 0.01] = np.nan
    scores = np.where(rng.random((ticks, dims)) < 0.03, 100.0, rng.uniform(0.0, 99.0, (ticks, dims)))
    trained = rng.random((ticks, dims)) < 0.95
    return values, scores, trained


@pytest.mark.parametrize("period, phase0", [(48, 0), (48, 17), (288, 100), (7, 3)])
def test_daily_profile_equals_the_numba_rule(period: int, phase0: int) -> None:
    values, scores, trained = _daily_series(40 * period, 9, period, seed=period + phase0)
    slots = min(12, period)
    day_slot = (((phase0 + np.arange(len(values))) % period) * slots // period).astype(np.int32)
    params = dict(peak_window=30.0, memory=400.0, decades=4.0, bit_level=0.75, saturation=100.0, prior_rate=0.01)
    out, bits, levels = core.calibrate(values, scores, trained, **params, **{**DAY, "day_slots": slots},
                                       day_ticks_per_slot=period / slots, day_slot=day_slot)
    rule = surprise_detector(window=30, memory=400, decades=4, bit_level=0.75, saturation=100, prior_rate=0.01,
                             day_decades=10.0, day_slots=slots, day_period=period, day_warmup=2.0, day_memory=7.0,
                             day_span=10, day_long_memory=500, day_phase0=phase0)
    lab_out, lab_bits = run_detector(rule, values, scores, np.zeros(values.shape, dtype=bool), trained)
    assert np.array_equal(out, lab_out) and np.array_equal(bits, lab_bits)
    plain, _, plain_levels = core.calibrate(values, scores, trained, **params)
    assert (levels >= plain_levels).all() and ((levels > plain_levels).any() or period < 12)   # it only adds


def test_daily_profile_flags_a_normal_value_at_the_wrong_time_of_day() -> None:
    period = 48
    values, _, _ = _daily_series(40 * period, 2, period, seed=3)
    cycle = np.repeat((5.0 * np.sin(2 * np.pi * np.arange(len(values)) / period))[:, None], 2, axis=1)
    values = np.where(np.isnan(values), cycle, values)        # no gaps here
    scores = np.zeros(values.shape)             # the k-means score never saturates: only the profile can tell
    trained = np.ones(values.shape, dtype=bool)
    day_slot = ((np.arange(len(values)) % period) * 12 // period).astype(np.int32)
    out, bits, _ = core.calibrate(values, scores, trained, **DAY, day_ticks_per_slot=period / 12,
                                  day_slot=day_slot)
    flipped = slice(len(values) - 3 * period, len(values) - 3 * period + period // 4)
    settled = 10 * period                       # the profile's first days are still noisy
    assert bits[flipped, 0].any() and not bits[settled:flipped.start, 0].any() and not bits[settled:, 1].any()
    assert not core.calibrate(values, scores, trained)[1].any()     # without the profile: nothing


def test_daily_profile_rests_without_a_slot_and_a_bank_equals_calibrate() -> None:
    period = 24
    values, scores, trained = _daily_series(30 * period, 16, period, seed=5)
    day_slot = ((np.arange(len(values)) % period) * 12 // period).astype(np.int32)
    day_slot[100:130] = -1                                     # no slot: the profile rests
    bank = core.Bank(calibration="surprise", **LEVEL, **DAY, day_ticks_per_slot=period / 12)
    for _ in range(values.shape[1]):
        bank.add_slot()
    visits_before = None
    for i in range(len(values)):
        if i == 100:
            visits_before = bank.calibration_state()["day_visits"].copy()
        if i == 130:
            assert np.array_equal(bank.calibration_state()["day_visits"], visits_before)
        bank.tick(values[i], day_slot=int(day_slot[i]))
    state = bank.calibration_state()
    assert state["day_mean"].shape == (16, 12)
    valued = ~np.isnan(values)
    assert state["day_visits"].sum() == valued.sum() - valued[100:130].sum()
    for slot in range(12):   # visits per slot of the day, per dimension
        at = (day_slot == slot)
        assert np.array_equal(state["day_visits"][:, slot], valued[at].sum(axis=0))


def test_daily_profile_parameters_and_day_slots_are_checked() -> None:
    for bad, word in ((dict(day_slots=0), "day_slots"), (dict(day_slots=1441), "day_slots"),
                      (dict(day_slots=2.5), "day_slots"), (dict(day_ticks_per_slot=0.0), "day_ticks_per_slot"),
                      (dict(day_memory=0.0), "day_memory"), (dict(day_span=0.5), "day_span"),
                      (dict(day_long_memory=math.nan), "day_long_memory"), (dict(day_decades=-1.0), "day_decades")):
        with pytest.raises(ValueError, match=word):
            core.Bank(calibration="surprise", **{**DAY, **bad})
    core.Bank(calibration="surprise", day_decades=0.0, day_slots=0)     # off: the rest is not used
    bank = core.Bank(calibration="surprise", **DAY)
    bank.add_slot()
    for slot in (12, -2):
        with pytest.raises(ValueError, match="day_slot"):
            bank.tick([1.0], day_slot=slot)
    assert bank.tick([1.0], day_slot=11).shape == (1,)
    with pytest.raises(ValueError, match="one per tick"):
        core.calibrate(np.ones((3, 1)), np.zeros((3, 1)), np.ones((3, 1), bool), **DAY, day_slot=[0, 1])
    with pytest.raises(ValueError, match="not below day_slots"):
        core.calibrate(np.ones((3, 1)), np.zeros((3, 1)), np.ones((3, 1), bool), **DAY, day_slot=[0, 1, 12])
    assert "day_decades=10.0, day_slots=12.0" in repr(bank)
    assert (bank.day_decades, bank.day_slots, bank.day_warmup, bank.day_memory, bank.day_span,
            bank.day_long_memory) == (10.0, 12.0, 2.0, 7.0, 10.0, 500.0)


@pytest.mark.skipif(len(KERNELS) < 2, reason="this processor has no AVX2: one daily-profile path only")
def test_daily_profile_is_the_same_on_both_kernels() -> None:
    """The scalar lanes (kernel 'baseline') and the AVX2 ones give identical state and outputs."""
    period = 24
    values, _, _ = _daily_series(20 * period, 29, period, seed=8)
    values[50, 3] = np.inf
    values[60, 4] = 1e30                                         # beyond storable: a gap too
    banks = [core.Bank(calibration="surprise", kernel=kernel, **LEVEL, **DAY, day_ticks_per_slot=period / 12)
             for kernel in KERNELS]
    history = np.sin(np.linspace(0.0, 20.0, 400))
    for bank in banks:
        for _ in range(values.shape[1]):
            bank.add_slot()
        bank.train(list(range(values.shape[1])), [history] * values.shape[1], min_samples=100)
    for i in range(len(values)):
        slot = (i % period) * 12 // period
        outs = [bank.tick(values[i], want_bits=True, want_scores=True, want_levels=True, day_slot=slot)
                for bank in banks]
        for a, b in zip(outs[0], outs[1]):
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    states = [bank.calibration_state() for bank in banks]
    for key in states[0]:
        assert np.array_equal(states[0][key], states[1][key], equal_nan=True), key
    assert (states[0]["day_lseen"] > 0).any()


def test_memory_of_the_daily_profile_is_28_bytes_and_20_per_slot_of_the_day() -> None:
    plain = core.Bank(capacity=4096, calibration="surprise", **LEVEL)
    daily = core.Bank(capacity=4096, calibration="surprise", **LEVEL, **DAY)
    extra = (daily.memory_bytes() - plain.memory_bytes()) / 4096
    assert 28.0 + 20.0 * 12 <= extra < 28.0 + 20.0 * 12 + 1.0


def test_a_host_gives_each_tick_its_slot_of_the_day_from_its_timestamp() -> None:
    import pyml

    host = pyml.Host("day", pyml.MLConfig(profile="pyml"), update_every=1, background=False)
    try:
        host.add_chart("c", ["a", "b"])
        day0 = 1_700_006_400 - 1_700_006_400 % 86400
        times = [day0 + 3 * 7200 + i for i in range(5)] + [day0 + 86400 + 11 * 7200 + 5]   # slot 3, then slot 11
        for t in times:
            host.collect_all(t, np.array([1.0, np.nan]))
        visits = host._bank.calibration_state()["day_visits"][host._slot_index]   # by dimension
        assert visits.shape[1] == 12
        assert visits[0, 3] == 5 and visits[0, 11] == 1 and visits[0].sum() == 6 and visits[1].sum() == 0
        assert core.day_slot_of(day0 + 86399, 1, 12) == 11 and core.day_slot_of(day0 + 7199, 1, 12) == 0
        assert core.day_slot_of(day0 + 3600, 300, 12) == 0 and core.day_slot_of(day0 + 7200, 300, 12) == 1
    finally:
        host.close()
