"""ML configuration: :class:`MLConfig`, the ``[ml]`` section of ``netdata.conf``, per profile.

Design
------
``MLConfig`` is one frozen dataclass for every profile (:mod:`pyml.profiles`):
a ``profile`` field plus one field per key of any profile. A profile's key
table says which fields it uses, their defaults, clamp ranges and units; the
fields of keys it does not have are ``None``. Every constructor argument
defaults to a sentinel, so that the profile chosen by the same call can fill
in its own defaults; the constructor is written out (not generated) so that
its parameter types say what is accepted (a duration may be given as
``"6h"``) while the field types say what is stored (seconds).

Building a configuration is one pure step, :func:`_resolve`, the reference's
order of operations for the profile: take each value (or the profile's
default), clamp it into the reference's range with a warning naming the key,
the value given and the value used (a bound may depend on a key before it),
then apply the cross-checks that reset contradictory pairs. With
``clamp=False`` values are kept but nonsense is rejected. Reading a
netdata.conf (:meth:`MLConfig.from_netdata_conf`) feeds the same step with the
file's values, so clamp warnings name the file and line; the text itself is
read by :mod:`pyml._netdata_conf`, and the old sample-count keys are migrated
by :mod:`pyml._migration` when the profile says so.

The engine does not read fields whose meaning depends on the profile; it asks
for derived quantities (``training_points``, ``train_every_ticks``,
``feature_variant``, ``effective_smooth_n``, ``models_per_dimension``,
``max_training_vectors``, ``suppression``, ``host_detector``,
``host_rate_threshold_fraction``), computed by a small strategy the profile
names (training by sample counts, or by time windows). Nothing compares
profile names.

Warnings go to the ``pyml.config`` logger.
"""

from __future__ import annotations

import logging
import math
import numbers
import operator
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Type, Union, cast

import numpy as np

from ._arrays import as_count
from ._migration import RETIRED_KEYS, TRIGGER_KEYS, migrate
from ._netdata_conf import C_SPACE, hard_check, parse_value, read_conf
from .durations import DurationError, format_duration, parse_duration
from .patterns import SimplePattern
from .profiles import ALL_CONF_KEYS, ALL_FIELDS, ANY_KEY, DEFAULT_PROFILE, GROUPING_METHODS, PROFILES, Key, Profile, get_profile

__all__ = ["DEFAULT_PROFILE", "MLConfig", "PROFILES"]

_LOG = logging.getLogger("pyml.config")


class _ProfileDefault:
    """The default of every :class:`MLConfig` argument: "the profile's default"."""

    def __repr__(self) -> str:
        return "<the profile's default>"


#: Typed ``Any`` so that it can be the default of arguments of every type.
_DEFAULT: Any = _ProfileDefault()


# --------------------------------------------------------------------------- one value


def _describe(key: Key) -> str:
    percent = ", in percent" if key.kind == "percent" else ""
    return f"{key.field} ({key.conf_key!r}{percent})"


def _show(key: Key, value: Any) -> str:
    """A value of ``key`` in messages: durations as durations, the rest as ``repr``."""
    if key.kind == "duration" and isinstance(value, int) and not isinstance(value, bool):
        return format_duration(value)
    return repr(value)


def _coerce(key: Key, value: Any) -> Any:
    """Check the type of one Python value and normalise it to bool/int/float/str."""
    name, kind = key.field, key.kind
    if kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}: {value!r}")
    if kind in ("pattern", "choice"):
        if not isinstance(value, str):
            what = "a simple pattern" if kind == "pattern" else "a grouping method name"
            raise TypeError(f"{name} must be a str ({what}), got {type(value).__name__}: {value!r}")
        if "\0" in value:
            raise ValueError(f"{name} must not contain a NUL character, got {value!r}")
        return str(value)
    if kind == "duration" and isinstance(value, str):
        try:
            return parse_duration(value)
        except DurationError as exc:
            raise ValueError(f"{name} = {value!r} is not a duration: {exc.reason}") from None
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number, not a bool: {value!r}")
    if kind in ("float", "percent"):
        if not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
        result = float(value)
        if not math.isfinite(result):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return result
    # "int", "window" and "duration" given as a number of seconds
    try:
        return operator.index(value)
    except TypeError:
        pass
    if isinstance(value, numbers.Real):
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError(f"{name} must be a finite integer, got {value!r}")
        if not as_float.is_integer():
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return int(as_float)
    if kind == "duration":
        raise TypeError(f"{name} must be a whole number of seconds or a duration such as '6h', "
                        f"got {type(value).__name__}: {value!r}")
    raise TypeError(f"{name} must be an integer, got {type(value).__name__}: {value!r}")


def _clamped(key: Key, value: Any, clamped_so_far: Mapping[str, Any], where: str, given: Any) -> Any:
    """The reference's treatment of one value, with a warning for every change.

    ``where`` prefixes the warnings; ``given`` is what to show as the value
    given (``value`` is its normalised form).
    """
    prefix = f"{where}: " if where else ""
    if key.kind == "choice":
        if value in GROUPING_METHODS:
            return GROUPING_METHODS[value]
        used = key.default_for(clamped_so_far)
        _LOG.warning("%s%s = %r is not a grouping method Netdata knows; using %r",
                     prefix, _describe(key), value, used)
        return used
    low, high = key.bound("low", clamped_so_far), key.bound("high", clamped_so_far)
    if low is None or low <= value <= high:
        return value
    used = low if value < low else high
    _LOG.warning("%s%s = %s is outside [%s, %s]; using %s",
                 prefix, _describe(key), given, _show(key, low), _show(key, high), _show(key, used))
    return used


