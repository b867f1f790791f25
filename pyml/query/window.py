"""The time window of a ``/api/v1/data`` query, with Netdata's arithmetic.

Netdata (v1.37, the agent the v1 API tests record) turns ``after``, ``before``,
``points``, ``gtime`` and the ``unaligned`` option into an output grid in
fixed steps; pyml follows the same rules so a client sees the same rows:

1. A bound whose magnitude is at most three years (``RELATIVE_LIMIT``) is
   relative. ``before = 0`` means the chart's newest sample and ``after = 0``
   its oldest; other relative values are seconds back from *now* (a positive
   relative value counts as negative). A relative ``after`` counts from
   ``before`` plus one second, so ``after=-60`` covers exactly 60 seconds.
   Flipped bounds are swapped; a window ending in the future slides back to
   end at *now*.
2. The query step is the chart's ``update_every`` when the query uses natural
   points (``points=0``, a relative window, or option ``natural-points``) and
   1 s otherwise ("virtual points"); both bounds are floored to it.
3. ``points`` is capped at the samples in the window; each output row groups
   ``group`` samples, ``group`` = the samples per row rounded to the nearest
   integer (at least ``gtime`` worth of samples, and a multiple of it).
4. Unless ``unaligned``, ``before`` moves to a multiple of the row width: down
   when it was the newest sample, up otherwise. The rows are then
   ``before, before - width, ...`` (``points`` of them), each stamped with the
   newest second it covers.

*Now* is given by the caller: pyml's engine has no clock, so by default it is
the newest collected tick; an agent may pass its wall clock less one second,
which is what Netdata uses.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RELATIVE_LIMIT", "MAX_POINTS", "QueryWindow", "plan_window", "relative_to_absolute"]

#: Bounds of at most this many seconds (three years) are relative.
RELATIVE_LIMIT = 3 * 365 * 86400
#: Netdata never returns more rows than this.
MAX_POINTS = 86400
#: The default ``after`` when none is given: the last ten minutes.
DEFAULT_AFTER = -600


@dataclass(frozen=True)
class QueryWindow:
    """The output grid of a query.

    Rows are stamped ``before - k * view_update_every`` for ``k`` in
    ``range(points)``; row ``k`` groups the samples with timestamps in
    ``(stamp - view_update_every, stamp]``.
    """

    after: int               #: oldest second covered (the first row's stamp less its width, plus one step)
    before: int              #: stamp of the newest row
    points: int              #: number of rows
    group: int               #: samples (steps) per row
    step: int                #: query granularity: update_every (natural points) or 1 (virtual points)
    resampling_divisor: float  #: with ``gtime``: row width / gtime (sum-like groups are divided by it)
    relative: bool           #: the window was given relative to now or to the newest sample
    natural: bool            #: natural points (else virtual)
    aligned: bool            #: rows aligned to multiples of the row width
    resampling: bool = False  #: ``gtime`` resamples (it is longer than the query step)

    @property
    def view_update_every(self) -> int:
        """Seconds per output row."""
        return self.group * self.step

    def stamps(self) -> list[int]:
        """Row stamps, oldest first."""
        width = self.view_update_every
        return [self.before - (self.points - 1 - k) * width for k in range(self.points)]


def relative_to_absolute(after: int, before: int, now: int) -> tuple[int, int, bool]:
    """Netdata's resolution of relative bounds: ``(after, before, relative)``.

    ``before`` within :data:`RELATIVE_LIMIT` counts back from ``now``; ``after``
    within it counts back from the resolved ``before`` plus one second (0
    meaning the default, -600). The result never ends after ``now``.
    """
    relative = False
    if abs(before) <= RELATIVE_LIMIT:
        before = now - abs(before)
        relative = True
    if abs(after) <= RELATIVE_LIMIT:
        span = abs(after) if after else -DEFAULT_AFTER
        after = before - span + 1
        relative = True
    if after > before:
        after, before = before, after
    if before > now:
        shift = before - now
        before -= shift
        after -= shift
    return after, before, relative


def plan_window(
    after: int,
    before: int,
    points: int,
    *,
    update_every: int,
    first_entry: int | None,
    last_entry: int | None,
    now: int,
    gtime: int = 0,
    aligned: bool = True,
    natural: bool = False,
    virtual: bool = False,
) -> QueryWindow | None:
    """The rows a query returns; None when the chart has no samples and a bound is 0.

    Parameters
    ----------
    after, before : int
        As given (0, relative or absolute epoch seconds).
    points : int
        Rows wanted; 0 means every sample.
    update_every : int
        The chart's seconds per sample.
    first_entry, last_entry : int or None
        Oldest and newest sample of the chart (None: nothing stored).
    now : int
        What relative bounds count from.
    gtime : int
        Resampling time (``gtime``): rows group whole multiples of it.
    aligned : bool
        False for option ``unaligned``.
    natural, virtual : bool
        Options ``natural-points`` and ``virtual-points``.
    """
    step_db = max(int(update_every), 1)
    wanted = int(points)
    all_points = wanted == 0
    relative = abs(before) <= RELATIVE_LIMIT or abs(after) <= RELATIVE_LIMIT
    natural = natural or all_points or relative
    if virtual:
        natural = False
    at_db_end = False
    if after == 0 or before == 0:
        relative = True
        if not first_entry or not last_entry:
            return None
        if after == 0:
            after = first_entry
        if before == 0:
            before = last_entry
            at_db_end = True
        if wanted == 0:
            wanted = (last_entry - first_entry) // step_db
    if wanted == 0:
        wanted = 600
    after, before, _ = relative_to_absolute(after, before, now)
    step = step_db if natural else 1
    before -= before % step
    after -= after % step
    if all_points:
        wanted = max((before - after + 1) // step, 1)
    duration = before - after
    if gtime > duration:
        after = before - gtime
        duration = gtime
    if gtime > step and duration % gtime:
        delta = duration % gtime
        if delta > gtime // 10:
            after -= gtime - delta
            duration = before - after
    available = max((duration + 1) // step, 1)
    wanted = min(wanted, available, MAX_POINTS)
    group = max(available // wanted, 1)
    if available % wanted > wanted // 2:
        group += 1
    if wanted * group * step < duration:
        wanted = available // group
        if wanted * group < available:
            wanted += 1
        wanted = max(wanted, 1)
    divisor = 1.0
    if gtime > step:
        resampling_group = -(-gtime // step)
        if group < resampling_group:
            group = resampling_group
        if group % resampling_group:
            group += resampling_group - group % resampling_group
        divisor = group * step / gtime
    width = group * step
    if aligned and before % width:
        before = before - before % width if at_db_end else before + width - before % width
    after = before - wanted * width + step
    return QueryWindow(after=after, before=before, points=wanted, group=group, step=step,
                       resampling_divisor=divisor, relative=relative, natural=natural, aligned=aligned,
                       resampling=gtime > step)
