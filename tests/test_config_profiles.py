"""MLConfig profiles: key tables, netdata-2 keys (SPEC-NETDATA-2 §2.1), derived engine quantities,
ml_info and netdata.conf round trips per profile."""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import math
import pickle
import typing
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyml
from pyml import MLConfig, profiles
from pyml.profiles import DEFAULT_PROFILE, GROUPING_METHODS, PROFILES

V2 = "netdata-2"
TIME_PROFILES = ["netdata-2"]  # pyml has its own table (test_pyml_profile_*)


def config_warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pyml.config" and r.levelno == logging.WARNING]


# SPEC-NETDATA-2 §2.1, in its order: netdata.conf key, field, default, clamp range.
NETDATA_2_TABLE = [
    ("enabled", "enabled", True, None),
    ("training window", "training_window", 6 * 3600, (3600, 24 * 3600)),
    ("min training window", "min_training_window", 15 * 60, (15 * 60, 6 * 3600)),
    ("max training vectors", "training_vectors", 1440, (2, 86400)),
    ("max samples to smooth", "smooth_n", 3, (0, 5)),
    ("train every", "train_every", 3 * 3600, (3600, 6 * 3600)),
    ("number of models per dimension", "number_of_models", 18, (1, 168)),
    ("delete models older than", "delete_models_older_than", 7 * 86400, (86400, 7 * 86400)),
    ("num samples to diff", "diff_n", 1, (0, 1)),
    ("num samples to lag", "lag_n", 5, (1, 5)),
    ("maximum number of k-means iterations", "max_kmeans_iters", 1000, (500, 1000)),
    ("dimension anomaly score threshold", "dimension_anomaly_score_threshold", 0.99, (0.01, 5.0)),
    ("host anomaly rate threshold", "host_anomaly_rate_threshold", 1.0, (0.1, 10.0)),
    ("anomaly detection grouping method", "grouping_method", "average", None),
    ("anomaly detection grouping duration", "grouping_duration", 300, (60, 900)),
    ("num training threads", "training_threads", 4, None),  # [4, max(4, CPUs)]: tested apart
    ("flush models batch size", "flush_models_batch_size", 256, (8, 512)),
    ("dimension anomaly rate suppression window", "suppression_window", 900, None),  # [1, training window]
    ("dimension anomaly rate suppression threshold", "suppression_threshold", 450, None),  # [1, window]
    ("enable statistics charts", "statistics_charts", True, None),
    ("hosts to skip from training", "hosts_to_skip", "!*", None),
    ("charts to skip from training", "charts_to_skip", "netdata.*", None),
    ("stream anomaly detection charts", "stream_charts", True, None),
]
V133_ONLY = [
    "max_train_samples", "min_train_samples", "min_window_size", "max_window_size", "idle_window_size",
    "window_rate_threshold", "dimension_rate_threshold",
]
V2_ONLY = [f for _, f, _, _ in NETDATA_2_TABLE if f not in {k.field for k in PROFILES["netdata-1.33"].keys}]


# ----------------------------------------------------------------- choosing a profile


def test_profiles_and_the_default() -> None:
    assert list(PROFILES) == ["netdata-1.33", "netdata-2", "pyml"]
    assert DEFAULT_PROFILE == "pyml"
    assert MLConfig().profile == DEFAULT_PROFILE
    assert MLConfig(profile="pyml") == MLConfig()
    assert MLConfig().calibration_settings(1)["calibration"] == "surprise"
    assert pyml.config.DEFAULT_PROFILE == DEFAULT_PROFILE and pyml.config.PROFILES is PROFILES
    assert MLConfig.from_netdata_conf("[ml]\n\tenabled = yes\n").profile == DEFAULT_PROFILE