def _checked_unclamped(key: Key, value: Any) -> Any:
    """``clamp=False``: keep the value, but reject what makes no sense."""
    if key.kind == "choice":
        if value not in GROUPING_METHODS:
            valid = ", ".join(sorted(set(GROUPING_METHODS.values())))
            raise ValueError(f"{key.field} = {value!r} is not a grouping method Netdata knows (one of: {valid}, "
                             "or an alias of one)")
        return GROUPING_METHODS[value]
    hard_check(key, key.field, value)
    return value


# --------------------------------------------------------------------------- a whole configuration


def _resolve(profile: Profile, given: Mapping[str, Any], clamp: bool, where: Mapping[str, str]) -> Dict[str, Any]:
    """Every field's value for ``profile``, from the values ``given`` (field -> value).

    The reference's order: values (or defaults) -> clamps (in table order, so a
    bound may use keys before it) -> cross-checks. ``where`` names the origin of
    given values in warnings (e.g. a netdata.conf line).
    """
    raw: Dict[str, Any] = {}
    shown: Dict[str, str] = {}
    for key in profile.keys:
        if key.field in given:
            value = given[key.field]
            try:
                raw[key.field] = _coerce(key, value)
            except TypeError as exc:
                if value is None:
                    raise TypeError(f"{exc} (None marks a key the profile does not use; {key.field} is a key of "
                                    f"profile {profile.name!r}: to change profiles, build a new MLConfig)") from None
                raise
            shown[key.field] = repr(value)
            if key.kind == "duration":
                if not isinstance(value, str):
                    shown[key.field] += f" ({format_duration(raw[key.field])})"
                if raw[key.field] < 0 and clamp:
                    # Netdata takes the magnitude when it reads the value, before anything else.
                    prefix = f"{where[key.field]}: " if key.field in where else ""
                    _LOG.warning("%s%s = %s is negative; using its magnitude, as Netdata does",
                                 prefix, _describe(key), shown[key.field])
                    raw[key.field] = -raw[key.field]
                    shown[key.field] = _show(key, raw[key.field])
        else:
            raw[key.field] = key.default_for(raw)
            shown[key.field] = _show(key, raw[key.field])
            if key.default_note:
                shown[key.field] += f" ({key.default_note})"

    out: Dict[str, Any] = {}
    for name in ALL_FIELDS:
        if profile.key(name) is None:
            value = given.get(name)
            if value is not None:
                prefix = f"{where[name]}: " if name in where else ""
                _LOG.warning("%s%s = %r is not a key of profile %r; ignored",
                             prefix, _describe(ANY_KEY[name]), value, profile.name)
            out[name] = None

    values: Dict[str, Any] = {}
    for key in profile.keys:
        if clamp:
            values[key.field] = _clamped(key, raw[key.field], values, where.get(key.field, ""), shown[key.field])
        else:
            values[key.field] = _checked_unclamped(key, raw[key.field])

    keys = {key.field: key for key in profile.keys}
    for reset in profile.resets:
        low_key, high_key = keys[reset.low_field], keys[reset.high_field]
        low, high = values[reset.low_field], values[reset.high_field]
        if clamp and low >= high:
            are_defaults = (reset.low_value, reset.high_value) == (low_key.default, high_key.default)
            _LOG.warning(
                "%s = %s is not below %s = %s; using %s %s = %s and %s = %s",
                _describe(low_key), _show(low_key, low), _describe(high_key), _show(high_key, high),
                "the defaults" if are_defaults else "Netdata's reset values",
                reset.low_field, _show(low_key, reset.low_value), reset.high_field, _show(high_key, reset.high_value),
            )
            values[reset.low_field], values[reset.high_field] = reset.low_value, reset.high_value
        elif not clamp and low > high:
            raise ValueError(f"{reset.low_field} = {low} is greater than {reset.high_field} = {high}")
    if not clamp:
        for low_field, high_field in profile.ordered:
            if values[low_field] > values[high_field]:
                raise ValueError(f"{low_field} = {values[low_field]} is greater than "
                                 f"{high_field} = {values[high_field]}")
    _TRAINING[profile.training].validate(values)
    out.update(values)
    return out


class _Training:
    """How a profile trains: what the engine's training quantities are made of."""

    @staticmethod
    def validate(values: Mapping[str, Any]) -> None:
        """Reject a combination of values the engine cannot train with."""

    @staticmethod
    def training_points(cfg: "MLConfig", update_every: int) -> Tuple[int, int]:
        raise NotImplementedError

    @staticmethod
    def train_every_ticks(cfg: "MLConfig", update_every: int) -> int:
        raise NotImplementedError

    @staticmethod
    def effective_smooth_n(cfg: "MLConfig", update_every: int) -> int:
        raise NotImplementedError


class _SampleCounts(_Training):
    """Training by sample counts (``netdata-1.33``): windows in samples, ``train every`` in ticks."""

    @staticmethod
    def validate(values: Mapping[str, Any]) -> None:
        # Differencing, smoothing and lagging must leave two feature vectors (k = 2)
        # in the shortest training window (smooth_n = 0 counts as 1).
        consumed = values["diff_n"] + max(values["smooth_n"], 1) - 1 + values["lag_n"]
        if values["min_train_samples"] - consumed < 2:
            raise ValueError(
                f"diff_n = {values['diff_n']}, smooth_n = {values['smooth_n']} and lag_n = {values['lag_n']} "
                f"leave fewer than 2 feature vectors in min_train_samples = {values['min_train_samples']}"
            )

    @staticmethod
    def training_points(cfg: "MLConfig", update_every: int) -> Tuple[int, int]:
        return cast(int, cfg.min_train_samples), cast(int, cfg.max_train_samples)

    @staticmethod
    def train_every_ticks(cfg: "MLConfig", update_every: int) -> int:
        return cfg.train_every

    @staticmethod
    def effective_smooth_n(cfg: "MLConfig", update_every: int) -> int:
        return cfg.smooth_n


