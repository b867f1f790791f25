"""Charts, samples and the per-chart arithmetic that turns raw numbers into values.

A source (one module per ``/proc`` file) describes each chart once with a
:class:`ChartDef` and, at every collection, hands back one :class:`Sample` per
chart: the dimension names and the raw numbers read from the file. The
collector keeps one :class:`ChartState` per chart and computes the values from
the samples (Netdata's ``rrddim`` algorithms):

* ``ABSOLUTE``: ``raw * scale``;
* ``INCREMENTAL``: ``(raw - previous raw) * scale / elapsed seconds``; the first
  collection yields NaN, a counter that went backwards yields NaN and flags a
  reset for the chart;
* ``PERCENT_OF_DIFF_TOTAL``: each dimension's increment as a percentage of the
  sum of the increments of all dimensions (``system.cpu``).

``scale`` is Netdata's ``multiplier / divisor``; dimensions that Netdata draws
below the axis (sent, writes, out, ...) have a negative scale, so the values are
what Netdata stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Union

import numpy as np

ABSOLUTE = "absolute"
INCREMENTAL = "incremental"
PERCENT_OF_DIFF_TOTAL = "percentage-of-incremental-row"


@dataclass(frozen=True)
class ChartSpec:
    """Description of one chart, named as Netdata's ``proc.plugin`` names it.

    Attributes
    ----------
    id : str
        ``type.id``, e.g. ``"system.cpu"``, ``"disk.vda"``, ``"net_packets.eth0"``.
    name : str
        ``type.name``; equals ``id`` except for disks with a friendlier name
        (device-mapper names). Netdata's ``charts to skip from training``
        pattern is matched against this name.
    title, units, family, context : str
        As in Netdata's ``/api/v1/charts`` (``context`` groups the charts of
        the same kind, e.g. ``"disk.io"`` for every ``disk.<dev>``).
    chart_type : str
        ``"line"``, ``"area"`` or ``"stacked"``.
    priority : int
        Netdata's ordering priority (smaller first).
    dimensions : list of str
        Dimension names, in the order of the value arrays of a collection.
    module : str
        The file the chart comes from, e.g. ``"/proc/stat"``.
    """

    id: str
    name: str
    title: str
    units: str
    family: str
    context: str
    chart_type: str
    priority: int
    dimensions: list[str]
    module: str = ""


@dataclass
class Collection:
    """The result of one :meth:`ProcCollector.collect` call.

    Attributes
    ----------
    t : float
        Collection timestamp, seconds since the epoch.
    values : dict of str to numpy.ndarray
        For every current chart (the ones ``charts()`` lists after this
        call), a float64 array aligned with its ``ChartSpec.dimensions``.
        NaN means "no value" (first collection of a counter, a counter that
        went backwards, no elapsed time).
    resets : set of str
        Ids of charts in which a counter went backwards in this collection
        (Netdata's ``has_reset_value``: the storage word's reset bit is set
        for every dimension of the chart at this point).
    added : list of ChartSpec
        Charts that did not exist before this collection.
    removed : list of str
        Ids of charts that existed before and are gone (device unplugged,
        file unreadable).
    changed : list of ChartSpec
        Charts that existed before and whose dimension list changed (an IRQ
        appeared or disappeared); the spec holds the new list. Dimensions that
        stay keep their relative order, new ones are appended at the end.
    """

    t: float
    values: dict[str, np.ndarray]
    resets: set[str] = field(default_factory=set)
    added: list[ChartSpec] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[ChartSpec] = field(default_factory=list)

    def dimension_count(self) -> int:
        """Total number of dimensions over all charts of this collection."""
        return sum(int(v.shape[0]) for v in self.values.values())


@dataclass(frozen=True)
class ChartDef:
    """What a source knows about a chart besides its dimensions (internal).

    ``auto`` is Netdata's ``CONFIG_BOOLEAN_AUTO``: the chart is created only
    once a sample of it is "interesting" (by default: any raw number is not
    zero) and then stays until its source stops reporting it.
    """

    id: str
    title: str
    units: str
    family: str
    context: str
    chart_type: str
    priority: int
    algorithm: str
    module: str
    name: str = ""
    auto: bool = True

    def spec(self, dimensions: Sequence[str]) -> ChartSpec:
        return ChartSpec(
            id=self.id,
            name=self.name or self.id,
            title=self.title,
            units=self.units,
            family=self.family,
            context=self.context,
            chart_type=self.chart_type,
            priority=self.priority,
            dimensions=list(dimensions),
            module=self.module,
        )


Scale = Union[float, Sequence[float]]


class Sample(NamedTuple):
    """One chart's raw numbers of one collection (internal).

    ``gate`` overrides the "any raw number is not zero" test of ``auto``
    charts; ``None`` means use that test. ``restart`` says the numbers do not
    continue the previous ones (an aggregate whose members changed): the
    chart's rates start over, without a reset flag.
    """

    chart: ChartDef
    dims: tuple[str, ...]
    raw: Sequence[float]
    scale: Scale = 1.0
    gate: bool | None = None
    restart: bool = False


class ChartState:
    """Previous raw numbers of one chart and the value arithmetic (internal).

    The chart's dimension order is stable: when a sample brings another
    dimension list, the dimensions that stay keep their order and new ones go
    to the end; ``perm`` maps the sample's order to the chart's.
    """

    __slots__ = ("chart", "dims", "perm", "prev", "prev_clock", "sample_dims", "spec")

    def __init__(self, chart: ChartDef, dims: tuple[str, ...]) -> None:
        self.chart = chart
        self.dims = dims
        self.spec = chart.spec(dims)
        self.prev: np.ndarray | None = None
        self.prev_clock = 0.0
        self.sample_dims = dims
        self.perm: np.ndarray | None = None

    def adopt(self, sample_dims: tuple[str, ...]) -> bool:
        """Follow a sample with another dimension list; True if the chart's list changed."""
        present = set(sample_dims)
        kept = [d for d in self.dims if d in present]
        known = set(kept)
        dims = tuple(kept + [d for d in sample_dims if d not in known])
        position = {d: i for i, d in enumerate(sample_dims)}
        perm = np.array([position[d] for d in dims], dtype=np.intp)
        self.sample_dims = sample_dims
        self.perm = None if dims == sample_dims else perm
        if dims == self.dims:
            return False
        if self.prev is not None:
            index = {d: i for i, d in enumerate(self.dims)}
            prev = np.full(len(dims), np.nan)
            for i, d in enumerate(dims):
                j = index.get(d)
                if j is not None:
                    prev[i] = self.prev[j]
            self.prev = prev
        self.dims = dims
        self.spec = self.chart.spec(dims)
        return True

    def forget(self) -> None:
        """Drop the previous raw numbers: the next counter values are NaN."""
        self.prev = None

    def update(self, raw: Sequence[float], scale: Scale, clock: float) -> tuple[np.ndarray, bool]:
        """Values of this collection and whether a counter went backwards."""
        x = np.asarray(raw, dtype=np.float64)
        perm = self.perm
        if perm is not None:
            x = x[perm]
            if not isinstance(scale, (int, float)):
                scale = np.asarray(scale, dtype=np.float64)[perm]
        algorithm = self.chart.algorithm
        if algorithm == ABSOLUTE:
            return x * scale + 0.0, False  # + 0.0: no negative zeros
        prev, elapsed = self.prev, clock - self.prev_clock
        self.prev, self.prev_clock = x, clock
        if prev is None or not elapsed > 0.0:
            return np.full(x.shape[0], np.nan), False
        delta = x - prev
        backwards = delta < 0.0
        reset = bool(backwards.any())
        if algorithm == INCREMENTAL:
            values = delta * scale / elapsed + 0.0
            if reset:
                values[backwards] = np.nan
            return values, reset
        # PERCENT_OF_DIFF_TOTAL: one backwards dimension spoils the total.
        if reset:
            return np.full(x.shape[0], np.nan), True
        total = np.nansum(delta)
        if not total > 0.0:
            return np.where(np.isnan(delta), np.nan, 0.0), False
        return delta * (100.0 / total), False
