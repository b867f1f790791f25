"""The fixed NAB split: the rule, the committed lists, and how the lab selects a half."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pyml.lab.split import committed_split, nab_split, select_half, split_half

NAB = Path(__file__).parent / "data" / "nab"
NAMES = NAB / "file_names.txt"


def _names() -> list[str]:
    return [line for line in NAMES.read_text(encoding="utf-8").splitlines() if line]


def test_the_name_list_is_nab_v1_1() -> None:
    names = _names()
    assert len(names) == 58 == len(set(names))
    windows = json.loads((NAB / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    assert sorted(windows) == names  # NAB's labels key the same 58 series


def test_committed_lists_equal_the_rule_on_the_58_names() -> None:
    committed = committed_split()
    assert committed == nab_split(_names())
    assert (len(committed["tuning"]), len(committed["heldout"])) == (31, 27)
    assert not set(committed["tuning"]) & set(committed["heldout"])


def test_the_rule_is_the_even_first_hex_digit_of_sha256() -> None:
    # written out independently of the module
    for name in _names():
        even = hashlib.sha256(name.encode()).hexdigest()[0] in "02468ace"
        assert split_half(name) == ("tuning" if even else "heldout")
    # two known cases: nyc_taxi is tuned on, machine_temperature is held out
    assert split_half("realKnownCause/nyc_taxi.csv") == "tuning"
    assert split_half("realKnownCause/machine_temperature_system_failure.csv") == "heldout"


def test_keys_are_relative_paths_with_slashes() -> None:
    for bad in ("", "/data/realKnownCause/nyc_taxi.csv", "realKnownCause\\nyc_taxi.csv", None):
        with pytest.raises(ValueError, match="relative to NAB's data directory"):
            split_half(bad)  # type: ignore[arg-type]


def test_select_half_needs_an_explicit_half() -> None:
    named = {name: i for i, name in enumerate(_names())}
    tuning = select_half(named, "tuning")
    heldout = select_half(named, "heldout")
    assert sorted(tuning) == committed_split()["tuning"]
    assert sorted(heldout) == committed_split()["heldout"]
    assert select_half(named, "all") == named
    assert list(tuning) == [n for n in named if n in tuning]  # input order kept
    with pytest.raises(ValueError, match="half must be one of tuning, heldout, all, got 'held-out'"):
        select_half(named, "held-out")
    with pytest.raises(ValueError, match="none of the 1 series is in the heldout half"):
        select_half({"realKnownCause/nyc_taxi.csv": 0}, "heldout")
