"""MLConfig.from_netdata_conf per profile: current Netdata's [ml] section, the profile line, keys of
other profiles, durations and percents from text, the sample-count migration (SPEC-NETDATA-2 §2.3),
and input hardening (byte-order mark, encoding)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

from pyml import MLConfig

V2 = "netdata-2"


def config_warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pyml.config" and r.levelno == logging.WARNING]


def ml(*lines: str, profile: str = V2) -> str:
    head = f"\tprofile = {profile}\n" if profile else ""
    return "[ml]\n" + head + "".join(f"\t{line}\n" for line in lines)


# A netdata.conf as current Netdata writes it: every [ml] key commented out at its default, a few set.
CURRENT_NETDATA_CONF = """\
# netdata configuration
#
# You can download the latest version of this file, using:
#
#  wget -O /etc/netdata/netdata.conf http://localhost:19999/netdata.conf
# or
#  curl -o /etc/netdata/netdata.conf http://localhost:19999/netdata.conf
#
# You can uncomment and change any of the options below.
# The value shown in the commented settings, is the default value.
#

# global netdata configuration

[global]
\t# run as user = netdata
\thostname = node-7

[db]
\t# enable replication = yes
\t# update every = 1s
\tmode = dbengine
\t# dbengine tier backfill = new
\t# dbengine tier 0 retention time = 14d

[web]
\t# bind to = *
\tbind to = 127.0.0.1

[ml]
\t# enabled = auto
\tenabled = yes
\ttraining window = 12h
\t# min training window = 15m
\t# max training vectors = 1440
\t# max samples to smooth = 3
\ttrain every = 3h
\t# number of models per dimension = 18
\tdelete models older than = 2d
\t# num samples to diff = 1
\t# num samples to lag = 5
\t# maximum number of k-means iterations = 1000
\t# dimension anomaly score threshold = 0.99000
\thost anomaly rate threshold = 1.00000
\t# anomaly detection grouping method = average
\tanomaly detection grouping duration = 5m
\t# num training threads = 4
\t# flush models batch size = 256
\tdimension anomaly rate suppression window = 30m
\t# dimension anomaly rate suppression threshold = 450
\t# enable statistics charts = yes
\t# hosts to skip from training = !*
\tcharts to skip from training = netdata.* apps.*
\t# stream anomaly detection charts = yes

[health]
\t# enabled = yes
\t# run at least every = 10s