@pytest.mark.parametrize("bad", ["netdata", "Netdata-2", "netdata-1.33 ", "", "v2"])
def test_unknown_profile_lists_the_valid_ones(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        MLConfig(profile=bad)
    message = str(info.value)
    assert repr(bad) in message
    assert "'netdata-1.33'" in message and "'netdata-2'" in message and "'pyml'" in message


@pytest.mark.parametrize("bad", [None, 2, b"netdata-2"])
def test_profile_must_be_a_string(bad: Any) -> None:
    with pytest.raises(TypeError, match="profile must be a str"):
        MLConfig(profile=bad)


# ----------------------------------------------------------------- the key tables


def test_every_field_belongs_to_a_profile_and_types_say_when_it_may_be_none() -> None:
    fields = [f.name for f in dataclasses.fields(MLConfig)]
    in_tables = {k.field for p in PROFILES.values() for k in p.keys}
    assert set(fields) - {"profile", "clamp"} == in_tables
    hints = typing.get_type_hints(MLConfig)
    for name in in_tables:
        everywhere = all(p.key(name) is not None for p in PROFILES.values())
        optional = type(None) in typing.get_args(hints[name])
        assert optional is not everywhere, name


def test_constructor_takes_every_field_keyword_only() -> None:
    parameters = list(inspect.signature(MLConfig.__init__).parameters.values())[1:]
    assert [p.name for p in parameters] == [f.name for f in dataclasses.fields(MLConfig)]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
    with pytest.raises(TypeError):
        MLConfig("netdata-2")  # type: ignore[misc]


@pytest.mark.parametrize("name", list(PROFILES))
def test_tables_are_consistent(name: str) -> None:
    profile = PROFILES[name]
    seen: Dict[str, Any] = {}
    for key in profile.keys:
        default = key.default_for(seen)
        # bounds only use keys before them, and the defaults are inside them
        low, high = key.bound("low", seen), key.bound("high", seen)
        if low is not None:
            assert low <= default <= high, key.field
        if key.hard_low is not None:
            assert key.hard_low <= default <= key.hard_high, key.field
            if low is not None:
                assert key.hard_low <= low and high <= key.hard_high, key.field
        seen[key.field] = default
    assert len({k.conf_key for k in profile.keys}) == len(profile.keys)
    assert all(profile.key(k.field) is k and profile.conf_key(k.conf_key) is k for k in profile.keys)


def test_netdata_2_table_is_the_spec() -> None:
    keys = [k for k in PROFILES[V2].keys if not k.extension]
    assert [(k.conf_key, k.field) for k in keys] == [(c, f) for c, f, _, _ in NETDATA_2_TABLE]
    cfg = MLConfig(profile=V2)
    for conf_key, name, default, bounds in NETDATA_2_TABLE:
        assert getattr(cfg, name) == default and type(getattr(cfg, name)) is type(default), name
        key = PROFILES[V2].key(name)
        if bounds is not None:
            assert (key.low, key.high) == bounds, name
    kinds = {k.field: k.kind for k in keys}
    assert [f for f, kind in kinds.items() if kind == "duration"] == [
        "training_window", "min_training_window", "train_every", "delete_models_older_than", "grouping_duration",
        "suppression_window",
    ]
    assert kinds["host_anomaly_rate_threshold"] == "percent"


def test_pyml_profile_has_its_own_keys_and_mechanisms() -> None:
    own = PROFILES["pyml"]
    fields = [k.field for k in own.keys]
    assert "suppression_window" not in fields and "grouping_duration" not in fields
    assert "host_anomaly_rate_threshold" not in fields
    for name in ("surprise_memory", "surprise_decades", "surprise_bit_level", "event_onset_groups",
                 "event_confirm_decades", "event_idle_ticks", "score_peak_window"):
        assert name in fields
    cfg = MLConfig(profile="pyml")
    assert (cfg.diff_n, cfg.smooth_n, cfg.lag_n, cfg.number_of_models, cfg.training_vectors) == (0, 1, 0, 1, 0)
    assert cfg.feature_variant == "v1" and cfg.host_detector == "pyml" and cfg.suppression == (0, 0)
    assert cfg.skip_constant_training and cfg.host_rate_threshold_fraction is None
    assert cfg.training_points(1) == (900, 21600) and cfg.train_every_ticks(1) == 3600
    assert cfg.calibration_settings(1) == {"calibration": "surprise", "peak_window": 120, "memory": 14 * 86400,
                                           "decades": 4.0, "bit_level": 0.75, "saturation": 100.0,
                                           "score_decades": 0.0, "score_warmup": 0.0,   # no score tail
                                           "day_decades": 10.0, "day_slots": 12.0, "day_ticks_per_slot": 7200.0,
                                           "day_warmup": 2.0, "day_memory": 7.0, "day_span": 10.0,
                                           "day_long_memory": 14.0 * 86400}
    assert MLConfig(profile="pyml", daily_profile_decades=0).calibration_settings(1)["day_decades"] == 0.0
    five_minutes = cfg.calibration_settings(300)
    assert (five_minutes["day_slots"], five_minutes["day_ticks_per_slot"]) == (12.0, 24.0)
    assert five_minutes["day_long_memory"] == 14 * 288
    assert cfg.calibration_settings(7200 * 2)["day_slots"] == 6.0    # fewer ticks a day than slots
    assert cfg.calibration_settings(300)["memory"] == 4032  # 14 days of 5-minute points, as tuned on NAB
    assert MLConfig(profile=V2).calibration_settings(1) == {"calibration": "none"}
    assert MLConfig(profile="netdata-1.33").calibration_settings(1) == {"calibration": "none"}


def test_pyml_profile_clamps_and_round_trips(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile="pyml", surprise_bit_level=2.0, event_onset_groups=0, lag_n=9)
    assert (cfg.surprise_bit_level, cfg.event_onset_groups, cfg.lag_n) == (1.0, 1, 5)
    assert len(config_warnings(caplog)) == 3
    text = MLConfig(profile="pyml", surprise_memory="1d", training_window="2h").to_netdata_conf()
    assert "\tanomaly rate memory = 1d\n" in text and "\tprofile = pyml\n" in text
    assert MLConfig.from_netdata_conf(text) == MLConfig(profile="pyml", surprise_memory=86400, training_window=7200)
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        MLConfig(profile="pyml", suppression_window=10)
    assert any("suppression_window" in m and "pyml" in m for m in config_warnings(caplog))


# ----------------------------------------------------------------- netdata-2 values


@pytest.mark.parametrize("name", TIME_PROFILES)
def test_defaults_need_no_warning_and_other_keys_are_none(caplog: pytest.LogCaptureFixture, name: str) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile=name)
        MLConfig(profile=name, train_every="1h", training_window=3600 * 12, smooth_n=0, lag_n=1, diff_n=0)
    assert config_warnings(caplog) == []
    assert all(getattr(cfg, f) is None for f in V133_ONLY)
    assert cfg.enabled is True and cfg.score_peak_window == 0


