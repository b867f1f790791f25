"""Which metrics are anomalous: every modelled dimension ranked by its anomaly rate in a window.

This is the engine behind Netdata's Anomaly Advisor and behind
``/api/v1/weights?method=anomaly-rate`` (SPEC-NETDATA-2 §8.4). A dimension's
anomaly rate over ``[after, before]`` is its anomalous points over its
existing points there, in percent (on tier 0 this is Netdata's one-point
``anomaly-bit`` query: the mean of 0/100 per point). Dimensions without a
point in the window are left out.

With a baseline window pyml (Netdata ignores baselines for this method) also
gives each dimension's rate there and ranks by the increase over it, so a
metric that is always somewhat anomalous does not crowd out one that just
started.

Cost: one pass over the storage words of the window, read in chunks of
dimensions so memory stays bounded (``CHUNK`` dimensions at a time) and the
host's collection is never held up for the whole scan.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import _core
from .data import dimension_pattern, parse_number
from .tiers import tier_counts

if TYPE_CHECKING:
    from ..engine.host import Host

__all__ = ["anomaly_ranking", "anomaly_counts", "rank_weights", "CHUNK"]

#: Dimensions read per chunk.
CHUNK = 2048


def _window(host: "Host", after: Any, before: Any, name: str) -> tuple[int, int]:
    a = parse_number(f"{name}after", after)
    b = parse_number(f"{name}before", before)
    now = host.last_time if host.last_time is not None else 0
    if b <= 0:
        b = now + b
    if a < 0:
        a = b + a + 1  # after=-3600 covers exactly 3600 s, as Netdata's relative windows do
    elif a == 0:
        a = host.first_time if host.first_time is not None else b
    if a > b:
        raise ValueError(f"{name}after ({after}) is later than {name}before ({before})")
    return int(math.ceil(a)), int(math.floor(b))


def anomaly_counts(host: "Host", ids: Sequence[str], after: int, before: int, tier: int | None = None,
                   per_tier: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Existing and anomalous points of each dimension in ``[after, before]`` (int64 arrays).

    Counted from every sample where the host still keeps them and from the
    rollup tiers further back (:func:`pyml.query.tiers.tier_counts`); ``tier``
    counts from that tier only. ``per_tier``, if given, receives the points
    read from each tier (added)."""
    existing, anomalous, read = tier_counts(host, ids, after, before, tier)
    if per_tier is not None:
        per_tier.extend([0] * (len(read) - len(per_tier)))
        for i, n in enumerate(read):
            per_tier[i] += n
    return existing, anomalous


def _patterns(text: Sequence[str] | str | None) -> Any:
    if text is None:
        return None
    joined = text if isinstance(text, str) else "|".join(text)
    return dimension_pattern(joined) if joined.strip(",| ") else None


def anomaly_ranking(host: "Host", after: Any, before: Any, baseline_after: Any = None, baseline_before: Any = None,
                    *, charts: Sequence[str] | str | None = None, contexts: Sequence[str] | str | None = None,
                    nonzero: bool = False, limit: int | None = None, tier: int | None = None,
                    per_tier: list[int] | None = None) -> list[dict[str, Any]]:
    """Modelled dimensions ranked by anomaly rate, most anomalous first.

    Parameters
    ----------
    host : pyml.Host
    after, before : float
        The window, epoch seconds; ``before <= 0`` counts back from the newest
        tick, ``after < 0`` back from ``before`` (``after=-3600``: the last
        3600 seconds, ``before`` included), ``after = 0`` is the oldest kept tick.
    baseline_after, baseline_before : float, optional
        A baseline window (same rules); both or neither.
    charts, contexts : str or list of str, optional
        Simple patterns (``,``/``|`` separated, ``*`` wildcards, ``!``
        negation) on chart ids/names and on contexts; only matching charts are
        ranked.
    nonzero : bool
        Leave out dimensions whose rate (or increase, with a baseline) is 0.
    limit : int, optional
        Keep only the first ``limit`` entries.
    tier : int, optional
        Count from this tier only (0: every sample; 1, 2: the rollup tiers);
        by default every sample where kept, rollup points further back.
    per_tier : list of int, optional
        Receives the points read from each tier.

    Returns
    -------
    list of dict
        One entry per dimension with points in the window, sorted by
        ``anomaly_rate`` (with a baseline: by ``change``) descending, ties by
        chart and dimension id::

            {"chart": "system.cpu", "dimension": "user", "context": "system.cpu",
             "anomaly_rate": 12.5,      # percent of the window's existing points
             "points": 3600,            # existing points in the window
             "anomalous": 450,          # anomalous points
             # with a baseline window only:
             "baseline_rate": 1.0, "baseline_points": 3600, "change": 11.5}
    """
    if (baseline_after is None) != (baseline_before is None):
        raise ValueError("give both baseline_after and baseline_before, or neither")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer, got {limit!r}")
    chart_pattern, context_pattern = _patterns(charts), _patterns(contexts)
    with host.reading():
        a, b = _window(host, after, before, "")
        base = None if baseline_after is None else _window(host, baseline_after, baseline_before, "baseline_")
        info: dict[str, tuple[str, str]] = {}
        for chart in host.charts():
            if chart.internal or not chart.modelled:
                continue
            context = chart.context or chart.id
            if chart_pattern is not None and not (chart_pattern.matches(chart.id) or chart_pattern.matches(chart.name)):
                continue
            if context_pattern is not None and not context_pattern.matches(context):
                continue
            info[chart.id] = (context, chart.name)
        ids = [d for d in host.modelled_dimension_ids() if d.partition("|")[0] in info]
    existing, anomalous = anomaly_counts(host, ids, a, b, tier, per_tier)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(existing > 0, anomalous * 100.0 / np.maximum(existing, 1), 0.0)
    if base is not None:
        base_existing, base_anomalous = anomaly_counts(host, ids, *base, tier, per_tier)
        base_rates = np.where(base_existing > 0, base_anomalous * 100.0 / np.maximum(base_existing, 1), 0.0)
        key = np.maximum(rates - base_rates, 0.0)
    else:
        key = rates
    keep = existing > 0
    if nonzero:
        keep &= key > 0
    order = sorted(np.nonzero(keep)[0].tolist(), key=lambda i: (-key[i], ids[i]))
    if limit is not None:
        order = order[:limit]
    out = []
    for i in order:
        chart_id, _, dim = ids[i].partition("|")
        entry: dict[str, Any] = {"chart": chart_id, "dimension": dim, "context": info[chart_id][0],
                                 "anomaly_rate": float(rates[i]), "points": int(existing[i]),
                                 "anomalous": int(anomalous[i])}
        if base is not None:
            entry.update(baseline_rate=float(base_rates[i]), baseline_points=int(base_existing[i]),
                         change=float(key[i]))
        out.append(entry)
    return out


def rank_weights(values: np.ndarray) -> np.ndarray:
    """Netdata's rank transform: with ``U`` distinct values, ``v -> 1 - (distinct values <= v) / U``,
    so the largest value weighs 0 ("most different") and the smallest ``1 - 1/U``."""
    if values.size == 0:
        return values.astype(np.float64)
    distinct = np.unique(values)
    ranks = np.searchsorted(distinct, values, side="right")
    return 1.0 - ranks / distinct.size
