"""MLConfig: defaults, clamps, cross-checks, types, export and netdata.conf parsing (SPEC §6.1, §5.7)."""

from __future__ import annotations

import dataclasses
import logging
import math
import pickle
import re
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyml
from pyml import MLConfig


def _v133_conf(source, **options):
    """``MLConfig.from_netdata_conf`` under ``netdata-1.33``, the profile these tests read a netdata.conf as
    (a file without a ``profile`` line gets the default profile, ``pyml``: tests/test_config_profiles.py)."""
    return MLConfig.from_netdata_conf(source, profile="netdata-1.33", **options)

DEFAULT_CHARTS = (
    "!system.* !cpu.* !mem.* !disk.* !disk_* !ip.* !ipv4.* !ipv6.* !net.* !net_* "
    "!netfilter.* !services.* !apps.* !groups.* !user.* !ebpf.* !netdata.* *"
)

# field, netdata.conf key, default, clamp range (SPEC §6.1's table, in its order)
TABLE = [
    ("enabled", "enabled", True, None),
    ("max_train_samples", "maximum num samples to train", 14400, (3600, 21600)),
    ("min_train_samples", "minimum num samples to train", 3600, (3600, 21600)),
    ("train_every", "train every", 3600, (3600, 21600)),
    ("diff_n", "num samples to diff", 1, (0, 1)),
    ("smooth_n", "num samples to smooth", 3, (0, 5)),
    ("lag_n", "num samples to lag", 5, (0, 5)),
    ("max_kmeans_iters", "maximum number of k-means iterations", 1000, (500, 1000)),
    ("dimension_anomaly_score_threshold", "dimension anomaly score threshold", 0.99, (0.01, 5.0)),
    ("host_anomaly_rate_threshold", "host anomaly rate threshold", 0.01, (0.01, 1.0)),
    ("min_window_size", "minimum window size", 30, (30, 300)),
    ("max_window_size", "maximum window size", 600, (60, 900)),
    ("idle_window_size", "idle window size", 30, (30, 900)),
    ("window_rate_threshold", "window minimum anomaly rate", 0.25, (0.01, 0.99)),
    ("dimension_rate_threshold", "anomaly event min dimension rate threshold", 0.05, (0.01, 0.99)),
    ("hosts_to_skip", "hosts to skip from training", "!*", None),
    ("charts_to_skip", "charts to skip from training", DEFAULT_CHARTS, None),
]
# pyml's own keys, after the reference's (default = the reference's behaviour)
EXTENSIONS = [
    ("score_peak_window", "score peak window", 0, None),
]
INT_FIELDS = [
    "max_train_samples", "min_train_samples", "train_every", "diff_n", "smooth_n", "lag_n",
    "max_kmeans_iters", "min_window_size", "max_window_size", "idle_window_size",
]
FLOAT_FIELDS = [
    "dimension_anomaly_score_threshold", "host_anomaly_rate_threshold", "window_rate_threshold",
    "dimension_rate_threshold",
]


