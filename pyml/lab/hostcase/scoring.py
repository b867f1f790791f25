"""Scoring a host-case replay: incidents caught, false events, noisy dimensions, the scheduled job.

The rules (the README's evaluation protocol quotes them):

- An incident's **window** is its real ``[start - 30 s, end + 120 s]``
  (:data:`SLACK_BEFORE_S`, :data:`SLACK_AFTER_S`: clocks and the detector's
  30-s minimum window before; after-effects such as write-back, freed memory
  and the load average's decay after). The same slack applies to each
  occurrence of the scheduled job (a **burst**).
- An incident is **caught** when an anomaly event overlaps its window and one
  of the event's top three dimensions (by anomaly rate in the event; dimensions
  tied with the third are in the top three too, since a rate cannot order
  them: :func:`top_dimensions`) lies on a chart of the incident's subsystem
  (:mod:`pyml.lab.hostcase.subsystems`).
  An overlapping event whose top three are elsewhere is reported as *seen,
  not explained*.
- A **false event** overlaps no incident window, no burst window and no
  excluded period, and ends after the quiet part. **False events per hour**
  divide their number by the scored time: from the end of the quiet part to
  the end of the case, less the excluded periods. Events that end within the
  quiet part (while models first train) are counted apart.
- A dimension is **chronically noisy** when, over the quiet part, outside
  excluded periods and only at ticks where it holds a model and has a value,
  its anomaly rate is above :data:`NOISY_RATE` (5 %: the event rate a
  dimension needs to be listed in a Netdata v1.33 event), over at least
  :data:`NOISY_MIN_TICKS` ticks. Each event lists which of its top three are
  chronically noisy.
- Per **burst**: whether an event covers its window (and explains it: top
  three on the job's subsystems), and whether the models had **seen an earlier
  occurrence**: among the modelled dimensions of the job's subsystems, the
  fraction whose models in use when the burst starts were trained on a
  window overlapping an earlier occurrence; "seen" when that fraction is at
  least one half.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .format import CaseEvent, HostCase
from .replay import CaseReplay, ReplayEvent
from .subsystems import in_subsystems

__all__ = [
    "NOISY_MIN_TICKS",
    "NOISY_RATE",
    "SLACK_AFTER_S",
    "SLACK_BEFORE_S",
    "TOP_N",
    "BurstResult",
    "CaseScore",
    "EventResult",
    "IncidentResult",
    "chronically_noisy",
    "score_case",
    "top_dimensions",
]

SLACK_BEFORE_S = 30
SLACK_AFTER_S = 120
TOP_N = 3
NOISY_RATE = 0.05
NOISY_MIN_TICKS = 60


def top_dimensions(dimensions: list[tuple[str, float]], n: int = TOP_N) -> list[str]:
    """The first ``n`` of ``[(dimension, rate), ...]`` (highest rate first) and every one tied with the ``n``-th."""
    if len(dimensions) <= n:
        return [d for d, _ in dimensions]
    cut = dimensions[n - 1][1]
    return [d for d, rate in dimensions if rate >= cut]


def _window(e: CaseEvent) -> tuple[float, float]:
    return e.start - SLACK_BEFORE_S, e.end + SLACK_AFTER_S


def _overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return a0 <= b1 and b0 <= a1


@dataclass(frozen=True)
class EventResult:
    """One anomaly event: bounds, top dimensions with their rates, what it overlaps."""

    after: int
    before: int
    dimensions: list[tuple[str, float]]
    incidents: list[str]
    bursts: list[int]
    excluded: bool
    quiet: bool
    noisy_in_top: list[str]

    @property
    def false(self) -> bool:
        """Overlaps nothing known and ends after the quiet part."""
        return not (self.incidents or self.bursts or self.excluded or self.quiet)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"after": self.after, "before": self.before, "seconds": self.before - self.after,
                "top": [{"dimension": d, "rate": r} for d, r in self.dimensions],
                "incidents": self.incidents, "bursts": self.bursts, "excluded": self.excluded,
                "quiet_part": self.quiet, "false": self.false, "noisy_in_top3": self.noisy_in_top}


@dataclass(frozen=True)
class IncidentResult:
    """One incident: caught or not, by which event, and what the overlapping events' top dimensions were."""

    name: str
    subsystem: str
    start: float
    end: float
    caught: bool
    seen: bool
    events: list[int]
    explained_by: int | None
    excluded_overlap: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"name": self.name, "subsystem": self.subsystem, "start": self.start, "end": self.end,
                "caught": self.caught, "seen_not_explained": self.seen and not self.caught,
                "events": self.events, "explained_by_event": self.explained_by,
                "overlaps_excluded_period": self.excluded_overlap}


