"""NAB scoring: hand-computed cases, a brute-force oracle, NAB's published numbers, the results layout."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from pyml.lab import (
    NAB_PROFILES,
    CostMatrix,
    as_timestamps,
    event_metrics,
    load_corpus,
    load_profiles,
    load_windows,
    point_labels,
    probationary_length,
    read_results,
    read_series,
    results_path,
    scaled_sigmoid,
    score_corpus,
    threshold_scores,
    window_bounds,
    write_results,
)

NAB = Path(__file__).parent / "data" / "nab"
T0 = np.datetime64("2020-01-01T00:00:00", "s")
STEP = np.timedelta64(60, "s")

# ---------------------------------------------------------------------------
# The tiny file: 20 rows one minute apart, one window over rows 10..14 (w = 5).
# The probationary period is floor(0.15 * 20) = 3 rows (rows 0..2 ignored).
#
# scaled sigmoid: sigma(y) = 2 / (1 + exp(5 y)) - 1 = -tanh(2.5 y)
# In the window, y = -(14 - i + 1) / 5 and a detection is worth sigma(y) / sigma(-1):
#   row 10: y = -1.0, sigma = tanh(2.5) = 0.98661429815  -> 1.0
#   row 12: y = -0.6, sigma = tanh(1.5) = 0.90514825364  -> 0.91742868043
# After the window, y = (i - 14) / (5 - 1) and a false positive costs fp_weight * sigma(y):
#   row 17: y = 0.75, sigma = -tanh(1.875) = -0.95404526018 -> -0.10494497862 (standard)
# Before any window a false positive costs -fp_weight (-0.11 standard).
# ---------------------------------------------------------------------------
TANH_2_5 = 0.9866142981514303
TP_ROW12 = 0.9051482536448664 / TANH_2_5  # 0.91742868043
FP_ROW17 = -0.9540452601799487  # unweighted
EVERYTHING_STANDARD = -0.2473658396442781  # every scored row detected, standard weights (see test)
NAME = "tiny/one_window.csv"


def tiny(scores: dict[int, float], n: int = 20) -> tuple[dict, dict]:
    stamps = T0 + STEP * np.arange(n)
    values = np.zeros(n)
    for row, score in scores.items():
        values[row] = score
    windows = {NAME: [(stamps[10], stamps[14])]}
    return {NAME: (stamps, values)}, windows


# Detections: row 1 (probationary), row 5 (before the window), rows 12 and 13 (in
# it; only 12 counts), row 17 (after it).
TINY_SCORES = {1: 1.0, 5: 0.9, 12: 0.8, 13: 0.8, 17: 0.7}


def test_scaled_sigmoid_hand_values():
    got = scaled_sigmoid([-1.0, -0.6, 0.0, 0.75, 1.0, 3.0, 3.0001, 50.0])
    expected = [TANH_2_5, math.tanh(1.5), 0.0, -math.tanh(1.875), -TANH_2_5, -math.tanh(7.5), -1.0, -1.0]
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1e-16)
    assert math.tanh(1.5) == pytest.approx(0.905148253645)
    assert math.tanh(1.875) == pytest.approx(0.954045260180)


def test_probationary_length_follows_nab():
    assert probationary_length(20) == 3  # floor(3.0)
    assert probationary_length(4032) == 604  # floor(604.8)
    assert probationary_length(1127) == 169
    assert probationary_length(5000) == 750
    assert probationary_length(22695) == 750  # capped at 0.15 * 5000
    assert probationary_length(0) == 0
    assert probationary_length(100, 0.0) == 0
    assert probationary_length(100, 0.1) == 10
    with pytest.raises(ValueError, match="probationary_percent"):
        probationary_length(100, 1.0)
    with pytest.raises(ValueError, match="n_points"):
        probationary_length(-1)


def test_tiny_file_standard_by_hand():
    results, windows = tiny(TINY_SCORES)
    out = score_corpus(results, windows, {"standard": NAB_PROFILES["standard"]})["standard"]
    # Thresholds tried: 1.1 (nothing) -> -1; 0.9 -> -1.11; 0.8 -> -0.11 + 0.91743;
    # 0.7 -> that - 0.10494; 0.0 -> everything. 0.8 is best.
    assert out.threshold == 0.8
    raw = -0.11 + TP_ROW12
    assert out.raw == pytest.approx(raw, abs=1e-12)
    assert out.raw == pytest.approx(0.8074286804284079, abs=1e-12)
    file = out.files[NAME]
    assert (file.tp, file.fp, file.fn, file.tn) == (2, 1, 3, 11)  # rows 12, 13 | 5 | 10, 11, 14 | the other 11
    assert (file.windows, file.windows_detected, file.rows, file.probationary_rows) == (1, 1, 20, 3)
    # Null detector: a constant score detects nothing (-1) or every scored row:
    # row 10 (+1.0), rows 3..9 (7 * -0.11) and rows 15..19 after the window.
    after = sum(-math.tanh(2.5 * (i - 14) / 4) for i in range(15, 20))
    everything = 1.0 - 7 * 0.11 + 0.11 * after
    assert everything == pytest.approx(EVERYTHING_STANDARD, abs=1e-12)
    assert out.null == pytest.approx(max(-1.0, everything), abs=1e-12)
    assert out.perfect == 1.0
    assert out.score == pytest.approx(100 * (raw - everything) / (1.0 - everything), abs=1e-9)
    assert out.score == pytest.approx(84.56176, abs=1e-4)  # 100 * 1.05479 / 1.24737


def test_threshold_curve_by_hand():
    results, windows = tiny(TINY_SCORES)
    thresholds, raw = threshold_scores(results, windows, NAB_PROFILES["standard"])
    # Row 1's score (1.0) is probationary, so it is not a candidate.
    np.testing.assert_array_equal(thresholds, [1.1, 0.9, 0.8, 0.7, 0.0])
    expected = [-1.0, -1.11, -0.11 + TP_ROW12, -0.11 + TP_ROW12 + 0.11 * FP_ROW17, EVERYTHING_STANDARD]
    np.testing.assert_allclose(raw, expected, atol=1e-12)


def test_profiles_weights_by_hand():
    results, windows = tiny(TINY_SCORES)
    out = score_corpus(results, windows)  # NAB's three profiles by default
    assert set(out) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    low_fp = out["reward_low_FP_rate"]  # fp 0.22: 0.8 -> -0.22 + 0.91743; everything -> -1.49
    assert low_fp.threshold == 0.8
    assert low_fp.raw == pytest.approx(-0.22 + TP_ROW12, abs=1e-12)
    everything_fp = 1.0 - 7 * 0.22 + 2 * (EVERYTHING_STANDARD - 1.0 + 0.77)
    assert everything_fp < -1.0 and low_fp.null == -1.0
    assert low_fp.score == pytest.approx(100 * (low_fp.raw + 1.0) / 2.0, abs=1e-9)
    low_fn = out["reward_low_FN_rate"]  # fn 2: missing costs -2, the rest as standard
    assert low_fn.threshold == 0.8
    assert low_fn.raw == pytest.approx(-0.11 + TP_ROW12, abs=1e-12)
    assert low_fn.null == pytest.approx(EVERYTHING_STANDARD, abs=1e-12)
    # A profile with tp_weight 2 doubles the window's reward and the perfect score.
    double = score_corpus(results, windows, {"x": CostMatrix(2.0, 0.11, 1.0)})["x"]
    assert double.raw == pytest.approx(-0.11 + 2 * TP_ROW12, abs=1e-12)
    assert double.perfect == 2.0
    # Profiles in NAB's JSON form are accepted and equal the built-in ones.
    assert load_profiles(NAB / "config" / "profiles.json") == NAB_PROFILES


def test_only_first_detection_in_window_counts():
    base = {12: 0.8}
    one = score_corpus(*tiny(base), thresholds=0.5)["standard"]
    more = score_corpus(*tiny({12: 0.8, 13: 0.8, 14: 0.8}), thresholds=0.5)["standard"]
    assert one.raw == more.raw == pytest.approx(TP_ROW12, abs=1e-12)
    assert more.files[NAME].tp == 3  # rows are still counted as NAB counts them
    earliest = score_corpus(*tiny({10: 0.8, 12: 0.8}), thresholds=0.5)["standard"]
    assert earliest.raw == pytest.approx(1.0, abs=1e-12)


def test_false_positive_after_window_and_before_any():
    before = score_corpus(*tiny({4: 0.8}), thresholds=0.5)["standard"]
    assert before.raw == pytest.approx(-1.0 - 0.11, abs=1e-12)
    after = score_corpus(*tiny({17: 0.8}), thresholds=0.5)["standard"]
    assert after.raw == pytest.approx(-1.0 + 0.11 * FP_ROW17, abs=1e-12)
    right_after = score_corpus(*tiny({15: 0.8}), thresholds=0.5)["standard"]
    assert right_after.raw == pytest.approx(-1.0 - 0.11 * math.tanh(2.5 * 0.25), abs=1e-12)
    # Far enough past the window (y > 3, i.e. more than 12 rows after it) costs -fp_weight.
    far = score_corpus(*tiny({27: 0.8}, n=40), thresholds=0.5)["standard"]
    assert far.raw == pytest.approx(-1.0 - 0.11, abs=1e-12)
    edge = score_corpus(*tiny({26: 0.8}, n=40), thresholds=0.5)["standard"]
    assert edge.raw == pytest.approx(-1.0 - 0.11 * math.tanh(7.5), abs=1e-12)


def test_probationary_detections_and_windows_are_ignored():
    ignored = score_corpus(*tiny({0: 1.0, 2: 1.0}), thresholds=0.5)["standard"]
    assert ignored.raw == -1.0 and ignored.fp == 0
    # A window wholly inside the probationary period is not scored (NAB counts it for the perfect score).
    stamps = T0 + STEP * np.arange(20)
    windows = {NAME: [(stamps[0], stamps[2])]}
    out = score_corpus({NAME: (stamps, np.zeros(20))}, windows, thresholds=0.5)["standard"]
    assert (out.raw, out.windows, out.perfect) == (0.0, 0, 1.0)
    # A window straddling the end of the probationary period keeps its full width:
    # rows 1..5 (w = 5); a detection at row 3 sits at y = -(5 - 3 + 1) / 5 = -0.6.
    windows = {NAME: [(stamps[1], stamps[5])]}
    scores = np.zeros(20)
    scores[3] = 1.0
    out = score_corpus({NAME: (stamps, scores)}, windows, thresholds=0.5)["standard"]
    assert out.raw == pytest.approx(TP_ROW12, abs=1e-12)
    assert out.windows == 1
    # With no probationary period, row 1 is scored.
    out = score_corpus({NAME: (stamps, scores)}, windows, thresholds=0.5, probationary_percent=0.0)["standard"]
    assert out.raw == pytest.approx(TP_ROW12, abs=1e-12)


def _reference_raw(files, windows, cost, threshold, probationary_percent=0.15):
    """NAB's rules row by row, written plainly: the oracle for the vectorised scorer."""
    total = 0.0
    for name, (stamps, scores) in files.items():
        n = len(scores)
        first = math.ceil(min(math.floor(probationary_percent * n), probationary_percent * 5000))
        bounds = [(int(np.flatnonzero(stamps == a)[0]), int(np.flatnonzero(stamps == b)[0])) for a, b in windows[name]]
        best = {k: None for k, (a, b) in enumerate(bounds) if b >= first}
        for i in range(first, n):
            if scores[i] < threshold:
                continue
            inside = [k for k, (a, b) in enumerate(bounds) if a <= i <= b]
            if inside:
                k = inside[0]
                a, b = bounds[k]
                y = -(b - i + 1) / (b - a + 1)
                value = cost.tp_weight * math.tanh(-2.5 * y) / TANH_2_5
                if best[k] is None:
                    best[k] = value
                continue
            previous = [(a, b) for a, b in bounds if b < i]
            if not previous:
                total -= cost.fp_weight
            else:
                a, b = previous[-1]
                y = (i - b) / (b - a) if b > a else math.inf  # a one-row window has no extent
                total += cost.fp_weight * (-1.0 if y > 3 else -math.tanh(2.5 * y))
        total += sum(-cost.fn_weight if v is None else v for v in best.values())
    return total