def config_warnings(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pyml.config" and r.levelno == logging.WARNING]


# ----------------------------------------------------------------- defaults and shape


# fields of the other profiles' keys (None under netdata-1.33)
OTHER_PROFILE_FIELDS = [
    "training_window", "min_training_window", "training_vectors", "number_of_models", "delete_models_older_than",
    "grouping_method", "grouping_duration", "training_threads", "flush_models_batch_size", "suppression_window",
    "suppression_threshold", "statistics_charts", "stream_charts",
    "surprise_memory", "surprise_decades", "surprise_bit_level", "event_onset_groups", "event_confirm_decades",
    "event_idle_ticks", "daily_profile_decades",
]


def test_fields_and_defaults_follow_spec() -> None:
    names = [f.name for f in dataclasses.fields(MLConfig)]
    assert names == ["profile"] + [row[0] for row in TABLE + EXTENSIONS] + OTHER_PROFILE_FIELDS + ["clamp"]
    cfg = MLConfig(profile="netdata-1.33")
    for name, _, default, _ in TABLE + EXTENSIONS:
        value = getattr(cfg, name)
        assert value == default and type(value) is type(default), name
    assert cfg.clamp is True
    assert cfg.profile == "netdata-1.33"
    assert all(getattr(cfg, name) is None for name in OTHER_PROFILE_FIELDS)


def test_exported_from_package() -> None:
    assert pyml.MLConfig is MLConfig and "MLConfig" in pyml.__all__


def test_defaults_need_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        MLConfig(profile="netdata-1.33")
        MLConfig(profile="netdata-1.33", enabled=False, train_every=7200, smooth_n=0, lag_n=0, diff_n=0)
    assert config_warnings(caplog) == []


def test_frozen_and_keyword_only() -> None:
    cfg = MLConfig(profile="netdata-1.33")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train_every = 7200  # type: ignore[misc]
    if sys.version_info >= (3, 10):
        with pytest.raises(TypeError):
            MLConfig(False)  # type: ignore[misc]


def test_equality_hash_replace_pickle() -> None:
    a = MLConfig(profile="netdata-1.33", train_every=7200, hosts_to_skip="dev-*")
    b = MLConfig(profile="netdata-1.33", train_every=7200, hosts_to_skip="dev-*")
    assert a == b and hash(a) == hash(b) and a != MLConfig(profile="netdata-1.33")
    c = dataclasses.replace(a, lag_n=2)
    assert c.lag_n == 2 and c.train_every == 7200 and c.host_is_skipped("dev-1")
    d = pickle.loads(pickle.dumps(a))
    assert d == a and d.host_is_skipped("dev-1") and not d.host_is_skipped("prod-1")


# ----------------------------------------------------------------- clamping

# field, given, value the clamp uses, final value after the cross-checks
CLAMP_CASES = [
    ("max_train_samples", 100, 3600, 14400),  # then min 3600 >= max 3600 resets both
    ("max_train_samples", 99999, 21600, 21600),
    ("min_train_samples", 0, 3600, 3600),
    ("min_train_samples", 99999, 21600, 3600),  # then 21600 >= 14400 resets both
    ("train_every", 1, 3600, 3600),
    ("train_every", 10**9, 21600, 21600),
    ("diff_n", -1, 0, 0),
    ("diff_n", 2, 1, 1),
    ("smooth_n", -3, 0, 0),
    ("smooth_n", 6, 5, 5),
    ("lag_n", -1, 0, 0),
    ("lag_n", 6, 5, 5),
    ("max_kmeans_iters", 10, 500, 500),
    ("max_kmeans_iters", 5000, 1000, 1000),
    ("dimension_anomaly_score_threshold", 0.0, 0.01, 0.01),
    ("dimension_anomaly_score_threshold", 7.5, 5.0, 5.0),
    ("host_anomaly_rate_threshold", 0.001, 0.01, 0.01),
    ("host_anomaly_rate_threshold", 1.5, 1.0, 1.0),
    ("min_window_size", 5, 30, 30),
    ("min_window_size", 1000, 300, 300),
    ("max_window_size", 10, 60, 60),
    ("max_window_size", 5000, 900, 900),
    ("idle_window_size", 0, 30, 30),
    ("idle_window_size", 901, 900, 900),
    ("window_rate_threshold", 0, 0.01, 0.01),
    ("window_rate_threshold", 1, 0.99, 0.99),
    ("dimension_rate_threshold", -0.5, 0.01, 0.01),
    ("dimension_rate_threshold", 0.995, 0.99, 0.99),
]


@pytest.mark.parametrize("name, given_value, used, final", CLAMP_CASES)
def test_clamp_every_key(
    caplog: pytest.LogCaptureFixture, name: str, given_value: Any, used: Any, final: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile="netdata-1.33", **{name: given_value})
    assert getattr(cfg, name) == final
    assert type(getattr(cfg, name)) is type(dict((r[0], r[2]) for r in TABLE)[name])
    clamp_messages = [m for m in config_warnings(caplog) if "outside" in m]
    assert len(clamp_messages) == 1
    message = clamp_messages[0]
    conf_key = dict((r[0], r[1]) for r in TABLE)[name]
    assert name in message and repr(conf_key) in message
    assert f"= {given_value!r} " in message
    assert message.endswith(f"using {used!r}")


@pytest.mark.parametrize("name, _key, _default, bounds", [r for r in TABLE if r[3] is not None])
def test_bounds_are_inclusive(
    caplog: pytest.LogCaptureFixture, name: str, _key: str, _default: Any, bounds: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        for bound in bounds:
            MLConfig(profile="netdata-1.33", **{name: bound})
    assert not [m for m in config_warnings(caplog) if "outside" in m]


def test_clamped_config_is_always_in_range() -> None:
    @given(
        st.fixed_dictionaries(
            {name: st.integers(-(10**12), 10**12) for name in INT_FIELDS}
        ),
        st.fixed_dictionaries(
            {name: st.floats(-1e9, 1e9, allow_nan=False) for name in FLOAT_FIELDS}
        ),
    )
    @settings(max_examples=200, deadline=None)
    def check(ints: Dict[str, int], floats: Dict[str, float]) -> None:
        logging.getLogger("pyml.config").disabled = True
        try:
            cfg = MLConfig(profile="netdata-1.33", **ints, **floats)
        finally:
            logging.getLogger("pyml.config").disabled = False
        for name, _, _, bounds in TABLE:
            if bounds is not None:
                assert bounds[0] <= getattr(cfg, name) <= bounds[1], name
        assert cfg.min_train_samples < cfg.max_train_samples
        assert cfg.min_window_size < cfg.max_window_size

    check()


# ----------------------------------------------------------------- cross-checks


@pytest.mark.parametrize(
    "given_min, given_max",
    [(3600, 3600), (14400, 3600), (21600, 21600), (7200, 5000)],
)
def test_train_samples_cross_check(caplog: pytest.LogCaptureFixture, given_min: int, given_max: int) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile="netdata-1.33", min_train_samples=given_min, max_train_samples=given_max)
    assert (cfg.min_train_samples, cfg.max_train_samples) == (3600, 14400)
    reset = [m for m in config_warnings(caplog) if "defaults" in m]
    assert len(reset) == 1
    assert "min_train_samples" in reset[0] and "max_train_samples" in reset[0]
    assert "3600" in reset[0] and "14400" in reset[0]


def test_max_train_samples_3600_never_takes_effect() -> None:
    # SPEC §9.9: the clamped minimum is >= 3600, so max 3600 always resets to 14400.
    assert MLConfig(profile="netdata-1.33", max_train_samples=3600).max_train_samples == 14400


@pytest.mark.parametrize("given_min, given_max", [(300, 60), (100, 100), (250, 200)])
def test_window_cross_check(caplog: pytest.LogCaptureFixture, given_min: int, given_max: int) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile="netdata-1.33", min_window_size=given_min, max_window_size=given_max)
    assert (cfg.min_window_size, cfg.max_window_size) == (30, 600)
    reset = [m for m in config_warnings(caplog) if "defaults" in m]
    assert len(reset) == 1 and "min_window_size" in reset[0] and "max_window_size" in reset[0]


