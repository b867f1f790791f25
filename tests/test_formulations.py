"""The lab's formulations: named configurations of the engine, compared on labelled data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pyml import MLConfig
from pyml.lab import load_windows
from pyml.lab.formulations import FORMULATIONS, PEAK_WINDOW_FRACTION, formulation_settings
from pyml.lab.replay import lab_config, replay, replay_files, run_command, score_replays

NAB = Path(__file__).parent / "data" / "nab"


def test_reference_is_the_default_and_changes_nothing() -> None:
    assert lab_config(4032) == lab_config(4032, formulation="reference")
    assert formulation_settings("reference", 604) == {}
    ref = MLConfig(profile="netdata-1.33")
    cfg = lab_config(4032)
    assert (cfg.diff_n, cfg.smooth_n, cfg.lag_n, cfg.score_peak_window) == (ref.diff_n, ref.smooth_n, ref.lag_n, 0)


def test_peaks_settings_are_sized_to_the_training_minimum() -> None:
    cfg = lab_config(4032, formulation="peaks")
    assert (cfg.min_train_samples, cfg.max_train_samples, cfg.train_every) == (604, 2416, 604)
    assert (cfg.diff_n, cfg.smooth_n, cfg.lag_n) == (0, 1, 0)
    assert cfg.score_peak_window == int(PEAK_WINDOW_FRACTION * 604) == 241
    # overrides win, and a changed training minimum resizes the peak window
    cfg = lab_config(4032, formulation="peaks", min_train_samples=100, max_train_samples=400, lag_n=2)
    assert (cfg.lag_n, cfg.score_peak_window) == (2, 40)
    # a short recording still gets two feature vectors
    assert lab_config(5, formulation="peaks").min_train_samples == 2


def test_unknown_formulation_is_named() -> None:
    for call in (lambda: lab_config(100, formulation="fancy"),
                 lambda: replay_files([NAB / "data" / "realTraffic" / "speed_7578.csv"], formulation="fancy")):
        with pytest.raises(ValueError, match="unknown formulation 'fancy'; known: peaks, reference"):
            call()
    assert set(FORMULATIONS) == {"reference", "peaks"}


def test_peaks_reports_each_rise_once_on_a_real_series() -> None:
    path = NAB / "data" / "realKnownCause" / "rogue_agent_key_hold.csv"
    ref, peaks = replay(path, formulation="reference", profile="netdata-1.33"), replay(path, formulation="peaks")
    window = peaks.config.score_peak_window
    reported = np.flatnonzero(peaks.scores[:, 0] > 0)
    assert reported.size > 0
    # two reports within the window (in ticks; the file has gaps): the later one is strictly higher
    ticks = peaks.timestamps.astype("datetime64[s]").astype(np.int64) // peaks.update_every
    close = 0
    for a, b in zip(reported[:-1], reported[1:]):
        if ticks[b] - ticks[a] <= window:
            close += 1
            assert peaks.scores[b, 0] > peaks.scores[a, 0]
    assert close > 0
    # the reference reports far more points
    assert np.count_nonzero(ref.scores) > 3 * reported.size


def test_peaks_beats_the_reference_on_the_copied_nab_files() -> None:
    windows = load_windows(NAB / "labels" / "combined_windows.json")
    files = sorted((NAB / "data").glob("*/*.csv"))
    scores = {}
    for name in ("reference", "peaks"):
        nab, _ = score_replays(replay_files(files, formulation=name, profile="netdata-1.33"), windows)
        scores[name] = nab["standard"].score
    # measured: reference 2.2, peaks 37.6 on these four files
    assert scores["peaks"] > scores["reference"] + 20


def test_run_command_with_a_formulation(tmp_path: Path) -> None:
    import io

    out = io.StringIO()
    status = run_command([NAB / "data" / "realTraffic"], out_dir=tmp_path / "o", formulation="peaks", stdout=out,
                         progress=False)
    text = out.getvalue()
    assert status == 0
    assert "formulation 'peaks': diff_n=0, smooth_n=1, lag_n=0" in text
    assert "score_peak_window=" in text
    conf = tmp_path / "netdata.conf"
    conf.write_text("[ml]\n  minimum num samples to train = 200\n", encoding="utf-8")
    with pytest.raises(ValueError, match="either a configuration file or a formulation"):
        run_command([NAB / "data" / "realTraffic"], config_path=conf, out_dir=tmp_path / "p", formulation="peaks",
                    stdout=io.StringIO(), progress=False)


def test_sweep_varies_the_formulation(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from pyml.lab.sweep import sweep

    files = sorted((NAB / "data").glob("realTraffic/*.csv")) + sorted((NAB / "data").glob("realKnownCause/*.csv"))
    windows = load_windows(NAB / "labels" / "combined_windows.json")
    with ThreadPoolExecutor(2) as pool:
        result = sweep(files, {"formulation": ["reference", "peaks"]}, windows, executor=pool)
    by_name = {row.point["formulation"]: row for row in result.rows}
    assert set(by_name) == {"reference", "peaks"}
    direct, _ = score_replays(replay_files(files, formulation="peaks"), windows)
    assert by_name["peaks"].standard == direct["standard"].score
    assert result.rows[0].point["formulation"] == "peaks"  # ranked first
    with ThreadPoolExecutor(1) as pool:
        lagged = sweep(files, {"lag_n": [0, 1]}, windows, executor=pool, formulation="peaks")
    for row in lagged.rows:
        for r in lagged.replays[row.index].values():
            cfg = r.config
            assert (cfg.diff_n, cfg.smooth_n, cfg.lag_n) == (0, 1, row.point["lag_n"]) and cfg.score_peak_window > 0
    with pytest.raises(ValueError, match="unknown formulation 'fancy'"):
        sweep(files, {"formulation": ["fancy"]}, windows)


def test_cli_replay_formulation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pyml.cli import main

    status = main(["replay", str(NAB / "data" / "realTraffic"), "--formulation", "peaks", "--out", str(tmp_path),
                   "--quiet", "--labels", str(NAB / "labels" / "combined_windows.json")])
    assert status == 0
    printed = capsys.readouterr().out
    assert "formulation 'peaks'" in printed and "NAB standard: score" in printed
    with pytest.raises(SystemExit):
        main(["replay", str(NAB / "data" / "realTraffic"), "--formulation", "fancy"])
    assert "invalid choice: 'fancy'" in capsys.readouterr().err