def _random_corpus(rng, n_files=3):
    files, windows = {}, {}
    for f in range(n_files):
        n = int(rng.integers(60, 160))
        stamps = T0 + STEP * np.arange(n)
        # Quantised scores, so that many rows share a threshold.
        scores = np.round(rng.random(n) ** 3 * 20) / 20
        cuts = np.sort(rng.choice(np.arange(10, n), size=4, replace=False))
        name = f"cat/file{f}.csv"
        files[name] = (stamps, scores)
        windows[name] = [(stamps[cuts[0]], stamps[cuts[1]]), (stamps[cuts[2] + 1], stamps[cuts[3]])] if cuts[2] > cuts[1] else []
    return files, windows


@pytest.mark.parametrize("seed", range(6))
def test_threshold_search_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    files, windows = _random_corpus(rng)
    for name, cost in NAB_PROFILES.items():
        thresholds, raw = threshold_scores(files, windows, cost)
        for t, r in zip(thresholds, raw):
            assert r == pytest.approx(_reference_raw(files, windows, cost, t), abs=1e-9)
        candidates = sorted({float(s) for _, scores in files.values() for s in scores}, reverse=True)
        brute = {t: _reference_raw(files, windows, cost, t) for t in [1.1] + candidates}
        best = max(brute.values())
        out = score_corpus(files, windows, {name: cost})[name]
        assert out.raw == pytest.approx(best, abs=1e-9)
        assert out.threshold == max(t for t, v in brute.items() if v >= best - 1e-9)


