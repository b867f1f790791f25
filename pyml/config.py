"""ML configuration: :class:`MLConfig`, the ``[ml]`` section of ``netdata.conf``.

The keys, defaults, ranges and the order in which they are applied are those of
the reference (Netdata v1.33.1, ``ml/Config.cc``; SPEC §6.1): every value is
read, out-of-range values are clamped, then two cross-checks reset contradictory
pairs to their defaults. Clamps and resets are logged as warnings on the
``pyml.config`` logger, naming the key, the value given and the value used.
"""

from __future__ import annotations

import logging
import math
import numbers
import operator
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from .patterns import SimplePattern

__all__ = ["MLConfig"]

_LOG = logging.getLogger("pyml.config")

#: Characters C's ``isspace`` accepts: what netdata trims around lines, keys and values.
_C_SPACE = " \t\n\v\f\r"

#: Largest value of an integer field (it must fit the core's 32-bit signed counters).
_INT_LIMIT = 2**31 - 1

_DEFAULT_CHARTS_TO_SKIP = (
    "!system.* !cpu.* !mem.* !disk.* !disk_* !ip.* !ipv4.* !ipv6.* !net.* !net_* "
    "!netfilter.* !services.* !apps.* !groups.* !user.* !ebpf.* !netdata.* *"
)

_TRUE_WORDS = frozenset({"yes", "true", "on", "auto", "on demand"})
_FALSE_WORDS = frozenset({"no", "false", "off"})

# C base-0 integers (strtoll(..., 0)): hex with 0x, octal with a leading 0, else decimal.
_C_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
# Decimal floating-point literals (what netdata's str2ld reads; no nan/inf accepted here).
_C_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class _Key:
    """One ``[ml]`` key: field name, netdata.conf name, kind and ranges."""

    name: str
    conf_key: str
    kind: str  # "bool", "int", "window" (an int read as a float), "float", "str"
    default: Any
    low: Any = None  # the reference's clamp range
    high: Any = None
    hard_low: Any = None  # what is still accepted with clamp=False
    hard_high: Any = None


# SPEC §6.1's table order (also the dataclass field order and to_netdata_conf's order).
_KEYS: Tuple[_Key, ...] = (
    _Key("enabled", "enabled", "bool", True),
    _Key("max_train_samples", "maximum num samples to train", "int", 14400, 3600, 21600, 1, _INT_LIMIT),
    _Key("min_train_samples", "minimum num samples to train", "int", 3600, 3600, 21600, 1, _INT_LIMIT),
    _Key("train_every", "train every", "int", 3600, 3600, 21600, 1, _INT_LIMIT),
    _Key("diff_n", "num samples to diff", "int", 1, 0, 1, 0, _INT_LIMIT),
    _Key("smooth_n", "num samples to smooth", "int", 3, 0, 5, 0, _INT_LIMIT),
    _Key("lag_n", "num samples to lag", "int", 5, 0, 5, 0, _INT_LIMIT),
    _Key("max_kmeans_iters", "maximum number of k-means iterations", "int", 1000, 500, 1000, 1, _INT_LIMIT),
    _Key("dimension_anomaly_score_threshold", "dimension anomaly score threshold", "float",
         0.99, 0.01, 5.0, 0.0, math.inf),
    _Key("host_anomaly_rate_threshold", "host anomaly rate threshold", "float", 0.01, 0.01, 1.0, 0.0, 1.0),
    _Key("min_window_size", "minimum window size", "window", 30, 30, 300, 1, _INT_LIMIT),
    _Key("max_window_size", "maximum window size", "window", 600, 60, 900, 1, _INT_LIMIT),
    _Key("idle_window_size", "idle window size", "window", 30, 30, 900, 1, _INT_LIMIT),
    _Key("window_rate_threshold", "window minimum anomaly rate", "float", 0.25, 0.01, 0.99, 0.0, 1.0),
    _Key("dimension_rate_threshold", "anomaly event min dimension rate threshold", "float",
         0.05, 0.01, 0.99, 0.0, math.inf),
    _Key("hosts_to_skip", "hosts to skip from training", "str", "!*"),
    _Key("charts_to_skip", "charts to skip from training", "str", _DEFAULT_CHARTS_TO_SKIP),
    # pyml's own keys (not in the reference); to_netdata_conf writes them only when set.
    _Key("score_peak_window", "score peak window", "int", 0, 0, _INT_LIMIT, 0, _INT_LIMIT),
)
#: Keys pyml adds to the reference's [ml] section.
_EXTENSION_KEYS = frozenset({"score_peak_window"})
_BY_NAME: Dict[str, _Key] = {k.name: k for k in _KEYS}
_BY_CONF_KEY: Dict[str, _Key] = {k.conf_key: k for k in _KEYS}