def test_v133_leaves_the_netdata_2_fields_none() -> None:
    cfg = MLConfig(profile="netdata-1.33")
    assert all(getattr(cfg, f) is None for f in V2_ONLY)


# field, given, value the clamp uses, final value after the cross-check
V2_CLAMP_CASES = [
    ("training_window", "30m", 3600, 3600),  # 1h is still above the 15m minimum: no reset
    ("training_window", "2d", 86400, 86400),
    ("training_window", 100000, 86400, 86400),
    ("min_training_window", "1m", 900, 900),
    ("min_training_window", "7h", 21600, 3600),  # then 6h >= 6h resets both to 1h / 6h
    ("training_vectors", 1, 2, 2),
    ("training_vectors", 100000, 86400, 86400),
    ("smooth_n", -1, 0, 0),
    ("smooth_n", 9, 5, 5),
    ("train_every", "30m", 3600, 3600),
    ("train_every", "12h", 21600, 21600),
    ("number_of_models", 0, 1, 1),
    ("number_of_models", 500, 168, 168),
    ("delete_models_older_than", "1h", 86400, 86400),
    ("delete_models_older_than", "30d", 604800, 604800),
    ("diff_n", 2, 1, 1),
    ("lag_n", 0, 1, 1),
    ("lag_n", 6, 5, 5),
    ("max_kmeans_iters", 100, 500, 500),
    ("max_kmeans_iters", 5000, 1000, 1000),
    ("dimension_anomaly_score_threshold", 0.001, 0.01, 0.01),
    ("dimension_anomaly_score_threshold", 10.0, 5.0, 5.0),
    ("host_anomaly_rate_threshold", 0.01, 0.1, 0.1),
    ("host_anomaly_rate_threshold", 50.0, 10.0, 10.0),
    ("grouping_duration", "10s", 60, 60),
    ("grouping_duration", "1h", 900, 900),
    ("flush_models_batch_size", 1, 8, 8),
    ("flush_models_batch_size", 1000, 512, 512),
    ("suppression_window", "7h", 21600, 21600),
    ("suppression_threshold", 0, 1, 1),
    ("suppression_threshold", 901, 900, 900),
]


def _shown(key: Any, value: Any) -> str:
    if key.kind == "duration":
        return pyml.durations.format_duration(value)
    return repr(value)


@pytest.mark.parametrize("name", TIME_PROFILES)
@pytest.mark.parametrize("field_name, given_value, used, final", V2_CLAMP_CASES)
def test_netdata_2_clamps_every_key(
    caplog: pytest.LogCaptureFixture, name: str, field_name: str, given_value: Any, used: Any, final: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile=name, **{field_name: given_value})
    assert getattr(cfg, field_name) == final
    key = PROFILES[name].key(field_name)
    messages = [m for m in config_warnings(caplog) if "outside" in m]
    assert len(messages) == 1, config_warnings(caplog)
    message = messages[0]
    assert message.startswith(f"{field_name} ({key.conf_key!r}")
    assert f"= {given_value!r} " in message
    assert message.endswith(f"using {_shown(key, used)}")


@pytest.mark.parametrize("name", TIME_PROFILES)
def test_netdata_2_bounds_are_inclusive(caplog: pytest.LogCaptureFixture, name: str) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        for _, field_name, _, bounds in NETDATA_2_TABLE:
            if bounds is not None:
                for bound in bounds:
                    MLConfig(profile=name, **{field_name: bound})
        MLConfig(profile=name, suppression_window=1, suppression_threshold=1)
        MLConfig(profile=name, suppression_window="6h", suppression_threshold=21600)
        MLConfig(profile=name, training_threads=4)
    assert [m for m in config_warnings(caplog) if "outside" in m] == []