def test_threshold_search_picks_best_among_candidates():
    # Detecting the 0.6 row helps (early in the window) and the 0.4 rows hurt (false positives).
    results, windows = tiny({10: 0.6, 5: 0.4, 6: 0.4, 17: 0.9})
    out = score_corpus(results, windows, {"standard": NAB_PROFILES["standard"]})["standard"]
    assert out.threshold == 0.6
    assert out.raw == pytest.approx(1.0 + 0.11 * FP_ROW17, abs=1e-12)
    fixed = score_corpus(results, windows, thresholds={"standard": 0.9})["standard"]
    assert fixed.threshold == 0.9 and fixed.raw == pytest.approx(-1.0 + 0.11 * FP_ROW17, abs=1e-12)
    # A lower threshold that only adds later rows of a detected window scores the same: the higher one wins.
    tie = score_corpus(*tiny({12: 0.8, 13: 0.7}), {"standard": NAB_PROFILES["standard"]})["standard"]
    assert tie.threshold == 0.8 and tie.raw == pytest.approx(TP_ROW12, abs=1e-12)
    thresholds, raw = threshold_scores(*tiny({12: 0.8, 13: 0.7}), NAB_PROFILES["standard"])
    np.testing.assert_array_equal(thresholds, [1.1, 0.8, 0.7, 0.0])
    assert raw[1] == raw[2]  # 0.8 and 0.7: exactly equal
    # An earlier row of the window at a lower score is worth lowering the threshold for.
    earlier = score_corpus(*tiny({13: 0.8, 12: 0.7}), {"standard": NAB_PROFILES["standard"]})["standard"]
    assert earlier.threshold == 0.7 and earlier.raw == pytest.approx(TP_ROW12, abs=1e-12)
    # Binary detections are scores of 0 and 1.
    detections = results[NAME][1] >= 0.6
    binary = score_corpus({NAME: (results[NAME][0], detections)}, windows)["standard"]
    assert binary.threshold == 1.0 and binary.raw == pytest.approx(out.raw, abs=1e-12)


