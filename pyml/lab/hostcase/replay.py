"""Replay a host case through a real :class:`pyml.Host`, as the agent would have run it, but deterministic.

The host is built with the case's charts (ids, names, family, context, units)
in the case's order, in synchronous mode (``background=False``), and fed one
``collect_all`` per tick; after each tick ``train_due()`` trains what the
host's own scheduler says is due, so models apply from the next tick, as with
the background worker, but reproducibly. The ticks run through
:class:`~pyml.engine.replay_ticker.ReplayTicker` (the same results as
``collect_all`` + ``train_due``, without the sample store and the
internal charts the replay never reads); ``per_tick=True`` takes the
public per-tick path. Skip patterns are the
configuration's (the product's choice of modelled charts).

Training windows (:data:`HOSTCASE_SIZING`, the same for every profile): a
case is about an hour with 20 quiet minutes, so Netdata's 1-second defaults
(first training after 1 h, at most 4 h of history, retraining every hour) are
scaled by 1/12 so that the longest training window is the quiet part: first
training after 300 s, at most 1200 s of history, retraining every 300 s.

The replay keeps what scoring needs: the anomaly bit of every (tick,
dimension), which dimensions are modelled, when each dimension trained, and
the host's anomaly events with their top dimensions
(``anomaly_event_info``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...config import MLConfig
from ...engine.host import Host
from ...engine.replay_ticker import ReplayTicker
from ...progress import Progress
from ...profiles import DEFAULT_PROFILE
from ..profiles import TrainingSizing, profile_config, training_points
from .format import HostCase

__all__ = ["HOSTCASE_SIZING", "CaseReplay", "ReplayEvent", "case_config", "replay_case"]

#: Training windows of every host-case replay (see the module's text).
HOSTCASE_SIZING = TrainingSizing(min_points=300, max_points=1200, train_every=300)


@dataclass(frozen=True)
class ReplayEvent:
    """An anomaly event of the host: ``[after, before]`` epoch seconds and its dimensions, highest rate first."""

    after: int
    before: int
    dimensions: list[tuple[str, float]]

    @property
    def top(self) -> list[str]:
        """The dimension ids in rate order."""
        return [d for d, _ in self.dimensions]


@dataclass
class CaseReplay:
    """What replaying a case produced.

    ``bits[i, j]``: the anomaly bit of ``columns[j]`` at ``timestamps[i]``;
    ``modelled[j]``: the column's chart is modelled; ``trainings[j]``: the
    epoch seconds of the ticks after which the column trained (a model then
    holds the ``max_points`` ticks up to there, and applies from the next
    tick); ``events``: the host's anomaly events.
    """

    case_name: str
    profile: str
    config: MLConfig
    timestamps: np.ndarray
    columns: list[str]
    bits: np.ndarray
    has_value: np.ndarray
    modelled: np.ndarray
    trainings: list[list[int]]
    events: list[ReplayEvent]
    max_points: int
    models_per_dimension: int = 1
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def model_windows(self, column: int, at: int) -> list[tuple[int, int]]:
        """Training windows ``(first, last)`` (epoch s) of the models column ``column`` holds at tick ``at``.

        The newest ``models_per_dimension`` trainings that finished before
        ``at`` (a model applies from the tick after its training).
        """
        done = [t for t in self.trainings[column] if t < at]
        ue = int(self.timestamps[1] - self.timestamps[0]) if self.timestamps.size > 1 else 1
        first = int(self.timestamps[0])
        return [(max(first, t - (self.max_points - 1) * ue), t) for t in done[-self.models_per_dimension:]]


def case_config(profile: str = DEFAULT_PROFILE, sizing: TrainingSizing = HOSTCASE_SIZING,
                update_every: int = 1) -> MLConfig:
    """The configuration a host-case replay uses for ``profile`` (its own skip patterns, the lab's sizing)."""
    return profile_config(profile, sizing, update_every)


def replay_case(case: HostCase, config: MLConfig | None = None, *, profile: str = DEFAULT_PROFILE,
                progress: bool | None = None, per_tick: bool = False) -> CaseReplay:
    """Replay ``case`` through a synchronous :class:`pyml.Host`; ``config`` defaults to :func:`case_config`.

    By default the host is ticked by :class:`~pyml.engine.replay_ticker.ReplayTicker`
    (no sample store, tiers or internal-chart values; trainings on one
    thread); ``per_tick=True`` goes through ``Host.collect_all`` and
    ``Host.train_due`` instead, with the same results (the reference the
    fast path is tested against).
    """
    started = time.perf_counter()
    cfg = case_config(profile, update_every=case.update_every) if config is None else config
    if not isinstance(cfg, MLConfig):
        raise TypeError(f"config must be an MLConfig, got {type(cfg).__name__}: {cfg!r}")
    n, d = case.values.shape
    fast = not per_tick
    host = Host(case.hostname or "hostcase", cfg, update_every=case.update_every, background=False,
                history=n + 1, **({"training_threads": 1, "tiers": ()} if fast else {}))
    bits = np.zeros((n, d), dtype=bool)
    trainings: list[list[int]] = [[] for _ in range(d)]
    show = bool(getattr(sys.stderr, "isatty", lambda: False)()) if progress is None else bool(progress)
    bar = Progress(n, case.name, show, unit="ticks")
    try:
        for chart in case.charts:
            host.add_chart(chart.id, list(chart.dimensions), name=chart.name or chart.id, family=chart.family,
                           context=chart.context, units=chart.units, title=chart.title)
        columns = case.columns
        order = host.dimension_ids()
        if order != columns:
            raise RuntimeError(f"case {case.name}: the host orders dimensions differently from the case")
        index = {c: j for j, c in enumerate(columns)}
        modelled = np.array([host.chart(c.split("|", 1)[0]).modelled for c in columns], dtype=bool)
        stamps = case.timestamps.tolist()
        fast = fast and host.ml_enabled
        ticker = ReplayTicker(host) if fast else None
        values = np.ascontiguousarray(case.values, dtype=np.float64)
        for i, t in enumerate(stamps):
            if ticker is not None:
                _, bits[i], report = ticker.tick(t, values[i])
            else:
                out = host.collect_all(t, values[i], want_scores=True)
                assert out is not None
                bits[i] = out[1]
                report = host.train_due()
            for dim_id in report.trained:
                trainings[index[dim_id]].append(t)
            if i % 256 == 255:
                bar.update(256)
        bar.update(n % 256)
        horizon_ms = (int(case.timestamps[-1]) + case.update_every) * 1000
        events = []
        for after, before in host.anomaly_events(0, horizon_ms):
            info = host.anomaly_event_info(after, before) or []
            ranked = sorted(((str(dim), float(rate)) for rate, dim in info), key=lambda p: (-p[1], p[0]))
            events.append(ReplayEvent(int(after), int(before), ranked))
    finally:
        bar.close()
        host.close()
    return CaseReplay(
        case_name=case.name, profile=profile if config is None else str(getattr(cfg, "profile", profile)), config=cfg, timestamps=case.timestamps.copy(), columns=columns,
        bits=bits, has_value=~np.isnan(case.values), modelled=modelled, trainings=trainings, events=events,
        max_points=training_points(cfg, case.update_every)[1],
        models_per_dimension=int(getattr(cfg, "models_per_dimension", 1) or 1),
        seconds=time.perf_counter() - started,
    )