# The ml-info keys of /api/v1/info (SPEC §5.7), in the reference's order.
_ML_INFO_ORDER = (
    "enabled", "min_train_samples", "max_train_samples", "train_every", "diff_n", "smooth_n", "lag_n",
    "max_kmeans_iters", "dimension_anomaly_score_threshold", "host_anomaly_rate_threshold",
    "min_window_size", "max_window_size", "idle_window_size", "window_rate_threshold",
    "dimension_rate_threshold", "hosts_to_skip", "charts_to_skip",
)

# Keyword-only construction where the running Python supports it (3.10+).
_DATACLASS_OPTIONS: Dict[str, Any] = {"kw_only": True} if sys.version_info >= (3, 10) else {}


def _describe(key: _Key) -> str:
    return f"{key.name} ({key.conf_key!r})"


def _coerce(key: _Key, value: Any) -> Any:
    """Check the type of one value and normalise it to bool/int/float/str."""
    if key.kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise TypeError(f"{key.name} must be a bool, got {type(value).__name__}: {value!r}")
    if key.kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"{key.name} must be a str (a simple pattern), got {type(value).__name__}: {value!r}")
        if "\0" in value:
            raise ValueError(f"{key.name} must not contain a NUL character, got {value!r}")
        return str(value)
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{key.name} must be a number, not a bool: {value!r}")
    if key.kind == "float":
        if not isinstance(value, numbers.Real):
            raise TypeError(f"{key.name} must be a real number, got {type(value).__name__}: {value!r}")
        result = float(value)
        if not math.isfinite(result):
            raise ValueError(f"{key.name} must be finite, got {value!r}")
        return result
    # "int" and "window"
    try:
        return operator.index(value)
    except TypeError:
        pass
    if isinstance(value, numbers.Real):
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError(f"{key.name} must be a finite integer, got {value!r}")
        if not as_float.is_integer():
            raise ValueError(f"{key.name} must be an integer, got {value!r}")
        return int(as_float)
    raise TypeError(f"{key.name} must be an integer, got {type(value).__name__}: {value!r}")


def _hard_check(key: _Key, value: Any) -> None:
    """Reject values that make no sense even without the reference's clamps."""
    if key.hard_low is None:
        return
    if not key.hard_low <= value <= key.hard_high:
        high = "" if key.hard_high == math.inf else f", at most {key.hard_high}"
        raise ValueError(f"{key.name} must be at least {key.hard_low}{high}, got {value!r}")


def _clamped(key: _Key, value: Any, where: str = "", given: Any = None) -> Any:
    """The reference's clamp, with a warning when it changes the value.

    ``where`` prefixes the warning; ``given`` is the value as the user wrote it
    (``value`` is its normalised form).
    """
    if key.low is None or key.low <= value <= key.high:
        return value
    used = key.low if value < key.low else key.high
    _LOG.warning(
        "%s%s = %r is outside [%r, %r]; using %r",
        f"{where}: " if where else "", _describe(key), value if given is None else given,
        key.low, key.high, used,
    )
    return used


