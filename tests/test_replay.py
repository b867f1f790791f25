"""Replaying recorded data through the engine: readers, cadence, gaps, scores, events, CLI, NAB scoring."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import pyml
import pyml.lab
from pyml import MLConfig
from pyml.cli import main
from pyml.lab import load_windows, read_results, read_series, score_corpus
from pyml.lab.formats import Recording, read_csv, read_netdata_json, read_recording
from pyml.lab.replay import (
    collect_inputs,
    detect_update_every,
    lab_config,
    replay,
    replay_files,
    score_replays,
    write_points,
)

NAB = Path(__file__).parent / "data" / "nab"
ROGUE = NAB / "data" / "realKnownCause" / "rogue_agent_key_hold.csv"
SPEED = NAB / "data" / "realTraffic" / "speed_7578.csv"

T0 = 1_400_000_100  # a multiple of 300


def _signal(n: int, seed: int = 3, spike_at: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) * 2 * np.pi / 48) * 10 + rng.normal(0, 0.5, n) + 50
    if spike_at is not None:
        x[spike_at : spike_at + 3] += 80
    return x


def _iso(seconds: int) -> str:
    return str(np.datetime64(int(seconds), "s")).replace("T", " ")


def _write_nab_csv(path: Path, stamps: np.ndarray, values: np.ndarray) -> Path:
    lines = ["timestamp,value"] + [f"{_iso(t)},{v!r}" for t, v in zip(stamps.tolist(), values.tolist())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SMALL = {"min_train_samples": 100, "max_train_samples": 400, "train_every": 100, "clamp": False}


# --------------------------------------------------------------------------- readers


def test_nab_csv_reader_matches_the_lab_series_reader() -> None:
    rec = read_recording(ROGUE)
    stamps, values = read_series(ROGUE)
    assert rec.columns == ["value"]
    assert rec.values.shape == (len(values), 1)
    np.testing.assert_array_equal(rec.timestamps, stamps)
    np.testing.assert_array_equal(rec.values[:, 0], values)


def test_wide_csv_with_epoch_seconds_and_missing_cells(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(f"timestamp,user,system\n{T0},1.5,2\n{T0 + 10},,3\n{T0 + 20},4,nan\n", encoding="utf-8")
    rec = read_csv(path)
    assert rec.columns == ["user", "system"]
    assert rec.epoch_seconds.tolist() == [T0, T0 + 10, T0 + 20]
    assert rec.values[0].tolist() == [1.5, 2.0]
    assert math.isnan(rec.values[1, 0]) and rec.values[1, 1] == 3.0
    assert math.isnan(rec.values[2, 1])


def test_csv_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.csv:3: value 'abc' is not a number"):
        read_csv(path)
    path.write_text("when,value\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no 'timestamp'"):
        read_csv(path)


def test_netdata_json_rows_newest_first_become_oldest_first(tmp_path: Path) -> None:
    doc = {"labels": ["time", "user", "system"],
           "data": [[T0 + 2, 0.5, None], [T0 + 1, 0, 0.5025126], [T0, 0, 0.3350084]]}
    path = tmp_path / "cpu.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    rec = read_netdata_json(path)
    assert rec.columns == ["user", "system"]
    assert rec.epoch_seconds.tolist() == [T0, T0 + 1, T0 + 2]
    assert rec.values[0].tolist() == [0.0, 0.3350084]
    assert rec.values[2, 0] == 0.5 and math.isnan(rec.values[2, 1])
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"api": 1, "id": "system.cpu", "result": doc}), encoding="utf-8")
    np.testing.assert_array_equal(read_recording(wrapped).values, rec.values)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"labels": ["time", "x"], "data": [[T0, "high"]]}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"data\[0\]\[1\] = 'high' is not a number"):
        read_recording(bad)


def test_recording_checks_its_shape() -> None:
    stamps = np.array([T0, T0 + 1], dtype="datetime64[s]")
    with pytest.raises(ValueError, match="shape"):
        Recording("r", stamps, ["a", "b"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="repeated"):
        Recording("r", stamps, ["a", "a"], np.zeros((2, 2)))


# --------------------------------------------------------------------------- cadence and config


def test_cadence_is_the_median_step_between_distinct_timestamps() -> None:
    stamps = T0 + np.array([0, 300, 600, 600, 900, 1500, 1800, 2100, 2160])
    assert detect_update_every(stamps) == 300
    assert detect_update_every(stamps.astype("datetime64[s]")) == 300
    assert detect_update_every(T0 + np.arange(10) * 3600) == 3600
    with pytest.raises(ValueError, match="cadence"):
        detect_update_every([T0, T0])


def test_lab_config_sizes_training_to_nabs_probationary_period() -> None:
    cfg = lab_config(4032)
    assert (cfg.min_train_samples, cfg.max_train_samples, cfg.train_every) == (604, 2416, 604)
    assert cfg.clamp is False
    # NAB caps the probationary period at 15% of 5000 points.
    assert lab_config(22695).min_train_samples == 750
    # The reference's other settings are kept.
    ref = MLConfig(profile="netdata-1.33")
    assert (cfg.diff_n, cfg.smooth_n, cfg.lag_n, cfg.dimension_anomaly_score_threshold) == (
        ref.diff_n, ref.smooth_n, ref.lag_n, ref.dimension_anomaly_score_threshold)
    # Never below what two feature vectors need.
    assert lab_config(20).min_train_samples == 1 + 3 - 1 + 5 + 2
    with pytest.raises(ValueError, match="n_points"):
        lab_config(0)


# --------------------------------------------------------------------------- replay


def test_replay_scores_bits_and_events(tmp_path: Path) -> None:
    n = 1200
    stamps = T0 + 300 * np.arange(n)
    path = _write_nab_csv(tmp_path / "spiky.csv", stamps, _signal(n, spike_at=900))
    r = replay(path, MLConfig(profile="netdata-1.33", **SMALL))
    assert r.update_every == 300
    assert r.ticks == n and r.gap_ticks == 0 and r.merged_rows == 0
    assert r.scores.shape == r.bits.shape == (n, 1)
    assert ((r.scores >= 0) & (r.scores <= 1)).all()
    assert (r.scores[:100] == 0).all()  # nothing scores before the first model
    assert r.trainings >= 10  # first at 100 points, then every 100 ticks
    # The stored bits are exactly "score >= threshold" (away from the threshold's rounding).
    thr = r.config.dimension_anomaly_score_threshold
    clear = np.abs(r.scores - thr) > 1e-9
    np.testing.assert_array_equal(r.bits[clear], (r.scores >= thr)[clear])
    assert r.bits[900:906].any()
    assert r.scores[900:906].max() == 1.0
    assert r.bits[:900].mean() < 0.05
    # The spike run is long enough for the host detector to report an event around it.
    assert r.events, "expected an anomaly event"
    after, before = r.events[0]
    assert after <= stamps[905] and before >= stamps[900]


def test_collect_all_can_return_the_ticks_scores_and_bits() -> None:
    host = pyml.Host("h", MLConfig(profile="netdata-1.33", min_train_samples=30, max_train_samples=60, train_every=30, clamp=False),
                     update_every=1, background=False)
    host.add_chart("system.a", ["x", "y"])
    x = _signal(80)
    for t in range(1, 80):
        assert host.collect_all(t, [x[t], x[t] + 1]) is None
        host.train_due()
    scores, bits = host.collect_all(80, [x[0] + 500, np.nan], want_scores=True)
    assert scores.shape == bits.shape == (2,)
    assert scores[0] >= 99.0 and bits[0]
    assert scores[1] == 0 and not bits[1]  # a gap has no score
    host.close()


def test_gaps_are_fed_as_missing_ticks(tmp_path: Path) -> None:
    stamps = np.concatenate([T0 + 300 * np.arange(300), T0 + 300 * np.arange(310, 600)])
    path = _write_nab_csv(tmp_path / "gappy.csv", stamps, _signal(stamps.size))
    r = replay(path, MLConfig(profile="netdata-1.33", **SMALL))
    assert r.update_every == 300
    assert r.gap_ticks == 10
    assert r.ticks == 600
    # After the gap the feature window refills: D + S + L = 1 + 3 + 5 points without a score.
    i = 300
    assert (r.scores[i : i + 8, 0] == 0).all()
    assert (r.scores[i + 9 :, 0] > 0).any()


def test_repeated_and_backward_timestamps_reuse_the_newest_tick(tmp_path: Path) -> None:
    stamps = T0 + 300 * np.arange(400)
    stamps = np.concatenate([stamps[:200], [stamps[199], stamps[150]], stamps[200:]])
    path = _write_nab_csv(tmp_path / "dups.csv", stamps, _signal(stamps.size))
    r = replay(path, MLConfig(profile="netdata-1.33", **SMALL))
    assert r.merged_rows == 2
    assert r.ticks == 400
    np.testing.assert_array_equal(r.scores[200], r.scores[199])
    np.testing.assert_array_equal(r.scores[201], r.scores[199])
    assert len(r.timestamps) == stamps.size


def test_wide_and_json_replays_have_one_column_per_dimension(tmp_path: Path) -> None:
    n = 500
    a, b = _signal(n, 1).tolist(), _signal(n, 2, spike_at=400).tolist()
    doc = {"labels": ["time", "a", "b"], "data": [[T0 + i, a[i], b[i]] for i in reversed(range(n))]}
    path = tmp_path / "chart.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    cfg = MLConfig(profile="netdata-1.33", **SMALL)
    r = replay(path, cfg)
    assert r.update_every == 1 and r.columns == ["a", "b"] and r.scores.shape == (n, 2)
    assert r.bits[400:406, 1].any()
    np.testing.assert_array_equal(r.anomaly_score, r.scores.max(axis=1))
    wide = tmp_path / "chart.csv"
    wide.write_text("timestamp,a,b\n" + "".join(f"{T0 + i},{a[i]!r},{b[i]!r}\n" for i in range(n)), encoding="utf-8")
    r2 = replay(wide, cfg)
    np.testing.assert_array_equal(r2.scores, r.scores)
    np.testing.assert_array_equal(r2.bits, r.bits)


def test_replay_is_deterministic_and_models_every_chart() -> None:
    # A netdata.conf-style config (ML off, the reference's skip patterns) still models the replay.
    cfg = MLConfig(profile="netdata-1.33", enabled=False, **SMALL)
    r1 = replay(ROGUE, cfg)
    r2 = replay(ROGUE, cfg)
    assert r1.trainings > 0 and r1.config.enabled
    np.testing.assert_array_equal(r1.scores, r2.scores)
    assert r1.events == r2.events


def test_replay_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="config must be an MLConfig"):
        replay(ROGUE, {"min_train_samples": 10})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="update_every"):
        replay(ROGUE, update_every=0)
    assert pyml.lab.replay is replay  # the package exports the function


def test_write_points(tmp_path: Path) -> None:
    r = replay(SPEED)
    out = write_points(r, tmp_path / "p" / "speed.csv")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "timestamp,value,anomaly_score,anomaly_bit"
    assert len(lines) == len(r.timestamps) + 1
    t, v, s, bit = lines[-1].split(",")
    assert t == str(r.timestamps[-1]).replace("T", " ")
    assert float(v) == r.values[-1, 0] and float(s) == r.scores[-1, 0] and int(bit) == int(r.bits[-1, 0])


# --------------------------------------------------------------------------- scoring and CLI


def test_scoring_replays_of_the_copied_nab_files() -> None:
    windows = load_windows(NAB / "labels" / "combined_windows.json")
    results = replay_files(sorted((NAB / "data").glob("*/*.csv")))
    assert set(results) == {
        "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv", "realAdExchange/exchange-2_cpc_results.csv",
        "realKnownCause/rogue_agent_key_hold.csv", "realTraffic/speed_7578.csv",
    }
    nab, events = score_replays(results, windows)
    assert set(nab) == set(events) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    series = {name: (r.timestamps, r.anomaly_score) for name, r in results.items()}
    again = score_corpus(series, windows)
    for profile, score in nab.items():
        assert score.score == again[profile].score
        assert score.windows == 9  # the four files hold 9 labelled windows past the probationary period
        assert 0 <= events[profile].recall <= 1 and 0 <= events[profile].precision <= 1
    with pytest.raises(ValueError, match="no labelled windows"):
        score_replays(results, {})


def test_cli_replay_writes_points_results_and_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    status = main(["replay", str(NAB / "data"), "--labels", str(NAB / "labels" / "combined_windows.json"),
                   "--out", str(out), "--quiet"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "profile=pyml training=" in printed and "NAB standard: score" in printed
    points = sorted(p.relative_to(out / "points").as_posix() for p in (out / "points").rglob("*.csv"))
    assert points == sorted(read_results(NAB / "results", "numenta"))
    results = read_results(out / "results", "pyml")
    assert set(results) == set(points)
    scores = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert set(scores["profiles"]) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert (out / "results" / "pyml" / "pyml_standard_scores.csv").read_text().startswith("Detector,Profile,File")
    events = json.loads((out / "events.json").read_text(encoding="utf-8"))
    assert set(events) == set(points)


def test_cli_replay_with_a_netdata_conf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "netdata.conf"
    conf.write_text("[ml]\n  profile = netdata-1.33\n  minimum num samples to train = 200\n  maximum num samples to train = 800\n"
                    "  train every = 200\n", encoding="utf-8")
    out = tmp_path / "o"
    assert main(["replay", str(ROGUE), "--config", str(conf), "--unclamped", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "minimum num samples to train = 200" in printed
    assert "profile=netdata-1.33 training=200..800 points every 200 ticks" in printed
    assert (out / "points" / "realKnownCause" / "rogue_agent_key_hold.csv").is_file()
    # Clamped as netdata does, the minimum becomes 3600: more than the file has, nothing trains.
    assert main(["replay", str(ROGUE), "--config", str(conf), "--out", str(out), "--quiet"]) == 0
    assert "trainings=0" in capsys.readouterr().out


def test_replay_runs_the_default_profile_unless_told(tmp_path: Path) -> None:
    r = replay(SPEED)
    assert r.config.profile == "pyml" and r.config.calibration_settings(r.update_every)["calibration"] == "surprise"
    n = len(r.timestamps)
    least = min(750, int(0.15 * n))
    assert r.config.training_points(r.update_every) == (least, 4 * least)
    assert r.config.train_every_ticks(r.update_every) == least
    # The bit is the calibrated rule's: set at onsets, far sparser than the reference's saturated ticks.
    ref = replay(SPEED, profile="netdata-1.33")
    assert ref.config.profile == "netdata-1.33" and ref.config.min_train_samples == least
    assert 0 < r.bits.sum() < ref.bits.sum()
    assert replay(SPEED, formulation="peaks").config.profile == "netdata-1.33"  # formulations are the reference's
    with pytest.raises(ValueError, match="formulation 'peaks' is defined on profile 'netdata-1.33'"):
        replay(SPEED, formulation="peaks", profile="pyml")
    with pytest.raises(ValueError, match="netdata-3"):
        replay(SPEED, profile="netdata-3")


def test_cli_replay_profile_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(ROGUE), "--profile", "netdata-2", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "# configuration: profile netdata-2" in printed and "profile=netdata-2 training=" in printed
    conf = tmp_path / "netdata.conf"
    conf.write_text("[ml]\n  profile = netdata-2\n", encoding="utf-8")
    assert main(["replay", str(ROGUE), "--config", str(conf), "--profile", "pyml", "--out", str(tmp_path)]) == 2
    assert "either a configuration file or a profile" in capsys.readouterr().err
    assert main(["replay", str(ROGUE), "--formulation", "peaks", "--profile", "pyml", "--out", str(tmp_path)]) == 2
    assert "defined on profile 'netdata-1.33'" in capsys.readouterr().err


def test_cli_replay_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "missing.csv"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["replay", str(ROGUE), "--labels", str(tmp_path / "nolabels.json"), "--out", str(tmp_path)]) == 2
    assert collect_inputs([ROGUE]) == {"realKnownCause/rogue_agent_key_hold.csv": ROGUE}


def test_cli_replay_in_two_processes_matches_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["replay", str(ROGUE), str(SPEED), "--quiet"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--jobs", "2"]) == 0
    capsys.readouterr()
    for name in ("realKnownCause/rogue_agent_key_hold.csv", "realTraffic/speed_7578.csv"):
        one = (tmp_path / "one" / "points" / name).read_text(encoding="utf-8")
        assert one == (tmp_path / "two" / "points" / name).read_text(encoding="utf-8")
    assert main([*args, "--jobs", "0"]) == 2


def test_progress_line_without_tqdm(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name: str, *a: object, **k: object) -> object:
        if name == "tqdm":
            raise ImportError("no tqdm here")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    r = replay(SPEED, progress=True)
    err = capsys.readouterr().err
    assert f"{len(r.timestamps)}/{len(r.timestamps)} points (100.0%)" in err