def test_event_metrics_by_hand():
    results, windows = tiny(TINY_SCORES)
    m = event_metrics(results, windows, threshold=0.7)
    # Window detected (first at row 12, two minutes after its start); false positives at rows 5 and 17.
    assert (m.true_positives, m.false_negatives, m.false_positives) == (1, 0, 2)
    assert m.precision == pytest.approx(1 / 3)
    assert m.recall == 1.0
    assert m.f1 == pytest.approx(0.5)
    assert m.delays == (120.0,)
    assert m.mean_delay == m.median_delay == 120.0
    assert m.files[NAME].false_positives == 2
    # Above every score: the window is missed, nothing is detected.
    none = event_metrics(results, windows, threshold=0.95)
    assert (none.true_positives, none.false_negatives, none.false_positives) == (0, 1, 0)
    assert none.precision == none.recall == none.f1 == 0.0
    assert math.isnan(none.mean_delay) and math.isnan(none.median_delay)
    # The probationary detection at row 1 counts when there is no probationary period.
    all_rows = event_metrics(results, windows, threshold=0.7, probationary_percent=0.0)
    assert all_rows.false_positives == 3


def test_event_metrics_over_files_and_delays():
    stamps = T0 + STEP * np.arange(40)
    a = np.zeros(40)
    a[[20, 31]] = 1.0  # window 1 detected at its start, window 2 three minutes in
    b = np.zeros(40)
    b[8] = 1.0  # a false positive; its window is missed
    results = {"c/a.csv": (stamps, a), "c/b.csv": (stamps, b)}
    windows = {
        "c/a.csv": [(stamps[20], stamps[24]), (stamps[28], stamps[33])],
        "c/b.csv": [(stamps[30], stamps[35])],
    }
    m = event_metrics(results, windows)
    assert (m.true_positives, m.false_negatives, m.false_positives) == (2, 1, 1)
    assert m.delays == (0.0, 180.0)
    assert m.mean_delay == 90.0 and m.median_delay == 90.0
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(2 / 3)
    assert m.files["c/b.csv"].recall == 0.0