def test_durations_take_text_and_seconds() -> None:
    cfg = MLConfig(profile=V2, training_window="12h", min_training_window="1h30m", train_every=7200,
                   delete_models_older_than="2d", grouping_duration="2m", suppression_window="10m")
    assert (cfg.training_window, cfg.min_training_window, cfg.train_every) == (43200, 5400, 7200)
    assert (cfg.delete_models_older_than, cfg.grouping_duration, cfg.suppression_window) == (172800, 120, 600)
    assert MLConfig(profile=V2, training_window=36000.0).training_window == 36000
    with pytest.raises(ValueError, match=r"training_window = '6x' is not a duration: unknown unit 'x'"):
        MLConfig(profile=V2, training_window="6x")
    with pytest.raises(ValueError, match="training_window must be an integer, got 3600.5"):
        MLConfig(profile=V2, training_window=3600.5)
    with pytest.raises(TypeError, match="training_window must be a whole number of seconds or a duration"):
        MLConfig(profile=V2, training_window=[1])
    # netdata-1.33's train every counts ticks: no duration text there
    with pytest.raises(TypeError, match="train_every must be an integer"):
        MLConfig(profile="netdata-1.33", train_every="1h")  # type: ignore[arg-type]


def test_negative_durations_are_taken_by_magnitude(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile=V2, training_window="-12h", suppression_window=-1800)
    assert cfg.training_window == 43200 and cfg.suppression_window == 1800
    assert cfg.suppression_threshold == 900  # half the magnitude
    messages = config_warnings(caplog)
    assert messages == [
        "training_window ('training window') = '-12h' is negative; using its magnitude, as Netdata does",
        "suppression_window ('dimension anomaly rate suppression window') = -1800 (-30m) is negative; "
        "using its magnitude, as Netdata does",
    ]


def test_percent_threshold() -> None:
    cfg = MLConfig(profile=V2, host_anomaly_rate_threshold=2.5)
    assert cfg.host_anomaly_rate_threshold == 2.5
    assert cfg.host_rate_threshold_fraction == 2.5 / 100
    assert MLConfig(profile=V2).host_rate_threshold_fraction == 0.01
    assert MLConfig(profile="netdata-1.33", host_anomaly_rate_threshold=0.3).host_rate_threshold_fraction == 0.3


def test_percent_clamp_says_percent(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        MLConfig(profile=V2, host_anomaly_rate_threshold=0.01)
    assert config_warnings(caplog) == [
        "host_anomaly_rate_threshold ('host anomaly rate threshold', in percent) = 0.01 is outside [0.1, 10.0]; "
        "using 0.1"
    ]


@pytest.mark.parametrize(
    "window, min_window",
    [("1h", "1h"), ("2h", "3h"), ("5h", "7h"), ("1h", "6h"), ("30m", "2h")],
)
def test_training_window_cross_check(caplog: pytest.LogCaptureFixture, window: str, min_window: str) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile=V2, training_window=window, min_training_window=min_window)
    assert (cfg.min_training_window, cfg.training_window) == (3600, 21600)  # 1h / 6h, not the 15m default
    (reset,) = [m for m in config_warnings(caplog) if "not below" in m]
    assert reset.startswith("min_training_window ('min training window') = ")
    assert reset.endswith("using Netdata's reset values min_training_window = 1h and training_window = 6h")


def test_cross_check_follows_the_clamps() -> None:
    ok = MLConfig(profile=V2, training_window="1h", min_training_window="59m")
    assert (ok.min_training_window, ok.training_window) == (3540, 3600)


def test_suppression_threshold_default_is_half_the_raw_window(caplog: pytest.LogCaptureFixture) -> None:
    assert MLConfig(profile=V2).suppression == (900, 450)
    assert MLConfig(profile=V2, suppression_window="1h").suppression == (3600, 1800)
    assert MLConfig(profile=V2, suppression_window=901).suppression == (901, 450)
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        # window 100000 clamps to the training window (6h); the threshold default is computed from 100000
        cfg = MLConfig(profile=V2, suppression_window=100000)
    assert cfg.suppression == (21600, 21600)
    messages = config_warnings(caplog)
    assert len(messages) == 2
    assert messages[1] == (
        "suppression_threshold ('dimension anomaly rate suppression threshold') = 50000 "
        "(half the suppression window as given) is outside [1, 21600]; using 21600"
    )


def test_suppression_window_zero(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile=V2, suppression_window=0)
    assert cfg.suppression == (1, 1)
    assert [m.split(" = ")[0] for m in config_warnings(caplog)] == [
        "suppression_window ('dimension anomaly rate suppression window')",
        "suppression_threshold ('dimension anomaly rate suppression threshold')",
    ]


