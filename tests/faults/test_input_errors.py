"""Bad input files and values: a clear message naming the file (or the argument), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

import pyml
from pyml.cli import main as cli_main

HEADER = "timestamp,value\n"


def files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, a fragment the message must contain besides the file name)."""
    cases = {
        "huge integer timestamp (CSV)": ("bigt.csv", HEADER + "9" * 25 + ",1\n1,2\n", "not epoch seconds"),
        "huge integer timestamp (JSON)": ("bigt.json", '{"labels":["time","a"],"data":[[' + "1" * 30 + ',1],[2,1]]}',
                                          "not whole epoch seconds"),
        "huge integer value (JSON)": ("bigv.json", '{"labels":["time","a"],"data":[[1,' + "1" * 400 + '],[2,1]]}',
                                      "beyond the float64 range"),
        "deeply nested JSON": ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        "non-UTF-8 CSV": ("latin.csv", None, "not UTF-8"),
        "one-row file": ("one.csv", HEADER + "2014-01-01 00:00:00,1\n", "at least two"),
        "negative timestamp": ("neg.csv", HEADER + "-5,1\n1,2\n", "not epoch seconds"),
    }
    out = {}
    for name, (file, text, fragment) in cases.items():
        path = tmp_path / file
        if text is None:
            path.write_bytes(HEADER.encode() + b"1,\xe9t\xe9\n2,1\n")
        else:
            path.write_text(text)
        out[name] = (path, fragment)
    return out


def test_replay_input_errors_name_the_file(tmp_path, capsys, ledger):
    for name, (path, fragment) in files(tmp_path).items():
        status = cli_main(["replay", str(path), "--out", str(tmp_path / "out"), "--quiet"])
        err = capsys.readouterr().err
        assert status == 2, (name, err)
        assert path.name in err and fragment in err, (name, err)
        assert "Traceback" not in err
        ledger.record(f"replay input: {name}", True, 0)


def test_bad_detector_name_is_refused_before_the_replay(tmp_path, capsys):
    path = tmp_path / "two.csv"
    path.write_text(HEADER + "1,1\n2,2\n")
    assert cli_main(["replay", str(path), "--detector", "my_detector", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "my_detector" in err and not (tmp_path / "o").exists()  # nothing replayed or written


def test_collect_all_names_a_value_beyond_float64(ledger):
    host = pyml.Host("input", background=False)
    host.add_chart("system.cpu", ["a", "b"])
    with pytest.raises(ValueError, match=r"values\[0\] = 1000.*beyond the float64 range"):
        host.collect_all(1_700_000_000, [10**400, 10**400])
    host.collect_all(1_700_000_000, [1.0, 2.0])  # nothing was stored by the refused call
    host.close()
    ledger.record("collect_all: integer beyond float64 (named ValueError)", True, 0)