def test_cross_check_applies_after_clamping() -> None:
    # 1000 clamps to 300 and 10 to 60: then 300 >= 60 resets both.
    cfg = MLConfig(profile="netdata-1.33", min_window_size=1000, max_window_size=10)
    assert (cfg.min_window_size, cfg.max_window_size) == (30, 600)
    ok = MLConfig(profile="netdata-1.33", min_window_size=299, max_window_size=300, min_train_samples=21599, max_train_samples=21600)
    assert (ok.min_window_size, ok.max_window_size) == (299, 300)
    assert (ok.min_train_samples, ok.max_train_samples) == (21599, 21600)


# ----------------------------------------------------------------- types


@pytest.mark.parametrize("name", INT_FIELDS + FLOAT_FIELDS)
@pytest.mark.parametrize("bad", ["5", True, False, None, [1], b"1"])
def test_numbers_reject_wrong_types(name: str, bad: Any) -> None:
    with pytest.raises(TypeError, match=name) as info:
        MLConfig(profile="netdata-1.33", **{name: bad})
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("name", INT_FIELDS + FLOAT_FIELDS)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_numbers_reject_non_finite(name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=name):
        MLConfig(profile="netdata-1.33", **{name: bad})


@pytest.mark.parametrize("name", INT_FIELDS)
@pytest.mark.parametrize("bad", [3600.5, np.float32(0.5), 1e-9])
def test_integers_must_be_integral(name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{name} must be an integer, got {bad!r}")):
        MLConfig(profile="netdata-1.33", **{name: bad})


def test_integral_values_of_other_types_are_normalised() -> None:
    cfg = MLConfig(profile="netdata-1.33", 
        train_every=7200.0, lag_n=np.int64(4), smooth_n=np.float32(2.0), window_rate_threshold=np.float32(0.5)
    )
    assert cfg.train_every == 7200 and type(cfg.train_every) is int
    assert cfg.lag_n == 4 and type(cfg.lag_n) is int
    assert cfg.smooth_n == 2 and type(cfg.smooth_n) is int
    assert cfg.window_rate_threshold == 0.5 and type(cfg.window_rate_threshold) is float
    floats = MLConfig(profile="netdata-1.33", dimension_anomaly_score_threshold=2)
    assert floats.dimension_anomaly_score_threshold == 2.0 and type(floats.dimension_anomaly_score_threshold) is float
    assert MLConfig(profile="netdata-1.33", enabled=np.bool_(False)).enabled is False


@pytest.mark.parametrize("bad", [1, 0, "yes", None, 1.0])
def test_enabled_must_be_bool(bad: Any) -> None:
    with pytest.raises(TypeError, match="enabled must be a bool"):
        MLConfig(profile="netdata-1.33", enabled=bad)


@pytest.mark.parametrize("name", ["hosts_to_skip", "charts_to_skip"])
def test_patterns_must_be_strings(name: str) -> None:
    with pytest.raises(TypeError, match=name):
        MLConfig(profile="netdata-1.33", **{name: ["!*"]})
    with pytest.raises(TypeError, match=name):
        MLConfig(profile="netdata-1.33", **{name: None})
    with pytest.raises(ValueError, match=name):
        MLConfig(profile="netdata-1.33", **{name: "a\0b"})


def test_clamp_must_be_bool() -> None:
    with pytest.raises(TypeError, match="clamp"):
        MLConfig(profile="netdata-1.33", clamp="no")  # type: ignore[arg-type]


# ----------------------------------------------------------------- clamp=False


def test_unclamped_keeps_values_without_warnings(caplog: pytest.LogCaptureFixture) -> None:
    values = dict(
        max_train_samples=600, min_train_samples=100, train_every=60, diff_n=2, smooth_n=7, lag_n=9,
        max_kmeans_iters=5, dimension_anomaly_score_threshold=20.0, host_anomaly_rate_threshold=0.0,
        min_window_size=5, max_window_size=5, idle_window_size=2000, window_rate_threshold=1.0,
        dimension_rate_threshold=1.5,
    )
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = MLConfig(profile="netdata-1.33", **values, clamp=False)
    assert config_warnings(caplog) == []
    assert {k: getattr(cfg, k) for k in values} == values
    assert cfg.clamp is False
    assert cfg == MLConfig(profile="netdata-1.33", **values, clamp=False)
    # clamp describes how values were checked, not a setting
    assert MLConfig(profile="netdata-1.33", clamp=False) == MLConfig(profile="netdata-1.33")
    # replace() keeps the mode
    assert dataclasses.replace(cfg, lag_n=8).lag_n == 8


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_train_samples": 0}, "max_train_samples must be at least 1"),
        ({"min_train_samples": -5}, "min_train_samples must be at least 1"),
        ({"train_every": 0}, "train_every must be at least 1"),
        ({"diff_n": -1}, "diff_n must be at least 0"),
        ({"smooth_n": -1}, "smooth_n must be at least 0"),
        ({"lag_n": -2}, "lag_n must be at least 0"),
        ({"max_kmeans_iters": 0}, "max_kmeans_iters must be at least 1"),
        ({"min_window_size": 0}, "min_window_size must be at least 1"),
        ({"idle_window_size": -30}, "idle_window_size must be at least 1"),
        ({"max_window_size": 2**31}, "max_window_size must be at least 1, at most 2147483647"),
        ({"host_anomaly_rate_threshold": 1.5}, "host_anomaly_rate_threshold must be at least 0.0, at most 1.0"),
        ({"window_rate_threshold": -0.1}, "window_rate_threshold must be at least 0.0"),
        ({"dimension_anomaly_score_threshold": -1.0}, "dimension_anomaly_score_threshold must be at least 0.0"),
        ({"dimension_rate_threshold": -0.01}, "dimension_rate_threshold must be at least 0.0"),
        (
            {"min_train_samples": 200, "max_train_samples": 100},
            "min_train_samples = 200 is greater than max_train_samples = 100",
        ),
        ({"min_window_size": 90, "max_window_size": 60}, "min_window_size = 90 is greater than max_window_size = 60"),
        ({"min_train_samples": 10, "smooth_n": 8}, "fewer than 2 feature vectors"),
        ({"min_train_samples": 8, "max_train_samples": 8}, "fewer than 2 feature vectors"),
        ({"dimension_anomaly_score_threshold": math.nan}, "must be finite"),
    ],
)
def test_unclamped_still_rejects_nonsense(kwargs: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        MLConfig(profile="netdata-1.33", **kwargs, clamp=False)


def test_unclamped_smallest_training_window() -> None:
    # 1 (diff) + 3 - 1 (smooth) + 5 (lag) = 8 samples consumed: 10 leaves two vectors.
    cfg = MLConfig(profile="netdata-1.33", min_train_samples=10, max_train_samples=10, clamp=False)
    assert cfg.min_train_samples == 10


# ----------------------------------------------------------------- ml_info


def test_ml_info_keys_order_and_values() -> None:
    cfg = MLConfig(profile="netdata-1.33", enabled=False, train_every=7200, hosts_to_skip="dev-*", min_window_size=45)
    info = cfg.ml_info()
    assert list(info) == [
        "version", "enabled", "min-train-samples", "max-train-samples", "train-every", "diff-n",
        "smooth-n", "lag-n", "max-kmeans-iters", "dimension-anomaly-score-threshold",
        "host-anomaly-rate-threshold", "min-window-size", "max-window-size", "idle-window-size",
        "window-rate-threshold", "dimension-rate-threshold", "hosts-to-skip", "charts-to-skip", "profile",
    ]
    assert info["profile"] == "netdata-1.33"
    assert info["version"] == 1 and info["enabled"] is False
    assert info["train-every"] == 7200 and info["min-train-samples"] == 3600
    assert info["min-window-size"] == 45.0 and isinstance(info["min-window-size"], float)
    assert info["dimension-anomaly-score-threshold"] == 0.99
    assert info["hosts-to-skip"] == "dev-*" and info["charts-to-skip"] == DEFAULT_CHARTS
    # JSON-serialisable as is
    import json

    assert json.loads(json.dumps(info)) == info


# ----------------------------------------------------------------- to_netdata_conf

DEFAULT_CONF = (
    "[ml]\n"
    "\tprofile = netdata-1.33\n"
    "\tenabled = yes\n"
    "\tmaximum num samples to train = 14400\n"
    "\tminimum num samples to train = 3600\n"
    "\ttrain every = 3600\n"
    "\tnum samples to diff = 1\n"
    "\tnum samples to smooth = 3\n"
    "\tnum samples to lag = 5\n"
    "\tmaximum number of k-means iterations = 1000\n"
    "\tdimension anomaly score threshold = 0.99\n"
    "\thost anomaly rate threshold = 0.01\n"
    "\tminimum window size = 30\n"
    "\tmaximum window size = 600\n"
    "\tidle window size = 30\n"
    "\twindow minimum anomaly rate = 0.25\n"
    "\tanomaly event min dimension rate threshold = 0.05\n"
    "\thosts to skip from training = !*\n"
    f"\tcharts to skip from training = {DEFAULT_CHARTS}\n"
)


def test_to_netdata_conf_defaults() -> None:
    assert MLConfig(profile="netdata-1.33").to_netdata_conf() == DEFAULT_CONF
    assert "\tenabled = no\n" in MLConfig(profile="netdata-1.33", enabled=False).to_netdata_conf()
    assert "\tdimension anomaly score threshold = 0.30000000000000004\n" in MLConfig(profile="netdata-1.33", 
        dimension_anomaly_score_threshold=0.1 + 0.2
    ).to_netdata_conf()
    assert "\tdimension anomaly score threshold = 5.0\n" in MLConfig(profile="netdata-1.33", 
        dimension_anomaly_score_threshold=5
    ).to_netdata_conf()


@pytest.mark.parametrize("pattern", ["a\nb", " dev-*", "dev-* ", "\t*"])
def test_to_netdata_conf_refuses_unwritable_patterns(pattern: str) -> None:
    cfg = MLConfig(profile="netdata-1.33", hosts_to_skip=pattern)
    with pytest.raises(ValueError, match="hosts_to_skip"):
        cfg.to_netdata_conf()


_PATTERN_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\0"), max_size=40
).map(lambda s: s.strip(" \t\n\v\f\r"))