def test_suppression_window_is_clamped_to_the_window_before_the_reset() -> None:
    # Netdata clamps the suppression window to the training window (1h here), then resets W to 6h.
    cfg = MLConfig(profile=V2, training_window="1h", min_training_window="1h", suppression_window="2h")
    assert (cfg.training_window, cfg.suppression_window, cfg.suppression_threshold) == (21600, 3600, 3600)


@pytest.mark.parametrize("cpus, given_value, used", [(2, 1, 4), (2, 8, 4), (16, 8, 8), (16, 20, 16), (16, 2, 4),
                                                       (None, 9, 4)])
def test_training_threads_are_clamped_to_at_least_4_and_the_cpus(
    monkeypatch: pytest.MonkeyPatch, cpus: Optional[int], given_value: int, used: int
) -> None:
    monkeypatch.setattr(profiles.os, "cpu_count", lambda: cpus)
    assert MLConfig(profile=V2, training_threads=given_value).training_threads == used


@pytest.mark.parametrize(
    "given_value, stored",
    [("average", "average"), ("avg", "average"), ("mean", "average"), ("median", "median"),
     ("trimmed-mean", "trimmed-mean5"), ("percentile", "percentile95"), ("percentile99", "percentile99"),
     ("incremental-sum", "incremental_sum"), ("rsd", "cv"), ("ewma", "ses"), ("min", "min"), ("extremes", "extremes")],
)
def test_grouping_methods(given_value: str, stored: str) -> None:
    assert MLConfig(profile=V2, grouping_method=given_value).grouping_method == stored
    assert MLConfig(profile=V2, grouping_method=given_value, clamp=False).grouping_method == stored


def test_unknown_grouping_method(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile=V2, grouping_method="Average")
    assert cfg.grouping_method == "average"
    assert config_warnings(caplog) == [
        "grouping_method ('anomaly detection grouping method') = 'Average' is not a grouping method Netdata knows; "
        "using 'average'"
    ]
    with pytest.raises(ValueError, match="grouping_method = 'Average' is not a grouping method Netdata knows"):
        MLConfig(profile=V2, grouping_method="Average", clamp=False)
    with pytest.raises(TypeError, match="grouping_method must be a str"):
        MLConfig(profile=V2, grouping_method=1)  # type: ignore[arg-type]
    assert set(GROUPING_METHODS.values()) <= set(GROUPING_METHODS)


@pytest.mark.parametrize("field_name", ["statistics_charts", "stream_charts", "enabled"])
def test_netdata_2_booleans(field_name: str) -> None:
    assert getattr(MLConfig(profile=V2, **{field_name: False}), field_name) is False
    with pytest.raises(TypeError, match=f"{field_name} must be a bool"):
        MLConfig(profile=V2, **{field_name: "no"})


# ----------------------------------------------------------------- keys of another profile


def test_keys_of_another_profile_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        v2 = MLConfig(profile=V2, max_train_samples=7200, window_rate_threshold=0.5)
        v133 = MLConfig(profile="netdata-1.33", training_window="12h", number_of_models=9)
    assert v2.max_train_samples is None and v2.window_rate_threshold is None and v2 == MLConfig(profile=V2)
    assert v133.training_window is None and v133.number_of_models is None and v133 == MLConfig(profile="netdata-1.33")
    assert config_warnings(caplog) == [
        "max_train_samples ('maximum num samples to train') = 7200 is not a key of profile 'netdata-2'; ignored",
        "window_rate_threshold ('window minimum anomaly rate') = 0.5 is not a key of profile 'netdata-2'; ignored",
        "training_window ('training window') = '12h' is not a key of profile 'netdata-1.33'; ignored",
        "number_of_models ('number of models per dimension') = 9 is not a key of profile 'netdata-1.33'; ignored",
    ]


def test_none_for_a_key_of_another_profile_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        MLConfig(profile=V2, max_train_samples=None, idle_window_size=None)
        MLConfig(profile="netdata-1.33", training_window=None, stream_charts=None)
    assert config_warnings(caplog) == []


@pytest.mark.parametrize("field_name", ["training_window", "suppression_threshold", "grouping_method",
                                        "stream_charts", "train_every", "lag_n"])
def test_none_for_a_key_of_the_profile_is_a_type_error(field_name: str) -> None:
    with pytest.raises(TypeError, match=f"{field_name} must be .*None"):
        MLConfig(profile=V2, **{field_name: None})


