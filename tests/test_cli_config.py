"""The ``pyml config`` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyml import MLConfig
from pyml.cli import main

SPEC_KEYS = [
    "enabled",
    "maximum num samples to train",
    "minimum num samples to train",
    "train every",
    "num samples to diff",
    "num samples to smooth",
    "num samples to lag",
    "maximum number of k-means iterations",
    "dimension anomaly score threshold",
    "host anomaly rate threshold",
    "minimum window size",
    "maximum window size",
    "idle window size",
    "window minimum anomaly rate",
    "anomaly event min dimension rate threshold",
    "hosts to skip from training",
    "charts to skip from training",
]


def parse_output(text: str) -> list[tuple[str, str]]:
    lines = text.splitlines()
    assert lines[0] == "[ml]"
    pairs = []
    for line in lines[1:]:
        assert not line.lstrip().startswith("#")
        key, sep, value = line.partition(" = ")
        assert sep, line
        pairs.append((key.strip(), value))
    return pairs


def test_default_profile_is_pyml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config"]) == 0
    out, err = capsys.readouterr()
    values = dict(parse_output(out))
    assert err == "" and values["profile"] == "pyml" and values["enabled"] == "yes"
    assert values["anomaly bit level"] == "0.75" and values["event onset charts"] == "4"
    assert MLConfig.from_netdata_conf(out) == MLConfig()


def test_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--profile", "netdata-1.33"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    pairs = parse_output(out)
    assert [k for k, _ in pairs] == ["profile"] + SPEC_KEYS
    values = dict(pairs)
    assert values["profile"] == "netdata-1.33"
    assert values["enabled"] == "yes"
    assert values["train every"] == "3600"
    assert values["dimension anomaly score threshold"] == "0.99"
    assert values["window minimum anomaly rate"] == "0.25"
    assert values["hosts to skip from training"] == "!*"
    assert MLConfig.from_netdata_conf(out) == MLConfig(profile="netdata-1.33")


def test_from_file_with_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "netdata.conf"
    conf.write_text(
        "[global]\n\thostname = n1\n"
        "[ml]\n"
        "\t# enabled = no\n"
        "\tenabled = on\n"
        "\ttrain every = 0x1C20\n"
        "\tnum samples to lag = 9\n"
        "\thost anomaly rate threshold = 0.5\n"
        "\tcolour = blue\n"
        "\thosts to skip from training = dev-* !*\n",
        encoding="utf-8",
    )
    assert main(["config", "--config", str(conf), "--profile", "netdata-1.33"]) == 0
    out, err = capsys.readouterr()
    values = dict(parse_output(out))
    assert values["enabled"] == "yes"
    assert values["train every"] == "7200"
    assert values["num samples to lag"] == "5"
    assert values["host anomaly rate threshold"] == "0.5"
    assert values["hosts to skip from training"] == "dev-* !*"
    assert values["minimum num samples to train"] == "3600"
    # warnings go to stderr, never to stdout
    assert "colour" in err and "line 9" in err
    assert "num samples to lag" in err and "9" in err and "using 5" in err
    assert "colour" not in out
    assert MLConfig.from_netdata_conf(conf, profile="netdata-1.33") == MLConfig.from_netdata_conf(out)


def test_disabled_prints_no(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "netdata.conf"
    conf.write_text("[web]\n\tbind to = 127.0.0.1\n", encoding="utf-8")
    assert main(["config", "--config", str(conf), "--profile", "netdata-1.33"]) == 0
    out, err = capsys.readouterr()
    assert dict(parse_output(out))["enabled"] == "no" and err == ""
    # The default profile's netdata.conf default is Netdata 2's 'auto': on.
    assert main(["config", "--config", str(conf)]) == 0
    out, err = capsys.readouterr()
    assert dict(parse_output(out))["enabled"] == "yes" and err == ""


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.conf"
    assert main(["config", "--config", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and str(missing) in err


def test_bad_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "netdata.conf"
    conf.write_text("[ml]\n\tenabled = yes\n\ttrain every = hourly\n", encoding="utf-8")
    assert main(["config", "--config", str(conf)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "line 3" in err and "'train every'" in err and "'hourly'" in err


def test_command_line_process(tmp_path: Path) -> None:
    conf = tmp_path / "netdata.conf"
    conf.write_text("[ml]\n\tprofile = netdata-1.33\n\tsmooth = 2\n\tnum samples to smooth = 2\n",
                    encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pyml", "config", "--config", str(conf)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert dict(parse_output(result.stdout))["num samples to smooth"] == "2"
    assert "unknown [ml] key 'smooth'" in result.stderr


NETDATA_2_KEYS = [
    "profile", "enabled", "training window", "min training window", "max training vectors",
    "max samples to smooth", "train every", "number of models per dimension", "delete models older than",
    "num samples to diff", "num samples to lag", "maximum number of k-means iterations",
    "dimension anomaly score threshold", "host anomaly rate threshold", "anomaly detection grouping method",
    "anomaly detection grouping duration", "num training threads", "flush models batch size",
    "dimension anomaly rate suppression window", "dimension anomaly rate suppression threshold",
    "enable statistics charts", "hosts to skip from training", "charts to skip from training",
    "stream anomaly detection charts",
]


@pytest.mark.parametrize("profile", ["netdata-2"])
def test_profile_defaults(capsys: pytest.CaptureFixture[str], profile: str) -> None:
    assert main(["config", "--profile", profile]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    pairs = parse_output(out)
    assert [k for k, _ in pairs] == NETDATA_2_KEYS
    values = dict(pairs)
    assert values["profile"] == profile
    assert values["training window"] == "6h" and values["train every"] == "3h"
    assert values["host anomaly rate threshold"] == "1.0"
    assert MLConfig.from_netdata_conf(out) == MLConfig(profile=profile)


def test_profile_of_the_file_and_of_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "netdata.conf"
    conf.write_text("[ml]\n\tprofile = pyml\n\ttraining window = 12h\n", encoding="utf-8")
    assert main(["config", "--config", str(conf)]) == 0
    out, err = capsys.readouterr()
    assert dict(parse_output(out))["profile"] == "pyml" and err == ""
    assert dict(parse_output(out))["training window"] == "12h"
    assert main(["config", "--config", str(conf), "--profile", "netdata-2"]) == 0
    out, err = capsys.readouterr()
    assert dict(parse_output(out))["profile"] == "netdata-2"
    assert "'profile' = 'pyml' is overridden" in err


def test_migration_warnings_go_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "netdata.conf"
    conf.write_text("[ml]\n\tnum samples to lag = 5\n[db]\n\tupdate every = 2s\n", encoding="utf-8")
    assert main(["config", "--config", str(conf), "--profile", "netdata-2"]) == 0
    out, err = capsys.readouterr()
    values = dict(parse_output(out))
    assert values["training window"] == "12h" and values["min training window"] == "30m"
    assert values["max training vectors"] == "4319"
    assert "migrating the sample-count [ml] keys" in err and "update every = 2 s" in err
    assert "migrat" not in out


def test_unknown_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "netdata.conf"
    conf.write_text("[ml]\n\tprofile = netdata-3\n", encoding="utf-8")
    assert main(["config", "--config", str(conf)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "line 2: 'profile' = 'netdata-3': unknown profile" in err and "'pyml'" in err
    with pytest.raises(SystemExit) as info:
        main(["config", "--profile", "netdata-3"])
    assert info.value.code == 2
    assert "invalid choice: 'netdata-3'" in capsys.readouterr().err