class _TimeWindows(_Training):
    """Training by time (``netdata-2``, ``pyml``): windows and ``train every`` in seconds."""

    @staticmethod
    def effective_smooth_n(cfg: "MLConfig", update_every: int) -> int:
        # Netdata does not smooth charts slower than the base update every (SPEC-NETDATA-2 §2.2).
        return 1 if update_every > 1 else max(cfg.smooth_n, 1)

    @staticmethod
    def training_points(cfg: "MLConfig", update_every: int) -> Tuple[int, int]:
        # A window shorter than the feature window is raised to it, so no combination is rejected.
        window = cfg.diff_n + _TimeWindows.effective_smooth_n(cfg, update_every) + cfg.lag_n
        return (max(_ceil_div(cast(int, cfg.min_training_window), update_every), window),
                max(_ceil_div(cast(int, cfg.training_window), update_every), window))

    @staticmethod
    def train_every_ticks(cfg: "MLConfig", update_every: int) -> int:
        return _ceil_div(cfg.train_every, update_every)


_TRAINING: Dict[str, Type[_Training]] = {"samples": _SampleCounts, "time": _TimeWindows}


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _update_every(value: Any) -> int:
    return as_count("update_every", value, 1, "a positive whole number of seconds")


# --------------------------------------------------------------------------- MLConfig


