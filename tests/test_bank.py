"""The dimension bank: per-tick features, scores, bits and words against
``core.features`` / ``Model.score`` / ``core.pack``, gaps, saturation, slots
and generations, persisted models, churn, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from pyml import _core, core

MAX_STORABLE = 1.6777215e21


def _bits(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).view(np.uint64)


class Reference:
    """One slot done the slow way: a window list, ``core.features`` and ``Model.score``."""

    def __init__(self, diff_n: int, smooth_n: int, lag_n: int, threshold: float, model=None) -> None:
        self.params = {"diff_n": diff_n, "smooth_n": smooth_n, "lag_n": lag_n}
        self.n = diff_n + max(smooth_n, 1) + lag_n
        self.threshold = threshold
        self.model = model
        self.window: list[float] = []

    def push(self, value: float, reset: bool = False) -> tuple[int, bool, float]:
        if not abs(value) <= MAX_STORABLE:   # NaN, inf, beyond the storage range: a gap
            self.window.clear()
            return int(core.pack(value, False, reset)), False, 0.0
        self.window = (self.window + [value])[-self.n:]
        score, bit = 0.0, False
        if len(self.window) == self.n and self.model is not None:
            feats = core.features(np.array(self.window), **self.params)
            assert feats.shape == (1, self.params["lag_n"] + 1)
            # Also the last row of the features of a longer series ending here.
            score = float(self.model.score(feats[-1]))
            bit = score >= 100.0 * self.threshold
        return int(core.pack(value, bit, reset)), bit, score


def _history(rng: np.random.Generator, kind: int, n: int = 400) -> np.ndarray:
    t = np.arange(n)
    if kind % 4 == 0:
        return np.cumsum(rng.normal(size=n)) + 50.0
    if kind % 4 == 1:
        return rng.integers(0, 5, n).astype(np.float64)
    if kind % 4 == 2:
        return 100.0 + 10.0 * np.sin(0.1 * t) + rng.normal(size=n)
    return np.where(t % 50 == 0, 1e4, rng.normal(size=n) * 1e-3)


def _values(rng: np.random.Generator, ticks: int, slots: int) -> np.ndarray:
    v = rng.normal(size=(ticks, slots)) * 5.0 + np.where(np.arange(slots) % 3 == 0, 1e3, 0.0)
    v[rng.random((ticks, slots)) < 0.03] = np.nan
    v[rng.random((ticks, slots)) < 0.01] = np.inf
    v[rng.random((ticks, slots)) < 0.01] = -3e21
    v[rng.random((ticks, slots)) < 0.05] *= 1e3   # spikes score high
    return v


@pytest.mark.parametrize(
    "diff_n, smooth_n, lag_n",
    [(1, 3, 5), (0, 3, 5), (1, 1, 5), (1, 0, 2), (1, 5, 0), (0, 2, 3), (1, 4, 1), (0, 1, 0)],
)
def test_tick_equals_features_score_and_pack(diff_n, smooth_n, lag_n):
    rng = np.random.default_rng(100 + 10 * diff_n + smooth_n + 7 * lag_n)
    slots, threshold = 13, 0.6
    bank = core.Bank(diff_n=diff_n, smooth_n=smooth_n, lag_n=lag_n, threshold=threshold)
    refs = []
    for i in range(slots):
        assert bank.add_slot() == i
        model = None
        if i % 4 != 3:   # every fourth slot stays untrained
            model = core.train(_history(rng, i), diff_n=diff_n, smooth_n=smooth_n, lag_n=lag_n)
            bank.set_model(i, model)
        refs.append(Reference(diff_n, smooth_n, lag_n, threshold, model))
    values = _values(rng, 60, slots)
    reset = rng.random(slots) < 0.3
    seen_bits = 0
    for row in values:
        words, bits, scores = bank.tick(row, reset=reset, want_bits=True, want_scores=True)
        assert words.dtype == np.uint32 and bits.dtype == np.bool_ and scores.dtype == np.float64
        want = [ref.push(v, r) for ref, v, r in zip(refs, row, reset)]
        np.testing.assert_array_equal(words, np.array([w for w, _, _ in want], dtype=np.uint32))
        np.testing.assert_array_equal(bits, np.array([b for _, b, _ in want]))
        np.testing.assert_array_equal(_bits(scores), _bits(np.array([s for _, _, s in want])))
        seen_bits += int(bits.sum())
    assert seen_bits > 0


def test_feature_vector_is_the_last_row_of_features_over_any_longer_series():
    # The window's vector equals features(series)[-1] for a series of any
    # length ending with the window: a model whose centres are that vector
    # scores it at its minimum distance.
    rng = np.random.default_rng(5)
    series = np.cumsum(rng.normal(size=200))
    last = core.features(series)[-1]
    window_only = core.features(series[-9:])
    assert window_only.shape == (1, 6)
    np.testing.assert_array_equal(_bits(window_only[-1]), _bits(last))
    model = core.train(series)
    bank = core.Bank()
    bank.add_slot()
    bank.set_model(0, model)
    for v in series[:-1]:
        bank.tick([v])
    _, _, score = bank.tick([series[-1]], want_bits=True, want_scores=True)
    assert _bits(score)[0] == _bits(np.array([model.score(last)]))[0]


def test_untrained_slots_are_normal_with_score_zero():
    bank = core.Bank(threshold=0.0)   # even a threshold of 0 does not flag a slot without a score
    bank.add_slot()
    for i in range(20):
        words, bits, scores = bank.tick([float(i * i)], want_bits=True, want_scores=True)
        assert scores[0] == 0.0 and not bits[0]
        assert words[0] == core.pack(float(i * i))
    assert not bank.trained(0) and bank.model(0) is None


def _always_anomalous_bank(size: int = 1) -> core.Bank:
    """A bank whose models score every full window 100."""
    rng = np.random.default_rng(1)
    model = core.train(rng.normal(size=300) * 1e-6)   # tiny training range
    bank = core.Bank()
    for slot in range(size):
        bank.add_slot()
        bank.set_model(slot, model)
    return bank


def test_nan_clears_the_window_and_yields_the_empty_word():
    bank = _always_anomalous_bank()
    seq = [float(100 + 7 * (i % 5)) for i in range(30)]
    bits = [bool(bank.tick([v], want_bits=True)[1][0]) for v in seq[:9]]
    assert bits == [False] * 8 + [True]   # anomalous once the window holds 9 values
    words, b, s = bank.tick([math.nan], want_bits=True, want_scores=True)
    assert words[0] == core.EMPTY_SLOT and not b[0] and s[0] == 0.0
    bits = [bool(bank.tick([v], want_bits=True)[1][0]) for v in seq[:9]]
    assert bits == [False] * 8 + [True]   # normal until the window refilled


@pytest.mark.parametrize("value", [math.inf, -math.inf, 2e21, -1e300])
def test_inf_and_beyond_range_are_saturated_and_a_gap(value):
    bank = _always_anomalous_bank()
    for i in range(9):
        bank.tick([float(i % 3)])
    words, bits, scores = bank.tick([value], want_bits=True, want_scores=True)
    assert words[0] == core.pack(value) != core.EMPTY_SLOT
    assert not bits[0] and scores[0] == 0.0
    assert [bool(bank.tick([1.0 + i % 2], want_bits=True)[1][0]) for i in range(9)] == [False] * 8 + [True]


def test_largest_storable_magnitude_is_not_a_gap():
    bank = _always_anomalous_bank()
    for _ in range(8):
        bank.tick([1.0])
    words, bits = bank.tick([MAX_STORABLE], want_bits=True)
    assert bits[0] and words[0] == core.pack(MAX_STORABLE, True)


def test_free_slots_and_reuse_with_generations():
    bank = core.Bank()
    assert [bank.add_slot() for _ in range(4)] == [0, 1, 2, 3]
    assert bank.size == 4 and len(bank) == 4 and bank.active == 4
    assert [bank.generation(s) for s in range(4)] == [0, 0, 0, 0]
    bank.remove_slot(2)
    bank.remove_slot(0)
    assert bank.size == 4 and bank.active == 2
    assert 2 not in bank and 1 in bank
    words = bank.tick([1.0, 2.0, 3.0, 4.0])
    assert words[0] == words[2] == core.EMPTY_SLOT
    assert words[1] == core.pack(2.0) and words[3] == core.pack(4.0)
    assert bank.add_slot() == 0 and bank.generation(0) == 1   # lowest free first
    assert bank.add_slot() == 2 and bank.generation(2) == 1
    assert bank.add_slot() == 4 and bank.generation(4) == 0
    bank.remove_slot(0)
    assert bank.add_slot() == 0 and bank.generation(0) == 2


def test_removing_a_slot_does_not_disturb_the_others():
    rng = np.random.default_rng(8)
    model = core.train(_history(rng, 2))
    values = _values(rng, 40, 20)
    a, b = core.Bank(), core.Bank()
    for bank in (a, b):
        for s in range(20):
            bank.add_slot()
            bank.set_model(s, model)
    for t, row in enumerate(values):
        if t == 10:
            a.remove_slot(7)
            a.remove_slot(15)
        if t == 20:
            assert a.add_slot() == 7
        wa, wb = a.tick(row), b.tick(row)
        keep = np.ones(20, dtype=bool)
        keep[[7, 15]] = False
        np.testing.assert_array_equal(wa[keep], wb[keep])
        if 10 <= t < 20:
            assert wa[7] == core.EMPTY_SLOT
        assert wa[15] == core.EMPTY_SLOT or t < 10


def test_reset_flag_scalar_and_per_slot():
    bank = core.Bank()
    for _ in range(3):
        bank.add_slot()
    v = np.array([1.0, np.nan, 3.0])
    np.testing.assert_array_equal(bank.tick(v, reset=True), core.pack(v, False, True))
    per_slot = np.array([True, False, False])
    np.testing.assert_array_equal(bank.tick(v, reset=per_slot), core.pack(v, False, per_slot))
    np.testing.assert_array_equal(bank.tick(v, reset=[0, 0, 1]), core.pack(v, False, [False, False, True]))
    np.testing.assert_array_equal(bank.tick(v), core.pack(v))


def test_models_persist_through_bytes():
    rng = np.random.default_rng(3)
    a = core.Bank()
    a.add_slot()
    report = a.train([0], [_history(rng, 0)], min_samples=100)
    assert report.status == ["trained"]
    a.tick([np.nan])
    restored = type(a.model(0)).from_bytes(a.model(0).to_bytes())
    b = core.Bank()
    b.add_slot()
    b.set_model(0, restored)
    for v in _values(rng, 40, 1)[:, 0]:
        assert a.tick([v])[0] == b.tick([v])[0]
    m = b.model(0)
    np.testing.assert_array_equal(_bits(np.asarray(m.centers)), _bits(np.asarray(a.model(0).centers)))
    assert (m.min_dist, m.max_dist) == (a.model(0).min_dist, a.model(0).max_dist)


def test_clear_model():
    bank = _always_anomalous_bank()
    assert bank.trained(0)
    bank.clear_model(0)
    assert not bank.trained(0) and bank.model(0) is None and bank.trained_count == 0
    for i in range(12):
        assert not bank.tick([float(i)], want_bits=True)[1][0]


def test_trained_mask_and_counts():
    bank = _always_anomalous_bank(3)
    bank.add_slot()
    bank.remove_slot(1)
    np.testing.assert_array_equal(bank.trained_mask(), [True, False, True, False])
    assert bank.trained_count == 2
    assert "2 trained" in repr(bank) and "3 active of 4 slots" in repr(bank)


def test_thousands_of_slots_churning_do_not_leak():
    rng = np.random.default_rng(11)
    bank = _always_anomalous_bank(3000)
    size, memory = bank.size, bank.memory_bytes()
    assert memory / size <= 256
    live = np.ones(size, dtype=bool)
    for _ in range(30):
        gone = rng.choice(np.flatnonzero(live), 500, replace=False)
        for slot in gone:
            bank.remove_slot(int(slot))
        live[gone] = False
        for _ in range(500):
            slot = bank.add_slot()
            assert not live[slot] and not bank.trained(slot)
            live[slot] = True
        words = bank.tick(rng.normal(size=size))
        assert np.all(words != 0)
    assert bank.size == size and bank.memory_bytes() == memory


# ---------------------------------------------------------------- bad input


def test_constructor_errors():
    with pytest.raises(ValueError, match="lag_n = 6"):
        core.Bank(lag_n=6)
    with pytest.raises(ValueError, match="diff_n = 2"):
        core.Bank(diff_n=2)
    with pytest.raises(ValueError, match="smooth_n = -1"):
        core.Bank(smooth_n=-1)
    with pytest.raises(ValueError, match="threshold"):
        core.Bank(threshold=-0.5)
    with pytest.raises(ValueError, match="threshold"):
        core.Bank(threshold=math.nan)


def test_tick_errors_change_nothing():
    bank = _always_anomalous_bank(2)
    for i in range(8):
        bank.tick([float(i % 3), float(i % 2 + 5)])
    with pytest.raises(ValueError, match="values has 3 elements; the bank has 2 slots"):
        bank.tick([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="1-dimensional"):
        bank.tick([[1.0, 2.0]])
    with pytest.raises(TypeError, match="values"):
        bank.tick(["a", "b"])
    with pytest.raises(ValueError, match="reset"):
        bank.tick([1.0, 2.0], reset=[True, False, True])
    with pytest.raises(ValueError, match="reset"):
        bank.tick([1.0, 2.0], reset=[2, 0])
    # The failed calls pushed nothing: the ninth value completes the window now.
    assert bank.tick([0.0, 5.0], want_bits=True)[1].all()


def test_core_class_refuses_conversions_with_named_errors():
    bank = _core.Bank()
    bank.add_slot()
    with pytest.raises(TypeError, match="values must be a float64 array, got dtype int64"):
        bank.tick(np.array([1], dtype=np.int64))
    with pytest.raises(TypeError, match="C-contiguous"):
        bank.tick(np.zeros(4)[::2])
    with pytest.raises(TypeError):
        bank.tick([1.0])   # a list: the Python class converts, the core does not
    with pytest.raises(TypeError, match="reset must be a bool array"):
        bank.tick(np.zeros(1), reset=np.zeros(1))


@pytest.mark.parametrize("method", ["remove_slot", "generation", "trained", "model", "clear_model"])
def test_unknown_and_removed_slots_raise_index_error(method):
    bank = core.Bank()
    bank.add_slot()
    bank.add_slot()
    bank.remove_slot(1)
    for slot in (1, 2, -1, 10**6):
        with pytest.raises(IndexError, match=f"slot {slot} is not a slot in use"):
            getattr(bank, method)(slot)
    with pytest.raises(TypeError, match="slot must be an integer, got 0.5"):
        getattr(bank, method)(0.5)
    with pytest.raises(TypeError, match="slot must be an integer"):
        getattr(bank, method)(True)


def test_set_model_errors():
    rng = np.random.default_rng(2)
    bank = core.Bank()
    bank.add_slot()
    wrong_dims = core.train(_history(rng, 0), lag_n=3)
    with pytest.raises(ValueError, match="this bank needs k = 2 and 6 coordinates"):
        bank.set_model(0, wrong_dims)
    assert not bank.trained(0)
    with pytest.raises(IndexError, match="slot 3"):
        bank.set_model(3, core.train(_history(rng, 0)))
    with pytest.raises(TypeError):
        bank.set_model(0, "not a model")


# ---------------------------------------------------------------- state machine


class SlotMachine(RuleBasedStateMachine):
    """Add, remove, tick, give models: the bank against a plain dictionary."""

    def __init__(self) -> None:
        super().__init__()
        self.bank = core.Bank(lag_n=1, smooth_n=1)   # window of 3 keeps the reference short
        self.model = core.train(np.arange(50.0) % 7, lag_n=1, smooth_n=1)
        self.size = 0
        self.live: dict[int, dict] = {}           # slot -> {"gen", "model", "window"}
        self.generations: dict[int, int] = {}

    @rule()
    def add(self) -> None:
        free = sorted(set(range(self.size)) - set(self.live))
        slot = self.bank.add_slot()
        if free:
            assert slot == free[0]
            self.generations[slot] += 1
        else:
            assert slot == self.size
            self.size += 1
            self.generations[slot] = 0
        self.live[slot] = {"model": None, "ref": Reference(1, 1, 1, 0.99)}

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def remove(self, data) -> None:
        slot = data.draw(st.sampled_from(sorted(self.live)))
        self.bank.remove_slot(slot)
        del self.live[slot]

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def give_model(self, data) -> None:
        slot = data.draw(st.sampled_from(sorted(self.live)))
        self.bank.set_model(slot, self.model)
        self.live[slot]["ref"].model = self.model

    @rule(data=st.data())
    def tick(self, data) -> None:
        values = data.draw(st.lists(st.one_of(st.floats(-1e3, 1e3), st.just(math.nan), st.just(math.inf)),
                                    min_size=self.size, max_size=self.size))
        words, bits, scores = self.bank.tick(np.array(values, dtype=np.float64), want_bits=True, want_scores=True)
        for slot in range(self.size):
            if slot in self.live:
                w, b, s = self.live[slot]["ref"].push(values[slot])
                assert (words[slot], bits[slot], _bits(scores[slot])) == (w, b, _bits(np.float64(s)))
            else:
                assert words[slot] == 0 and not bits[slot] and scores[slot] == 0.0

    @invariant()
    def bookkeeping(self) -> None:
        assert self.bank.size == self.size and self.bank.active == len(self.live)
        for slot in self.live:
            assert self.bank.generation(slot) == self.generations[slot]
        mask = self.bank.trained_mask()
        assert [bool(m) for m in mask] == [s in self.live and self.live[s]["ref"].model is not None
                                           for s in range(self.size)]


TestSlotMachine = SlotMachine.TestCase
TestSlotMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