def test_replace_and_pickle_keep_the_profile(caplog: pytest.LogCaptureFixture) -> None:
    cfg = MLConfig(profile=V2, training_window="12h", charts_to_skip="!system.* *")
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        other = dataclasses.replace(cfg, lag_n=3)
    assert config_warnings(caplog) == []
    assert other.profile == V2 and other.lag_n == 3 and other.training_window == 43200
    assert other.chart_is_skipped("anomaly_detection.dimensions") and not other.chart_is_skipped("system.cpu")
    back = pickle.loads(pickle.dumps(cfg))
    assert back == cfg and hash(back) == hash(cfg) and back.chart_is_skipped("apps.cpu")
    assert MLConfig(profile=V2) != MLConfig(profile="pyml")


def test_replace_cannot_change_the_profile(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        with pytest.raises(TypeError, match="to change profiles, build a new MLConfig"):
            dataclasses.replace(MLConfig(), profile=V2)
    assert config_warnings(caplog) == []  # the error comes first


# ----------------------------------------------------------------- clamp=False


def test_netdata_2_unclamped_keeps_values(caplog: pytest.LogCaptureFixture) -> None:
    values: Dict[str, Any] = dict(
        training_window=600, min_training_window=60, training_vectors=200000, train_every=60, number_of_models=500,
        delete_models_older_than=60, lag_n=0, max_kmeans_iters=5, host_anomaly_rate_threshold=50.0,
        grouping_duration=10, training_threads=1, flush_models_batch_size=1, suppression_window=100000,
        suppression_threshold=99999,
    )
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile=V2, **values, clamp=False)
    assert config_warnings(caplog) == []
    assert {k: getattr(cfg, k) for k in values} == values


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"training_window": 0}, "training_window must be at least 1"),
        ({"training_window": "-1h"}, "training_window must be at least 1"),
        ({"min_training_window": "2h", "training_window": "1h"},
         "min_training_window = 7200 is greater than training_window = 3600"),
        ({"training_vectors": 1}, "training_vectors must be at least 2"),
        ({"number_of_models": 0}, "number_of_models must be at least 1"),
        ({"host_anomaly_rate_threshold": 100.5}, "host_anomaly_rate_threshold must be at least 0.0, at most 100.0"),
        ({"suppression_window": 10, "suppression_threshold": 11},
         "suppression_threshold = 11 is greater than suppression_window = 10"),
        ({"training_threads": 0}, "training_threads must be at least 1"),
    ],
)
def test_netdata_2_unclamped_rejects_nonsense(kwargs: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MLConfig(profile=V2, **kwargs, clamp=False)


# ----------------------------------------------------------------- derived engine quantities


def test_derived_quantities_of_netdata_1_33_are_todays_values() -> None:
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=4000, max_train_samples=8000, train_every=5000, smooth_n=0)
    for ue in (1, 2, 10):
        assert cfg.training_points(ue) == (4000, 8000)
        assert cfg.train_every_ticks(ue) == 5000
        assert cfg.effective_smooth_n(ue) == 0
    assert MLConfig(profile="netdata-1.33").effective_smooth_n(5) == 3
    assert cfg.feature_variant == "v1" and cfg.models_per_dimension == 1 and cfg.max_training_vectors == 0
    assert cfg.suppression == (0, 0) and cfg.host_detector == "bitrate-window"
    assert cfg.host_rate_threshold_fraction == 0.01


@pytest.mark.parametrize("name", TIME_PROFILES)
@pytest.mark.parametrize(
    "update_every, points, ticks, smooth",
    [
        (1, (900, 21600), 10800, 3),
        (2, (450, 10800), 5400, 1),
        (7, (129, 3086), 1543, 1),  # ceilings
        (86400, (7, 7), 1, 1),  # raised to the feature window 1 + 1 + 5
    ],
)
def test_derived_quantities_of_time_profiles(
    name: str, update_every: int, points: Any, ticks: int, smooth: int
) -> None:
    cfg = MLConfig(profile=name)
    assert cfg.training_points(update_every) == points
    assert cfg.train_every_ticks(update_every) == ticks
    assert cfg.effective_smooth_n(update_every) == smooth
    assert cfg.feature_variant == "v2" and cfg.host_detector == "grouped-rate"
    assert cfg.models_per_dimension == 18 and cfg.max_training_vectors == 1440
    assert cfg.suppression == (900, 450) and cfg.host_rate_threshold_fraction == 0.01


def test_derived_quantities_follow_the_keys() -> None:
    cfg = MLConfig(profile=V2, number_of_models=3, training_vectors=100, smooth_n=0, diff_n=0, lag_n=2,
                   suppression_window="30m", suppression_threshold=60, training_window="1h",
                   min_training_window="20m", train_every="1h")
    assert cfg.models_per_dimension == 3 and cfg.max_training_vectors == 100 and cfg.suppression == (1800, 60)
    assert cfg.effective_smooth_n(1) == 1  # 0 behaves as 1
    assert cfg.training_points(1) == (1200, 3600) and cfg.training_points(3600) == (3, 3)
    assert cfg.train_every_ticks(60) == 60