@dataclass(frozen=True, **_DATACLASS_OPTIONS)
class MLConfig:
    """The ML settings of a host: one field per ``[ml]`` key of ``netdata.conf``.

    Construct with keyword arguments; every field has the reference's default
    (SPEC §6.1), except ``enabled``, which is ``True`` here (``False`` when read
    by :meth:`from_netdata_conf`, as in netdata.conf).

    Out-of-range values are clamped to the reference's range, with a warning on
    the ``pyml.config`` logger naming the key, the value given and the value
    used. Then, as in the reference, ``min_train_samples >= max_train_samples``
    resets both to 3600/14400 and ``min_window_size >= max_window_size`` resets
    both to 30/600, again with a warning. Wrong types raise ``TypeError`` (a
    ``bool`` or a string for a number, a number for ``enabled``); NaN, ±inf and
    non-integral values for integer fields raise ``ValueError``. Integer fields
    take ``int``-like values and floats with an integral value.

    Attributes
    ----------
    enabled : bool
        ``enabled``: the master switch. Default ``True``.
    max_train_samples : int
        ``maximum num samples to train``: the training window, in samples.
        Default 14400, range [3600, 21600].
    min_train_samples : int
        ``minimum num samples to train``: fewer points than this and no model
        is trained. Default 3600, range [3600, 21600].
    train_every : int
        ``train every``: retraining period in update_every units. Default 3600,
        range [3600, 21600].
    diff_n : int
        ``num samples to diff``: differencing lag D. Default 1, range [0, 1].
    smooth_n : int
        ``num samples to smooth``: trailing-mean length S. Default 3, range
        [0, 5] (pyml treats 0 as 1).
    lag_n : int
        ``num samples to lag``: L; feature vectors have ``L + 1`` elements.
        Default 5, range [0, 5].
    max_kmeans_iters : int
        ``maximum number of k-means iterations``. Default 1000, range [500, 1000].
    dimension_anomaly_score_threshold : float
        ``dimension anomaly score threshold``: a point is anomalous when its
        score ≥ 100 × this. Default 0.99, range [0.01, 5.0].
    host_anomaly_rate_threshold : float
        ``host anomaly rate threshold``: the host bit is set when the fraction
        of anomalous dimensions ≥ this. Default 0.01, range [0.01, 1.0].
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
    hosts_to_skip : str
        ``hosts to skip from training``: a simple pattern; a matching hostname
        gets no ML. Default ``"!*"`` (no host skipped).
    charts_to_skip : str
        ``charts to skip from training``: a simple pattern; a matching chart
        name gets no ML. The default trains only ``system.*``, ``cpu.*``,
        ``mem.*``, ``disk.*``, ``net.*`` and similar charts.
    score_peak_window : int
        ``score peak window`` (pyml's own key, not the reference's): when > 0,
        the anomaly score a dimension *reports* (``Host.collect_all(...,
        want_scores=True)``, the lab's per-point score) is its score (capped
        at 100) only where that score is higher than the last one it reported
        within this many ticks, and 0 elsewhere: a rise is reported once, not
        again on every following tick. Stored anomaly bits, anomaly rates and
        events are unchanged (they follow the score itself). Default 0 (off:
        the reference's behaviour); see :class:`pyml.peaks.ScorePeaks`.
    clamp : bool, keyword-only
        ``True`` (default): the reference's clamps and resets apply.
        ``False``, for exploring settings the reference does not allow: values
        are kept as given, but nonsense is still rejected with ``ValueError``:
        negative or zero sizes and iteration counts, rates outside [0, 1],
        negative thresholds, a minimum above its maximum (equal is allowed), or
        a training minimum too short to give two feature vectors after
        differencing, smoothing and lagging. ``clamp`` records how the values
        were checked; it takes no part in equality or hashing.

    Examples
    --------
    >>> cfg = MLConfig(train_every=7200)
    >>> cfg.chart_is_skipped("system.cpu"), cfg.chart_is_skipped("apache.requests")
    (False, True)
    """

    enabled: bool = True
    max_train_samples: int = 14400
    min_train_samples: int = 3600
    train_every: int = 3600
    diff_n: int = 1
    smooth_n: int = 3
    lag_n: int = 5
    max_kmeans_iters: int = 1000
    dimension_anomaly_score_threshold: float = 0.99
    host_anomaly_rate_threshold: float = 0.01
    min_window_size: int = 30
    max_window_size: int = 600
    idle_window_size: int = 30
    window_rate_threshold: float = 0.25
    dimension_rate_threshold: float = 0.05
    hosts_to_skip: str = "!*"
    charts_to_skip: str = _DEFAULT_CHARTS_TO_SKIP
    score_peak_window: int = 0
    clamp: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.clamp, (bool, np.bool_)):
            raise TypeError(f"clamp must be a bool, got {type(self.clamp).__name__}: {self.clamp!r}")
        clamp = bool(self.clamp)
        given = {key.name: getattr(self, key.name) for key in _KEYS}
        values = {key.name: _coerce(key, given[key.name]) for key in _KEYS}

        if clamp:
            for key in _KEYS:
                values[key.name] = _clamped(key, values[key.name], given=given[key.name])
            self._reset_pair(values, "min_train_samples", "max_train_samples", 3600, 14400)
            self._reset_pair(values, "min_window_size", "max_window_size", 30, 600)
        else:
            for key in _KEYS:
                _hard_check(key, values[key.name])
            for low, high in (("min_train_samples", "max_train_samples"), ("min_window_size", "max_window_size")):
                if values[low] > values[high]:
                    raise ValueError(f"{low} = {values[low]} is greater than {high} = {values[high]}")

        # Differencing, smoothing and lagging must leave two feature vectors (k = 2)
        # in the shortest training window (smooth_n = 0 counts as 1).
        consumed = values["diff_n"] + max(values["smooth_n"], 1) - 1 + values["lag_n"]
        if values["min_train_samples"] - consumed < 2:
            raise ValueError(
                f"diff_n = {values['diff_n']}, smooth_n = {values['smooth_n']} and lag_n = {values['lag_n']} "
                f"leave fewer than 2 feature vectors in min_train_samples = {values['min_train_samples']}"
            )

        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "clamp", clamp)
        object.__setattr__(self, "_hosts_pattern", SimplePattern(values["hosts_to_skip"]))
        object.__setattr__(self, "_charts_pattern", SimplePattern(values["charts_to_skip"]))

    @staticmethod
    def _reset_pair(values: Dict[str, Any], low: str, high: str, low_default: int, high_default: int) -> None:
        if values[low] >= values[high]:
            _LOG.warning(
                "%s = %r is not below %s = %r; using the defaults %s = %r and %s = %r",
                _describe(_BY_NAME[low]), values[low], _describe(_BY_NAME[high]), values[high],
                low, low_default, high, high_default,
            )
            values[low], values[high] = low_default, high_default

    # ------------------------------------------------------------------ skipping

    def host_is_skipped(self, hostname: str) -> bool:
        """Whether ``hosts_to_skip`` matches ``hostname`` (a match means no ML)."""
        return self._hosts_pattern.matches(hostname)  # type: ignore[attr-defined,no-any-return]

    def chart_is_skipped(self, chart_name: str) -> bool:
        """Whether ``charts_to_skip`` matches the chart **name** (a match means no ML)."""
        return self._charts_pattern.matches(chart_name)  # type: ignore[attr-defined,no-any-return]

    # ------------------------------------------------------------------ export

    def ml_info(self) -> Dict[str, Any]:
        """The ``ml-info`` object of ``/api/v1/info`` (SPEC §5.7).

        Keys are hyphenated and in the reference's order, starting with
        ``"version": 1``. Window sizes are floats, as the reference holds them;
        the skip patterns are their strings.
        """
        info: Dict[str, Any] = {"version": 1}
        for name in _ML_INFO_ORDER:
            value = getattr(self, name)
            if _BY_NAME[name].kind == "window":
                value = float(value)
            info[name.replace("_", "-")] = value
        return info

    def to_netdata_conf(self) -> str:
        """The ``[ml]`` section of a netdata.conf holding this configuration.

        Every key of the reference is written uncommented, in SPEC §6.1's
        order, followed by pyml's own keys that differ from their defaults: booleans as
        ``yes``/``no``, integers in decimal, floats in their shortest form that
        reads back to the same value. :meth:`from_netdata_conf` (with the same
        ``clamp``) reads the text back to an equal configuration.

        Raises
        ------
        ValueError
            If a skip pattern contains a line break or starts or ends with
            whitespace, which one netdata.conf line cannot hold.
        """
        lines = ["[ml]"]
        for key in _KEYS:
            value = getattr(self, key.name)
            if key.name in _EXTENSION_KEYS and value == key.default:
                continue
            if key.kind == "bool":
                text = "yes" if value else "no"
            elif key.kind == "float":
                text = repr(float(value))
            elif key.kind == "str":
                if "\n" in value or value != value.strip(_C_SPACE):
                    raise ValueError(
                        f"{key.name} = {value!r} cannot be written as a netdata.conf value: "
                        "it contains a line break or starts or ends with whitespace"
                    )
                text = value
            else:
                text = str(int(value))
            lines.append(f"\t{key.conf_key} = {text}")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ import

    @classmethod
    def from_netdata_conf(cls, source: Union[str, "os.PathLike[str]"], *, clamp: bool = True) -> "MLConfig":
        """Read the ``[ml]`` section of a netdata.conf.

        Parameters
        ----------
        source : pathlib.Path, path string, or text
            A path, or the text itself: a ``str`` containing a newline is taken
            as text, any other ``str`` as a path.
        clamp : bool
            Passed to :class:`MLConfig`.

        Only ``[ml]`` is read; other sections (and lines before the first
        section) are ignored. Lines whose first non-blank character is ``#`` are
        comments. Each line is ``key = value``; whitespace around keys, ``=``
        and values is ignored, keys are the netdata.conf names of SPEC §6.1
        (e.g. ``num samples to diff``) and are case-sensitive; unknown keys are
        ignored with a warning. A key given twice keeps its last value (with a
        warning). Keys not given keep netdata's defaults, so ``enabled`` is
        ``no`` unless set.

        Values:

        * ``enabled``: ``yes``, ``true``, ``on``, ``auto``, ``on demand`` or
          ``no``, ``false``, ``off``, in any case.
        * sample counts, ``train every``, ``num samples to *`` and k-means
          iterations: C integers as ``strtoll(..., 0)`` reads them (``0x10``
          hex, ``010`` octal). A negative value is used as the key's maximum,
          with a warning: the reference stores it into an unsigned integer, where
          it wraps to a huge value that the clamp brings down to the maximum.
        * thresholds and rates: decimal numbers (``0.99``, ``1e-2``), finite.
        * window sizes: decimal numbers, as the reference reads them (``010`` is
          ten, ``30.00000`` is thirty); a fractional size is truncated to whole
          ticks with a warning. A negative size clamps to the minimum, as the
          reference's floating-point clamp does.
        * skip patterns: the rest of the line, as is.

        Raises
        ------
        FileNotFoundError
            If ``source`` names a file that does not exist.
        ValueError
            For a malformed ``[ml]`` line or a value of the wrong form; the
            message names the line number, the key and the value.
        TypeError
            If ``source`` is neither a path nor a string.
        """
        text, origin = _read_source(source)
        found: Dict[str, Tuple[int, str]] = {}
        section: Optional[str] = None
        for number, raw in enumerate(text.split("\n"), start=1):
            line = raw.strip(_C_SPACE)
            if not line or line.startswith("#"):
                continue
            if len(line) >= 2 and line[0] == "[" and line[-1] == "]":
                section = line[1:-1]
                continue
            if section != "ml":
                continue
            where = f"{origin}line {number}"
            name, equals, value = line.partition("=")
            if not equals:
                raise ValueError(f"{where}: expected 'key = value' in [ml], got {line!r}")
            name, value = name.strip(_C_SPACE), value.strip(_C_SPACE)
            if not name:
                raise ValueError(f"{where}: no key before '=' in {line!r}")
            if name not in _BY_CONF_KEY:
                _LOG.warning("%s: unknown [ml] key %r ignored", where, name)
                continue
            if name in found:
                _LOG.warning("%s: %r repeats line %d; the later value wins", where, name, found[name][0])
            found[name] = (number, value)

        kwargs: Dict[str, Any] = {"enabled": False}
        for name, (number, value) in found.items():
            key = _BY_CONF_KEY[name]
            where = f"{origin}line {number}"
            parsed = _parse_conf_value(key, value, where, clamp)
            # Clamp here so that the warning can name the line; MLConfig then finds it in range.
            kwargs[key.name] = _clamped(key, parsed, where) if clamp else parsed
        return cls(**kwargs, clamp=clamp)


