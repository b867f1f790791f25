"""User-written detectors (pyml.lab.custom): the interface, its checks, and the peaks example."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import pytest

from pyml.lab import load_windows, replay, score_replays
from pyml.lab.custom import Detector, apply_detector, detector_grid, replay_detector, run_detector, sweep_detectors, trace
from pyml.lab.detectors import peaks_detector
from pyml.lab.sweep import sweep

NAB = Path(__file__).parent / "data" / "nab"
# Files of NAB's tuning half (SHA-256 of the name starts with an even hex digit) in tests/data.
TUNING = Path(__file__).parent / "data" / "nab_tuning"
TUNING_FILES = [
    NAB / "data" / "realAWSCloudwatch" / "iio_us-east-1_i-a2eb1cd9_NetworkIn.csv",
    TUNING / "data" / "realAdExchange" / "exchange-4_cpc_results.csv",
    TUNING / "data" / "realTraffic" / "occupancy_t4013.csv",
]


# --------------------------------------------------------------------------- small kernels for the tests


@numba.njit
def _count_init(state, params):  # type: ignore[no-untyped-def]
    state[0] = params[0]


@numba.njit
def _count_step(state, params, value, score, bit, trained):  # type: ignore[no-untyped-def]
    # Reports the number of ticks seen (from the start value params[0]) plus the score; bit: trained and value > 0.
    state[0] += 1.0
    return state[0] + score, trained and value > 0.0


@numba.njit
def _no_init(state, params):  # type: ignore[no-untyped-def]
    pass


@numba.njit
def _one_value(state, params, value, score, bit, trained):  # type: ignore[no-untyped-def]
    return score


@numba.njit
def _swapped(state, params, value, score, bit, trained):  # type: ignore[no-untyped-def]
    return bit, score


@numba.njit
def _int_bit(state, params, value, score, bit, trained):  # type: ignore[no-untyped-def]
    return score, 1


@numba.njit
def _three_args(state, value, score):  # type: ignore[no-untyped-def]
    return score, False


@numba.njit
def _second_slot(state, params, value, score, bit, trained):  # type: ignore[no-untyped-def]
    state[1] = score
    return score, bit


@numba.njit
def _negative(state, params, value, score, bit, trained):  # type: ignore[no-untyped-def]
    state[0] += 1.0
    return (-1.0 if state[0] > 3.0 else 0.0), bit


def _plain_step(state, params, value, score, bit, trained):  # type: ignore[no-untyped-def]
    return score, bit


def test_the_kernels_see_each_dimension_and_tick() -> None:
    counter = Detector("count", state_size=1, init_state=_count_init, step=_count_step, params={"start": 10.0})
    values = np.array([[1.0, -1.0], [np.nan, 2.0], [3.0, 3.0]])
    scores = np.array([[0.0, 5.0], [0.0, 6.0], [50.0, 7.0]])
    bits = np.zeros((3, 2), dtype=bool)
    trained = np.array([[False, True], [True, True], [True, True]])
    out_scores, out_bits = run_detector(counter, values, scores, bits, trained)
    # each dimension starts from init_state (10), counts its own ticks, and adds the tick's score
    assert out_scores.tolist() == [[11.0, 16.0], [12.0, 18.0], [63.0, 20.0]]
    assert out_bits.tolist() == [[False, False], [False, True], [True, True]]
    assert run_detector(counter.with_params(start=0.0), values, scores, bits, trained)[0][0].tolist() == [1.0, 6.0]
    assert counter.label() == "count(start=10)"
    assert [d.label() for d in detector_grid(counter, start=[1, 2])] == ["count(start=1)", "count(start=2)"]


def test_peaks_detector_follows_the_engine_rule_by_hand() -> None:
    det = peaks_detector(window=3)
    scores = np.array([0, 50, 40, 60, 60, 60, 60, 60, 250, 10], dtype=float)[:, None]
    out, bits = run_detector(det, np.ones_like(scores), scores, scores > 90, np.ones_like(scores, dtype=bool),
                             np.array([3.0]))
    assert out[:, 0].tolist() == [0, 50, 0, 60, 0, 0, 0, 60, 100, 0]  # tests/test_peaks.py's hand-worked case
    assert np.array_equal(bits, scores > 90)  # the engine's bit passes through


@pytest.mark.parametrize("path", TUNING_FILES, ids=lambda p: p.name)
def test_peaks_detector_equals_the_builtin_peaks_on_nab_files(path: Path) -> None:
    builtin = replay(path, formulation="peaks", progress=False)
    custom = replay_detector(path, peaks_detector(), formulation="peaks")
    assert np.array_equal(custom.scores, builtin.scores)
    assert np.array_equal(custom.bits, builtin.bits)
    assert custom.events == builtin.events
    assert np.count_nonzero(custom.scores) > 0
    assert custom.extra["params"] == {"window": float(builtin.config.score_peak_window)}


def test_peaks_detector_equals_the_builtin_peaks_through_a_sweep() -> None:
    windows = load_windows(NAB / "labels" / "combined_windows.json")
    with ThreadPoolExecutor(2) as pool:
        builtin = sweep(TUNING_FILES, {"formulation": ["peaks"]}, windows, executor=pool)
        custom = sweep_detectors(TUNING_FILES, [None, peaks_detector()], windows, formulation="peaks",
                                 executor=pool)
    expected = builtin.rows[0]
    by_detector = {row.point["detector"]: row for row in custom.rows}
    assert set(by_detector) == {"builtin", "peaks(window=sized)"}
    assert custom.keys == ["formulation", "detector"]
    for row in by_detector.values():
        assert (row.standard, row.low_fp, row.low_fn, row.threshold) == \
            (expected.standard, expected.low_fp, expected.low_fn, expected.threshold)
        assert (row.precision, row.recall, row.f1, row.points) == \
            (expected.precision, expected.recall, expected.f1, expected.points)
    assert "peaks(window=sized)" in custom.table()
    # the engine's plain scores rank below the peaks on these files, in the same table
    with ThreadPoolExecutor(2) as pool:
        both = sweep_detectors(TUNING_FILES, [peaks_detector()], windows, executor=pool,
                               grid={"formulation": ["reference", "peaks"]})
    assert [r.point["formulation"] for r in both.rows][0] == "peaks"


def test_trace_keeps_every_tick_and_the_trained_flag() -> None:
    path = TUNING_FILES[0]
    engine = trace(path, formulation="reference")
    plain = replay(path, formulation="reference", profile="netdata-1.33", progress=False)
    assert engine.ticks == plain.ticks and engine.gap_ticks == plain.gap_ticks
    assert np.array_equal(np.minimum(engine.scores[engine.row_tick] / 100.0, 1.0), plain.scores)
    assert np.array_equal(engine.bits[engine.row_tick], plain.bits)
    # no score before the first model; the flag never drops once set
    first = int(np.argmax(engine.trained[:, 0]))
    assert first > 0 and engine.trained[first:, 0].all()
    assert not engine.scores[:first].any()
    assert engine.scores[first:].any()
    # None reports the engine's own output
    same = apply_detector(None, engine)
    assert np.array_equal(same.scores, plain.scores) and same.extra["detector"] == "engine"
    # a NAB file scores the same through either path
    windows = load_windows(NAB / "labels" / "combined_windows.json")
    name = f"{path.parent.name}/{path.name}"
    a, _ = score_replays({name: same}, windows)
    b, _ = score_replays({name: plain}, windows)
    assert a["standard"].score == b["standard"].score


def test_a_kernel_that_is_not_jitted_is_named() -> None:
    with pytest.raises(TypeError, match=r"'plain': step must be a numba-jitted function .*_plain_step"):
        Detector("plain", 0, _no_init, _plain_step).check()
    with pytest.raises(TypeError, match=r"init_state must be a numba-jitted function"):
        Detector("plain", 0, _no_init.py_func, _one_value).check()


@pytest.mark.parametrize("step, message", [
    (_one_value, r"step must return \(score: float, bit: bool\), it returns float64"),
    (_swapped, r"step must return \(score: float, bit: bool\), it returns .*bool.*float64"),
    (_int_bit, r"step must return \(score: float, bit: bool\), it returns .*int.*1"),
    (_three_args, r"step does not compile as step\(state, params, value, score, bit, trained\)"),
])
def test_wrong_types_are_named(step, message) -> None:  # type: ignore[no-untyped-def]
    det = Detector("bad", 0, _no_init, step)
    with pytest.raises(TypeError, match=message):
        det.check()
    with pytest.raises(TypeError, match=message):  # before any replay
        replay_detector(TUNING_FILES[0], det)


def test_a_wrong_state_size_is_named() -> None:
    det = Detector("short", state_size=1, init_state=_no_init, step=_second_slot)
    with pytest.raises(ValueError, match=r"'short': its kernels index the state beyond state_size=1"):
        det.check()
    Detector("long-enough", state_size=2, init_state=_no_init, step=_second_slot).check()
    # reading a parameter that is not there is caught the same way
    with pytest.raises(ValueError, match=r"beyond its 0 parameter"):
        Detector("no-params", state_size=1, init_state=_count_init, step=_count_step).check()


def test_bad_arguments_and_outputs_are_named() -> None:
    with pytest.raises(ValueError, match="state_size must be a non-negative integer, got -1"):
        Detector("x", -1, _no_init, _second_slot)
    with pytest.raises(TypeError, match="parameter window must be a number, got 'big'"):
        Detector("x", 2, _peaks_kernels()[0], _peaks_kernels()[1], params={"window": "big"})
    with pytest.raises(ValueError, match=r"detector 'peaks' has no parameter\(s\) width; its parameters: window"):
        peaks_detector().with_params(width=3)
    det = Detector("negative", 1, _no_init, _negative)
    zeros = np.zeros((6, 2))
    with pytest.raises(ValueError, match=r"returned score -1.0 at tick 3 of dimension 0"):
        run_detector(det, zeros, zeros, zeros > 0, zeros > 0)
    with pytest.raises(ValueError, match=r"bits has shape \(6,\); expected \(6, 2\)"):
        run_detector(peaks_detector(5), zeros, zeros, np.zeros(6, dtype=bool), zeros > 0)
    with pytest.raises(TypeError, match="detectors must hold Detector objects or None"):
        sweep_detectors(TUNING_FILES, ["peaks"], {})  # type: ignore[list-item]
    with pytest.raises(ValueError, match="same label"):
        sweep_detectors(TUNING_FILES, [peaks_detector(3), peaks_detector(3)], {})


def _peaks_kernels():  # type: ignore[no-untyped-def]
    det = peaks_detector()
    return det.init_state, det.step


def test_numba_is_not_imported_by_pyml_or_its_lab() -> None:
    code = "import sys, pyml, pyml.lab, pyml.lab.replay, pyml.lab.sweep; print('numba' in sys.modules)"
    # Outside the source tree: `-c` puts the working directory first on sys.path, and a checkout's pyml/
    # has no compiled core when the package under test is the installed one (CI).
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir())
    assert out.stdout.strip() == "False"
    code = "import sys, pyml.lab.custom; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir())
    assert out.stdout.strip() == "False"  # the interface module itself imports numba on first use


# --------------------------------------------------------------------------- the calibrated rule


def reference_surprise(values, scores, trained, window=120.0, memory=4000.0, decades=4.0, bit_level=0.75,
                       saturation=100.0, prior_rate=0.01):  # type: ignore[no-untyped-def]
    """surprise_detector's rule for one dimension, written plainly from its docstring."""
    import math

    rate, mean, var, seen, top, top_age, prev = prior_rate, 0.0, 0.0, 0, None, None, math.nan
    out_scores, out_bits = [], []
    for value, score, is_trained in zip(values, scores, trained):
        change, prev = value - prev, value
        report = 0.0
        if is_trained and not math.isnan(change):
            saturated = min(score, 100.0) >= saturation
            if saturated:
                g_rate = min(1.0, -math.log10(max(rate, 1e-12)) / decades)
                g_change = 0.0
                if seen >= 2:
                    tail = 0.5 * math.erfc(abs(change - mean) / (max(math.sqrt(var), 1e-9) * math.sqrt(2.0)))
                    g_change = min(1.0, max(0.0, -math.log10(tail + 1e-10) / 10.0))
                report = 50.0 + 50.0 * max(g_rate, g_change)
            else:
                report = 0.5 * min(score, 100.0)
            rate += (float(saturated) - rate) / min(seen + 2, memory)
            a = 1.0 / min(seen + 1, memory)
            d = change - mean
            mean += a * d
            var = (1.0 - a) * (var + a * d * d)
            seen += 1
        top_age = 0 if top_age is None else top_age + 1
        if top is not None and top_age > window:
            top = None
        if top is None or report > top:
            top, top_age = report, 0
            out_scores.append(report)
            out_bits.append(report >= 100.0 * bit_level)
        else:
            out_scores.append(0.0)
            out_bits.append(False)
    return out_scores, out_bits


