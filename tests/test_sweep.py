"""Sweeping a grid of configurations over NAB files: grid checks, ranking, executors, outputs, command line."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from pyml import MLConfig
from pyml.cli import main
from pyml.lab import load_windows
from pyml.lab.replay import lab_config, replay, score_replays
from pyml.lab.sweep import SweepResult, SweepRow, expand_grid, parse_grid_items, sweep

NAB = Path(__file__).parent / "data" / "nab"
LABELS = NAB / "labels" / "combined_windows.json"
SPEED = NAB / "data" / "realTraffic" / "speed_7578.csv"
NETWORK = NAB / "data" / "realAWSCloudwatch" / "iio_us-east-1_i-a2eb1cd9_NetworkIn.csv"
FILES = [SPEED, NETWORK]
NAMES = ["realTraffic/speed_7578.csv", "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv"]
GRID = {"diff_n": [0, 1], "lag_n": [3, 5]}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def windows() -> dict:
    return load_windows(LABELS)


@pytest.fixture(scope="module")
def pooled(windows: dict) -> SweepResult:
    """The 2x2 grid on the default executor (a local process pool)."""
    return sweep(FILES, GRID, windows, jobs=2, progress=False)


def _scores(result: SweepResult) -> list[tuple]:
    return [(r.index, r.point, r.standard, r.low_fp, r.low_fn, r.precision, r.recall, r.f1, r.threshold, r.points)
            for r in result.rows]


def _assert_same_replays(a: SweepResult, b: SweepResult) -> None:
    assert a.replays.keys() == b.replays.keys()
    for index in a.replays:
        for name, ra in a.replays[index].items():
            rb = b.replays[index][name]
            np.testing.assert_array_equal(ra.scores, rb.scores)
            np.testing.assert_array_equal(ra.bits, rb.bits)
            assert ra.events == rb.events


# --------------------------------------------------------------------------- grid


def test_grid_points_vary_the_first_key_slowest() -> None:
    assert expand_grid(GRID) == [{"diff_n": 0, "lag_n": 3}, {"diff_n": 0, "lag_n": 5},
                                 {"diff_n": 1, "lag_n": 3}, {"diff_n": 1, "lag_n": 5}]


@pytest.mark.parametrize(("grid", "error", "match"), [
    ({"diff_m": [0, 1]}, ValueError, "grid key 'diff_m' is not an MLConfig field"),
    ({"clamp": [True]}, ValueError, "grid key 'clamp' cannot be swept"),
    ({"charts_to_skip": ["*"]}, ValueError, "grid key 'charts_to_skip' cannot be swept"),
    ({"lag_n": []}, ValueError, r"grid\['lag_n'\] has no values"),
    ({"lag_n": 3}, TypeError, r"grid\['lag_n'\] must be a list of values, got int: 3"),
    ({"lag_n": [3, 3]}, ValueError, r"grid\['lag_n'\] repeats the value 3"),
    ({}, ValueError, "grid is empty"),
    ([("lag_n", [3])], TypeError, "grid must be a mapping"),
])
def test_grid_shape_errors_name_the_key(grid: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        expand_grid(grid)  # type: ignore[arg-type]


@pytest.mark.parametrize(("grid", "error", "match"), [
    ({"lag_n": [3, -1]}, ValueError, "grid value lag_n=-1 is invalid for realTraffic/speed_7578.csv: lag_n must be"),
    ({"diff_n": [0], "smooth_n": [1.5]}, ValueError, "grid value smooth_n=1.5 is invalid"),
    ({"max_kmeans_iters": ["many"]}, (TypeError, ValueError), "grid value max_kmeans_iters='many' is invalid"),
    # Each value is fine alone; together the training window cannot hold two feature vectors.
    ({"min_train_samples": [10], "smooth_n": [5]}, ValueError,
     "grid point min_train_samples=10 smooth_n=5 is invalid for realTraffic/speed_7578.csv: .* fewer than 2"),
])
def test_bad_grid_values_fail_before_anything_runs(windows: dict, grid: dict, error: type, match: str) -> None:
    class Refusing(ThreadPoolExecutor):
        def submit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise AssertionError("a task was submitted for an invalid grid")

    with Refusing(1) as ex, pytest.raises(error, match=match):
        sweep([SPEED], grid, windows, executor=ex)


def test_files_without_labels_and_conflicting_arguments_are_refused(windows: dict) -> None:
    with pytest.raises(ValueError, match="no labelled windows for 'realTraffic/speed_7578.csv'"):
        sweep([SPEED], {"lag_n": [3]}, {NAMES[1]: []})
    with ThreadPoolExecutor(1) as ex:
        with pytest.raises(ValueError, match="either executor= or scheduler="):
            sweep([SPEED], {"lag_n": [3]}, windows, executor=ex, scheduler="tcp://127.0.0.1:1")
        with pytest.raises(ValueError, match="jobs sizes the default process pool"):
            sweep([SPEED], {"lag_n": [3]}, windows, executor=ex, jobs=2)
    with pytest.raises(TypeError, match="base must be an MLConfig"):
        sweep([SPEED], {"lag_n": [3]}, windows, base={"lag_n": 3})  # type: ignore[arg-type]


def test_command_line_grid_values_take_the_field_type(tmp_path: Path) -> None:
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps({"smooth_n": [1, 3]}), encoding="utf-8")
    grid = parse_grid_items(["diff_n=0,1", "dimension_anomaly_score_threshold=0.5,0.99"], grid_file)
    assert grid == {"smooth_n": [1, 3], "diff_n": [0, 1], "dimension_anomaly_score_threshold": [0.5, 0.99]}
    assert all(type(v) is int for v in grid["diff_n"])
    assert all(type(v) is float for v in grid["dimension_anomaly_score_threshold"])
    with pytest.raises(ValueError, match="grid value diff_n='1.5' is not an integer"):
        parse_grid_items(["diff_n=0,1.5"])
    with pytest.raises(ValueError, match="grid value window_rate_threshold='high' is not a number"):
        parse_grid_items(["window_rate_threshold=high"])
    with pytest.raises(ValueError, match="'lagn' is not an MLConfig field"):
        parse_grid_items(["lagn=3"])
    with pytest.raises(ValueError, match="grid key 'smooth_n' is given twice"):
        parse_grid_items(["smooth_n=2"], grid_file)
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_grid_items(["lag_n"])


# --------------------------------------------------------------------------- results


def test_rows_are_ranked_by_standard_score_and_match_a_direct_replay(pooled: SweepResult, windows: dict) -> None:
    assert pooled.keys == ["diff_n", "lag_n"]
    assert sorted(r.index for r in pooled.rows) == [0, 1, 2, 3]
    standard = [r.standard for r in pooled.rows]
    assert standard == sorted(standard, reverse=True)
    assert len(set(standard)) > 1  # the grid changes something, so the ranking means something
    assert pooled.best is pooled.rows[0]
    # Each row is what replaying and scoring that configuration directly gives.
    row = pooled.rows[-1]
    direct = {}
    for path, name in zip(FILES, NAMES):
        n = len(pooled.replays[row.index][name].timestamps)
        direct[name] = replay(path, lab_config(n, **row.point), name=name, progress=False)
        assert pooled.replays[row.index][name].config == direct[name].config
    nab, events = score_replays(direct, windows)
    assert row.standard == nab["standard"].score
    assert row.low_fp == nab["reward_low_FP_rate"].score
    assert row.low_fn == nab["reward_low_FN_rate"].score
    assert (row.precision, row.recall, row.f1) == (events["standard"].precision, events["standard"].recall,
                                                   events["standard"].f1)
    assert row.points == sum(len(r.timestamps) for r in direct.values())
    assert all(r.cpu_seconds > 0 for r in pooled.rows)


def test_table_and_csv_list_the_rows_best_first(pooled: SweepResult, tmp_path: Path) -> None:
    lines = pooled.table().splitlines()
    assert lines[0].split() == ["config", "diff_n", "lag_n", "standard", "low_FP", "low_FN", "precision", "recall",
                                "F1", "points", "cpu_s"]
    assert [int(line.split()[0]) for line in lines[1:]] == [r.index for r in pooled.rows]
    assert [float(line.split()[3]) for line in lines[1:]] == [round(r.standard, 2) for r in pooled.rows]
    with open(pooled.to_csv(tmp_path / "out" / "sweep.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["config"]) for r in rows] == [r.index for r in pooled.rows]
    assert [float(r["standard"]) for r in rows] == [r.standard for r in pooled.rows]
    assert [(int(r["diff_n"]), int(r["lag_n"])) for r in rows] == [(r.point["diff_n"], r.point["lag_n"])
                                                                  for r in pooled.rows]


def test_ties_keep_grid_order() -> None:
    def row(index: int, standard: float) -> SweepRow:
        return SweepRow(index, {"lag_n": index}, standard, 0, 0, 0, 0, 0, 0.5, 1, 0.1)

    result = SweepResult(["lag_n"], [row(2, 5.0), row(0, 1.0), row(3, float("-inf") + 1), row(1, 5.0)], {})
    assert [r.index for r in result.rows] == [1, 2, 0, 3]
    assert result.best.index == 1
    assert [int(line.split()[0]) for line in result.table().splitlines()[1:]] == [1, 2, 0, 3]


def test_a_base_configuration_is_varied_as_given(windows: dict, capsys: pytest.CaptureFixture[str]) -> None:
    base = MLConfig(profile="netdata-1.33", min_train_samples=150, max_train_samples=600, train_every=150, clamp=False)
    with ThreadPoolExecutor(2) as ex:
        result = sweep({NAMES[0]: SPEED}, {"lag_n": [2, 4]}, windows, base=base, executor=ex, progress=True)
    assert "sweep" in capsys.readouterr().err  # the progress bar over tasks
    for row in result.rows:
        cfg = result.replays[row.index][NAMES[0]].config
        assert (cfg.min_train_samples, cfg.train_every, cfg.lag_n) == (150, 150, row.point["lag_n"])


# --------------------------------------------------------------------------- executors


def test_a_thread_pool_gives_the_process_pool_results(pooled: SweepResult, windows: dict) -> None:
    with ThreadPoolExecutor(2) as ex:
        threaded = sweep(FILES, GRID, windows, executor=ex)
    assert _scores(threaded) == _scores(pooled)
    _assert_same_replays(threaded, pooled)


def test_dask_gives_the_process_pool_results(pooled: SweepResult, windows: dict) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster:
        # By scheduler address, the way the command line does it ...
        by_address = sweep(FILES, GRID, windows, scheduler=cluster.scheduler_address)
        # ... and through an executor of a client the caller owns.
        with distributed.Client(cluster) as client:
            by_executor = sweep(FILES, {"diff_n": [0, 1], "lag_n": [3]}, windows, executor=client.get_executor())
    assert _scores(by_address) == _scores(pooled)
    _assert_same_replays(by_address, pooled)
    expected = {(r.point["diff_n"], r.standard) for r in pooled.rows if r.point["lag_n"] == 3}
    assert {(r.point["diff_n"], r.standard) for r in by_executor.rows} == expected


def test_a_failing_task_names_file_and_configuration(windows: dict, tmp_path: Path) -> None:
    bad = tmp_path / "realTraffic" / "speed_7578.csv"
    bad.parent.mkdir()
    # One timestamp before 1970: the replay refuses it, inside the task.
    text = SPEED.read_text(encoding="utf-8").splitlines()
    text[1] = "1969-12-31 23:00:00," + text[1].split(",")[1]
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    with ThreadPoolExecutor(1) as ex, pytest.raises(RuntimeError,
                                                    match="replaying realTraffic/speed_7578.csv with configuration 0"):
        sweep([bad], {"lag_n": [3]}, windows, executor=ex)


# --------------------------------------------------------------------------- outputs and command line


def _check_png(path: Path) -> None:
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_command_line_writes_table_csv_and_best_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep-out"
    status = main(["lab", "sweep", str(SPEED), str(NETWORK), "--labels", str(LABELS), "--grid", "diff_n=0,1",
                   "--grid", "lag_n=3", "--jobs", "2", "--plots", "best", "--out", str(out), "--quiet",
                   "--half", "all"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "unclamped (clamp=False" in printed.splitlines()[0]
    assert "config  diff_n  lag_n  standard" in printed
    with open(out / "sweep.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    assert float(rows[0]["standard"]) >= float(rows[1]["standard"])
    text = (out / "sweep.txt").read_text(encoding="utf-8")
    assert text.startswith("# pyml lab sweep") and "config  diff_n  lag_n" in text
    _check_png(out / "plots" / "realTraffic" / "speed_7578.png")
    _check_png(out / "plots" / "realAWSCloudwatch" / "iio_us-east-1_i-a2eb1cd9_NetworkIn.png")
    assert len(list((out / "plots").rglob("*.png"))) == 2


def test_command_line_plots_every_configuration_by_index(tmp_path: Path) -> None:
    out = tmp_path / "all"
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps({"lag_n": [3, 5]}), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, "-m", "pyml", "lab", "sweep", str(SPEED), "--labels", str(LABELS),
                           "--grid-file", str(grid_file), "--plots", "all", "--jobs", "1", "--out", str(out),
                           "--half", "all"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (out / "plots" / "realTraffic").iterdir()) == [
        "speed_7578.config0.png", "speed_7578.config1.png"]
    for p in (out / "plots" / "realTraffic").iterdir():
        _check_png(p)


@pytest.mark.parametrize(("args", "message"), [
    (["--grid", "lag_m=3"], "'lag_m' is not an MLConfig field"),
    (["--grid", "lag_n=x"], "grid value lag_n='x' is not an integer"),
    (["--grid", "lag_n=-2"], "grid value lag_n=-2 is invalid"),
    ([], "no grid"),
    (["--grid", "lag_n=3", "--plots", "none", "--labels", "{missing}"], "missing.json"),
    (["--grid", "lag_n=3", "--labels", "{empty}"], "no labelled windows for 'realTraffic/speed_7578.csv'"),
])
def test_command_line_errors_exit_non_zero_with_a_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("{}", encoding="utf-8")
    args = [a.format(missing=tmp_path / "missing.json", empty=empty) for a in args]
    labels = [] if "--labels" in args else ["--labels", str(LABELS)]
    status = main(["lab", "sweep", str(SPEED), *labels, *args, "--out", str(tmp_path / "o"), "--quiet",
                   "--half", "all"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("pyml lab sweep: ") and message in err
    assert not (tmp_path / "o" / "sweep.csv").exists()


def test_command_line_requires_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "sweep", str(SPEED), "--grid", "lag_n=3", "--out", str(tmp_path / "o")]) == 2
    assert "--labels is required" in capsys.readouterr().err


# --------------------------------------------------------------------------- the lab's fraction rule and plots


def test_score_peak_window_as_a_fraction_of_each_files_training(windows: dict) -> None:
    from pyml.lab.formulations import PEAK_WINDOW_FRACTION
    from pyml.lab.scoring import DEFAULT_PROBATIONARY_PERCENT
    from pyml.lab.sweep import TrainingFraction, _configs

    grid = parse_grid_items(["score_peak_window=0,0.2x,0.4x,50"])
    assert grid == {"score_peak_window": [0, TrainingFraction(0.2), TrainingFraction(0.4), 50]}
    assert [str(v) for v in grid["score_peak_window"]] == ["0", "0.2x", "0.4x", "50"]
    lengths = {NAMES[0]: 1127, NAMES[1]: 1243}
    configs = _configs(expand_grid(grid), lengths, None, DEFAULT_PROBATIONARY_PERCENT, "peaks")
    for name, n in lengths.items():
        minimum = configs[0][name].min_train_samples
        assert [c[name].score_peak_window for c in configs] == [0, max(1, int(0.2 * minimum)),
                                                                max(1, int(0.4 * minimum)), 50]
        # 0.4x is the peaks formulation's own rule, file by file.
        assert configs[2][name] == lab_config(n, formulation="peaks")
        assert PEAK_WINDOW_FRACTION == 0.4
    assert configs[1][NAMES[0]].score_peak_window != configs[1][NAMES[1]].score_peak_window
    # Sized on the training minimum the grid itself sets.
    grid = {"min_train_samples": [100, 300], "score_peak_window": [TrainingFraction(0.5)]}
    both = _configs(expand_grid(grid), lengths, None, DEFAULT_PROBATIONARY_PERCENT)
    assert [c[NAMES[0]].score_peak_window for c in both] == [50, 150]
    base = MLConfig(profile="netdata-1.33", min_train_samples=200, max_train_samples=800, train_every=200, clamp=False)
    quarter = expand_grid({"score_peak_window": [TrainingFraction(0.25)]})
    with_base = _configs(quarter, lengths, base, DEFAULT_PROBATIONARY_PERCENT)
    assert with_base[0][NAMES[0]].score_peak_window == 50


@pytest.mark.parametrize(("item", "message"), [
    ("score_peak_window=0x", "grid value score_peak_window='0x' is not a fraction of min_train_samples"),
    ("score_peak_window=-0.5x", "must be a finite number > 0, got -0.5"),
    ("score_peak_window=nanx", "must be a finite number > 0"),
    ("score_peak_window=abcx", "is not a fraction of min_train_samples such as 0.4x"),
    ("lag_n=0.4x", "grid value lag_n='0.4x' is not an integer"),
])
def test_bad_fractions_are_refused_by_name(item: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_grid_items([item])


def test_command_line_sweeps_the_fraction_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "frac"
    status = main(["lab", "sweep", str(NETWORK), "--labels", str(LABELS), "--formulation", "peaks",
                   "--grid", "score_peak_window=0.2x,0.4x", "--jobs", "1", "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "score_peak_window in [0.2x, 0.4x]" in printed
    with open(out / "sweep.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["score_peak_window"] for r in rows) == ["0.2x", "0.4x"]


def test_plots_are_opt_in_and_drawn_after_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "default"
    assert main(["lab", "sweep", str(NETWORK), "--labels", str(LABELS), "--grid", "lag_n=3", "--jobs", "1",
                 "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert not (out / "plots").exists() and "plot(s)" not in printed
    out = tmp_path / "best"
    assert main(["lab", "sweep", str(NETWORK), "--labels", str(LABELS), "--grid", "lag_n=3", "--jobs", "1",
                 "--plots", "best", "--out", str(out), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    timing = next(i for i, line in enumerate(lines) if " file(s) in " in line)
    best = next(i for i, line in enumerate(lines) if line.startswith("best: config"))
    plotted = next(i for i, line in enumerate(lines) if " plot(s) under " in line)
    assert timing < best < plotted == len(lines) - 1
    assert re.search(r"^1 plot\(s\) under .* in \d+\.\d\d s$", lines[plotted])
    _check_png(out / "plots" / "realAWSCloudwatch" / "iio_us-east-1_i-a2eb1cd9_NetworkIn.png")


@pytest.mark.parametrize(("threshold", "text"), [
    (0.9999999967, "0.9999999967"), (0.5, "0.500"), (1.0, "1.000"), (0.0, "0.000"),
    (0.99, "0.990"), (0.9995, "0.99950"), (3.2e-7, "0.00000032"), (1 - 2 ** -53, "0.9999999999999999"),
    (float("inf"), "inf"),
])
def test_thresholds_are_printed_apart_from_one(threshold: float, text: str) -> None:
    from pyml.lab.plots import format_threshold

    assert format_threshold(threshold) == text
    if 0 < threshold < 1:
        assert float(format_threshold(threshold)) not in (0.0, 1.0)


def test_the_plot_legend_shows_the_threshold_apart_from_one(tmp_path: Path, windows: dict) -> None:
    pytest.importorskip("matplotlib")
    from pyml.lab import plots

    result = replay(SPEED, lab_config(1127), name=NAMES[0], progress=False)
    labels: list[str] = []
    real_subplots = plots.require_matplotlib().subplots

    def spying_subplots(*args, **kwargs):  # type: ignore[no-untyped-def]
        fig, axes = real_subplots(*args, **kwargs)
        real_savefig = fig.savefig

        def savefig(*a, **k):  # type: ignore[no-untyped-def]
            labels.extend(line.get_label() for ax in axes for line in ax.get_lines())
            return real_savefig(*a, **k)

        fig.savefig = savefig
        return fig, axes

    plt = plots.require_matplotlib()
    original = plt.subplots
    plt.subplots = spying_subplots
    try:
        plots.plot_replay(result, tmp_path / "p.png", windows[NAMES[0]], threshold=0.9999999967)
    finally:
        plt.subplots = original
    assert "threshold 0.9999999967" in labels