def _config_strategy(clamp: bool) -> st.SearchStrategy[MLConfig]:
    """Valid configurations: within the clamps, or (clamp=False) well beyond them."""

    def ints(low: int, high: int) -> st.SearchStrategy[int]:
        return st.integers(low, high) if clamp else st.integers(max(low // 10, 1), high * 10)

    def floats(low: float, high: float) -> st.SearchStrategy[float]:
        return st.floats(low, high, allow_nan=False, allow_infinity=False)

    def ordered(pair: Any) -> Any:
        # With clamp=False a minimum above its maximum is an error; keep them in order.
        return pair if clamp else tuple(sorted(pair))

    return st.tuples(
        st.tuples(ints(3600, 21600), ints(3600, 21600)).map(ordered),
        st.tuples(ints(30, 300), ints(60, 900)).map(ordered),
    ).flatmap(
        lambda pairs: _builds(clamp, ints, floats, pairs[0], pairs[1])
    )


def _builds(clamp: bool, ints: Any, floats: Any, samples: Any, windows: Any) -> st.SearchStrategy[MLConfig]:
    return st.builds(
        MLConfig,
        min_train_samples=st.just(samples[0]),
        max_train_samples=st.just(samples[1]),
        min_window_size=st.just(windows[0]),
        max_window_size=st.just(windows[1]),
        enabled=st.booleans(),
        train_every=ints(3600, 21600),
        diff_n=st.integers(0, 1),
        smooth_n=st.integers(0, 5),
        lag_n=st.integers(0, 5),
        max_kmeans_iters=ints(500, 1000),
        dimension_anomaly_score_threshold=floats(0.01, 5.0),
        host_anomaly_rate_threshold=floats(0.01, 1.0),
        idle_window_size=ints(30, 900),
        window_rate_threshold=floats(0.01, 0.99),
        dimension_rate_threshold=floats(0.01, 0.99),
        hosts_to_skip=_PATTERN_TEXT,
        charts_to_skip=_PATTERN_TEXT,
        clamp=st.just(clamp),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(cfg=_config_strategy(clamp=True))
def test_netdata_conf_round_trip(cfg: MLConfig) -> None:
    text = cfg.to_netdata_conf()
    back = MLConfig.from_netdata_conf(text)
    assert back == cfg
    assert back.to_netdata_conf() == text


@settings(max_examples=100, deadline=None)
@given(cfg=_config_strategy(clamp=False))
def test_netdata_conf_round_trip_unclamped(cfg: MLConfig) -> None:
    back = MLConfig.from_netdata_conf(cfg.to_netdata_conf(), clamp=False)
    assert back == cfg and back.clamp is False


# ----------------------------------------------------------------- from_netdata_conf

REALISTIC_CONF = """\
# netdata configuration
#
# You can download the latest version of this file, using:
#
#  wget -O /etc/netdata/netdata.conf http://localhost:19999/netdata.conf
#

[global]
\trun as user = netdata
\tenabled = no
\t# glibc malloc arena max for plugins = 1
\thostname = node-7
\thistory = 3996

[db]
\t# update every = 1
\tmode = dbengine
\ttrain every = 12

[web]
\t# ssl key = /etc/netdata/ssl/key.pem
\tbind to = 127.0.0.1

[ml]
\t# enabled = no
\tenabled = yes
\t# maximum num samples to train = 14400
\t# minimum num samples to train = 3600
\ttrain every = 0x1C20
\t# num samples to diff = 1
\tnum samples to smooth = 04
\t# num samples to lag = 5
\t# maximum number of k-means iterations = 1000
\tdimension anomaly score threshold = 0.98000
\t# host anomaly rate threshold = 0.01000
\t# minimum window size = 30.00000
\tmaximum window size = 900.00000
\t# idle window size = 30.00000
\t# window minimum anomaly rate = 0.25000
\t# anomaly event min dimension rate threshold = 0.05000
\thosts to skip from training = dev-* !*
\t# charts to skip from training = !system.* !cpu.* *

[plugins]
\tenabled = no
\ttrain every = 1
\tproc = yes

[plugin:proc]
\t# netdata server resources = yes
\t/proc/stat = yes
"""


def test_realistic_netdata_conf(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = _v133_conf(REALISTIC_CONF)
    assert config_warnings(caplog) == []
    expected = MLConfig(profile="netdata-1.33", 
        enabled=True, train_every=7200, smooth_n=4, dimension_anomaly_score_threshold=0.98,
        max_window_size=900, hosts_to_skip="dev-* !*",
    )
    assert cfg == expected
    assert cfg.host_is_skipped("dev-3") and not cfg.host_is_skipped("node-7")
    assert cfg.charts_to_skip == DEFAULT_CHARTS


def test_sources_path_string_and_text(tmp_path: Path) -> None:
    path = tmp_path / "netdata.conf"
    path.write_text(REALISTIC_CONF, encoding="utf-8")
    from_path = _v133_conf(path)
    from_str = _v133_conf(str(path))
    from_text = _v133_conf(REALISTIC_CONF)
    assert from_path == from_str == from_text
    assert from_path.train_every == 7200


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.conf"
    with pytest.raises(FileNotFoundError):
        _v133_conf(missing)
    with pytest.raises(FileNotFoundError):
        _v133_conf(str(missing))
    # a string without a newline is a path, never text
    with pytest.raises(FileNotFoundError):
        _v133_conf("[ml] enabled = yes")


@pytest.mark.parametrize("bad", [5, None, b"[ml]\nenabled = yes\n", ["[ml]"]])
def test_source_type(bad: Any) -> None:
    with pytest.raises(TypeError, match="source"):
        _v133_conf(bad)


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "netdata.conf"
    path.write_text("[ml]\n\ttrain every = soon\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{path}: line 2: 'train every' = 'soon'"):
        _v133_conf(path)
    path.write_bytes(b"[ml]\n\thosts to skip from training = \xff\xfe\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        _v133_conf(path)


def test_enabled_defaults_to_no_and_other_keys_to_spec() -> None:
    cfg = _v133_conf("[global]\n\thostname = x\n")
    assert cfg == MLConfig(profile="netdata-1.33", enabled=False)
    assert _v133_conf("[ml]\n\n") == MLConfig(profile="netdata-1.33", enabled=False)


def ml(*lines: str) -> str:
    return "[ml]\n" + "".join(f"\t{line}\n" for line in lines)


@pytest.mark.parametrize("word", ["yes", "true", "on", "auto", "on demand", "YES", "True", "On Demand", "AUTO"])
def test_booleans_true(word: str) -> None:
    assert _v133_conf(ml(f"enabled = {word}")).enabled is True


@pytest.mark.parametrize("word", ["no", "false", "off", "NO", "False", "Off"])
def test_booleans_false(word: str) -> None:
    cfg = _v133_conf(ml("enabled = yes", f"enabled = {word}"))
    assert cfg.enabled is False


@pytest.mark.parametrize("word", ["maybe", "1", "0", "", "on  demand", "y"])
def test_booleans_bad(word: str) -> None:
    with pytest.raises(ValueError, match=f"line 3: 'enabled' = {word!r}"):
        _v133_conf("[global]\n[ml]\n\tenabled = " + word + "\n")


@pytest.mark.parametrize(
    "key, text, value",
    [
        ("train every", "7200", 7200),
        ("train every", "+7200", 7200),
        ("train every", "0x1C20", 7200),
        ("train every", "0X1c20", 7200),
        ("train every", "016040", 7200),  # octal
        ("maximum num samples to train", "020000", 8192),
        ("num samples to lag", "0x3", 3),
        ("num samples to lag", "03", 3),
        ("num samples to lag", "0", 0),
        ("num samples to lag", "00", 0),
        ("num samples to diff", "-0", 0),  # minus zero is not negative
        ("maximum number of k-means iterations", "0x2BC", 700),
    ],
)
def test_integers(key: str, text: str, value: int) -> None:
    cfg = _v133_conf(ml(f"{key} = {text}"))
    name = {r[1]: r[0] for r in TABLE}[key]
    assert getattr(cfg, name) == value


@pytest.mark.parametrize("text", ["08", "0x", "12abc", "3600.0", "", "1e4", "0b101", "3 600", "--1", "0x-5"])
def test_integers_bad(text: str) -> None:
    with pytest.raises(ValueError, match=f"line 4: 'train every' = {text!r}"):
        _v133_conf("[ml]\n\tenabled = yes\n\n\ttrain every = " + text + "\n")


@pytest.mark.parametrize(
    "key, text, used",
    [
        ("train every", "-1", 21600),
        ("maximum num samples to train", "-100", 21600),
        ("num samples to diff", "-1", 1),
        ("num samples to smooth", "-0x10", 5),
        ("num samples to lag", "-07", 5),
        ("maximum number of k-means iterations", "-5", 1000),
    ],
)
def test_negative_integers_use_the_maximum(caplog: pytest.LogCaptureFixture, key: str, text: str, used: int) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = _v133_conf(ml(f"{key} = {text}", "minimum num samples to train = 3600"))
    name = {r[1]: r[0] for r in TABLE}[key]
    assert getattr(cfg, name) == used
    messages = config_warnings(caplog)
    assert len(messages) == 1
    assert "line 2" in messages[0] and repr(key) in messages[0] and repr(text) in messages[0]
    assert messages[0].endswith(f"maximum {used}")


def test_clamp_warnings_from_a_file_name_the_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = _v133_conf("[ml]\n\n\ttrain every = 60\n\tnum samples to lag = 0x10\n")
    assert (cfg.train_every, cfg.lag_n) == (3600, 5)
    messages = config_warnings(caplog)
    assert len(messages) == 2
    assert messages[0].startswith("line 3: train_every ('train every') = 60 is outside")
    assert messages[0].endswith("using 3600")
    assert messages[1].startswith("line 4: lag_n ('num samples to lag') = 16 is outside")


@pytest.mark.parametrize(
    "text, value",
    [
        ("0.5", 0.5), (".5", 0.5), ("5.", 5.0), ("5e-1", 0.5), ("1E-2", 0.01), ("+0.25", 0.25), ("1", 1.0),
        ("0.98000", 0.98),
    ],
)
def test_floats(text: str, value: float) -> None:
    cfg = _v133_conf(ml(f"dimension anomaly score threshold = {text}"))
    assert cfg.dimension_anomaly_score_threshold == value


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", "abc", "0x1p-1", "0,5", "", "1.2.3", "0.5%"])
def test_floats_bad(text: str) -> None:
    with pytest.raises(ValueError, match=f"line 2: 'host anomaly rate threshold' = {text!r}"):
        _v133_conf("[ml]\nhost anomaly rate threshold = " + text + "\n")


@pytest.mark.parametrize(
    "key, text, value",
    [
        ("minimum window size", "30.00000", 30),
        ("minimum window size", "45", 45),
        ("idle window size", "0100", 100),  # read as a decimal number, as the reference does
        ("maximum window size", "6e2", 600),
        ("minimum window size", "-5", 30),  # the reference clamps the double: to the minimum
    ],
)
def test_window_sizes(key: str, text: str, value: int) -> None:
    cfg = _v133_conf(ml(f"{key} = {text}"))
    name = {r[1]: r[0] for r in TABLE}[key]
    assert getattr(cfg, name) == value


def test_fractional_window_size_is_truncated(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = _v133_conf(ml("minimum window size = 45.7"))
    assert cfg.min_window_size == 45
    (message,) = config_warnings(caplog)
    assert "line 2" in message and "'45.7'" in message and message.endswith("using 45")
    with pytest.raises(ValueError, match="'minimum window size' = '0x20'"):
        _v133_conf(ml("minimum window size = 0x20"))


def test_whitespace_comments_and_line_endings() -> None:
    text = (
        "   # leading comment\r\n"
        "[ml]\r\n"
        "train every=7200\r\n"
        "   \t  num samples to lag \t=\t 2   \r\n"
        "\t\t# num samples to smooth = 5\r\n"
        "    #enabled = no\r\n"
        "enabled =yes\r\n"
        "charts to skip from training = !web=* *\r\n"
        "hosts to skip from training =\r\n"
    )
    cfg = _v133_conf(text)
    assert (cfg.train_every, cfg.lag_n, cfg.smooth_n, cfg.enabled) == (7200, 2, 3, True)
    assert cfg.charts_to_skip == "!web=* *"  # the value is everything after the first '='
    assert cfg.hosts_to_skip == ""


def test_unknown_keys_warn(caplog: pytest.LogCaptureFixture) -> None:
    text = ml("train every = 7200", "Train Every = 9000", "trainevery = 1", "dbengine anomaly rate every = 30")
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = _v133_conf(text)
    assert cfg.train_every == 7200
    messages = config_warnings(caplog)
    assert messages == [
        "line 3: unknown [ml] key 'Train Every' ignored",
        "line 4: unknown [ml] key 'trainevery' ignored",
        "line 5: unknown [ml] key 'dbengine anomaly rate every' ignored",
    ]


def test_repeated_key_last_wins(caplog: pytest.LogCaptureFixture) -> None:
    text = ml("train every = 7200", "train every = nonsense-never-read", "train every = 9000")
    text += "[global]\n\ttrain every = 1\n[ml]\n\ttrain every = 10800\n"
    with caplog.at_level(logging.WARNING, logger="pyml.config"):
        cfg = _v133_conf(text)
    assert cfg.train_every == 10800
    messages = config_warnings(caplog)
    assert len(messages) == 3 and all("later value wins" in m for m in messages)
    assert messages[-1] == "line 8: 'train every' repeats line 4; the later value wins"


def test_other_sections_and_lines_outside_sections_are_ignored() -> None:
    text = "train every = 1\nnot even a key\n[mlx]\ntrain every = 1\ngarbage\n[ ml ]\ntrain every = 2\n"
    assert _v133_conf(text) == MLConfig(profile="netdata-1.33", enabled=False)


@pytest.mark.parametrize("line, message", [("train every", "expected 'key = value'"), ("= 7200", "no key before")])
def test_malformed_ml_lines(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"line 3: {message}"):
        _v133_conf(ml("enabled = yes", line))


def test_from_netdata_conf_unclamped() -> None:
    cfg = _v133_conf(ml("num samples to smooth = 7", "train every = 60"), clamp=False)
    assert (cfg.smooth_n, cfg.train_every, cfg.clamp) == (7, 60, False)
    with pytest.raises(ValueError, match="line 2: 'train every' = '-1': must not be negative"):
        _v133_conf(ml("train every = -1"), clamp=False)
    with pytest.raises(ValueError, match="line 3: 'minimum window size' = '0.5'.*at least 1"):
        _v133_conf(ml("enabled = no", "minimum window size = 0.5"), clamp=False)
    with pytest.raises(ValueError, match="line 2: 'window minimum anomaly rate' = '2'.*at most 1.0"):
        _v133_conf(ml("window minimum anomaly rate = 2"), clamp=False)


# ----------------------------------------------------------------- pyml's own keys


def test_score_peak_window_reads_writes_and_checks() -> None:
    cfg = _v133_conf("[ml]\n\tscore peak window = 300\n")
    assert cfg.score_peak_window == 300
    assert "\tscore peak window = 300\n" in cfg.to_netdata_conf()
    assert _v133_conf(cfg.to_netdata_conf()) == cfg
    assert "score peak window" not in MLConfig(profile="netdata-1.33").to_netdata_conf()
    assert "score-peak-window" not in MLConfig(profile="netdata-1.33").ml_info()
    with pytest.raises(ValueError, match="score_peak_window must be at least 0, .*got -1"):
        MLConfig(profile="netdata-1.33", score_peak_window=-1, clamp=False)
    with pytest.raises(TypeError, match="score_peak_window"):
        MLConfig(profile="netdata-1.33", score_peak_window="5")
