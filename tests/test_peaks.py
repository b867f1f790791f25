"""Score peaks (MLConfig.score_peak_window): the rule, its state, and the host's use of it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyml import Host, MLConfig
from pyml.engine.peaks import SCORE_CAP, ScorePeaks


def reference_peaks(scores: list[float], window: int) -> list[float]:
    """The rule, one slot, written plainly: remember the last report and when it was made."""
    out, remembered, when = [], None, None
    for t, score in enumerate(scores):
        s = min(score, SCORE_CAP)
        if when is not None and t - when > window:
            remembered = None
        if remembered is None or s > remembered:
            out.append(s)
            remembered, when = s, t
        else:
            out.append(0.0)
    return out


def test_hand_worked_sequence() -> None:
    peaks = ScorePeaks(window=3, size=1)
    scores = [0, 50, 40, 60, 60, 60, 60, 60, 250, 10]
    got = [float(peaks.update(np.array([float(s)]))[0]) for s in scores]
    # 50 rises over 0; 40 is below it; 60 rises; the plateau is reported again 4 ticks later;
    # 250 is capped at 100; 10 is below 100 and 100 is remembered.
    assert got == [0, 50, 0, 60, 0, 0, 0, 60, 100, 0]


@settings(max_examples=200, deadline=None)
@given(window=st.integers(1, 6),
       data=st.lists(st.lists(st.sampled_from([0.0, 10.0, 50.0, 99.0, 100.0, 150.0]), min_size=3, max_size=3),
                     min_size=1, max_size=40))
def test_vectorised_slots_follow_the_plain_rule(window: int, data: list[list[float]]) -> None:
    peaks = ScorePeaks(window=window, size=3)
    got = np.array([peaks.update(np.array(row)) for row in data])
    for slot in range(3):
        assert got[:, slot].tolist() == reference_peaks([row[slot] for row in data], window)


def test_bad_input_changes_nothing() -> None:
    peaks = ScorePeaks(window=2, size=2)
    peaks.update(np.array([30.0, 40.0]))
    before = peaks.state()
    with pytest.raises(ValueError, match=r"scores\[1\] is NaN"):
        peaks.update(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="2 elements"):
        peaks.update(np.array([1.0, 2.0, 3.0]))
    after = peaks.state()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    with pytest.raises(ValueError, match="window must be a positive number of ticks, got 0"):
        ScorePeaks(window=0)
    with pytest.raises(IndexError, match="slot 5"):
        peaks.reset(5)


def test_reset_forgets_a_slot() -> None:
    peaks = ScorePeaks(window=10, size=2)
    peaks.update(np.array([80.0, 80.0]))
    peaks.reset(1)
    assert peaks.update(np.array([70.0, 70.0])).tolist() == [0.0, 70.0]


def _level_series(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 10.0 + rng.normal(0, 1, n)
    x[300:320] += 40.0  # one incident lasting 20 ticks
    return x


def _replay(config: MLConfig, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    host = Host("peaks", config, background=False)
    host.add_chart("app.metric", ["value"])
    scores, bits = [], []
    for t, v in enumerate(x):
        s, b = host.collect_all(t, [v], want_scores=True)
        scores.append(float(s[0]))
        bits.append(bool(b[0]))
        host.train_due()
    host.close()
    return np.array(scores), np.array(bits)


def test_host_reports_peaks_and_keeps_bits() -> None:
    x = _level_series(400, seed=3)
    base = dict(min_train_samples=100, max_train_samples=200, train_every=100, diff_n=0, smooth_n=1, lag_n=0,
                charts_to_skip="!*", clamp=False)
    plain_scores, plain_bits = _replay(MLConfig(profile="netdata-1.33", **base), x)
    peak_scores, peak_bits = _replay(MLConfig(profile="netdata-1.33", score_peak_window=50, **base), x)
    # the stored bits do not change; the incident's 20 anomalous ticks are reported once
    assert np.array_equal(plain_bits, peak_bits)
    assert plain_bits[300:320].all()
    assert np.count_nonzero(peak_scores[300:320]) == 1 and peak_scores[300] == 100.0
    # every reported score is the tick's own score, capped
    reported = peak_scores > 0
    assert np.array_equal(peak_scores[reported], np.minimum(plain_scores[reported], 100.0))
    assert np.count_nonzero(peak_scores) < np.count_nonzero(plain_scores)
