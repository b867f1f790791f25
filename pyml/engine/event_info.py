"""Ranking the dimensions of an anomaly event: what ``anomaly_event_info`` lists.

Every host-level detector (Netdata v1.33's window detector, the netdata-2
grouped rate, the pyml profile's onset detector) ends an event the same way: it
has, per slot that took part, one number saying how anomalous the slot was in
the event (a rate of anomalous ticks, or a mean surprise), keeps the slots that
reach the detector's dimension threshold, and lists at most ``limit`` of them as
``[value, "chart|dim"]`` pairs, value descending then id descending (the order
of v1.33's reference: sort ascending, reverse).

Ids are looked up only for the slots that can still be listed: with more
qualifying slots than ``limit``, the slots below the ``limit``-th value are
dropped first, but every slot tied with it is kept so the id tie-break sees
them all. A host whose detector qualifies more slots than the limit is told so
once per event in the log.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

__all__ = ["rank_event_dimensions"]

logger = logging.getLogger("pyml.engine.events")


def rank_event_dimensions(
    slots: np.ndarray,
    values: np.ndarray,
    *,
    threshold: float,
    limit: int,
    ident: Callable[[int], str],
    log: logging.Logger | None = None,
) -> list[list[Any]]:
    """``[value, id]`` pairs of the slots whose value reaches ``threshold``, at most ``limit`` of them.

    Parameters
    ----------
    slots : ndarray of int
        The slots that took part in the event.
    values : ndarray of float64, same shape
        Each slot's value in the event (its anomaly rate, or mean surprise).
    threshold : float
        The smallest value listed.
    limit : int
        At most this many pairs (a warning names how many qualified when more did).
    ident : callable
        ``slot -> "chart|dim"``; may raise for a slot it does not know, before anything is returned.
    log : logging.Logger, optional
        Where the warning about a cut goes (the detector's own logger; default ``pyml.engine.events``).

    Returns
    -------
    list of [float, str]
        Value descending, then id descending.
    """
    qualified = values >= threshold
    slots, values = slots[qualified], values[qualified]
    if slots.size > limit:
        (log or logger).warning("%d dimensions reached the event rate threshold %r; keeping the top %d in the event info",
                       slots.size, threshold, limit)
        cut = np.sort(values)[::-1][limit - 1]
        keep = values >= cut
        slots, values = slots[keep], values[keep]
    pairs = [(value, ident(slot)) for value, slot in zip(values.tolist(), slots.tolist())]
    pairs.sort(reverse=True)
    return [[value, name] for value, name in pairs[:limit]]