# ------------------------------------------------------------------ loading


def test_read_series_and_windows_of_nab_files():
    stamps, values = read_series(NAB / "data" / "realTraffic" / "speed_7578.csv")
    assert stamps.dtype == np.dtype("datetime64[s]") and values.dtype == np.float64
    assert len(stamps) == len(values) == 1127
    assert str(stamps[0]) == "2015-09-08T11:39:00" and values[0] == 73.0
    windows = load_windows(NAB / "labels" / "combined_windows.json")
    assert len(windows) == 58 and sum(len(w) for w in windows.values()) == 116
    assert windows["artificialNoAnomaly/art_flatline.csv"] == []
    speed = windows["realTraffic/speed_7578.csv"]
    assert speed[0] == (np.datetime64("2015-09-11T15:34:00"), np.datetime64("2015-09-11T17:54:00"))
    np.testing.assert_array_equal(window_bounds(stamps, speed), [[303, 331], [740, 768], [909, 937], [945, 973]])
    labels = point_labels(stamps, speed)
    assert labels.sum() == 4 * 29 and labels[303] == labels[331] == 1 and labels[302] == labels[332] == 0
    corpus = load_corpus(NAB / "data")
    assert sorted(corpus) == sorted(p.relative_to(NAB / "data").as_posix() for p in (NAB / "data").glob("*/*.csv"))


def test_repeated_timestamps_keep_file_order():
    stamps, _ = read_series(NAB / "data" / "realAdExchange" / "exchange-2_cpc_results.csv")
    assert (np.diff(stamps) == np.timedelta64(0, "s")).sum() == 1  # NAB's file repeats one timestamp
    windows = load_windows(NAB / "labels" / "combined_windows.json")["realAdExchange/exchange-2_cpc_results.csv"]
    np.testing.assert_array_equal(window_bounds(stamps, windows), [[244, 406]])
    repeated = stamps[int(np.flatnonzero(np.diff(stamps) == np.timedelta64(0, "s"))[0])]
    with pytest.raises(ValueError, match="matches 2 rows"):
        window_bounds(stamps, [(repeated, repeated)], name="x")


def test_as_timestamps_conversions_and_errors():
    expected = np.array(["2014-07-01T00:00:00", "2014-07-01T00:30:00"], dtype="datetime64[s]")
    for given in (
        ["2014-07-01 00:00:00", "2014-07-01 00:30:00"],
        ["2014-07-01 00:00:00.000000", "2014-07-01T00:30:00"],
        expected.astype("datetime64[ms]"),
        expected.astype(np.int64),
        expected.astype(np.int64).astype(np.float64),
    ):
        np.testing.assert_array_equal(as_timestamps("t", given), expected)
    with pytest.raises(ValueError, match=r"t\[1\] .* sub-second"):
        as_timestamps("t", ["2014-07-01 00:00:00", "2014-07-01 00:00:00.5"])
    with pytest.raises(ValueError, match=r"t\[0\] = 'yesterday' is not a timestamp"):
        as_timestamps("t", ["yesterday"])
    with pytest.raises(ValueError, match=r"t\[1\] = 1.5"):
        as_timestamps("t", [1.0, 1.5])
    with pytest.raises(ValueError, match="1-D"):
        as_timestamps("t", [[1, 2]])
    with pytest.raises(ValueError, match="NaT"):
        as_timestamps("t", np.array(["NaT"], dtype="datetime64[s]"))