@pytest.mark.parametrize("name", list(PROFILES))
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1", None])
def test_update_every_must_be_a_positive_integer(name: str, bad: Any) -> None:
    cfg = MLConfig(profile=name)
    for method in (cfg.training_points, cfg.train_every_ticks, cfg.effective_smooth_n):
        with pytest.raises(ValueError, match=f"update_every must be a positive whole number of seconds, got {bad!r}"):
            method(bad)


def test_chart_pattern_under_netdata_2() -> None:
    cfg = MLConfig(profile=V2)
    assert cfg.chart_is_skipped("netdata.ml_training") and cfg.chart_is_skipped("anomaly_detection.dimensions")
    assert not cfg.chart_is_skipped("apache.requests") and not cfg.chart_is_skipped("system.cpu")
    everything = MLConfig(profile=V2, charts_to_skip="!*")
    assert everything.chart_is_skipped("anomaly_detection.anomaly_rate")  # always skipped
    assert not everything.chart_is_skipped("netdata.ml_training")
    assert not MLConfig(profile="netdata-1.33", charts_to_skip="!*").chart_is_skipped("anomaly_detection.anomaly_rate")  # v1.33: no prefix
    assert MLConfig(profile=V2, hosts_to_skip="dev-*").host_is_skipped("dev-1")


# ----------------------------------------------------------------- ml_info


def test_ml_info_under_netdata_2() -> None:
    cfg = MLConfig(profile=V2, enabled=False, training_window="12h", grouping_method="avg")
    info = cfg.ml_info()
    assert list(info) == [
        "version", "enabled", "training-window", "min-training-window", "max-training-vectors",
        "max-samples-to-smooth", "train-every", "diff-n", "lag-n", "max-kmeans-iters",
        "dimension-anomaly-score-threshold", "anomaly-detection-grouping-method",
        "anomaly-detection-query-duration", "hosts-to-skip", "charts-to-skip",
        # pyml's additions
        "profile", "number-of-models", "delete-models-older-than", "host-anomaly-rate-threshold",
        "training-threads", "flush-models-batch-size", "suppression-window", "suppression-threshold",
        "statistics-charts", "stream-charts",
    ]
    assert info["version"] == 1 and info["enabled"] is False and info["profile"] == V2
    assert info["training-window"] == 43200 and info["min-training-window"] == 900 and info["train-every"] == 10800
    assert info["anomaly-detection-query-duration"] == 300 and info["delete-models-older-than"] == 604800
    assert info["anomaly-detection-grouping-method"] == "average"
    assert info["charts-to-skip"] == "anomaly_detection.* netdata.*"
    assert info["host-anomaly-rate-threshold"] == 1.0 and info["suppression-threshold"] == 450
    assert json.loads(json.dumps(info)) == info


@pytest.mark.parametrize("name", list(PROFILES))
def test_ml_info_has_the_profile_and_every_key(name: str) -> None:
    info = MLConfig(profile=name).ml_info()
    profile = PROFILES[name]
    named = {f for _, f in profile.ml_info}
    expected = {f.replace("_", "-") for f in (k.field for k in profile.keys if not k.extension) if f not in named}
    assert info["profile"] == name
    assert expected <= set(info)
    own = profile.key("score_peak_window")
    if own is not None and own.extension:  # pyml's extension to Netdata's table: shown when it is set
        assert "score-peak-window" not in info
    else:  # a key of the profile itself (pyml)
        assert info["score-peak-window"] == MLConfig(profile=name).score_peak_window
    assert MLConfig(profile=name, score_peak_window=30).ml_info()["score-peak-window"] == 30


# ----------------------------------------------------------------- to_netdata_conf

NETDATA_2_CONF = """\
[ml]
\tprofile = netdata-2
\tenabled = yes
\ttraining window = 6h
\tmin training window = 15m
\tmax training vectors = 1440
\tmax samples to smooth = 3
\ttrain every = 3h
\tnumber of models per dimension = 18
\tdelete models older than = 7d
\tnum samples to diff = 1
\tnum samples to lag = 5
\tmaximum number of k-means iterations = 1000
\tdimension anomaly score threshold = 0.99
\thost anomaly rate threshold = 1.0
\tanomaly detection grouping method = average
\tanomaly detection grouping duration = 5m
\tnum training threads = 4
\tflush models batch size = 256
\tdimension anomaly rate suppression window = 15m
\tdimension anomaly rate suppression threshold = 450
\tenable statistics charts = yes
\thosts to skip from training = !*
\tcharts to skip from training = netdata.*
\tstream anomaly detection charts = yes
"""


