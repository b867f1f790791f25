"""Netdata's migration of the old sample-count ``[ml]`` keys (SPEC-NETDATA-2 §2.3).

Design
------
Since v2.8 Netdata rewrites, once at start-up, a netdata.conf written for the
sample-count keys into the time-based keys, and pyml's ``netdata-2`` (and
``pyml``) profiles read such a file the same way. This module is that one
rule, as a pure function of the ``[ml]`` lines: :func:`migrate` says whether
the rule fires and, if so, which values it writes; the reader then parses,
clamps and checks those values like any other.

The rule, as Netdata applies it:

* **Trigger**: at least one of ``maximum num samples to train``, ``minimum
  num samples to train``, ``num samples to diff``, ``num samples to smooth``,
  ``num samples to lag``, ``random sampling ratio`` is set, **and** neither
  ``training window`` nor ``max training vectors`` is. ``num samples to diff``
  and ``num samples to lag`` are current keys, yet alone they trigger it: a
  file that only sets ``num samples to lag = 5`` gets 4319 training vectors
  instead of 1440.
* **Values** (``ue`` = the update every, absent keys at Netdata's old
  defaults: max 21600, min 900, diff 1, smooth 3, ratio 0.2):
  ``training window`` = ``"<trunc(max x ue / 3600)>h"``,
  ``min training window`` = ``"<trunc(min x ue / 60)>m"``,
  ``max training vectors`` = ``trunc((max - (diff > 0)) x ratio)``,
  ``max samples to smooth`` = smooth. These replace values of the same keys
  written in the file. ``train every``, ``num samples to diff`` and ``num
  samples to lag`` are rewritten unchanged, so they are read as written.
* The four retired keys (max, min, smooth, ratio) are then not read.

The update every: Netdata uses ``[db] update every``. A pyml host has its
own ``update_every``, which a netdata.conf reader does not know, so pyml takes
``ue`` from the file's ``[db] update every`` when it is set and 1 s otherwise.

Old integer values are read as Netdata stores them, into 32-bit unsigned
integers: a negative count wraps to a huge one (and the resulting window is
clamped to its maximum). A negative ``random sampling ratio`` makes Netdata's
float-to-size conversion undefined; pyml uses 0 vectors (clamped to 2).

Every migrated value is logged as a warning on ``pyml.config`` naming the old
key, the old value and the new value; so is the reason the rule fired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import List, Mapping, Tuple

from ._netdata_conf import ConfText, Line, parse_c_float, parse_c_int
from .durations import DurationError, parse_duration

__all__ = ["BLOCKING_KEYS", "Migrated", "RETIRED_KEYS", "TRIGGER_KEYS", "migrate", "needs_migration"]

_LOG = logging.getLogger("pyml.config")

MAX_SAMPLES = "maximum num samples to train"
MIN_SAMPLES = "minimum num samples to train"
DIFF = "num samples to diff"
SMOOTH = "num samples to smooth"
LAG = "num samples to lag"
RATIO = "random sampling ratio"

#: Keys whose presence triggers the migration (with neither of :data:`BLOCKING_KEYS`).
TRIGGER_KEYS: Tuple[str, ...] = (MAX_SAMPLES, MIN_SAMPLES, DIFF, SMOOTH, LAG, RATIO)
#: Keys whose presence prevents it.
BLOCKING_KEYS: Tuple[str, ...] = ("training window", "max training vectors")
#: Keys Netdata renames to ``obsolete <key>`` after migrating: no longer read.
RETIRED_KEYS: Tuple[str, ...] = (MAX_SAMPLES, MIN_SAMPLES, SMOOTH, RATIO)

# Netdata's defaults for absent old keys when migrating.
_OLD_DEFAULTS = {MAX_SAMPLES: 21600, MIN_SAMPLES: 900, DIFF: 1, SMOOTH: 3}
_OLD_RATIO = 0.2


@dataclass(frozen=True)
class Migrated:
    """A value the migration writes: ``conf_key = value``, and where messages say it comes from."""

    conf_key: str
    value: str
    where: str


def needs_migration(present: Mapping[str, Line]) -> bool:
    """Whether Netdata migrates a file whose ``[ml]`` keys are ``present``."""
    return any(k in present for k in TRIGGER_KEYS) and not any(k in present for k in BLOCKING_KEYS)


def migrate(conf: ConfText, present: Mapping[str, Line]) -> List[Migrated]:
    """The values Netdata's migration writes for this file, or ``[]`` if it does not fire.

    ``present`` holds the last line of each ``[ml]`` key. Warnings name the old
    keys, their values (or Netdata's old default) and the new values.

    Raises
    ------
    ValueError
        If an old key's value is not a number, naming the line, key and value.
    """
    if not needs_migration(present):
        return []
    ue, ue_source = _update_every(conf)
    triggers = [k for k in TRIGGER_KEYS if k in present]
    surprise = (" (Netdata migrates on these current keys too)"
                if set(triggers) <= {DIFF, LAG} else "")
    _LOG.warning(
        "%smigrating the sample-count [ml] keys to time-based keys, as Netdata does: the file sets %s "
        "and neither 'training window' nor 'max training vectors'%s; update every = %d s (%s)",
        conf.origin, ", ".join(f"{k!r} ({conf.where(present[k].number)})" for k in triggers), surprise,
        ue, ue_source,
    )

    max_samples, max_said = _old_count(conf, present, MAX_SAMPLES)
    min_samples, min_said = _old_count(conf, present, MIN_SAMPLES)
    diff, diff_said = _old_count(conf, present, DIFF)
    smooth, smooth_said = _old_count(conf, present, SMOOTH)
    ratio, ratio_said = _old_ratio(conf, present)

    window = f"{max_samples * ue // 3600}h"
    min_window = f"{min_samples * ue // 60}m"
    effective = max_samples - (1 if diff > 0 else 0)
    if effective < 0:  # size_t arithmetic: 0 - 1 wraps
        effective += 2**64
    product = effective * ratio
    vectors = int(product) if product > 0 else 0
    diff_part = f" - 1 for {DIFF!r} {diff_said}" if diff > 0 else f" ({DIFF!r} {diff_said})"

    out = [
        (MAX_SAMPLES, "training window", window,
         f"{MAX_SAMPLES!r} = {max_said} x update every {ue} s, in whole hours"),
        (MIN_SAMPLES, "min training window", min_window,
         f"{MIN_SAMPLES!r} = {min_said} x update every {ue} s, in whole minutes"),
        (MAX_SAMPLES, "max training vectors", str(vectors),
         f"({MAX_SAMPLES!r} = {max_said}{diff_part}) x {RATIO!r} = {ratio_said}"),
        (SMOOTH, "max samples to smooth", str(smooth), f"{SMOOTH!r} = {smooth_said}"),
    ]
    migrated = []
    for old_key, new_key, value, how in out:
        where = (f"{conf.origin}migration of line {present[old_key].number}" if old_key in present
                 else f"{conf.origin}migration")
        if new_key in present:
            line = present[new_key]
            _LOG.warning("%s: %r = %r is replaced by the migrated value %s, as Netdata does",
                         conf.where(line.number), new_key, line.value, value)
        _LOG.warning("%s: %r = %s, from %s", where, new_key, value, how)
        migrated.append(Migrated(new_key, value, where))
    return migrated


def _update_every(conf: ConfText) -> Tuple[int, str]:
    """``[db] update every`` in seconds and how it was found (1 if absent or unusable)."""
    line = conf.db_update_every
    if line is None:
        return 1, "[db] update every not set"
    where = conf.where(line.number)
    try:
        seconds = parse_duration(line.value)
    except DurationError as exc:
        _LOG.warning("%s: [db] 'update every' = %r is not a duration (%s); migrating with 1 s",
                     where, line.value, exc)
        return 1, "default"
    if seconds < 1:
        _LOG.warning("%s: [db] 'update every' = %r is not a positive duration; migrating with 1 s",
                     where, line.value)
        return 1, "default"
    return seconds, f"[db] update every, {where}"


def _old_count(conf: ConfText, present: Mapping[str, Line], key: str) -> Tuple[int, str]:
    """An old integer key as Netdata stores it (unsigned 32-bit) and how to describe it."""
    line = present.get(key)
    if line is None:
        return _OLD_DEFAULTS[key], f"{_OLD_DEFAULTS[key]} (not set: Netdata's old default)"
    number = parse_c_int(line.value)
    if number is None:
        raise ValueError(f"{conf.where(line.number)}: {key!r} = {line.value!r}: "
                         "expected an integer (decimal, 0x hex or 0 octal)")
    stored = number % 2**32
    said = f"{line.value} ({conf.where(line.number)})"
    if stored != number:
        said = f"{line.value} (wraps to {stored}; {conf.where(line.number)})"
    return stored, said


def _old_ratio(conf: ConfText, present: Mapping[str, Line]) -> Tuple[float, str]:
    line = present.get(RATIO)
    if line is None:
        return _OLD_RATIO, f"{_OLD_RATIO} (not set: Netdata's old default)"
    number = parse_c_float(line.value)
    if number is None:
        raise ValueError(f"{conf.where(line.number)}: {RATIO!r} = {line.value!r}: expected a finite decimal number")
    return number, f"{line.value} ({conf.where(line.number)})"