@dataclass(frozen=True, init=False)
class MLConfig:
    """The ML settings of a host: a profile and one field per ``[ml]`` key of netdata.conf.

    Construct with keyword arguments. ``profile`` (default
    :data:`pyml.profiles.DEFAULT_PROFILE`, ``"pyml"``) chooses the key
    table: ``"netdata-1.33"`` (SPEC §6.1), ``"netdata-2"`` (current Netdata,
    SPEC-NETDATA-2 §2.1) or ``"pyml"`` (pyml's own detection: the calibrated
    bit and its event detector). Every other argument defaults to that profile's default,
    except ``enabled``, which is ``True`` here (a netdata.conf that does not
    set it gives the profile's netdata.conf default: ``False`` for
    ``netdata-1.33``, ``True`` for the others, whose Netdata default ``auto``
    pyml reads as on). A field the profile does not have is ``None``; giving
    it a value is accepted and ignored with a warning naming the key and the
    profile.

    Out-of-range values are clamped to the reference's range, with a warning on
    the ``pyml.config`` logger naming the key, the value given and the value
    used. Then the profile's cross-checks apply: ``netdata-1.33`` resets
    ``min_train_samples >= max_train_samples`` to 3600/14400 and
    ``min_window_size >= max_window_size`` to 30/600; ``netdata-2`` resets
    ``min_training_window >= training_window`` to 1h/6h; again with a warning.
    Wrong types raise ``TypeError`` (a ``bool`` or a string for a number, a
    number for ``enabled``, ``None`` for a key of the profile); NaN, ±inf and
    non-integral values for integer fields raise ``ValueError``. Integer fields
    take ``int``-like values and floats with an integral value. Durations take
    whole seconds or Netdata's duration text (``"6h"``, ``"1h30m"``,
    :mod:`pyml.durations`); a negative duration is taken by its magnitude.

    ``dataclasses.replace`` keeps the profile; to change profiles build a new
    ``MLConfig`` (``replace(cfg, profile=...)`` raises ``TypeError``: the new
    profile's keys would arrive as ``None``).

    Attributes
    ----------
    profile : str
        The profile: ``"netdata-1.33"``, ``"netdata-2"`` or ``"pyml"``.
    enabled : bool
        ``enabled``: the master switch. Default ``True``.

    Keys of ``netdata-1.33`` only (``None`` under the other profiles):

    max_train_samples : int
        ``maximum num samples to train``: the training window, in samples.
        Default 14400, range [3600, 21600].
    min_train_samples : int
        ``minimum num samples to train``: fewer points than this and no model
        is trained. Default 3600, range [3600, 21600].
    min_window_size, max_window_size, idle_window_size : int
        ``minimum window size`` (30, [30, 300]), ``maximum window size``
        (600, [60, 900]) and ``idle window size`` (30, [30, 900]) of the
        host detector, in ticks.
    window_rate_threshold : float
        ``window minimum anomaly rate``: an event starts when at least
        ``trunc(min_window_size × this)`` of the last ``min_window_size`` host
        bits are set. Default 0.25, range [0.01, 0.99].
    dimension_rate_threshold : float
        ``anomaly event min dimension rate threshold``: dimensions below this
        rate are left out of an event's info. Default 0.05, range [0.01, 0.99].

    Keys of every profile (defaults and ranges differ where noted):

    train_every : int
        ``train every``. ``netdata-1.33``: the retraining period in ticks,
        default 3600, range [3600, 21600]. ``netdata-2``: a duration in
        seconds, the training workers' pacing budget, default 3h, range
        [1h, 6h].
    diff_n : int
        ``num samples to diff``: differencing lag D. Default 1, range [0, 1].
    smooth_n : int
        ``num samples to smooth`` (``netdata-1.33``) / ``max samples to
        smooth`` (``netdata-2``): trailing-mean length S. Default 3, range
        [0, 5] (0 behaves as 1).
    lag_n : int
        ``num samples to lag``: L; feature vectors have ``L + 1`` elements.
        Default 5, range [0, 5] (``netdata-2``: [1, 5]).
    max_kmeans_iters : int
        ``maximum number of k-means iterations``. Default 1000, range [500, 1000].
    dimension_anomaly_score_threshold : float
        ``dimension anomaly score threshold``: a point is anomalous when its
        score ≥ 100 × this. Default 0.99, range [0.01, 5.0].
    host_anomaly_rate_threshold : float
        ``host anomaly rate threshold``. ``netdata-1.33``: a fraction (the host
        bit is set when the fraction of anomalous dimensions ≥ this), default
        0.01, range [0.01, 1.0]. ``netdata-2``: a **percent**, default 1.0,
        range [0.1, 10.0]. :attr:`host_rate_threshold_fraction` is the fraction
        in both.
    hosts_to_skip : str
        ``hosts to skip from training``: a simple pattern; a matching hostname
        gets no ML. Default ``"!*"`` (no host skipped).
    charts_to_skip : str
        ``charts to skip from training``: a simple pattern; a matching chart
        name gets no ML. ``netdata-1.33``'s default trains only ``system.*``,
        ``cpu.*``, ``mem.*``, ``disk.*``, ``net.*`` and similar charts;
        ``netdata-2``'s is ``"netdata.*"``, and ``anomaly_detection.*`` is
        always skipped in front of the pattern, as Netdata does.
    score_peak_window : int
        ``score peak window`` (pyml's own key, not the reference's): when > 0,
        the anomaly score a dimension *reports* (``Host.collect_all(...,
        want_scores=True)``, the lab's per-point score) is its score (capped
        at 100) only where that score is higher than the last one it reported
        within this many ticks, and 0 elsewhere: a rise is reported once, not
        again on every following tick. Stored anomaly bits, anomaly rates and
        events are unchanged (they follow the score itself). Default 0 (off:
        the reference's behaviour); see :class:`pyml.peaks.ScorePeaks`.

    Keys of ``netdata-2`` and ``pyml`` only (``None`` under ``netdata-1.33``;
    durations in seconds):

    training_window : int
        ``training window``: seconds of history per training. 6h, [1h, 24h].
    min_training_window : int
        ``min training window``: history needed before the first training.
        15m, [15m, 6h].
    training_vectors : int
        ``max training vectors``: how many feature vectors a training samples
        (at most). 1440, [2, 86400].
    number_of_models : int
        ``number of models per dimension``: models kept per dimension, which
        must all agree that a point is anomalous. 18, [1, 168].
    delete_models_older_than : int
        ``delete models older than``: stored models older than this are
        deleted. 7d, [1d, 7d].
    grouping_method : str
        ``anomaly detection grouping method``: how the host anomaly rate is
        averaged over ``grouping_duration``; one of
        :data:`pyml.profiles.GROUPING_METHODS` (aliases are stored under
        Netdata's name: ``avg`` -> ``average``); unknown names become
        ``average`` with a warning. Default ``"average"``.
    grouping_duration : int
        ``anomaly detection grouping duration``. 5m, [1m, 15m].
    training_threads : int
        ``num training threads``. Netdata uses at least 4 and at most the
        number of CPUs (if that is more than 4): default 4, range
        [4, max(4, CPUs)].
    flush_models_batch_size : int
        ``flush models batch size``: models per database transaction. 256, [8, 512].
    suppression_window : int
        ``dimension anomaly rate suppression window``: written as a duration,
        used as a number of predictions (as Netdata does). 15m (900),
        [1, training_window].
    suppression_threshold : int
        ``dimension anomaly rate suppression threshold``: anomalous predictions
        within the window that silence a dimension. Default: half the
        suppression window as given (before it is clamped), as Netdata
        computes it; range [1, suppression_window].
    statistics_charts : bool
        ``enable statistics charts``. Default ``True``.
    stream_charts : bool
        ``stream anomaly detection charts``. Default ``True``.
    surprise_memory : int
        ``anomaly rate memory`` (``pyml``): how far back, in seconds, a
        dimension's calibration remembers how often its score saturates and how
        its value changes. Default 14 days, range [1 h, 365 d].
    surprise_decades : float
        ``anomaly rate decades`` (``pyml``): a saturation rate of
        ``10 ** -decades`` or less makes a saturated score fully surprising.
        Default 4, range [1, 12].
    surprise_bit_level : float
        ``anomaly bit level`` (``pyml``): the calibrated score (0-1) from which a
        new peak sets the anomaly bit. Default 0.75, range [0.5, 1].
    event_onset_groups : int
        ``event onset charts`` (``pyml``): charts whose confirmed anomalies start
        within a few seconds of each other that open an anomaly event. Default 4.
    event_confirm_decades : float
        ``event confirm decades`` (``pyml``): evidence (in decades) a dimension's
        anomaly needs before it counts for an event. Default 6.
    event_idle_ticks : int
        ``event idle ticks`` (``pyml``): ticks without enough engaged charts
        after which an event ends. Default 30.
    daily_profile_decades : float
        ``daily profile decades`` (``pyml``): how unusual a value must be for
        its time of day to count fully (a likelihood tail of
        ``10 ** -decades``); 0 turns the daily profile off. Default 10,
        range [0, 100].

    clamp : bool, keyword-only
        ``True`` (default): the reference's clamps and resets apply.
        ``False``, for exploring settings the reference does not allow: values
        are kept as given, but nonsense is still rejected with ``ValueError``:
        negative or zero sizes, durations and iteration counts, rates outside
        [0, 1] (percent: [0, 100]), negative thresholds, a minimum above its
        maximum (equal is allowed), a suppression threshold above its window,
        an unknown grouping method, or (``netdata-1.33``) a training minimum
        too short to give two feature vectors after differencing, smoothing
        and lagging. ``clamp`` records how the values were checked; it takes
        no part in equality or hashing.

    Examples
    --------
    >>> cfg = MLConfig(train_every=7200)
    >>> cfg.chart_is_skipped("system.cpu"), cfg.chart_is_skipped("apache.requests")
    (False, True)
    >>> v2 = MLConfig(profile="netdata-2", training_window="12h")
    >>> v2.training_window, v2.training_points(update_every=1), v2.models_per_dimension
    (43200, (900, 43200), 18)
    """

    profile: str
    enabled: bool
    max_train_samples: Optional[int]
    min_train_samples: Optional[int]
    train_every: int
    diff_n: int
    smooth_n: int
    lag_n: int
    max_kmeans_iters: int
    dimension_anomaly_score_threshold: float
    host_anomaly_rate_threshold: Optional[float]
    min_window_size: Optional[int]
    max_window_size: Optional[int]
    idle_window_size: Optional[int]
    window_rate_threshold: Optional[float]
    dimension_rate_threshold: Optional[float]
    hosts_to_skip: str
    charts_to_skip: str
    score_peak_window: int
    training_window: Optional[int]
    min_training_window: Optional[int]
    training_vectors: Optional[int]
    number_of_models: Optional[int]
    delete_models_older_than: Optional[int]
    grouping_method: Optional[str]
    grouping_duration: Optional[int]
    training_threads: Optional[int]
    flush_models_batch_size: Optional[int]
    suppression_window: Optional[int]
    suppression_threshold: Optional[int]
    statistics_charts: Optional[bool]
    stream_charts: Optional[bool]
    surprise_memory: Optional[int]
    surprise_decades: Optional[float]
    surprise_bit_level: Optional[float]
    event_onset_groups: Optional[int]
    event_confirm_decades: Optional[float]
    event_idle_ticks: Optional[int]
    daily_profile_decades: Optional[float]
    clamp: bool = field(default=True, compare=False)

    def __init__(
        self,
        *,
        profile: str = _DEFAULT,
        enabled: bool = _DEFAULT,
        max_train_samples: Optional[int] = _DEFAULT,
        min_train_samples: Optional[int] = _DEFAULT,
        train_every: Union[int, str] = _DEFAULT,
        diff_n: int = _DEFAULT,
        smooth_n: int = _DEFAULT,
        lag_n: int = _DEFAULT,
        max_kmeans_iters: int = _DEFAULT,
        dimension_anomaly_score_threshold: float = _DEFAULT,
        host_anomaly_rate_threshold: Optional[float] = _DEFAULT,
        min_window_size: Optional[int] = _DEFAULT,
        max_window_size: Optional[int] = _DEFAULT,
        idle_window_size: Optional[int] = _DEFAULT,
        window_rate_threshold: Optional[float] = _DEFAULT,
        dimension_rate_threshold: Optional[float] = _DEFAULT,
        hosts_to_skip: str = _DEFAULT,
        charts_to_skip: str = _DEFAULT,
        score_peak_window: int = _DEFAULT,
        training_window: Union[int, str, None] = _DEFAULT,
        min_training_window: Union[int, str, None] = _DEFAULT,
        training_vectors: Optional[int] = _DEFAULT,
        number_of_models: Optional[int] = _DEFAULT,
        delete_models_older_than: Union[int, str, None] = _DEFAULT,
        grouping_method: Optional[str] = _DEFAULT,
        grouping_duration: Union[int, str, None] = _DEFAULT,
        training_threads: Optional[int] = _DEFAULT,
        flush_models_batch_size: Optional[int] = _DEFAULT,
        suppression_window: Union[int, str, None] = _DEFAULT,
        suppression_threshold: Optional[int] = _DEFAULT,
        statistics_charts: Optional[bool] = _DEFAULT,
        stream_charts: Optional[bool] = _DEFAULT,
        surprise_memory: Union[int, str, None] = _DEFAULT,
        surprise_decades: Optional[float] = _DEFAULT,
        surprise_bit_level: Optional[float] = _DEFAULT,
        event_onset_groups: Optional[int] = _DEFAULT,
        event_confirm_decades: Optional[float] = _DEFAULT,
        event_idle_ticks: Optional[int] = _DEFAULT,
        daily_profile_decades: Optional[float] = _DEFAULT,
        clamp: bool = True,
    ) -> None:
        # Every argument not left at its default (this must stay the first statement).
        given = {name: value for name, value in locals().items()
                 if name not in ("self", "clamp") and value is not _DEFAULT}
        self._setup(given, clamp, {})

    def _setup(self, given: Dict[str, Any], clamp: Any, where: Mapping[str, str]) -> None:
        if not isinstance(clamp, (bool, np.bool_)):
            raise TypeError(f"clamp must be a bool, got {type(clamp).__name__}: {clamp!r}")
        profile = get_profile(given.pop("profile", DEFAULT_PROFILE))
        values = _resolve(profile, given, bool(clamp), where)
        object.__setattr__(self, "profile", profile.name)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "clamp", bool(clamp))
        object.__setattr__(self, "_hosts_pattern", SimplePattern(values["hosts_to_skip"]))
        object.__setattr__(self, "_charts_pattern",
                           SimplePattern(profile.forced_chart_pattern + values["charts_to_skip"]))

    @property
    def _profile(self) -> Profile:
        return PROFILES[self.profile]

    # ------------------------------------------------------------------ skipping

    def host_is_skipped(self, hostname: str) -> bool:
        """Whether ``hosts_to_skip`` matches ``hostname`` (a match means no ML)."""
        return self._hosts_pattern.matches(hostname)  # type: ignore[attr-defined,no-any-return]

    def chart_is_skipped(self, chart_name: str) -> bool:
        """Whether ``charts_to_skip`` matches the chart **name** (a match means no ML).

        Under ``netdata-2`` and ``pyml`` the pattern is ``anomaly_detection.* ``
        followed by ``charts_to_skip``, as Netdata builds it: ML's own charts
        are always skipped.
        """
        return self._charts_pattern.matches(chart_name)  # type: ignore[attr-defined,no-any-return]

    # ------------------------------------------------------------------ what the engine uses

    def training_points(self, update_every: int) -> Tuple[int, int]:
        """``(min_points, max_points)``: history points needed before, and used by, a training.

        ``netdata-1.33``: ``(min_train_samples, max_train_samples)``, whatever
        ``update_every``. ``netdata-2``/``pyml``: ``ceil(min_training_window /
        update_every)`` and ``ceil(training_window / update_every)``, each at
        least the feature window ``diff_n + effective_smooth_n(update_every) +
        lag_n`` (SPEC-NETDATA-2 §2.2).

        Parameters
        ----------
        update_every : int
            The host's (or chart's) collection period in seconds, positive.
        """
        return _TRAINING[self._profile.training].training_points(self, _update_every(update_every))

    def train_every_ticks(self, update_every: int) -> int:
        """The retraining period in ticks of ``update_every`` seconds.

        ``netdata-1.33``: ``train_every`` (already in ticks). ``netdata-2``/
        ``pyml``: ``ceil(train_every / update_every)``.
        """
        return _TRAINING[self._profile.training].train_every_ticks(self, _update_every(update_every))

    def effective_smooth_n(self, update_every: int) -> int:
        """The smoothing window a chart collected every ``update_every`` seconds gets.

        ``netdata-1.33``: ``smooth_n`` (0 included; the engine treats 0 as 1).
        ``netdata-2``/``pyml``: 1 when ``update_every > 1`` (Netdata does not
        smooth charts slower than the base collection period), else
        ``max(smooth_n, 1)``.
        """
        return _TRAINING[self._profile.training].effective_smooth_n(self, _update_every(update_every))

    @property
    def feature_variant(self) -> str:
        """``"v1"`` (SPEC §2: newest-first absolute features) or ``"v2"`` (SPEC-NETDATA-2 §3.3)."""
        return self._profile.feature_variant

    @property
    def skip_constant_training(self) -> bool:
        """Whether training leaves alone a dimension whose value has not changed since its last attempt."""
        return self._profile.skip_constant

    @property
    def models_per_dimension(self) -> int:
        """Models kept per dimension: 1 for ``netdata-1.33``, ``number_of_models`` otherwise."""
        name = self._profile.models_per_dimension_field
        return 1 if name is None else int(getattr(self, name))

    @property
    def max_training_vectors(self) -> int:
        """Feature vectors a training samples: 0 (no sampling, every vector) for ``netdata-1.33``,
        ``training_vectors`` otherwise."""
        name = self._profile.training_vectors_field
        return 0 if name is None else int(getattr(self, name))

    @property
    def suppression(self) -> Tuple[int, int]:
        """``(window, threshold)`` of noisy-dimension suppression, both counts of predictions;
        ``(0, 0)`` (off) for ``netdata-1.33``."""
        names = self._profile.suppression_fields
        if names is None:
            return 0, 0
        return int(getattr(self, names[0])), int(getattr(self, names[1]))

    @property
    def host_detector(self) -> str:
        """The host-level detector: ``"bitrate-window"`` (SPEC §5) for ``netdata-1.33``,
        ``"grouped-rate"`` (SPEC-NETDATA-2 §7) for ``netdata-2`` and, for now, ``pyml``."""
        return self._profile.host_detector

    @property
    def host_rate_threshold_fraction(self) -> Optional[float]:
        """``host_anomaly_rate_threshold`` as a fraction: as is for ``netdata-1.33``,
        divided by 100 (it is a percent) for ``netdata-2``; None for ``pyml``, whose
        host detector has no host-rate threshold."""
        if self.host_anomaly_rate_threshold is None:
            return None
        return self.host_anomaly_rate_threshold / self._profile.host_threshold_divisor

    def calibration_settings(self, update_every: int) -> Dict[str, Any]:
        """The dimension bank's calibration arguments for a host collected every ``update_every`` s.

        ``netdata-1.33`` and ``netdata-2``: ``{"calibration": "none"}`` (the bit is
        the thresholded score). ``pyml``: the lab's ``surprise`` rule
        (:func:`pyml.lab.detectors.surprise_detector`): ``peak_window`` =
        ``score_peak_window`` ticks, ``memory`` = ``surprise_memory`` in ticks,
        ``decades``, ``bit_level``, and ``saturation`` = 100 x ``dimension
        anomaly score threshold``, the profile's score tail
        (``score_decades``, ``score_warmup``; :attr:`pyml.profiles.Profile.score_tail`),
        and its daily profile (``day_decades`` = ``daily_profile_decades``,
        ``day_slots`` etc.; :attr:`pyml.profiles.Profile.daily_profile`), with
        ``day_ticks_per_slot`` = the day's ticks over its slots.
        """
        if self._profile.calibration != "surprise":
            return {"calibration": "none"}
        ue = _update_every(update_every)
        return {
            "calibration": "surprise",
            "peak_window": int(self.score_peak_window),
            "memory": max(1, -(-int(self.surprise_memory) // ue)),  # type: ignore[arg-type]
            "decades": float(self.surprise_decades),  # type: ignore[arg-type]
            "bit_level": float(self.surprise_bit_level),  # type: ignore[arg-type]
            "saturation": 100.0 * float(self.dimension_anomaly_score_threshold),
            "score_decades": float(self._profile.score_tail[0]),
            "score_warmup": float(self._profile.score_tail[1]),
            **self._daily_profile_settings(ue),
        }

    def _daily_profile_settings(self, ue: int) -> Dict[str, Any]:
        slots, warmup, memory, span, long_memory = self._profile.daily_profile
        decades = float(self.daily_profile_decades or 0.0)
        if not slots or decades == 0.0:
            return {"day_decades": 0.0}
        per_day = max(1, round(86400 / ue))
        slots = min(int(slots), per_day)
        return {"day_decades": decades, "day_slots": float(slots), "day_ticks_per_slot": per_day / slots,
                "day_warmup": float(warmup), "day_memory": float(memory), "day_span": float(span),
                "day_long_memory": float(max(1, -(-int(round(long_memory * 86400)) // ue)))}

    # ------------------------------------------------------------------ export

    def ml_info(self) -> Dict[str, Any]:
        """The ``ml-info`` object of ``/api/v1/info``.

        Netdata's keys first, in Netdata's order, starting with ``"version": 1``:
        SPEC §5.7's for ``netdata-1.33`` (window sizes as floats, as the
        reference holds them), SPEC-NETDATA-2 §8.5's for ``netdata-2`` and
        ``pyml`` (durations in seconds; ``charts-to-skip`` with the
        ``anomaly_detection.*`` word Netdata puts in front). Then pyml's
        additions: ``"profile"`` and every other key of the profile, named by
        its field with hyphens (pyml's own keys only when they differ from their
        defaults).
        """
        profile = self._profile
        info: Dict[str, Any] = {"version": 1}
        for name, field_name in profile.ml_info:
            value = getattr(self, field_name)
            key = profile.key(field_name)
            if key is not None and key.kind == "window":
                value = float(value)
            if field_name == "charts_to_skip":
                value = profile.forced_chart_pattern + value
            info[name] = value
        info["profile"] = self.profile
        listed = {field_name for _, field_name in profile.ml_info}
        for key in profile.keys:
            value = getattr(self, key.field)
            if key.field in listed or (key.extension and value == key.default):
                continue
            info[key.field.replace("_", "-")] = value
        return info

    def to_netdata_conf(self) -> str:
        """The ``[ml]`` section of a netdata.conf holding this configuration.

        ``profile = <name>`` first, then every key of the profile uncommented,
        in its table's order, followed by pyml's own keys that differ from their
        defaults: booleans as ``yes``/``no``, integers in decimal, floats in
        their shortest form that reads back to the same value, durations in
        Netdata's canonical form (``6h``, ``1h30m``). :meth:`from_netdata_conf`
        (with the same ``clamp``) reads the text back to an equal configuration.

        Raises
        ------
        ValueError
            If a skip pattern contains a line break or starts or ends with
            whitespace, which one netdata.conf line cannot hold.
        """
        lines = ["[ml]", f"\tprofile = {self.profile}"]
        for key in self._profile.keys:
            value = getattr(self, key.field)
            if key.extension and value == key.default:
                continue
            if key.kind == "bool":
                text = "yes" if value else "no"
            elif key.kind in ("float", "percent"):
                text = repr(float(value))
            elif key.kind == "duration":
                text = format_duration(value)
            elif key.kind in ("pattern", "choice"):
                if "\n" in value or value != value.strip(C_SPACE):
                    raise ValueError(
                        f"{key.field} = {value!r} cannot be written as a netdata.conf value: "
                        "it contains a line break or starts or ends with whitespace"
                    )
                text = value
            else:
                text = str(int(value))
            lines.append(f"\t{key.conf_key} = {text}")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ import

    @classmethod
    def from_netdata_conf(
        cls,
        source: Union[str, "os.PathLike[str]"],
        *,
        clamp: bool = True,
        profile: Optional[str] = None,
    ) -> "MLConfig":
        """Read the ``[ml]`` section of a netdata.conf.

        Parameters
        ----------
        source : pathlib.Path, path string, or text
            A path, or the text itself: a ``str`` containing a newline is taken
            as text, any other ``str`` as a path.
        clamp : bool
            Passed to :class:`MLConfig`.
        profile : str, optional
            The profile to read the file with. Default: the file's ``profile``
            line (pyml's own key), else :data:`pyml.profiles.DEFAULT_PROFILE`.
            Given, it wins over the file's line (with a warning if they differ).

        Only ``[ml]`` is read (and ``[db] update every``, for the migration
        below); other sections and lines before the first section are ignored.
        A UTF-8 byte-order mark at the start is ignored. Lines whose first
        non-blank character is ``#`` are comments. Each line is ``key = value``;
        whitespace around keys, ``=`` and values is ignored; keys are the
        netdata.conf names of the profile's table and are case-sensitive. Keys
        of another profile are ignored with a warning naming the profiles that
        have them; unknown keys are ignored with a warning. A key given twice
        keeps its last value (with a warning). Keys not given keep the
        profile's defaults; ``enabled`` is ``no`` under ``netdata-1.33`` and
        ``yes`` under the others (whose Netdata default is ``auto``) unless set.

        Values:

        * ``enabled`` and other booleans: ``yes``, ``true``, ``on``, ``auto``,
          ``on demand`` or ``no``, ``false``, ``off``, in any case. ``auto``
          (Netdata: on when the database is dbengine) is read as on: pyml
          always keeps the history training needs.
        * counts (samples, iterations, models, vectors, threads, ...): C
          integers as ``strtoll(..., 0)`` reads them (``0x10`` hex, ``010``
          octal). A negative value means the key's maximum, with a warning: the
          reference stores it into an unsigned integer, where it wraps to a huge
          value that the clamp brings down to the maximum.
        * durations (``netdata-2``: ``training window``, ``train every``, ...):
          Netdata's syntax (``6h``, ``15m``, ``1h30m``, ``3600``, ``never``;
          :mod:`pyml.durations`); a negative one is taken by its magnitude.
        * thresholds and rates: decimal numbers (``0.99``, ``1e-2``,
          ``1.00000``), finite.
        * window sizes (``netdata-1.33``): decimal numbers, as the reference
          reads them (``010`` is ten, ``30.00000`` is thirty); a fractional
          size is truncated to whole ticks with a warning. A negative size
          clamps to the minimum, as the reference's floating-point clamp does.
        * skip patterns and the grouping method: the rest of the line, as is.

        Under ``netdata-2`` and ``pyml``, a file written for the old
        sample-count keys is migrated as Netdata migrates it (SPEC-NETDATA-2
        §2.3; :mod:`pyml._migration`), with one warning per migrated key. The
        update every it needs is the file's ``[db] update every`` if set, else
        1 s.

        Raises
        ------
        FileNotFoundError
            If ``source`` names a file that does not exist.
        ValueError
            For a file that is not UTF-8 (naming the file), a malformed
            ``[ml]`` line, a value of the wrong form, or an unknown profile;
            the message names the line number, the key and the value.
        TypeError
            If ``source`` is neither a path nor a string.
        """
        conf = read_conf(source)
        lines = conf.ml

        # The profile first: it decides which keys are known.
        profile_lines = [line for line in lines if line.key == "profile"]
        file_profile = profile_lines[-1] if profile_lines else None
        if file_profile is not None:
            try:
                get_profile(file_profile.value)
            except ValueError as exc:
                raise ValueError(f"{conf.where(file_profile.number)}: 'profile' = {file_profile.value!r}: "
                                 f"{exc}") from None
        if profile is not None:
            chosen = get_profile(profile)
            if file_profile is not None and file_profile.value != chosen.name:
                _LOG.warning("%s: 'profile' = %r is overridden: reading with profile %r",
                             conf.where(file_profile.number), file_profile.value, chosen.name)
        else:
            chosen = get_profile(file_profile.value if file_profile is not None else DEFAULT_PROFILE)

        known = set(ALL_CONF_KEYS) | {"profile"}
        if chosen.migrates:
            known |= set(TRIGGER_KEYS)
        present: Dict[str, Any] = {}
        for line in lines:
            where = conf.where(line.number)
            if line.key not in known:
                _LOG.warning("%s: unknown [ml] key %r ignored", where, line.key)
                continue
            if line.key in present:
                _LOG.warning("%s: %r repeats line %d; the later value wins", where, line.key,
                             present[line.key].number)
            present[line.key] = line
        present.pop("profile", None)

        texts: Dict[str, Tuple[str, str]] = {k: (line.value, conf.where(line.number)) for k, line in present.items()}
        not_migrated = ""
        if chosen.migrates:
            migrated = migrate(conf, present)
            if migrated:
                for retired in RETIRED_KEYS:
                    texts.pop(retired, None)
                for item in migrated:
                    texts[item.conf_key] = (item.value, item.where)
            elif any(k in present for k in TRIGGER_KEYS):
                not_migrated = " (not migrated: the file sets 'training window' or 'max training vectors')"

        given: Dict[str, Any] = {"enabled": chosen.conf_enabled_default}
        where_of: Dict[str, str] = {}
        for conf_key, (text, where) in texts.items():
            key = chosen.conf_key(conf_key)
            if key is None:
                owners = ALL_CONF_KEYS.get(conf_key, ())
                why = not_migrated if conf_key in TRIGGER_KEYS else ""
                if owners:
                    _LOG.warning("%s: %r is a key of profile %s, not of %r; ignored%s", where, conf_key,
                                 " and ".join(repr(o) for o in owners), chosen.name, why)
                else:
                    _LOG.warning("%s: %r is no longer read by Netdata; ignored%s", where, conf_key, why)
                continue
            parsed = parse_value(key, text, where, clamp)
            # Durations go on as text, so that warnings show them as written.
            given[key.field] = text if key.kind == "duration" else parsed
            where_of[key.field] = where

        given["profile"] = chosen.name
        config = cls.__new__(cls)
        config._setup(given, clamp, where_of)
        return config