def test_surprise_detector_follows_its_documented_rule() -> None:
    from pyml.lab.detectors import surprise_detector

    rng = np.random.default_rng(11)
    n, d = 600, 3
    values = rng.normal(10.0, 1.0, (n, d))
    values[rng.random((n, d)) < 0.02] = np.nan
    scores = np.where(rng.random((n, d)) < 0.03, 100.0, rng.uniform(0.0, 99.0, (n, d)))
    trained = np.arange(n)[:, None] >= np.array([0, 50, 200])[None, :]
    det = surprise_detector(window=20, memory=100)
    got_scores, got_bits = run_detector(det, values, scores, np.zeros((n, d), dtype=bool), trained)
    for j in range(d):
        want_scores, want_bits = reference_surprise(values[:, j], scores[:, j], trained[:, j], window=20, memory=100)
        np.testing.assert_allclose(got_scores[:, j], want_scores, rtol=1e-12, atol=1e-12)
        assert got_bits[:, j].tolist() == want_bits
    assert 0 < got_bits.sum() < 0.03 * n * d  # sparse


def test_surprise_detector_sets_one_bit_at_a_level_change() -> None:
    from pyml.lab.detectors import surprise_detector

    rng = np.random.default_rng(5)
    n = 2000
    values = 10.0 + rng.normal(0.0, 1.0, n)
    values[1500:] += 20.0  # the level changes once and stays
    scores = np.where(np.arange(n) >= 1500, 100.0, np.minimum(np.abs(values - 10.0) * 20.0, 99.0))
    out, bits = run_detector(surprise_detector(), values[:, None], scores[:, None], np.zeros((n, 1), dtype=bool),
                             np.ones((n, 1), dtype=bool))
    assert bits[1500, 0] and out[1500, 0] >= 75.0  # at the onset
    assert bits[:, 0].sum() == 1  # and never again while the new level lasts: the rate of saturation grows