[plugins]
\t# enable running new plugins = no
\tapps = no
"""


@pytest.mark.parametrize("name", [V2])
def test_current_netdata_conf_is_read(caplog: pytest.LogCaptureFixture, name: str) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(CURRENT_NETDATA_CONF, profile=name)
    assert config_warnings(caplog) == []
    assert cfg == MLConfig(
        profile=name, enabled=True, training_window="12h", delete_models_older_than="2d",
        suppression_window="30m", charts_to_skip="netdata.* apps.*",
    )
    assert cfg.training_window == 43200 and cfg.train_every == 10800 and cfg.delete_models_older_than == 172800
    assert cfg.host_anomaly_rate_threshold == 1.0 and cfg.host_rate_threshold_fraction == 0.01
    assert cfg.grouping_duration == 300
    assert cfg.suppression == (1800, 900)  # the threshold's default follows the window read
    assert cfg.chart_is_skipped("apps.cpu") and cfg.chart_is_skipped("anomaly_detection.dimensions")
    assert not cfg.chart_is_skipped("system.cpu")


def test_current_netdata_conf_under_netdata_1_33_stops_at_a_duration() -> None:
    # netdata-1.33's train every counts ticks: "3h" is not one
    with pytest.raises(ValueError, match=re.escape("line 37: 'train every' = '3h': expected an integer")):
        MLConfig.from_netdata_conf(CURRENT_NETDATA_CONF, profile="netdata-1.33")


def test_current_netdata_conf_without_a_profile_line_gets_the_default_profile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(CURRENT_NETDATA_CONF)
    assert cfg.profile == "pyml"
    # the keys pyml shares with Netdata 2 apply on top of its defaults; Netdata 2's own are warned about
    assert cfg.train_every == 3 * 3600 and cfg.charts_to_skip == "netdata.* apps.*"
    warned = config_warnings(caplog)
    assert any("'anomaly detection grouping duration' is a key of profile 'netdata-2'" in w for w in warned)
    assert not any("'train every'" in w for w in warned)


def test_current_netdata_conf_under_netdata_1_33_warns_about_every_key_it_lacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = CURRENT_NETDATA_CONF.replace("\ttrain every = 3h\n", "")
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(text, profile="netdata-1.33")
    assert cfg == MLConfig(profile="netdata-1.33", enabled=True, host_anomaly_rate_threshold=1.0, charts_to_skip="netdata.* apps.*")
    assert config_warnings(caplog) == [
        f"line {n}: {key!r} is a key of profile {owners}, not of 'netdata-1.33'; ignored"
        for n, key, owners in [(33, "training window", "'netdata-2' and 'pyml'"),
                               (38, "delete models older than", "'netdata-2' and 'pyml'"),
                               (45, "anomaly detection grouping duration", "'netdata-2'"),
                               (48, "dimension anomaly rate suppression window", "'netdata-2'")]
    ]


def test_defaults_under_netdata_2() -> None:
    cfg = MLConfig.from_netdata_conf(ml())
    assert cfg == MLConfig(profile=V2) and cfg.enabled is True  # Netdata's default "auto" reads as on
    assert MLConfig.from_netdata_conf(ml(profile=""), profile=V2).enabled is True
    assert MLConfig.from_netdata_conf(ml("enabled = auto")).enabled is True
    assert MLConfig.from_netdata_conf(ml("enabled = no")).enabled is False
    assert MLConfig.from_netdata_conf(ml(profile="netdata-1.33")).enabled is False  # unchanged


# ----------------------------------------------------------------- the profile line


def test_profile_is_read_first_wherever_it_is(caplog: pytest.LogCaptureFixture) -> None:
    text = "[ml]\n\ttraining window = 12h\n\tnum samples to lag = 3\n\tprofile = pyml\n"
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(text)
    assert config_warnings(caplog) == []
    assert cfg.profile == "pyml" and cfg.training_window == 43200 and cfg.lag_n == 3  # pyml allows lag 0-5


def test_unknown_profile_in_a_file_names_the_line() -> None:
    with pytest.raises(ValueError) as info:
        MLConfig.from_netdata_conf("[ml]\n\tenabled = yes\n\tprofile = netdata-3\n")
    message = str(info.value)
    assert message.startswith("line 3: 'profile' = 'netdata-3': unknown profile 'netdata-3'; valid profiles: ")
    assert "'netdata-1.33', 'netdata-2', 'pyml'" in message


def test_profile_argument_wins_over_the_file(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(ml("train every = 7200", profile="netdata-1.33"), profile=V2)
    assert cfg.profile == V2 and cfg.train_every == 7200
    assert config_warnings(caplog) == ["line 2: 'profile' = 'netdata-1.33' is overridden: reading with profile 'netdata-2'"]
    with pytest.raises(ValueError, match="unknown profile 'v2'"):
        MLConfig.from_netdata_conf(ml(), profile="v2")


def test_repeated_profile_line_last_wins(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf("[ml]\n\tprofile = netdata-2\n\tprofile = pyml\n")
    assert cfg.profile == "pyml"
    assert config_warnings(caplog) == ["line 3: 'profile' repeats line 2; the later value wins"]


# ----------------------------------------------------------------- keys of other profiles


def test_netdata_1_33_keys_are_ignored_under_netdata_2(caplog: pytest.LogCaptureFixture) -> None:
    text = ml("training window = 6h", "minimum window size = 60", "window minimum anomaly rate = 0.5",
              "maximum num samples to train = 7200", "colour = blue")
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(text)
    assert cfg == MLConfig(profile=V2)
    assert config_warnings(caplog) == [
        "line 7: unknown [ml] key 'colour' ignored",
        "line 4: 'minimum window size' is a key of profile 'netdata-1.33', not of 'netdata-2'; ignored",
        "line 5: 'window minimum anomaly rate' is a key of profile 'netdata-1.33', not of 'netdata-2'; ignored",
        "line 6: 'maximum num samples to train' is a key of profile 'netdata-1.33', not of 'netdata-2'; ignored "
        "(not migrated: the file sets 'training window' or 'max training vectors')",
    ]


def test_netdata_2_text_under_netdata_1_33_stops_at_a_duration() -> None:
    with pytest.raises(ValueError, match=re.escape("line 8: 'train every' = '3h': expected an integer")):
        MLConfig.from_netdata_conf(MLConfig(profile=V2).to_netdata_conf(), profile="netdata-1.33")


def test_netdata_1_33_text_under_netdata_2_is_migrated(caplog: pytest.LogCaptureFixture) -> None:
    text = MLConfig(profile="netdata-1.33").to_netdata_conf()
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(text, profile=V2)
    # 14400 samples -> 4h, 3600 -> 60m, (14400 - 1) x 0.2 = 2879 vectors; train every 3600 read as 1h
    assert migrated_values(cfg) == {"training_window": 14400, "min_training_window": 3600,
                                    "training_vectors": 2879, "smooth_n": 3}
    assert cfg.train_every == 3600 and cfg.enabled is True
    assert cfg.host_anomaly_rate_threshold == 0.1  # 0.01 percent clamps to 0.1
    messages = config_warnings(caplog)
    assert messages[0] == "line 2: 'profile' = 'netdata-1.33' is overridden: reading with profile 'netdata-2'"
    ignored = [m for m in messages if m.endswith("not of 'netdata-2'; ignored")]
    assert [m.split("'")[1] for m in ignored] == [
        "minimum window size", "maximum window size", "idle window size", "window minimum anomaly rate",
        "anomaly event min dimension rate threshold",
    ]


# ----------------------------------------------------------------- values from text


@pytest.mark.parametrize(
    "line, field, value",
    [
        ("training window = 12h", "training_window", 43200),
        ("training window = 43200", "training_window", 43200),
        ("training window = 1h30m", "training_window", 5400),
        ("training window = 0.5d", "training_window", 43200),
        ("train every = 2H", "train_every", 7200),
        ("min training window = 1800", "min_training_window", 1800),
        ("delete models older than = 1w", "delete_models_older_than", 604800),
        ("anomaly detection grouping duration = 90s", "grouping_duration", 90),
        ("dimension anomaly rate suppression window = 1h", "suppression_window", 3600),
        ("host anomaly rate threshold = 1.00000", "host_anomaly_rate_threshold", 1.0),
        ("host anomaly rate threshold = 2.5", "host_anomaly_rate_threshold", 2.5),
        ("max training vectors = 0x100", "training_vectors", 256),
        ("number of models per dimension = 010", "number_of_models", 8),
        ("max samples to smooth = 0", "smooth_n", 0),
        ("anomaly detection grouping method = avg", "grouping_method", "average"),
        ("anomaly detection grouping method = median", "grouping_method", "median"),
        ("enable statistics charts = no", "statistics_charts", False),
        ("stream anomaly detection charts = Off", "stream_charts", False),
        ("num training threads = 4", "training_threads", 4),
        ("flush models batch size = 64", "flush_models_batch_size", 64),
        ("dimension anomaly rate suppression threshold = 100", "suppression_threshold", 100),
    ],
)
def test_values(line: str, field: str, value: Any) -> None:
    cfg = MLConfig.from_netdata_conf(ml("training window = 6h", line))
    assert getattr(cfg, field) == value


@pytest.mark.parametrize(
    "line, message",
    [
        ("training window = 6x", "line 3: 'training window' = '6x': not a duration: unknown unit 'x'"),
        ("train every = hourly", "line 3: 'train every' = 'hourly': not a duration: 'hourly' is not a duration term"),
        ("min training window = ", "line 3: 'min training window' = '': not a duration: empty"),
        ("delete models older than = 1h ago", "line 3: 'delete models older than' = '1h ago': not a duration"),
        ("max training vectors = 1e3", "line 3: 'max training vectors' = '1e3': expected an integer"),
        ("host anomaly rate threshold = 1%", "line 3: 'host anomaly rate threshold' = '1%': expected a decimal"),
        ("enable statistics charts = maybe", "line 3: 'enable statistics charts' = 'maybe': expected yes/no"),
        ("anomaly detection grouping method = a\0b", "contains a NUL character"),
    ],
)
def test_bad_values_name_line_key_and_value(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        MLConfig.from_netdata_conf(ml(line))


def test_clamps_from_a_file_name_the_line(caplog: pytest.LogCaptureFixture) -> None:
    text = ml("training window = 30h", "host anomaly rate threshold = 0.01", "train every = -2h",
              "num samples to lag = 0", "anomaly detection grouping method = Average")
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(text)
    assert (cfg.training_window, cfg.host_anomaly_rate_threshold, cfg.train_every, cfg.lag_n) == (86400, 0.1, 7200, 1)
    assert cfg.grouping_method == "average"
    assert config_warnings(caplog) == [
        "line 5: train_every ('train every') = '-2h' is negative; using its magnitude, as Netdata does",
        "line 3: training_window ('training window') = '30h' is outside [1h, 1d]; using 1d",
        "line 6: lag_n ('num samples to lag') = 0 is outside [1, 5]; using 1",
        "line 4: host_anomaly_rate_threshold ('host anomaly rate threshold', in percent) = 0.01 is outside "
        "[0.1, 10.0]; using 0.1",
        "line 7: grouping_method ('anomaly detection grouping method') = 'Average' is not a grouping method "
        "Netdata knows; using 'average'",
    ]


def test_negative_counts_mean_the_maximum(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyml.profiles.os.cpu_count", lambda: 8)
    text = ml("number of models per dimension = -1", "num training threads = -1",
              "dimension anomaly rate suppression threshold = -5")
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(text)
    assert (cfg.number_of_models, cfg.training_threads, cfg.suppression_threshold) == (168, 8, 900)
    messages = config_warnings(caplog)
    assert messages[0].endswith("using the maximum 168")
    assert "line 4: 'num training threads' = '-1': negative value wraps" in messages[1]
    assert any(m.startswith("line 4: training_threads ('num training threads') = ") and m.endswith("using 8")
               for m in messages)


def test_unclamped_errors_name_the_line() -> None:
    with pytest.raises(ValueError, match=re.escape("line 3: 'training window' = '-1h': must not be negative")):
        MLConfig.from_netdata_conf(ml("training window = -1h"), clamp=False)
    with pytest.raises(ValueError, match=re.escape("line 3: 'training window' = 'off': training_window must be at "
                                                   "least 1")):
        MLConfig.from_netdata_conf(ml("training window = off"), clamp=False)
    with pytest.raises(ValueError, match=re.escape("line 3: 'anomaly detection grouping method' = 'x': not a "
                                                   "grouping method")):
        MLConfig.from_netdata_conf(ml("anomaly detection grouping method = x"), clamp=False)
    cfg = MLConfig.from_netdata_conf(ml("training window = 10m", "min training window = 1m"), clamp=False)
    assert (cfg.training_window, cfg.min_training_window) == (600, 60)


# ----------------------------------------------------------------- migration (SPEC-NETDATA-2 §2.3)

OLD_KEYS = {
    "maximum num samples to train": "21600",
    "minimum num samples to train": "900",
    "num samples to diff": "1",
    "num samples to smooth": "3",
    "num samples to lag": "5",
    "random sampling ratio": "0.2",
}


def migrated_values(cfg: MLConfig) -> Dict[str, Any]:
    return {"training_window": cfg.training_window, "min_training_window": cfg.min_training_window,
            "training_vectors": cfg.training_vectors, "smooth_n": cfg.smooth_n}


@pytest.mark.parametrize("name", [V2])
@pytest.mark.parametrize("old_key", list(OLD_KEYS))
def test_each_old_key_alone_triggers_the_migration(
    caplog: pytest.LogCaptureFixture, name: str, old_key: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(ml(f"{old_key} = {OLD_KEYS[old_key]}", profile=name))
    # Netdata's old defaults, migrated: 21600 samples -> 6h, 900 -> 15m, (21600 - 1) x 0.2 = 4319 vectors
    assert migrated_values(cfg) == {"training_window": 21600, "min_training_window": 900,
                                    "training_vectors": 4319, "smooth_n": 3}
    messages = config_warnings(caplog)
    assert len(messages) == 5
    assert messages[0].startswith("migrating the sample-count [ml] keys to time-based keys, as Netdata does: "
                                  f"the file sets {old_key!r} (line 3)")
    assert "update every = 1 s ([db] update every not set)" in messages[0]
    assert ("'training window' = 6h, from 'maximum num samples to train' = " in messages[1]
            and messages[1].endswith("x update every 1 s, in whole hours"))
    assert "'min training window' = 15m, from 'minimum num samples to train' = " in messages[2]
    assert "'max training vectors' = 4319, from ('maximum num samples to train' = " in messages[3]
    assert "'max samples to smooth' = 3, from 'num samples to smooth' = " in messages[4]


@pytest.mark.parametrize("old_key", ["num samples to lag", "num samples to diff"])
def test_current_keys_alone_trigger_it_too(caplog: pytest.LogCaptureFixture, old_key: str) -> None:
    # The documented surprise: a file that only sets a current key gets ~3x the training vectors.
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(ml(f"{old_key} = 1"))
    assert cfg.training_vectors == 4319 and MLConfig(profile=V2).training_vectors == 1440
    assert cfg.lag_n == (1 if old_key == "num samples to lag" else 5)  # still read as written
    assert cfg.diff_n == 1
    header = config_warnings(caplog)[0]
    assert "(Netdata migrates on these current keys too)" in header


def test_migrated_values(caplog: pytest.LogCaptureFixture) -> None:
    text = ml(
        "maximum num samples to train = 7200",
        "minimum num samples to train = 1800",
        "num samples to diff = 1",
        "num samples to smooth = 2",
        "random sampling ratio = 0.5",
        "train every = 3600",
        profile=V2,
    ) + "[db]\n\tupdate every = 2\n"
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(text)
    # 7200 x 2 s = 4h; 1800 x 2 s = 60m; (7200 - 1) x 0.5 = 3599.5 -> 3599; smooth 2
    assert migrated_values(cfg) == {"training_window": 14400, "min_training_window": 3600,
                                    "training_vectors": 3599, "smooth_n": 2}
    assert cfg.train_every == 3600 and cfg.diff_n == 1  # rewritten unchanged
    messages = config_warnings(caplog)
    assert "update every = 2 s ([db] update every, line 10)" in messages[0]
    assert messages[1:] == [
        "migration of line 3: 'training window' = 4h, from 'maximum num samples to train' = 7200 (line 3) "
        "x update every 2 s, in whole hours",
        "migration of line 4: 'min training window' = 60m, from 'minimum num samples to train' = 1800 (line 4) "
        "x update every 2 s, in whole minutes",
        "migration of line 3: 'max training vectors' = 3599, from ('maximum num samples to train' = 7200 (line 3) "
        "- 1 for 'num samples to diff' 1 (line 5)) x 'random sampling ratio' = 0.5 (line 7)",
        "migration of line 6: 'max samples to smooth' = 2, from 'num samples to smooth' = 2 (line 6)",
    ]


def test_migration_without_differencing_keeps_every_sample() -> None:
    cfg = MLConfig.from_netdata_conf(ml("maximum num samples to train = 7200", "num samples to diff = 0"))
    assert cfg.training_vectors == 1440  # 7200 x 0.2, no sample lost to differencing
    assert cfg.diff_n == 0


def test_migrated_windows_are_whole_hours_and_minutes_then_clamped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(ml("maximum num samples to train = 5399",
                                            "minimum num samples to train = 119"))
    # 5399 s -> 1h (truncated); 119 s -> 1m, clamped to 15m
    assert (cfg.training_window, cfg.min_training_window) == (3600, 900)
    assert "migration of line 4: min_training_window ('min training window') = '1m' is outside [15m, 6h]; " \
           "using 15m" in config_warnings(caplog)
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(ml("maximum num samples to train = 3000"))
    assert cfg.training_window == 3600  # "0h" -> clamped to 1h
    assert any("training_window ('training window') = '0h' is outside [1h, 1d]; using 1h" in m
               for m in config_warnings(caplog))


@pytest.mark.parametrize("blocking", ["training window = 6h", "max training vectors = 1440"])
def test_new_keys_prevent_the_migration(caplog: pytest.LogCaptureFixture, blocking: str) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(ml(blocking, "num samples to lag = 3", "num samples to smooth = 1",
                                            "random sampling ratio = 0.1"))
    assert cfg.lag_n == 3 and cfg.smooth_n == 3 and cfg.training_vectors == 1440
    assert config_warnings(caplog) == [
        "line 5: 'num samples to smooth' is a key of profile 'netdata-1.33', not of 'netdata-2'; ignored "
        "(not migrated: the file sets 'training window' or 'max training vectors')",
        "line 6: 'random sampling ratio' is no longer read by Netdata; ignored "
        "(not migrated: the file sets 'training window' or 'max training vectors')",
    ]


def test_migration_replaces_new_keys_of_the_file(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(ml("min training window = 30m", "max samples to smooth = 1",
                                            "num samples to lag = 5"))
    assert cfg.min_training_window == 900 and cfg.smooth_n == 3
    messages = config_warnings(caplog)
    assert "line 3: 'min training window' = '30m' is replaced by the migrated value 15m, as Netdata does" in messages
    assert "line 4: 'max samples to smooth' = '1' is replaced by the migrated value 3, as Netdata does" in messages


@pytest.mark.parametrize(
    "db, update_every",
    [("", 1), ("[db]\n\t# update every = 5\n", 1), ("[db]\n\tupdate every = 5\n", 5),
     ("[db]\n\tupdate every = 5s\n", 5), ("[global]\n\tupdate every = 5\n", 1),
     ("[db]\n\tupdate every = 2\n\tupdate every = 3\n", 3)],
)
def test_migration_update_every(db: str, update_every: int) -> None:
    cfg = MLConfig.from_netdata_conf(db + ml("maximum num samples to train = 3600"))
    assert cfg.training_window == 3600 * update_every


@pytest.mark.parametrize("value", ["fast", "0", "-2"])
def test_migration_with_an_unusable_update_every_uses_1(caplog: pytest.LogCaptureFixture, value: str) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(f"[db]\n\tupdate every = {value}\n" + ml("maximum num samples to train = 7200"))
    assert cfg.training_window == 7200
    assert config_warnings(caplog)[0].startswith(f"line 2: [db] 'update every' = {value!r} is not a")


@pytest.mark.parametrize(
    "line, message",
    [
        ("maximum num samples to train = lots", "line 3: 'maximum num samples to train' = 'lots': expected an integer"),
        ("random sampling ratio = 0,2", "line 3: 'random sampling ratio' = '0,2': expected a finite decimal number"),
        ("num samples to smooth = 2.5", "line 3: 'num samples to smooth' = '2.5': expected an integer"),
    ],
)
def test_migration_errors_name_line_key_and_value(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        MLConfig.from_netdata_conf(ml(line))


def test_migration_of_negative_counts_wraps_as_unsigned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(ml("maximum num samples to train = -1"))
    # 2**32 - 1 samples: every derived value clamps to its maximum
    assert (cfg.training_window, cfg.training_vectors) == (86400, 86400)
    assert any("= -1 (wraps to 4294967295; line 3)" in m for m in config_warnings(caplog))


def test_no_migration_under_netdata_1_33(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig.from_netdata_conf(ml("num samples to lag = 3", "random sampling ratio = 0.2",
                                            profile="netdata-1.33"))
    assert cfg.lag_n == 3 and cfg.profile == "netdata-1.33"
    assert config_warnings(caplog) == ["line 4: unknown [ml] key 'random sampling ratio' ignored"]


def test_a_migrated_configuration_round_trips_without_migrating_again(caplog: pytest.LogCaptureFixture) -> None:
    cfg = MLConfig.from_netdata_conf(ml("maximum num samples to train = 7200", "num samples to smooth = 1"))
    text = cfg.to_netdata_conf()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        back = MLConfig.from_netdata_conf(text)
    assert back == cfg and config_warnings(caplog) == []


# ----------------------------------------------------------------- input hardening


@pytest.mark.parametrize("profile", ["netdata-1.33", V2])
def test_a_byte_order_mark_does_not_hide_ml(tmp_path: Path, profile: str) -> None:
    path = tmp_path / "netdata.conf"
    path.write_bytes(b"\xef\xbb\xbf[ml]\n\tenabled = yes\n\ttrain every = 7200\n\tprofile = " + profile.encode() + b"\n")
    cfg = MLConfig.from_netdata_conf(path)
    assert cfg.enabled is True and cfg.train_every == 7200 and cfg.profile == profile
    text = "\ufeff[ml]\n\tenabled = yes\n"
    assert MLConfig.from_netdata_conf(text).enabled is True
    # only a leading mark is a byte-order mark
    with pytest.raises(ValueError, match=re.escape("line 3: 'enabled' = '\\ufeffyes'")):
        MLConfig.from_netdata_conf("[ml]\n\ufeffenabled = yes\n\tenabled = \ufeffyes\n")


def test_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "netdata.conf"
    path.write_bytes(b"[ml]\n\tprofile = netdata-2\n\tcharts to skip from training = \xe9t\xe9\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}: not UTF-8 text")):
        MLConfig.from_netdata_conf(path)
    path.write_bytes(b"\xff\xfe[\x00m\x00l\x00]\x00")  # UTF-16
    with pytest.raises(ValueError, match=re.escape(f"{path}: not UTF-8 text")):
        MLConfig.from_netdata_conf(path)


def test_errors_and_warnings_name_the_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "netdata.conf"
    path.write_text(ml("num samples to lag = 5", "training window = 6x"), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{path}: line 4: 'training window' = '6x'")):
        MLConfig.from_netdata_conf(path)
    path.write_text(ml("num samples to lag = 5"), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        MLConfig.from_netdata_conf(path)
    assert all(m.startswith(f"{path}: ") for m in config_warnings(caplog))