def test_to_netdata_conf_under_netdata_2() -> None:
    assert MLConfig(profile=V2).to_netdata_conf() == NETDATA_2_CONF
    text = MLConfig(profile=V2, training_window=5400, train_every="1h30m", delete_models_older_than="1d12h",
                    score_peak_window=5).to_netdata_conf()
    assert "\ttraining window = 1h30m\n" in text and "\ttrain every = 1h30m\n" in text
    assert "\tdelete models older than = 1d12h\n" in text
    assert text.endswith("\tscore peak window = 5\n")


@pytest.mark.parametrize("name", list(PROFILES))
def test_defaults_round_trip(name: str) -> None:
    cfg = MLConfig(profile=name)
    assert MLConfig.from_netdata_conf(cfg.to_netdata_conf()) == cfg


_PATTERN = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\0"),
                   max_size=30).map(lambda s: s.strip(" \t\n\v\f\r"))


def _v2_strategy(name: str, clamp: bool) -> st.SearchStrategy[MLConfig]:
    def ints(low: int, high: int) -> st.SearchStrategy[int]:
        return st.integers(low, high) if clamp else st.integers(max(low // 10, 1), high * 10)

    def floats(low: float, high: float) -> st.SearchStrategy[float]:
        return st.floats(low, high, allow_nan=False, allow_infinity=False)

    def windows(pair: Any) -> Any:
        low, high = sorted(pair)
        return (low, high + 1) if clamp else (low, high)

    def build(window_pair: Any, suppression: Any) -> st.SearchStrategy[MLConfig]:
        window_min, window = window_pair
        suppression_window, suppression_threshold = suppression
        if clamp:
            suppression_window = min(suppression_window, window)
            suppression_threshold = min(suppression_threshold, suppression_window)
        return st.builds(
            MLConfig,
            profile=st.just(name),
            enabled=st.booleans(),
            training_window=st.just(window),
            min_training_window=st.just(window_min),
            training_vectors=st.integers(2, 86400) if clamp else st.integers(2, 864000),
            smooth_n=st.integers(0, 5),
            train_every=ints(3600, 21600),
            number_of_models=ints(1, 168),
            delete_models_older_than=ints(86400, 604800),
            diff_n=st.integers(0, 1),
            lag_n=st.integers(1, 5),
            max_kmeans_iters=ints(500, 1000),
            dimension_anomaly_score_threshold=floats(0.01, 5.0),
            host_anomaly_rate_threshold=floats(0.1, 10.0),
            grouping_method=st.sampled_from(sorted(GROUPING_METHODS)),
            grouping_duration=ints(60, 900),
            training_threads=st.just(4),
            flush_models_batch_size=ints(8, 512),
            suppression_window=st.just(suppression_window),
            suppression_threshold=st.just(suppression_threshold),
            statistics_charts=st.booleans(),
            stream_charts=st.booleans(),
            hosts_to_skip=_PATTERN,
            charts_to_skip=_PATTERN,
            score_peak_window=st.integers(0, 1000),
            clamp=st.just(clamp),
        )

    window_range = (900, 21600) if clamp else (1, 200000)
    return st.tuples(
        st.tuples(ints(*window_range), ints(*window_range)).map(windows),
        st.tuples(st.integers(1, 86400), st.integers(1, 86400)).map(lambda p: tuple(sorted(p, reverse=True))),
    ).flatmap(lambda args: build(*args))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
@pytest.mark.parametrize("name", TIME_PROFILES)
@pytest.mark.parametrize("clamp", [True, False])
def test_netdata_2_round_trip(name: str, clamp: bool, data: st.DataObject) -> None:
    logging.getLogger("pyml.config").disabled = True
    try:
        cfg = data.draw(_v2_strategy(name, clamp))
    finally:
        logging.getLogger("pyml.config").disabled = False
    text = cfg.to_netdata_conf()
    back = MLConfig.from_netdata_conf(text, clamp=clamp)
    assert back == cfg and back.clamp is clamp
    assert back.to_netdata_conf() == text
    assert text.startswith(f"[ml]\n\tprofile = {name}\n")
    assert not math.isnan(back.host_rate_threshold_fraction)


def test_the_daily_profile_key_is_read_clamped_and_turns_the_profile_off() -> None:
    cfg = MLConfig.from_netdata_conf("[ml]\n\tprofile = pyml\n\tdaily profile decades = 0\n")
    assert cfg.daily_profile_decades == 0.0 and cfg.calibration_settings(1)["day_decades"] == 0.0
    assert MLConfig.from_netdata_conf("[ml]\n\tdaily profile decades = 500\n").daily_profile_decades == 100.0
    with pytest.raises(ValueError, match="daily_profile_decades"):
        MLConfig(profile="pyml", daily_profile_decades=-1.0, clamp=False)
    assert MLConfig(profile="netdata-1.33").daily_profile_decades is None     # not a key of that profile
    again = MLConfig(profile="pyml", daily_profile_decades=6.5)
    assert MLConfig.from_netdata_conf(again.to_netdata_conf()) == again