def _read_source(source: Any) -> Tuple[str, str]:
    """The text of ``source`` and a prefix naming it in messages."""
    if isinstance(source, str) and "\n" in source:
        return source, ""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"source must be a path or the text of a netdata.conf, got {type(source).__name__}: {source!r}"
        )
    path = Path(source)
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read(), f"{path}: "
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _parse_conf_value(key: _Key, value: str, where: str, clamp: bool) -> Any:
    """Convert one netdata.conf value for ``key``; errors name ``where``."""
    bad = f"{where}: {key.conf_key!r} = {value!r}"
    if key.kind == "bool":
        word = value.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ValueError(f"{bad}: expected yes/no (or true/false, on/off, auto, on demand)")
    if key.kind == "str":
        if "\0" in value:
            raise ValueError(f"{bad}: contains a NUL character")
        return value
    if key.kind == "int":
        match = _C_INT.fullmatch(value)
        if match is None:
            raise ValueError(f"{bad}: expected an integer (decimal, 0x hex or 0 octal)")
        sign, digits = match.groups()
        if digits[:2] in ("0x", "0X"):
            number = int(digits, 16)
        elif len(digits) > 1 and digits[0] == "0":
            number = int(digits, 8)
        else:
            number = int(digits)
        if sign == "-":
            number = -number
        if number < 0:
            if not clamp:
                raise ValueError(f"{bad}: must not be negative")
            _LOG.warning(
                "%s: negative value wraps to a huge unsigned number in netdata; using the maximum %r",
                bad, key.high,
            )
            return key.high
        if not clamp:
            _checked(key, number, bad)
        return number
    # "float" and "window"
    if _C_FLOAT.fullmatch(value) is None:
        raise ValueError(f"{bad}: expected a decimal number")
    number_f = float(value)
    if not math.isfinite(number_f):
        raise ValueError(f"{bad}: must be finite")
    if key.kind == "window":
        whole = int(number_f)  # truncation toward zero, as the reference's cast to size_t
        if whole != number_f:
            _LOG.warning("%s: window sizes are whole ticks; using %d", bad, whole)
        if not clamp:
            _checked(key, whole, bad)
        return whole
    if not clamp:
        _checked(key, number_f, bad)
    return number_f


def _checked(key: _Key, value: Any, bad: str) -> None:
    try:
        _hard_check(key, value)
    except ValueError as exc:
        raise ValueError(f"{bad}: {exc}") from None
