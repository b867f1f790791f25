"""The protocol's NAB figures: profiles and sizing conventions, score and bit figures per half, the guard."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from pyml.cli import main
from pyml.lab import load_windows, score_corpus
from pyml.lab.figures import NabFigures, nab_figures, run_command
from pyml.lab.profiles import (
    STRICT_NAB_SIZING,
    TrainingSizing,
    available_profiles,
    check_profile,
    nab_sizing,
    profile_config,
)
from pyml.lab.replay import lab_config
from pyml.lab.split import split_half
from pyml.lab.sweep import guard_heldout

NAB = Path(__file__).parent / "data" / "nab"
DATA = NAB / "data"
LABELS = NAB / "labels" / "combined_windows.json"
PROFILES = ["netdata-1.33", "peaks"]


@pytest.fixture(scope="module")
def windows() -> dict:
    return load_windows(LABELS)


@pytest.fixture(scope="module")
def everything(windows: dict) -> NabFigures:
    """The four copied NAB files (one tuning, three held-out), two profiles, both conventions."""
    return nab_figures(DATA, windows, PROFILES, half="all", progress=False)


# --------------------------------------------------------------------------- profiles and sizing


def test_nab_convention_is_todays_lab_sizing() -> None:
    for n in (1127, 1882, 4032, 22695):
        assert profile_config("netdata-1.33", nab_sizing("nab", n)) == lab_config(n)
        assert profile_config("peaks", nab_sizing("nab", n)) == lab_config(n, formulation="peaks")
    assert nab_sizing("nab", 4032) == TrainingSizing(604, 2416, 604)


def test_strict_convention_ignores_the_files_length() -> None:
    assert nab_sizing("strict", 1127) == nab_sizing("strict", 22695) == STRICT_NAB_SIZING
    cfg = profile_config("netdata-1.33", STRICT_NAB_SIZING, update_every=300)
    assert (cfg.min_train_samples, cfg.max_train_samples, cfg.train_every) == (576, 2304, 576)
    assert cfg.clamp is False
    # a formulation sizes itself on the training minimum it is given
    assert profile_config("peaks", STRICT_NAB_SIZING).score_peak_window == int(0.4 * 576)
    with pytest.raises(ValueError, match="convention must be one of nab, strict, got 'live'"):
        nab_sizing("live", 100)


def test_profiles_are_checked_by_name() -> None:
    assert available_profiles()[0] == "netdata-1.33"
    assert "peaks" in available_profiles() and "reference" not in available_profiles()
    with pytest.raises(ValueError, match="unknown profile 'netdata-3'; available: netdata-1.33"):
        check_profile("netdata-3")
    if "netdata-2" not in available_profiles():
        with pytest.raises(ValueError, match="profile 'netdata-2' is not available in this pyml"):
            profile_config("netdata-2", STRICT_NAB_SIZING)
    with pytest.raises(ValueError, match=r"max_points \(10\) is below min_points \(20\)"):
        TrainingSizing(20, 10, 5)


def test_time_based_profiles_get_the_same_points_through_their_duration_keys() -> None:
    if "netdata-2" not in available_profiles():
        pytest.skip("MLConfig has no netdata-2 profile in this build")
    v2 = profile_config("netdata-2", STRICT_NAB_SIZING, update_every=300)
    assert v2.profile == "netdata-2" and v2.min_train_samples is None
    assert (v2.min_training_window, v2.training_window, v2.train_every) == (576 * 300, 2304 * 300, 576 * 300)
    assert v2.training_points(300) == (576, 2304) and v2.train_every_ticks(300) == 576
    one = profile_config("netdata-1.33", STRICT_NAB_SIZING, update_every=300)
    assert one.training_points(300) == v2.training_points(300)  # the same sizes for every profile


def test_the_minimum_never_falls_below_two_feature_vectors() -> None:
    cfg = profile_config("netdata-1.33", TrainingSizing(3, 4, 3))
    assert cfg.min_train_samples == 1 + 3 - 1 + 5 + 2 and cfg.max_train_samples == cfg.min_train_samples


# --------------------------------------------------------------------------- figures


def test_one_replay_per_profile_convention_and_file(everything: NabFigures) -> None:
    assert set(everything.replays) == {(p, c) for p in PROFILES for c in ("nab", "strict")}
    names = sorted(p.relative_to(DATA).as_posix() for p in DATA.glob("*/*.csv"))
    for (profile, convention), results in everything.replays.items():
        assert sorted(results) == names
        for name, r in results.items():
            want = nab_sizing(convention, len(r.timestamps))
            expected = profile_config(profile, want, r.update_every)
            assert r.config == dataclasses.replace(expected, hosts_to_skip="!*", charts_to_skip="!*")
    assert everything.files["tuning"] == ["realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv"]
    assert len(everything.files["heldout"]) == 3 and len(everything.files["all"]) == 4


def test_score_figures_are_nabs_score_at_the_optimised_threshold(everything: NabFigures, windows: dict) -> None:
    for (profile, convention), results in everything.replays.items():
        for half in ("tuning", "heldout", "all"):
            chosen = {n: r for n, r in results.items() if half == "all" or split_half(n) == half}
            direct = score_corpus({n: (r.timestamps, r.anomaly_score) for n, r in chosen.items()}, windows)
            f = everything.figure(profile, convention, half, "score")
            assert (f.standard, f.low_fp, f.low_fn) == (direct["standard"].score, direct["reward_low_FP_rate"].score,
                                                      direct["reward_low_FN_rate"].score)
            assert f.thresholds["standard"] == direct["standard"].threshold
            assert f.files == len(chosen)


def test_bit_figures_score_the_stored_bits_at_one_half(everything: NabFigures, windows: dict) -> None:
    for (profile, convention), results in everything.replays.items():
        for half in ("tuning", "heldout", "all"):
            chosen = {n: r for n, r in results.items() if half == "all" or split_half(n) == half}
            bits = {n: (r.timestamps, r.bits[:, 0]) for n, r in chosen.items()}
            direct = score_corpus(bits, windows, thresholds=0.5)
            f = everything.figure(profile, convention, half, "bit")
            assert f.standard == direct["standard"].score and f.low_fn == direct["reward_low_FN_rate"].score
            assert set(f.thresholds.values()) == {0.5}
    # the bit is not the score: on the reference the two figures differ
    ref = everything.figure("netdata-1.33", "nab", "all", "score"), everything.figure("netdata-1.33", "nab", "all", "bit")
    assert ref[0].standard != ref[1].standard


def test_held_out_score_at_the_tuning_thresholds(everything: NabFigures, windows: dict) -> None:
    for (profile, convention), results in everything.replays.items():
        tuning = everything.figure(profile, convention, "tuning", "score")
        carried = everything.figure(profile, convention, "heldout", "score@tuning")
        assert carried.thresholds == tuning.thresholds
        held = {n: (r.timestamps, r.anomaly_score) for n, r in results.items() if split_half(n) == "heldout"}
        direct = score_corpus(held, windows, thresholds=tuning.thresholds)
        assert carried.standard == direct["standard"].score
    with pytest.raises(KeyError, match="kind 'score@tuning'"):
        everything.figure("peaks", "nab", "tuning", "score@tuning")


def test_tables_say_what_each_figure_is(everything: NabFigures) -> None:
    text = everything.table()
    assert text.count("== NAB, ") == 6  # 2 conventions x 3 halves
    assert "== NAB, held-out half (3 files, 7 windows); strict streaming" in text
    assert "== NAB, tuning half (1 files, 2 windows); NAB convention" in text
    for kind in ("score, threshold optimised on these files (NAB's way)",
                 "anomaly bit as stored (threshold fixed at 0.5)", "score, thresholds optimised on the tuning half"):
        assert kind in text
    block = text.split("== ")[1]
    assert block.count("netdata-1.33") == 2 and block.count("peaks") == 2  # every profile on the same data
    md = everything.markdown()
    assert "| figure | `netdata-1.33` standard / low FP / low FN | `peaks` standard / low FP / low FN |" in md
    doc = json.loads(json.dumps(everything.to_json()))
    assert len(doc["figures"]) == 2 * 2 * (3 * 2 + 1)
    assert {f["what"] for f in doc["figures"]} >= {"anomaly bit as stored (threshold fixed at 0.5)"}


def test_the_half_must_be_named_and_only_its_files_are_replayed(windows: dict) -> None:
    with pytest.raises(TypeError, match="half"):
        nab_figures(DATA, windows, ["netdata-1.33"])  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="half must be one of tuning, heldout, all, got 'held-out'"):
        nab_figures(DATA, windows, ["netdata-1.33"], half="held-out")
    tuning = nab_figures(DATA, windows, ["netdata-1.33"], half="tuning", conventions=["strict"], progress=False)
    assert list(tuning.replays["netdata-1.33", "strict"]) == ["realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv"]
    assert {f.half for f in tuning.figures} == {"tuning"} and {f.kind for f in tuning.figures} == {"score", "bit"}
    with pytest.raises(ValueError, match="unknown profile 'fancy'"):
        nab_figures(DATA, windows, ["fancy"], half="tuning")
    with pytest.raises(ValueError, match="a profile is repeated"):
        nab_figures(DATA, windows, ["peaks", "peaks"], half="tuning")


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nab"
    assert main(["lab", "nab", str(NAB), "--convention", "strict", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "netdata-1.33, netdata-2, pyml on NAB" in printed and "tuning half" in printed and "held-out half" not in printed
    assert "the scorer's probationary period, not the detector's" in printed
    for name in ("nab_figures.txt", "nab_figures.md", "nab_figures.json"):
        assert (out / name).is_file()
    doc = json.loads((out / "nab_figures.json").read_text(encoding="utf-8"))
    assert doc["half"] == "tuning" and doc["conventions"] == ["strict"]
    assert main(["lab", "nab", str(NAB), "--profiles", "netdata-1.33,fancy", "--out", str(out), "--quiet"]) == 2
    assert "pyml lab nab: unknown profile 'fancy'" in capsys.readouterr().err
    assert main(["lab", "nab", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "NAB directory not found" in capsys.readouterr().err


def test_run_command_says_held_out_figures_are_not_for_tuning(tmp_path: Path) -> None:
    out = io.StringIO()
    run_command(DATA, profiles=["netdata-1.33"], half="heldout", conventions=["strict"], out_dir=tmp_path,
                stdout=out, progress=False)
    text = out.getvalue()
    assert "held-out figures: for reporting a frozen formulation, never for tuning" in text
    assert "== NAB, held-out half (3 files" in text and "tuning half" not in text.split("==", 1)[1]


# --------------------------------------------------------------------------- the sweep never tunes on held-out files


def test_a_sweep_leaves_out_the_held_out_half(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    named = {p.relative_to(DATA).as_posix(): p for p in DATA.glob("*/*.csv")}
    named["mine/series.csv"] = Path("series.csv")
    kept, left_out = guard_heldout(named, "tuning")
    assert sorted(kept) == ["mine/series.csv", "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv"]
    assert len(left_out) == 3
    assert guard_heldout(named, "all") == (named, [])
    with pytest.raises(ValueError, match="never tunes on the held-out half"):
        guard_heldout(named, "heldout")
    status = main(["lab", "sweep", str(DATA), "--labels", str(LABELS), "--grid", "lag_n=5", "--plots", "none",
                   "--jobs", "1", "--out", str(tmp_path / "s"), "--quiet"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "# left out 3 NAB series of the held-out half" in printed and "# 1 file(s) x 1 configuration(s)" in printed
    speed = DATA / "realTraffic" / "speed_7578.csv"
    assert main(["lab", "sweep", str(speed), "--labels", str(LABELS), "--grid", "lag_n=5", "--plots", "none",
                 "--out", str(tmp_path / "t")]) == 2
    assert "held-out half, which a sweep never tunes on" in capsys.readouterr().err
