"""Training many slots of the bank: same models as ``core.train`` on the
gap-filled history, statuses, models applied by the next tick only, stale
models dropped, validation before any change, training on a background
thread while another ticks."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pyml import core


def _bits(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).view(np.uint64)


def _fill(history: np.ndarray) -> np.ndarray:
    """SPEC §4.4 by hand: drop leading NaNs, forward-fill the others."""
    exists = ~np.isnan(history)
    if not exists.any():
        return history[:0]
    h = history[np.argmax(exists):].copy()
    for i in range(1, h.size):
        if np.isnan(h[i]):
            h[i] = h[i - 1]
    return h


def _same_model(a, b) -> bool:
    return (np.array_equal(_bits(np.asarray(a.centers).reshape(-1)), _bits(np.asarray(b.centers).reshape(-1)))
            and _bits(a.min_dist) == _bits(b.min_dist) and _bits(a.max_dist) == _bits(b.max_dist))


def _walk(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.cumsum(rng.normal(size=n)) + 100.0


def _bank(slots: int, **kwargs) -> core.Bank:
    bank = core.Bank(**kwargs)
    for _ in range(slots):
        bank.add_slot()
    return bank


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_models_equal_core_train_on_the_gap_filled_history(threads):
    rng = np.random.default_rng(threads)
    bank = _bank(7)
    histories = []
    for i in range(7):
        h = _walk(rng, 300 + 31 * i)
        h[: 4 * i] = np.nan                       # leading gaps: dropped
        h[rng.random(h.size) < 0.05] = np.nan     # later gaps: forward-filled
        histories.append(h)
    report = bank.train(range(7), histories, min_samples=200, threads=threads)
    assert len(report) == 7 and report.status == ["trained"] * 7
    np.testing.assert_array_equal(report.slots, np.arange(7))
    np.testing.assert_array_equal(report.existing, [int((~np.isnan(h)).sum()) for h in histories])
    assert report.trained.all() and (report.seconds >= 0).all() and report.messages == [""] * 7
    assert bank.pending_models() == 7 and bank.trained_count == 0   # applied by the next tick only
    bank.tick(np.full(7, np.nan))
    assert bank.pending_models() == 0 and bank.trained_count == 7
    for slot in range(7):
        assert _same_model(bank.model(slot), core.train(_fill(histories[slot])))


def test_two_dimensional_histories_and_other_parameters():
    rng = np.random.default_rng(4)
    bank = _bank(3, diff_n=0, smooth_n=2, lag_n=3)
    histories = np.stack([_walk(rng, 250) for _ in range(3)])
    report = bank.train(np.array([2, 0, 1]), histories, min_samples=100, max_iterations=3)
    assert report.status == ["trained"] * 3
    bank.tick(np.zeros(3))
    for row, slot in enumerate([2, 0, 1]):
        want = core.train(histories[row], diff_n=0, smooth_n=2, lag_n=3, max_iterations=3)
        assert _same_model(bank.model(slot), want)


def test_too_few_points_and_errors_keep_the_previous_model():
    rng = np.random.default_rng(5)
    bank = _bank(3)
    bank.train([0, 1, 2], [_walk(rng, 300)] * 3, min_samples=100)
    bank.tick(np.zeros(3))
    before = [bank.model(s) for s in range(3)]
    sparse = _walk(rng, 300)
    sparse[::2] = np.nan                       # 150 points exist
    report = bank.train([0, 1, 2], [sparse, np.array([1.0, 2.0, 3.0]), np.full(50, np.nan)], min_samples=3)
    assert report.status == ["trained", "error", "too_few_points"]
    assert "too short" in report.messages[1]
    assert "0 points existed; 3 are needed" in report.messages[2]
    np.testing.assert_array_equal(report.trained, [True, False, False])
    np.testing.assert_array_equal(report.existing, [150, 3, 0])
    report = bank.train([0], [sparse], min_samples=151)
    assert report.status == ["too_few_points"] and "150 points existed; 151 are needed" in report.messages[0]
    assert "1 too_few_points" in repr(report)
    bank.tick(np.zeros(3))
    assert not _same_model(bank.model(0), before[0])      # trained on `sparse` by the first call
    assert _same_model(bank.model(1), before[1])
    assert _same_model(bank.model(2), before[2])


def test_models_apply_only_at_the_next_tick_and_stale_ones_are_dropped():
    rng = np.random.default_rng(6)
    bank = _bank(4)
    report = bank.train([0, 1, 2, 3], [_walk(rng, 200) for _ in range(4)], min_samples=100)
    assert report.trained.all()
    assert bank.pending_models() == 4 and bank.trained_count == 0
    bank.remove_slot(1)                    # removed while its model waits
    bank.remove_slot(2)
    assert bank.add_slot() == 1            # reused: generation 1, the queued model is stale
    bank.tick(np.zeros(4))
    assert bank.pending_models() == 0
    np.testing.assert_array_equal(bank.trained_mask(), [True, False, False, True])
    assert bank.model(1) is None
    assert bank.add_slot() == 2 and not bank.trained(2)


def test_bad_input_is_rejected_before_anything_changes():
    rng = np.random.default_rng(7)
    bank = _bank(3)
    good = _walk(rng, 200)
    with_inf = good.copy()
    with_inf[17] = np.inf
    cases = [
        (([0, 1], [good, with_inf]), {}, ValueError, r"histories\[1\] \(slot 1\) has inf at index 17"),
        (([0, 1], [good]), {}, ValueError, "histories has 1 entries for 2 slots"),
        (([0, 1], np.stack([good])), {}, ValueError, "histories has 1 rows for 2 slots"),
        (([0, 0], [good, good]), {}, ValueError, "slot 0 is listed more than once"),
        (([0, 5], [good, good]), {}, IndexError, "slot 5 is not a slot in use"),
        (([-1], [good]), {}, IndexError, "slot -1 is not a slot in use"),
        (([0], [good]), {"min_samples": 0}, ValueError, "min_samples = 0 must be at least 1"),
        (([0], [good]), {"max_iterations": 0}, ValueError, "max_iterations = 0"),
        (([0], [good]), {"threads": 0}, ValueError, r"threads = 0 is out of range \[1, 64\]"),
        (([0], [good]), {"threads": 65}, ValueError, "threads = 65"),
        (([0], [good]), {"threads": -2}, ValueError, "threads = -2"),
        (([0.5], [good]), {}, TypeError, r"slots\[0\] must be an integer, got 0.5"),
        (([0], [good]), {"min_samples": 1.5}, TypeError, "min_samples must be an integer"),
        (([0], [np.ones((2, 2))]), {}, ValueError, r"histories\[0\] must be 1-dimensional"),
        (([0], [["x"]]), {}, TypeError, r"histories\[0\] must be numeric"),
    ]
    for args, extra, error, message in cases:
        kwargs = {"min_samples": 10, **extra}
        with pytest.raises(error, match=message):
            bank.train(*args, **kwargs)
    bank.remove_slot(2)
    with pytest.raises(IndexError, match="slot 2 is not a slot in use"):
        bank.train([0, 2], [good, good], min_samples=10)
    assert bank.pending_models() == 0 and bank.training_in_progress() == 0
    bank.tick(np.zeros(3))
    assert bank.trained_count == 0
    assert len(bank.train([], [], min_samples=10)) == 0


def test_core_class_names_the_history_that_is_not_float64():
    from pyml import _core

    bank = _core.Bank()
    bank.add_slot()
    with pytest.raises(TypeError, match=r"histories\[0\] must be a float64 array, got dtype int64"):
        bank.train([0], [np.arange(100)], min_samples=10)
    with pytest.raises(TypeError, match=r"histories\[0\] must be a float64 array, got list"):
        bank.train([0], [[1.0, 2.0]], min_samples=10)
    with pytest.raises(TypeError, match="histories must be float64"):
        bank.train([0], np.zeros((1, 100), dtype=np.float32), min_samples=10)


def test_training_on_a_background_thread_while_ticking():
    rng = np.random.default_rng(8)
    size = 400
    bank = _bank(size)
    histories = [_walk(rng, 4000) for _ in range(size)]   # some 100 ms of training
    ticks = rng.normal(size=(64, size)) + 100.0
    result = {}

    def train() -> None:
        result["report"] = bank.train(range(size), histories, min_samples=1000, threads=2)

    worker = threading.Thread(target=train)
    worker.start()
    during = 0
    while worker.is_alive():
        words = bank.tick(ticks[during % 64])
        assert np.all(words != 0)
        during += 1
    worker.join()
    assert during > 0, "ticks must proceed while training runs"
    assert result["report"].trained.all()
    assert bank.training_in_progress() == 0
    bank.tick(ticks[0])
    assert bank.trained_count == size
    for slot in (0, 123, size - 1):
        assert _same_model(bank.model(slot), core.train(histories[slot]))


def test_a_new_model_applies_at_the_start_of_the_next_tick():
    rng = np.random.default_rng(9)
    bank = _bank(1)
    first, second = _walk(rng, 400), rng.normal(size=400) * 50.0
    bank.train([0], [first], min_samples=100)
    bank.tick([np.nan])
    old = bank.model(0)
    values = _walk(rng, 30)
    for v in values[:9]:
        _, _, score = bank.tick([v], want_bits=True, want_scores=True)
    assert _bits(score[0]) == _bits(old.score(core.features(values[:9])[-1]))
    bank.train([0], [second], min_samples=100)
    assert _same_model(bank.model(0), old)                 # queued, not applied yet
    _, _, score = bank.tick([values[9]], want_bits=True, want_scores=True)
    new = bank.model(0)
    assert _same_model(new, core.train(second))
    assert _bits(score[0]) == _bits(new.score(core.features(values[1:10])[-1]))


def test_while_a_slot_retrains_its_previous_model_keeps_scoring():
    rng = np.random.default_rng(10)
    bank = _bank(1)
    bank.train([0], [_walk(rng, 400)], min_samples=100)
    bank.tick([np.nan])
    old = bank.model(0)
    long_history = np.concatenate([rng.normal(size=30_000), rng.normal(size=30_000) * 40.0 + 500.0])
    new = core.train(long_history)
    values = _walk(rng, 64)
    for v in values[:8]:
        bank.tick([v])
    worker = threading.Thread(target=lambda: bank.train([0], [long_history], min_samples=100))
    worker.start()
    used, t = [], 8
    while worker.is_alive() or not used or used[-1] == "old":
        _, _, score = bank.tick([values[t % 64]], want_bits=True, want_scores=True)
        window = np.array([values[(t - 8 + i) % 64] for i in range(9)])
        feats = core.features(window)[-1]
        if _bits(score[0]) == _bits(old.score(feats)):
            used.append("old")
        else:
            assert _bits(score[0]) == _bits(new.score(feats))
            used.append("new")
        t += 1
    worker.join()
    # Every tick scored with one whole model, the old one until the new one
    # was applied, then the new one (on a busy machine the training may even
    # finish before the first of these ticks).
    assert used[-1] == "new"
    assert used == sorted(used, key=lambda u: u == "new"), "never back to the old model"
