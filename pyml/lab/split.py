"""The fixed split of NAB's 58 series into a tuning half and a held-out half.

The rule was fixed before any formulation was tuned, and it depends on
nothing but a series' name, so anyone can recompute it:

- the key of a series is its path relative to NAB's ``data/`` directory with
  ``/`` separators (``"realKnownCause/nyc_taxi.csv"``), as NAB's labels key it;
- ``hashlib.sha256(key.encode()).hexdigest()[0]`` in ``"02468ace"`` (an even
  first hex digit) puts the series in the **tuning** half, anything else in
  the **held-out** half.

On NAB v1.1 that gives 31 tuning and 27 held-out series. Both lists are
committed as package data (``pyml/lab/data/nab_split.json``, read by
:func:`committed_split`); a test checks that they equal the rule's output on
the 58 names, so a change to either shows.

Halves are named ``"tuning"``, ``"heldout"`` and ``"all"`` (both together).
:func:`select_half` is the one place the lab picks the files of a half; asking
for ``"heldout"`` or ``"all"`` must be explicit (there is no default that
reaches held-out files), and nothing in the lab tunes (sweeps, threshold
choices carried to other data) on them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import TypeVar

__all__ = [
    "HALVES",
    "HELDOUT",
    "TUNING",
    "WHOLE",
    "check_half",
    "committed_split",
    "nab_split",
    "select_half",
    "split_half",
]

TUNING = "tuning"
HELDOUT = "heldout"
WHOLE = "all"
#: The names a half may have, in the order tables show them.
HALVES = (TUNING, HELDOUT, WHOLE)

#: First hex digits of the sha256 of a key that put the series in the tuning half.
_TUNING_DIGITS = frozenset("02468ace")

_V = TypeVar("_V")


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key or key.startswith("/") or "\\" in key:
        raise ValueError(f"a NAB series key is its path relative to NAB's data directory with '/' "
                         f"(e.g. 'realKnownCause/nyc_taxi.csv'), got {key!r}")
    return key


def split_half(key: str) -> str:
    """``"tuning"`` or ``"heldout"``: the half of the series named ``key`` by the fixed rule."""
    digest = hashlib.sha256(_check_key(key).encode("utf-8")).hexdigest()
    return TUNING if digest[0] in _TUNING_DIGITS else HELDOUT


def nab_split(keys: Iterable[str]) -> dict[str, list[str]]:
    """``{"tuning": [...], "heldout": [...]}``: ``keys`` split by the rule, each list sorted."""
    out: dict[str, list[str]] = {TUNING: [], HELDOUT: []}
    for key in sorted(set(keys)):
        out[split_half(key)].append(key)
    return out


def committed_split() -> dict[str, list[str]]:
    """The two lists committed with pyml (``pyml/lab/data/nab_split.json``) for NAB v1.1's 58 series."""
    text = resources.files("pyml.lab").joinpath("data", "nab_split.json").read_text(encoding="utf-8")
    document = json.loads(text)
    return {TUNING: list(document[TUNING]), HELDOUT: list(document[HELDOUT])}


def check_half(half: object) -> str:
    """``half`` when it is ``"tuning"``, ``"heldout"`` or ``"all"``; else ``ValueError`` naming it."""
    if half not in HALVES:
        raise ValueError(f"half must be one of {', '.join(HALVES)}, got {half!r}")
    return str(half)


def select_half(named: Mapping[str, _V], half: str) -> dict[str, _V]:
    """The entries of ``{series key: anything}`` whose series belong to ``half``, in their order.

    ``half`` must be given: ``"tuning"``, ``"heldout"`` or ``"all"``. Keys are
    split by :func:`split_half` (the rule, so a corpus other than NAB v1.1 is
    split the same way). Raises ``ValueError`` when the half is empty.
    """
    half = check_half(half)
    chosen = {k: v for k, v in named.items() if half == WHOLE or split_half(k) == half}
    if not chosen:
        raise ValueError(f"none of the {len(named)} series is in the {half} half")
    return chosen