@dataclass(frozen=True)
class BurstResult:
    """One occurrence of the scheduled job."""

    index: int
    start: float
    end: float
    covered: bool
    explained: bool
    events: list[int]
    seen_fraction: float | None
    dimensions: int

    @property
    def seen_earlier(self) -> bool | None:
        """Whether most of its subsystems' models had trained on an earlier occurrence (None for the first)."""
        return None if self.seen_fraction is None else self.seen_fraction >= 0.5

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"index": self.index, "start": self.start, "end": self.end, "covered": self.covered,
                "explained": self.explained, "events": self.events, "seen_earlier": self.seen_earlier,
                "seen_fraction": self.seen_fraction, "subsystem_dimensions": self.dimensions}


@dataclass
class CaseScore:
    """Everything :func:`score_case` found, with a text table and a JSON form."""

    case: str
    profile: str
    incidents: list[IncidentResult]
    events: list[EventResult]
    bursts: list[BurstResult]
    noisy: dict[str, float]
    scored_seconds: int
    excluded_seconds: int
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def caught(self) -> int:
        """Incidents caught."""
        return sum(1 for i in self.incidents if i.caught)

    @property
    def false_events(self) -> int:
        """Events overlapping nothing known, after the quiet part."""
        return sum(1 for e in self.events if e.false)

    @property
    def false_per_hour(self) -> float:
        """False events per hour of scored time (NaN without scored time)."""
        return self.false_events / (self.scored_seconds / 3600.0) if self.scored_seconds > 0 else math.nan

    def summary(self) -> dict[str, Any]:
        """The headline figures."""
        bursts_after_first = [b for b in self.bursts if b.seen_fraction is not None]
        return {
            "incidents_caught": self.caught, "incidents": len(self.incidents),
            "false_events": self.false_events, "false_events_per_hour": self.false_per_hour,
            "scored_hours": self.scored_seconds / 3600.0, "excluded_seconds": self.excluded_seconds,
            "events": len(self.events), "quiet_part_events": sum(1 for e in self.events if e.quiet),
            "bursts_covered": sum(1 for b in self.bursts if b.covered), "bursts": len(self.bursts),
            "bursts_seen_earlier": sum(1 for b in bursts_after_first if b.seen_earlier),
            "bursts_after_the_first": len(bursts_after_first),
            "chronically_noisy_dimensions": len(self.noisy),
            "events_with_noisy_top3": sum(1 for e in self.events if e.noisy_in_top),
        }

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: summary, incidents, bursts, events, noisy dimensions, rules."""
        summary = self.summary()
        if math.isnan(summary["false_events_per_hour"]):
            summary["false_events_per_hour"] = None
        return {
            "case": self.case, "profile": self.profile, "summary": summary,
            "incidents": [i.as_dict() for i in self.incidents], "bursts": [b.as_dict() for b in self.bursts],
            "events": [e.as_dict() for e in self.events],
            "chronically_noisy": dict(sorted(self.noisy.items(), key=lambda p: -p[1])),
            "rules": {"slack_before_s": SLACK_BEFORE_S, "slack_after_s": SLACK_AFTER_S, "top_n": TOP_N,
                      "noisy_rate": NOISY_RATE, "noisy_min_ticks": NOISY_MIN_TICKS},
            "config": self.config,
        }

    def table(self, start: int) -> str:
        """The report as text; times are seconds from ``start`` (the case's first tick)."""
        s = self.summary()
        per_hour = "n/a" if math.isnan(s["false_events_per_hour"]) else f"{s['false_events_per_hour']:.2f}"
        lines = [
            f"case {self.case}, profile {self.profile}: incidents caught {s['incidents_caught']}/{s['incidents']}; "
            f"false events {s['false_events']} ({per_hour} per hour over {s['scored_hours']:.2f} scored hours; "
            f"{s['excluded_seconds']} s excluded); events {s['events']} ({s['quiet_part_events']} in the quiet part); "
            f"bursts covered {s['bursts_covered']}/{s['bursts']}; chronically noisy dimensions "
            f"{s['chronically_noisy_dimensions']}, in the top {TOP_N} of {s['events_with_noisy_top3']} event(s)",
            "",
            "incident                                         subsystem   window (s)    caught  event  top dimensions",
        ]
        for inc in self.incidents:
            verdict = "yes" if inc.caught else ("seen" if inc.seen else "no")
            ev = inc.explained_by if inc.explained_by is not None else (inc.events[0] if inc.events else None)
            tops = "-" if ev is None else ", ".join(
                f"{d} {r:.2f}" for d, r in self.events[ev].dimensions[:len(top_dimensions(self.events[ev].dimensions))])
            lines.append(f"{inc.name[:48]:<48} {inc.subsystem:<10} {inc.start - start:5.0f}..{inc.end - start:<5.0f} "
                         f"{verdict:>6}  {'-' if ev is None else ev:>5}  {tops}"
                         + ("  [overlaps excluded period]" if inc.excluded_overlap else ""))
        lines += ["", "burst  window (s)    covered  explained  seen earlier (fraction of its subsystems' models)"]
        for b in self.bursts:
            seen = "-" if b.seen_fraction is None else \
                f"{'yes' if b.seen_earlier else 'no'} ({b.seen_fraction:.2f} of {b.dimensions})"
            lines.append(f"{b.index:>5}  {b.start - start:5.0f}..{b.end - start:<5.0f} "
                         f"{'yes' if b.covered else 'no':>7}  {'yes' if b.explained else 'no':>9}  {seen}")
        lines += ["", "event  window (s)     kind       top dimensions (rate in the event; * chronically noisy)"]
        for k, e in enumerate(self.events):
            kind = ("incident" if e.incidents else "burst" if e.bursts else "excluded" if e.excluded
                    else "quiet" if e.quiet else "FALSE")
            tops = ", ".join(f"{d}{'*' if d in self.noisy else ''} {r:.2f}" for d, r in e.dimensions[:5])
            more = f" (+{len(e.dimensions) - 5})" if len(e.dimensions) > 5 else ""
            lines.append(f"{k:>5}  {e.after - start:5d}..{e.before - start:<5d}  {kind:<9}  {tops}{more}")
        if self.noisy:
            lines += ["", f"chronically noisy (quiet-part anomaly rate > {NOISY_RATE:g}): "
                      + ", ".join(f"{d} {r:.3f}" for d, r in sorted(self.noisy.items(), key=lambda p: -p[1]))]
        return "\n".join(lines) + "\n"


def _excluded_mask(stamps: np.ndarray, periods: list[tuple[int, int]]) -> np.ndarray:
    mask = np.zeros(stamps.size, dtype=bool)
    for a, b in periods:
        mask |= (stamps >= a) & (stamps <= b)
    return mask


def chronically_noisy(case: HostCase, replay: CaseReplay) -> dict[str, float]:
    """``{dimension: quiet-part anomaly rate}`` of the chronically noisy dimensions (see the module's text)."""
    stamps = replay.timestamps
    usable = (stamps < case.quiet_end) & ~_excluded_mask(stamps, case.excluded)
    out: dict[str, float] = {}
    for j, column in enumerate(replay.columns):
        if not replay.modelled[j] or not replay.trainings[j]:
            continue
        held = usable & (stamps > replay.trainings[j][0]) & replay.has_value[:, j]
        n = int(held.sum())
        if n < NOISY_MIN_TICKS:
            continue
        rate = float(replay.bits[held, j].sum()) / n
        if rate > NOISY_RATE:
            out[column] = rate
    return out


def _burst_seen(case: HostCase, replay: CaseReplay, k: int, columns: list[int]) -> float | None:
    if k == 0 or not columns:
        return None
    burst = case.bursts[k]
    earlier = [(b.start, b.end) for b in case.bursts[:k]]
    seen = 0
    for j in columns:
        windows = replay.model_windows(j, int(math.floor(burst.start)))
        if any(_overlaps(a, b, s, e) for a, b in windows for s, e in earlier):
            seen += 1
    return seen / len(columns)


def score_case(case: HostCase, replay: CaseReplay) -> CaseScore:
    """Score ``replay`` of ``case`` by the rules of the module's text."""
    if replay.columns != case.columns:
        raise ValueError(f"replay of {replay.case_name} does not have the columns of case {case.name}")
    noisy = chronically_noisy(case, replay)
    events: list[EventResult] = []
    for ev in replay.events:
        incidents = [i.name for i in case.incidents if _overlaps(ev.after, ev.before, *_window(i))]
        bursts = [k for k, b in enumerate(case.bursts) if _overlaps(ev.after, ev.before, *_window(b))]
        excluded = any(_overlaps(ev.after, ev.before, a, b) for a, b in case.excluded)
        top = top_dimensions(ev.dimensions)
        events.append(EventResult(ev.after, ev.before, list(ev.dimensions), incidents, bursts, excluded,
                                  quiet=ev.before < case.quiet_end, noisy_in_top=[d for d in top if d in noisy]))

    def explains(e: ReplayEvent | EventResult, subsystems: tuple[str, ...]) -> bool:
        return any(in_subsystems(d, subsystems) for d in top_dimensions(e.dimensions))

    incidents = []
    for inc in case.incidents:
        lo, hi = _window(inc)
        over = [k for k, e in enumerate(events) if _overlaps(e.after, e.before, lo, hi)]
        explaining = [k for k in over if explains(events[k], inc.subsystems)]
        incidents.append(IncidentResult(
            name=inc.name, subsystem=inc.subsystem, start=inc.start, end=inc.end, caught=bool(explaining),
            seen=bool(over), events=over, explained_by=explaining[0] if explaining else None,
            excluded_overlap=any(_overlaps(lo, hi, a, b) for a, b in case.excluded)))
    bursts = []
    for k, b in enumerate(case.bursts):
        lo, hi = _window(b)
        over = [i for i, e in enumerate(events) if _overlaps(e.after, e.before, lo, hi)]
        cols = [j for j, c in enumerate(replay.columns) if replay.modelled[j] and in_subsystems(c, b.subsystems)]
        bursts.append(BurstResult(index=k, start=b.start, end=b.end, covered=bool(over),
                                  explained=any(explains(events[i], b.subsystems) for i in over), events=over,
                                  seen_fraction=_burst_seen(case, replay, k, cols), dimensions=len(cols)))
    stamps = replay.timestamps
    after_quiet = stamps >= case.quiet_end
    excluded_after = int((after_quiet & _excluded_mask(stamps, case.excluded)).sum()) * case.update_every
    scored = int(after_quiet.sum()) * case.update_every - excluded_after
    cfg = replay.config
    config = {"profile": replay.profile, "max_points": replay.max_points,
              "min_train_samples": cfg.min_train_samples, "max_train_samples": cfg.max_train_samples,
              "train_every": cfg.train_every}
    return CaseScore(case=case.name, profile=replay.profile, incidents=incidents, events=events, bursts=bursts,
                     noisy=noisy, scored_seconds=scored, excluded_seconds=excluded_after, config=config)