def test_load_windows_and_profiles_reject_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"windows\['a/b.csv'\]\[0\] ends"):
        load_windows({"a/b.csv": [["2020-01-02 00:00:00", "2020-01-01 00:00:00"]]})
    with pytest.raises(ValueError, match=r"\[1\] starts .* before the previous window ends"):
        load_windows({"a/b.csv": [["2020-01-01", "2020-01-03"], ["2020-01-02", "2020-01-04"]]})
    with pytest.raises(ValueError, match="lacks fpWeight"):
        load_profiles({"p": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1}}})
    with pytest.raises(ValueError, match="fp_weight must be finite and >= 0"):
        CostMatrix(1.0, -0.1, 1.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:01:00,abc\n")
    with pytest.raises(ValueError, match=r"bad.csv:3: value 'abc'"):
        read_series(bad)
    bad.write_text("time,value\n")
    with pytest.raises(ValueError, match="header"):
        read_series(bad)


def test_score_corpus_rejects_bad_input():
    results, windows = tiny({12: 0.8})
    stamps, scores = results[NAME]
    with pytest.raises(ValueError, match=r"scores\[3\] = 1.5 is not an anomaly score"):
        bad = scores.copy()
        bad[3] = 1.5
        score_corpus({NAME: (stamps, bad)}, windows)
    with pytest.raises(ValueError, match=r"scores\[0\] = nan"):
        score_corpus({NAME: (stamps, np.full(20, np.nan))}, windows)
    with pytest.raises(ValueError, match=r"shape \(19,\); expected \(20,\)"):
        score_corpus({NAME: (stamps, scores[:-1])}, windows)
    with pytest.raises(ValueError, match="no entry in windows"):
        score_corpus({"other/x.csv": (stamps, scores)}, windows)
    with pytest.raises(ValueError, match=r"tiny/one_window.csv: window 0 start .* matches no row"):
        score_corpus(results, {NAME: [(stamps[10] + np.timedelta64(1, "s"), stamps[14])]})
    with pytest.raises(ValueError, match="unknown profiles"):
        score_corpus(results, windows, thresholds={"nope": 0.5})
    with pytest.raises(ValueError, match="probationary_percent"):
        score_corpus(results, windows, probationary_percent=-0.1)
    with pytest.raises(ValueError, match="threshold must be a number"):
        event_metrics(results, windows, threshold=float("nan"))


def test_corpus_without_windows_normalises_to_nan():
    stamps = T0 + STEP * np.arange(20)
    out = score_corpus({"c/x.csv": (stamps, np.zeros(20))}, {"c/x.csv": []})["standard"]
    assert out.raw == 0.0 and out.null == 0.0 and out.perfect == 0.0
    assert math.isnan(out.score)


# ------------------------------------------------------------------ real NAB files


@pytest.fixture(scope="module")
def nab_series():
    corpus = load_corpus(NAB / "data")
    windows = load_windows(NAB / "labels" / "combined_windows.json")
    return corpus, windows


def test_perfect_null_and_random_detectors_on_nab_files(nab_series):
    corpus, windows = nab_series
    perfect, null = {}, {}
    for name, (stamps, values) in corpus.items():
        scores = np.zeros(len(stamps))
        scores[window_bounds(stamps, windows[name])[:, 0]] = 1.0
        perfect[name] = (stamps, scores)
        null[name] = (stamps, np.full(len(stamps), 0.5))
    for profile, out in score_corpus(perfect, windows).items():
        assert out.score == pytest.approx(100.0, abs=1e-9), profile
        assert out.threshold == 1.0 and out.raw == out.perfect == 9.0 * out.cost.tp_weight
    for profile, out in score_corpus(null, windows).items():
        assert out.score == 0.0, profile
        assert out.raw == out.null == -9.0 * out.cost.fn_weight


def test_random_detector_scores_low_on_nab_files(nab_series):
    corpus, windows = nab_series
    numenta = score_corpus(read_results(NAB / "results", "numenta"), windows)
    rng = np.random.default_rng(20221114)
    runs = []
    for _ in range(8):
        scored = score_corpus({name: (stamps, rng.random(len(stamps))) for name, (stamps, _) in corpus.items()}, windows)
        # The optimised threshold can always detect nothing, so no detector scores below the null one.
        assert all(out.score >= 0.0 for out in scored.values())
        runs.append(scored)
    for profile in NAB_PROFILES:
        mean = float(np.mean([run[profile].score for run in runs]))
        # With 9 windows one random run varies a lot (5 to 55 standard); the mean stays low
        # (about 25 / 11 / 37 here; NAB's random detector scores 17 / 6 / 26 over all 58 series).
        assert mean < 45.0, (profile, mean)
        assert mean < numenta[profile].score - 10.0, (profile, mean, numenta[profile].score)


def test_reproduces_nab_published_per_file_scores(nab_series):
    """NAB's numenta detector, at NAB's published thresholds: NAB's published per-series scores."""
    _, windows = nab_series
    results = read_results(NAB / "results", "numenta")
    assert sorted(results) == sorted(nab_series[0])
    thresholds = json.loads((NAB / "config" / "thresholds.json").read_text())["numenta"]
    out = score_corpus(results, windows, load_profiles(NAB / "config" / "profiles.json"),
                       thresholds={p: v["threshold"] for p, v in thresholds.items()})
    checked = 0
    for profile, scored in out.items():
        with open(NAB / "results" / "numenta" / f"numenta_{profile}_scores.csv", newline="") as f:
            published = {row["File"]: row for row in csv.DictReader(f)}
        for name, file in scored.files.items():
            row = published[name]
            assert file.score == pytest.approx(float(row["Score"]), abs=1e-9), (profile, name)
            assert (file.tp, file.fp) == (int(row["TP"]), int(row["FP"])), (profile, name)
            checked += 1
    assert checked == 12


# ------------------------------------------------------------------ results layout


def test_write_results_in_nab_layout(tmp_path, nab_series):
    corpus, windows = nab_series
    rng = np.random.default_rng(7)
    triples = {name: (stamps, values, rng.random(len(stamps))) for name, (stamps, values) in corpus.items()}
    written = write_results(tmp_path, "pyml", triples, windows)
    name = "realTraffic/speed_7578.csv"
    path = results_path(tmp_path, "pyml", name)
    assert path == tmp_path / "pyml" / "realTraffic" / "pyml_speed_7578.csv"
    assert path in written and len(written) == len(corpus)
    lines = path.read_text().splitlines()
    data_lines = (NAB / "data" / name).read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score,label"
    assert len(lines) == len(data_lines)
    # Timestamps exactly as in NAB's data file; values and scores round-trip exactly.
    assert [line.split(",")[0] for line in lines[1:]] == [line.split(",")[0] for line in data_lines[1:]]
    rows = [line.split(",") for line in lines[1:]]
    np.testing.assert_array_equal([float(r[1]) for r in rows], triples[name][1])
    np.testing.assert_array_equal([float(r[2]) for r in rows], triples[name][2])
    np.testing.assert_array_equal([int(r[3]) for r in rows], point_labels(triples[name][0], windows[name]))
    back = read_results(tmp_path, "pyml")
    assert sorted(back) == sorted(corpus)
    for key, (stamps, scores) in back.items():
        np.testing.assert_array_equal(stamps, triples[key][0])
        np.testing.assert_array_equal(scores, triples[key][2])
    assert not list(tmp_path.rglob(".*.tmp"))


def test_write_results_validates_everything_first(tmp_path):
    results, windows = tiny({12: 0.8})
    stamps, scores = results[NAME]
    good = {"c/good.csv": (stamps, scores, scores)}
    bad = {"c/good.csv": (stamps, scores, scores), "c/zbad.csv": (stamps, scores, scores + 2.0)}
    windows = {"c/good.csv": [], "c/zbad.csv": []}
    with pytest.raises(ValueError, match=r"c/zbad.csv'\] anomaly_scores\[0\] = 2.0"):
        write_results(tmp_path, "pyml", bad, windows)
    assert not any(tmp_path.iterdir())
    with pytest.raises(ValueError, match="detector name 'my_detector'"):
        write_results(tmp_path, "my_detector", good, windows)
    with pytest.raises(ValueError, match="'<category>/<file>.csv'"):
        results_path(tmp_path, "pyml", "../escape.csv")
    with pytest.raises(FileNotFoundError, match="no results for detector 'absent'"):
        read_results(tmp_path, "absent")
